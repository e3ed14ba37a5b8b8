import { randomBytes } from 'node:crypto';
import { tableKey, type TableKey } from '../model/table.js';
import type { PublicationTableOptions, PublishOperation } from '../source/options.js';
import { fromPgError, PublicationError } from './errors.js';
import { formatTableName, parseTableName, quoteIdentifier, quoteLiteral, quoteQualifiedName, type QualifiedName } from './identifiers.js';
import type { SqlQueryable } from './slot.js';

/**
 * The publication names the tables (and, 15+, their row filters and column lists) pgoutput sends.
 * Only simple queries are used, so a ReplicationClient works as well as a pg.Client.
 */

export const ALL_OPERATIONS: readonly PublishOperation[] = ['insert', 'update', 'delete', 'truncate'];

export interface PublicationConfig {
  readonly name: string;
  /** Create the publication when missing and make it equal to this config; else it must already cover the tables. */
  readonly create: boolean;
  /** Default: all four operations. */
  readonly publish?: readonly PublishOperation[];
  /** Keyed `schema.table` (see parseTableName). */
  readonly tables: Readonly<Record<string, PublicationTableOptions>>;
}

export interface PublicationTableState {
  readonly schema: string;
  readonly name: string;
  readonly key: TableKey;
  /** The row filter as PostgreSQL prints it (pg_get_expr), or null. 15+. */
  readonly rowFilter: string | null;
  /** The column list in attribute order, or null for all columns. 15+. */
  readonly columns: readonly string[] | null;
}

export interface PublicationState {
  readonly name: string;
  /** FOR ALL TABLES. */
  readonly allTables: boolean;
  /** Schemas published whole (FOR TABLES IN SCHEMA, 15+). */
  readonly schemas: readonly string[];
  readonly publish: readonly PublishOperation[];
  readonly viaRoot: boolean;
  /** Tables named in the publication, with their filters and column lists. */
  readonly tables: readonly PublicationTableState[];
  /** Every table the publication sends (all tables, schemas and partitions expanded). */
  readonly publishedTables: readonly TableKey[];
}

export interface EnsuredPublication {
  readonly state: PublicationState;
  /** The DDL that was run (empty when the publication already matched). */
  readonly statements: readonly string[];
}

async function rows<R>(client: SqlQueryable, sql: string, action: string): Promise<R[]> {
  try {
    return (await client.query(sql)).rows as R[];
  } catch (error) {
    throw fromPgError(error, action);
  }
}

/** Reads a publication, or undefined when there is none. */
export async function readPublication(client: SqlQueryable, name: string): Promise<PublicationState | undefined> {
  const action = `reading publication "${name}"`;
  const [publication] = await rows<{
    oid: string;
    alltables: string;
    ins: string;
    upd: string;
    del: string;
    trunc: string;
    viaroot: string;
    version: string;
  }>(
    client,
    `SELECT p.oid::int8::text AS oid, p.puballtables::text AS alltables, p.pubinsert::text AS ins, p.pubupdate::text AS upd,
            p.pubdelete::text AS del, p.pubtruncate::text AS trunc, p.pubviaroot::text AS viaroot,
            current_setting('server_version_num') AS version
       FROM pg_catalog.pg_publication p WHERE p.pubname = ${quoteLiteral(name)}`,
    action,
  );
  if (publication === undefined) return undefined;
  const modern = Number(publication.version) >= 150000;
  const tables = await rows<{ schema: string; name: string; rowfilter: string | null; columns: string | null }>(
    client,
    modern
      ? `SELECT n.nspname::text AS schema, c.relname::text AS name, pg_catalog.pg_get_expr(pr.prqual, pr.prrelid) AS rowfilter,
                (SELECT array_to_json(array_agg(a.attname::text ORDER BY a.attnum)) FROM pg_catalog.pg_attribute a
                  WHERE pr.prattrs IS NOT NULL AND a.attrelid = pr.prrelid AND a.attnum = ANY (pr.prattrs::int2[]))::text AS columns
           FROM pg_catalog.pg_publication_rel pr
           JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE pr.prpubid = ${publication.oid}::oid ORDER BY 1, 2`
      : `SELECT n.nspname::text AS schema, c.relname::text AS name, NULL::text AS rowfilter, NULL::text AS columns
           FROM pg_catalog.pg_publication_rel pr
           JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE pr.prpubid = ${publication.oid}::oid ORDER BY 1, 2`,
    action,
  );
  const schemas = modern
    ? await rows<{ schema: string }>(
        client,
        `SELECT n.nspname::text AS schema FROM pg_catalog.pg_publication_namespace pn JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid
          WHERE pn.pnpubid = ${publication.oid}::oid ORDER BY 1`,
        action,
      )
    : [];
  const published = await rows<{ schema: string; name: string }>(
    client,
    `SELECT schemaname::text AS schema, tablename::text AS name FROM pg_catalog.pg_publication_tables WHERE pubname = ${quoteLiteral(name)} ORDER BY 1, 2`,
    action,
  );
  const flags: [string, PublishOperation][] = [
    [publication.ins, 'insert'],
    [publication.upd, 'update'],
    [publication.del, 'delete'],
    [publication.trunc, 'truncate'],
  ];
  return {
    name,
    allTables: publication.alltables === 'true',
    schemas: schemas.map((s) => s.schema),
    publish: flags.filter(([flag]) => flag === 'true').map(([, operation]) => operation),
    viaRoot: publication.viaroot === 'true',
    tables: tables.map((t) => ({
      schema: t.schema,
      name: t.name,
      key: tableKey(t.schema, t.name),
      rowFilter: t.rowfilter,
      columns: t.columns === null ? null : (JSON.parse(t.columns) as string[]),
    })),
    publishedTables: published.map((t) => tableKey(t.schema, t.name)),
  };
}

interface DesiredTable extends QualifiedName {
  readonly key: TableKey;
  readonly configKey: string;
  readonly where?: string;
  readonly columns?: readonly string[];
}

function desiredTables(config: PublicationConfig): DesiredTable[] {
  return Object.entries(config.tables).map(([configKey, options]) => {
    const table = parseTableName(configKey, `publication ${config.name} table`);
    const where = options.where?.trim();
    return {
      ...table,
      key: tableKey(table.schema, table.name),
      configKey,
      ...(where === undefined || where.length === 0 ? {} : { where }),
      ...(options.columns === undefined ? {} : { columns: options.columns }),
    };
  });
}

/** `"s"."t" ("a", "b") WHERE (expr)`: one entry of FOR TABLE / SET TABLE. */
function tableSpec(table: DesiredTable): string {
  const columns = table.columns === undefined ? '' : ` (${table.columns.map(quoteIdentifier).join(', ')})`;
  const where = table.where === undefined ? '' : ` WHERE (${table.where})`;
  return `${quoteQualifiedName(table)}${columns}${where}`;
}

function publishList(operations: readonly PublishOperation[]): string {
  return ALL_OPERATIONS.filter((operation) => operations.includes(operation)).join(', ');
}

function sameSet(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  const left = [...new Set(a)].sort();
  const right = [...new Set(b)].sort();
  return left.length === right.length && left.every((value, index) => value === right[index]);
}

/**
 * Makes the publication match `config`.
 *
 * With `create: true` it is created when missing and otherwise altered until it equals the config:
 * tables added and dropped, row filters and column lists changed (one `ALTER PUBLICATION ... SET
 * TABLE`, 15+ for filters and lists), `publish` set. Nothing runs when it already matches. Run this
 * BEFORE creating the replication slot: pgoutput reads the publication as of each change's WAL
 * position, so a slot made first would miss (or mis-filter) the changes in between.
 *
 * With `create: false` the publication must exist and send every configured table
 * (PUBLICATION_MISSING / PUBLICATION_TABLE_MISSING naming it otherwise); it is not changed.
 *
 * Row filters or column lists on a server older than 15 are a PUBLICATION_UNSUPPORTED error naming
 * the table and the version.
 */
export async function ensurePublication(client: SqlQueryable, config: PublicationConfig, serverVersionNum: number): Promise<EnsuredPublication> {
  const publish = config.publish ?? ALL_OPERATIONS;
  const wanted = desiredTables(config);
  if (serverVersionNum < 150000) {
    const filtered = wanted.find((t) => t.where !== undefined || t.columns !== undefined);
    if (filtered !== undefined) {
      throw new PublicationError(
        'PUBLICATION_UNSUPPORTED',
        config.name,
        `publication ${config.name}, table ${filtered.configKey}: ${filtered.where !== undefined ? 'row filters (where)' : 'column lists (columns)'} need PostgreSQL 15 or later, ` +
          `the server is ${Math.floor(serverVersionNum / 10000)}: remove them from the configuration or upgrade the server`,
        { table: filtered.key },
      );
    }
  }
  for (const table of wanted) {
    if (table.columns?.length === 0) {
      throw new PublicationError('PUBLICATION_INVALID', config.name, `publication ${config.name}, table ${table.configKey}: an empty column list publishes nothing; list columns or remove "columns"`, {
        table: table.key,
      });
    }
  }

  const current = await readPublication(client, config.name);
  if (!config.create) {
    if (current === undefined) {
      throw new PublicationError(
        'PUBLICATION_MISSING',
        config.name,
        `publication "${config.name}" does not exist: create it (CREATE PUBLICATION ${quoteIdentifier(config.name)} FOR TABLE ...) or set publication.create = true`,
      );
    }
    const missing = wanted.find((t) => !current.publishedTables.includes(t.key));
    if (missing !== undefined) {
      throw new PublicationError(
        'PUBLICATION_TABLE_MISSING',
        config.name,
        `publication "${config.name}" does not publish table ${missing.configKey}: ALTER PUBLICATION ${quoteIdentifier(config.name)} ADD TABLE ${quoteQualifiedName(missing)}, ` +
          `or set publication.create = true to let laredo manage it`,
        { table: missing.key },
      );
    }
    return { state: current, statements: [] };
  }

  await assertTablesExist(client, config.name, wanted);
  const statements: string[] = [];
  const name = quoteIdentifier(config.name);
  if (current === undefined) {
    const forTables = wanted.length > 0 ? ` FOR TABLE ${wanted.map(tableSpec).join(', ')}` : '';
    statements.push(`CREATE PUBLICATION ${name}${forTables} WITH (publish = ${quoteLiteral(publishList(publish))})`);
  } else {
    if (current.allTables) {
      throw new PublicationError(
        'PUBLICATION_ALL_TABLES',
        config.name,
        `publication "${config.name}" is FOR ALL TABLES, but laredo manages its table list (create = true): drop it, use another name, or set create = false`,
      );
    }
    if (!(await tablesMatch(client, current, wanted, serverVersionNum))) {
      if (wanted.length > 0) {
        statements.push(`ALTER PUBLICATION ${name} SET TABLE ${wanted.map(tableSpec).join(', ')}`);
      } else {
        if (current.tables.length > 0) statements.push(`ALTER PUBLICATION ${name} DROP TABLE ${current.tables.map(quoteQualifiedName).join(', ')}`);
        if (current.schemas.length > 0) statements.push(`ALTER PUBLICATION ${name} DROP TABLES IN SCHEMA ${current.schemas.map(quoteIdentifier).join(', ')}`);
      }
    }
    if (!sameSet(current.publish, publish)) statements.push(`ALTER PUBLICATION ${name} SET (publish = ${quoteLiteral(publishList(publish))})`);
  }
  if (statements.length > 0) {
    await runInTransaction(client, statements, `updating publication "${config.name}"`);
  }
  const state = await readPublication(client, config.name);
  if (state === undefined) {
    throw new PublicationError('PUBLICATION_MISSING', config.name, `publication "${config.name}" vanished right after it was created; is another process dropping it?`);
  }
  return { state, statements };
}

async function runInTransaction(client: SqlQueryable, statements: readonly string[], action: string): Promise<void> {
  await rows(client, 'BEGIN', action);
  try {
    for (const statement of statements) await rows(client, statement, action);
    await rows(client, 'COMMIT', action);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function assertTablesExist(client: SqlQueryable, publication: string, wanted: readonly DesiredTable[]): Promise<void> {
  if (wanted.length === 0) return;
  const values = wanted.map((t) => `(${quoteLiteral(t.schema)}, ${quoteLiteral(t.name)})`).join(', ');
  const found = await rows<{ schema: string; name: string }>(
    client,
    `SELECT n.nspname::text AS schema, c.relname::text AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND (n.nspname::text, c.relname::text) IN (VALUES ${values})`,
    `checking the tables of publication "${publication}"`,
  );
  const existing = new Set(found.map((t) => tableKey(t.schema, t.name)));
  const missing = wanted.find((t) => !existing.has(t.key));
  if (missing !== undefined) {
    throw new PublicationError(
      'PUBLICATION_NO_SUCH_TABLE',
      publication,
      `publication ${publication}: table ${missing.configKey} (${quoteQualifiedName(missing)}) does not exist: create it or fix the name ` +
        `(names are case-sensitive and not folded: write ${formatTableName(missing)} exactly as the catalog has it)`,
      { table: missing.key },
    );
  }
}

/**
 * Whether the publication's tables already equal the wanted ones. Row filters are compared as
 * PostgreSQL prints them: the wanted filters are deparsed through a scratch publication created in a
 * transaction that is rolled back, so `status = 'active'` and `(status = 'active'::text)` compare equal.
 */
async function tablesMatch(client: SqlQueryable, current: PublicationState, wanted: readonly DesiredTable[], serverVersionNum: number): Promise<boolean> {
  if (current.schemas.length > 0 || current.tables.length !== wanted.length) return false;
  const byKey = new Map(current.tables.map((t) => [t.key, t]));
  for (const table of wanted) {
    const existing = byKey.get(table.key);
    if (existing === undefined) return false;
    if (serverVersionNum >= 150000 && !sameSet(existing.columns, table.columns ?? null)) return false;
    if ((existing.rowFilter === null) !== (table.where === undefined)) return false;
  }
  const filtered = wanted.filter((t) => t.where !== undefined);
  if (filtered.length === 0) return true;
  const deparsed = await deparseFilters(client, filtered);
  return filtered.every((t) => byKey.get(t.key)?.rowFilter === deparsed.get(t.key));
}

async function deparseFilters(client: SqlQueryable, tables: readonly DesiredTable[]): Promise<Map<TableKey, string | null>> {
  const scratch = `laredo_scratch_${randomBytes(6).toString('hex')}`;
  const action = 'comparing row filters';
  await rows(client, 'BEGIN', action);
  try {
    await rows(client, `CREATE PUBLICATION ${quoteIdentifier(scratch)} FOR TABLE ${tables.map(tableSpec).join(', ')}`, action);
    const state = await readPublication(client, scratch);
    return new Map((state?.tables ?? []).map((t) => [t.key, t.rowFilter]));
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
}
