// Names the config file gives to things in PostgreSQL and in laredo.
import { InvalidNameError } from '../streams/errors.js';
import { formatTableName, parseTableName } from '../streams/identifiers.js';
import { ConfigValueError } from './errors.js';
import { describeInput } from './describe.js';

/** PostgreSQL's NAMEDATALEN - 1: longer identifiers are truncated by the server, or refused for slots. */
export const MAX_IDENTIFIER_BYTES = 63;

const REPLICATION_NAME = /^[a-z0-9_]+$/;

/**
 * Slot and publication names: lowercase letters, digits and `_`, at most 63 bytes. That is PostgreSQL's
 * own rule for replication slots; laredo applies it to publications too so the name can be written in
 * SQL and in the replication protocol's commands without quoting.
 */
export function checkReplicationName(name: string, what: 'slot' | 'publication'): void {
  if (!REPLICATION_NAME.test(name)) {
    const lower = name.toLowerCase().replace(/[^a-z0-9_]/g, '_');
    throw new ConfigValueError(
      `${describeInput(name)} is not a valid ${what} name: use only lowercase letters, digits and _${
        lower !== '' && lower !== name && REPLICATION_NAME.test(lower) ? ` (e.g. ${lower})` : ''
      }`,
    );
  }
  if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) {
    throw new ConfigValueError(`${describeInput(name)} is ${Buffer.byteLength(name)} bytes long: a ${what} name is at most ${MAX_IDENTIFIER_BYTES}`);
  }
}

const SOURCE_ID = /^[a-z][a-z0-9_]*$/;

/**
 * Source ids: a lowercase letter, then lowercase letters, digits and `_`. They name environment
 * variables (`LAREDO_SOURCES_<ID>_...`, upper-cased) and metric labels, so they must survive both.
 */
export function checkSourceId(id: string): void {
  if (!SOURCE_ID.test(id) || id.length > MAX_IDENTIFIER_BYTES) {
    throw new ConfigValueError(
      `${describeInput(id)} is not a valid source id: start with a lowercase letter, then lowercase letters, digits and _ (at most ${MAX_IDENTIFIER_BYTES})`,
    );
  }
}

/** A table as `schema.table`, split. */
export interface QualifiedTable {
  readonly schema: string;
  readonly table: string;
}

/**
 * Splits a `publication.tables` key with the source's own parser (src/streams/identifiers.ts), so the
 * file accepts exactly the names the source does: `schema.table`, `table` (schema public), or with
 * double quotes around a part holding a dot or a quote (`"my.schema".orders`). Names are the exact
 * catalog names, not SQL: no case folding, so `public.Orders` is the table created as `"Orders"`.
 */
export function parseTableKey(key: string): QualifiedTable {
  try {
    const { schema, name } = parseTableName(key, 'table');
    return { schema, table: name };
  } catch (error) {
    if (!(error instanceof InvalidNameError)) throw error;
    throw new ConfigValueError(error.message.replace(/^table: /, ''));
  }
}

/** The one spelling of a table that both `publication.tables` keys and `tables[]` entries map to. */
export function canonicalTableKey(table: QualifiedTable): string {
  return formatTableName({ schema: table.schema, name: table.table });
}

/** A schema, table or column name as PostgreSQL stores it. */
export function checkIdentifier(name: string, what: string): void {
  if (name.trim() !== name || name === '') {
    throw new ConfigValueError(`${describeInput(name)} is not a ${what} name: it is empty or has leading or trailing spaces`);
  }
  if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) {
    throw new ConfigValueError(`${describeInput(name)} is longer than ${MAX_IDENTIFIER_BYTES} bytes, which PostgreSQL does not allow for a ${what} name`);
  }
}
