import { InvalidNameError } from './errors.js';

/**
 * Every SQL identifier and literal laredo builds goes through this file. Names come from users and
 * from catalogs and may hold anything PostgreSQL allows: mixed case, quotes, spaces, dots, unicode.
 */

/** PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes; a longer name would silently mean another. */
export const MAX_IDENTIFIER_BYTES = 63;

/** A schema-qualified table name, exactly as stored in the catalogs (no case folding). */
export interface QualifiedName {
  readonly schema: string;
  readonly name: string;
}

/**
 * `"name"` with embedded quotes doubled. Refuses what no PostgreSQL identifier can be: empty, a NUL
 * character, or longer than 63 bytes (PostgreSQL would truncate it and refer to another object).
 */
export function quoteIdentifier(name: string): string {
  checkIdentifier(name, 'identifier');
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema"."name"`. */
export function quoteQualifiedName(table: QualifiedName): string {
  return `${quoteIdentifier(table.schema)}.${quoteIdentifier(table.name)}`;
}

/**
 * A SQL string literal that means `value` whatever standard_conforming_strings is: quotes doubled,
 * and when the value holds a backslash, the `E'...'` form with backslashes doubled (as libpq's
 * PQescapeLiteral does). NUL cannot be stored in PostgreSQL text, so it is refused.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new InvalidNameError('SQL literal', 'contains a NUL character, which PostgreSQL text cannot hold');
  const quoted = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}

/**
 * A string literal for the replication command grammar (CREATE_REPLICATION_SLOT, START_REPLICATION
 * options): that scanner knows only `'...'` with doubled quotes, no `E''` and no backslash escapes.
 */
export function quoteReplicationLiteral(value: string): string {
  if (value.includes('\0')) throw new InvalidNameError('replication option', 'contains a NUL character');
  return `'${value.replaceAll("'", "''")}'`;
}

function checkIdentifier(name: string, what: string): void {
  if (name.length === 0) throw new InvalidNameError(what, 'is empty');
  if (name.includes('\0')) throw new InvalidNameError(what, `${JSON.stringify(name)} contains a NUL character`);
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_IDENTIFIER_BYTES) {
    throw new InvalidNameError(what, `${JSON.stringify(name)} is ${bytes} bytes; PostgreSQL names are at most ${MAX_IDENTIFIER_BYTES} bytes`);
  }
}

/**
 * Parses a table name as the config and `TableKey` write it: `schema.table`, `table` (schema
 * `public`), or with double quotes around a part that holds a dot or a quote:
 * `"My.Schema"."Tab"`, `public."a ""quoted"" name"`. Unlike SQL, unquoted parts are taken as they are,
 * without folding to lower case, because laredo keys tables by their exact catalog names
 * (`public.Orders` is the table created as `"Orders"`).
 */
export function parseTableName(text: string, what = 'table name'): QualifiedName {
  const parts: string[] = [];
  let index = 0;
  for (;;) {
    let part: string;
    if (text[index] === '"') {
      let end = index + 1;
      part = '';
      for (;;) {
        const close = text.indexOf('"', end);
        if (close < 0) throw new InvalidNameError(what, `${JSON.stringify(text)} has an unterminated quoted name`);
        part += text.slice(end, close);
        if (text[close + 1] === '"') {
          part += '"';
          end = close + 2;
          continue;
        }
        index = close + 1;
        break;
      }
    } else {
      const dot = text.indexOf('.', index);
      const end = dot < 0 ? text.length : dot;
      part = text.slice(index, end);
      if (part.includes('"')) {
        throw new InvalidNameError(what, `${JSON.stringify(text)}: a name holding a double quote must be quoted, with the quote doubled`);
      }
      index = end;
    }
    checkIdentifier(part, what);
    parts.push(part);
    if (index === text.length) break;
    if (text[index] !== '.') {
      throw new InvalidNameError(what, `${JSON.stringify(text)}: expected "." after a quoted name`);
    }
    index += 1;
  }
  if (parts.length === 1) return { schema: 'public', name: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, name: parts[1]! };
  throw new InvalidNameError(
    what,
    `${JSON.stringify(text)} has ${parts.length} dot-separated parts; write schema.table, quoting a part that holds a dot: "my.schema".table`,
  );
}

/** The inverse of parseTableName: `schema.table`, quoting only the parts that need it. */
export function formatTableName(table: QualifiedName): string {
  const part = (name: string) => (/[".]/.test(name) || name.length === 0 ? `"${name.replaceAll('"', '""')}"` : name);
  return `${part(table.schema)}.${part(table.name)}`;
}

const SLOT_NAME = /^[a-z0-9_]+$/;

/**
 * Replication slot names are `[a-z0-9_]`, 1 to 63 bytes (PostgreSQL's own rule). `what` names the
 * setting in the error, e.g. `sources.pg_main.slot_name`.
 */
export function validateSlotName(name: string, what = 'slot name'): string {
  if (name.length === 0 || name.length > MAX_IDENTIFIER_BYTES || !SLOT_NAME.test(name)) {
    throw new InvalidNameError(
      what,
      `${JSON.stringify(name)} is not a valid replication slot name: use 1 to ${MAX_IDENTIFIER_BYTES} characters of a-z, 0-9 and _`,
    );
  }
  return name;
}
