import { tableKey, type TableKey } from '../model/table.js';
import { fromPgError, PreflightError, type PreflightProblem } from './errors.js';
import { parseTableName, quoteIdentifier, quoteLiteral, quoteQualifiedName, type QualifiedName } from './identifiers.js';
import type { SqlQueryable } from './slot.js';

/**
 * Checks, before anything is created, that the server can serve laredo: every problem found becomes
 * one clear message in a PreflightError; things that work but will hurt later are warnings.
 */

export const MINIMUM_SERVER_VERSION = 140000;

export interface PreflightOptions {
  /** The tables to stream: `schema.table` strings (parseTableName) or parsed names. */
  readonly tables: readonly (string | QualifiedName)[];
  /** The publication, when it may already exist: its publish flags decide whether replica identity matters. */
  readonly publication?: string;
  /** An existing slot of this name needs no free slot. */
  readonly slotName?: string;
}

export type PreflightWarningCode = 'NO_REPLICA_IDENTITY' | 'REPLICA_IDENTITY_NOTHING' | 'PUBLICATION_MISSING';

export interface PreflightWarning {
  readonly code: PreflightWarningCode;
  readonly message: string;
  readonly table?: TableKey;
}

export interface PreflightResult {
  readonly warnings: readonly PreflightWarning[];
}

export interface PreflightTableFacts extends QualifiedName {
  readonly key: TableKey;
  readonly exists: boolean;
  readonly canSelect: boolean;
  readonly hasPrimaryKey: boolean;
  /** relreplident: d(efault), n(othing), f(ull), i(ndex); null when the table is missing. */
  readonly replicaIdentity: 'd' | 'n' | 'f' | 'i' | null;
  /** For `i`: the identity index still exists. */
  readonly hasIdentityIndex: boolean;
}

/** What the checks look at, gathered with a few catalog queries. */
export interface PreflightFacts {
  readonly serverVersion: number;
  readonly walLevel: string;
  readonly role: string;
  /** REPLICATION, superuser, or membership in a cloud provider's replication role. */
  readonly canReplicate: boolean;
  readonly maxReplicationSlots: number;
  readonly usedReplicationSlots: number;
  readonly slotExists: boolean;
  readonly maxWalSenders: number;
  readonly usedWalSenders: number;
  /** null when the publication does not exist (yet) or none was named. */
  readonly publication: { readonly name: string; readonly publishesUpdateOrDelete: boolean } | null;
  readonly publicationName: string | null;
  readonly tables: readonly PreflightTableFacts[];
}

async function one<R>(client: SqlQueryable, sql: string): Promise<R> {
  try {
    const { rows } = await client.query(sql);
    return rows[0] as R;
  } catch (error) {
    throw fromPgError(error, 'running preflight checks');
  }
}

async function all<R>(client: SqlQueryable, sql: string): Promise<R[]> {
  try {
    return (await client.query(sql)).rows as R[];
  } catch (error) {
    throw fromPgError(error, 'running preflight checks');
  }
}

/** Reads every fact the checks need. Simple queries only (a walsender connection works too). */
export async function gatherPreflightFacts(client: SqlQueryable, options: PreflightOptions): Promise<PreflightFacts> {
  const tables = options.tables.map((t) => (typeof t === 'string' ? parseTableName(t) : t));
  const server = await one<{
    version: string;
    wal_level: string;
    role: string;
    can_replicate: string;
    max_slots: string;
    used_slots: string;
    slot_exists: string;
    max_senders: string;
    used_senders: string;
  }>(
    client,
    `SELECT current_setting('server_version_num') AS version, current_setting('wal_level') AS wal_level, current_user::text AS role,
            (r.rolreplication OR r.rolsuper
              OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = 'rds_replication' AND pg_catalog.pg_has_role(r.oid, g.oid, 'member')))::text AS can_replicate,
            current_setting('max_replication_slots') AS max_slots,
            (SELECT count(*) FROM pg_catalog.pg_replication_slots)::text AS used_slots,
            (SELECT count(*) > 0 FROM pg_catalog.pg_replication_slots WHERE slot_name = ${quoteLiteral(options.slotName ?? '')})::text AS slot_exists,
            current_setting('max_wal_senders') AS max_senders,
            (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'walsender')::text AS used_senders
       FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`,
  );
  const publication =
    options.publication === undefined
      ? undefined
      : await one<{ updel: string } | undefined>(
          client,
          `SELECT (pubupdate OR pubdelete)::text AS updel FROM pg_catalog.pg_publication WHERE pubname = ${quoteLiteral(options.publication)}`,
        );
  const tableFacts =
    tables.length === 0
      ? []
      : await all<{ schema: string; name: string; exists: string; can_select: string; has_pk: string; replident: string | null; has_identity_index: string }>(
          client,
          `SELECT v.schema, v.name, (c.oid IS NOT NULL)::text AS exists,
                  (c.oid IS NOT NULL AND pg_catalog.has_table_privilege(c.oid, 'SELECT'))::text AS can_select,
                  EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)::text AS has_pk,
                  c.relreplident::text AS replident,
                  EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisreplident AND i.indisvalid)::text AS has_identity_index
             FROM (VALUES ${tables.map((t) => `(${quoteLiteral(t.schema)}, ${quoteLiteral(t.name)})`).join(', ')}) AS v(schema, name)
             LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = v.schema
             LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = v.name AND c.relkind IN ('r', 'p')`,
        );
  return {
    serverVersion: Number(server.version),
    walLevel: server.wal_level,
    role: server.role,
    canReplicate: server.can_replicate === 'true',
    maxReplicationSlots: Number(server.max_slots),
    usedReplicationSlots: Number(server.used_slots),
    slotExists: server.slot_exists === 'true',
    maxWalSenders: Number(server.max_senders),
    usedWalSenders: Number(server.used_senders),
    publicationName: options.publication ?? null,
    publication: publication === undefined || options.publication === undefined ? null : { name: options.publication, publishesUpdateOrDelete: publication.updel === 'true' },
    tables: tableFacts.map((t) => ({
      schema: t.schema,
      name: t.name,
      key: tableKey(t.schema, t.name),
      exists: t.exists === 'true',
      canSelect: t.can_select === 'true',
      hasPrimaryKey: t.has_pk === 'true',
      replicaIdentity: (t.replident ?? null) as PreflightTableFacts['replicaIdentity'],
      hasIdentityIndex: t.has_identity_index === 'true',
    })),
  };
}

/** The checks themselves, on gathered facts: pure, so each rule is unit-tested. */
export function evaluatePreflight(facts: PreflightFacts): { problems: PreflightProblem[]; warnings: PreflightWarning[] } {
  const problems: PreflightProblem[] = [];
  const warnings: PreflightWarning[] = [];
  const major = Math.floor(facts.serverVersion / 10000);
  if (facts.serverVersion < MINIMUM_SERVER_VERSION) {
    problems.push({ code: 'SERVER_VERSION', message: `PostgreSQL ${major} is too old: laredo needs PostgreSQL 14 or later` });
  }
  if (facts.walLevel !== 'logical') {
    problems.push({
      code: 'WAL_LEVEL',
      message: `wal_level is ${facts.walLevel}, logical replication needs logical: run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL`,
    });
  }
  if (!facts.canReplicate) {
    problems.push({
      code: 'REPLICATION_ROLE',
      message: `role ${facts.role} may not open replication connections: ALTER ROLE ${quoteIdentifier(facts.role)} REPLICATION (or connect as a role that has it)`,
    });
  }
  if (!facts.slotExists && facts.usedReplicationSlots >= facts.maxReplicationSlots) {
    problems.push({
      code: 'NO_FREE_SLOT',
      message:
        `all ${facts.maxReplicationSlots} replication slots are in use (max_replication_slots): drop unused slots ` +
        `(SELECT slot_name, active FROM pg_replication_slots) or raise max_replication_slots and restart PostgreSQL`,
    });
  }
  if (facts.usedWalSenders >= facts.maxWalSenders) {
    problems.push({
      code: 'NO_FREE_WAL_SENDER',
      message: `all ${facts.maxWalSenders} WAL senders are busy (max_wal_senders): stop unused replication clients or raise max_wal_senders and restart PostgreSQL`,
    });
  }
  // Replica identity matters only when updates or deletes are published (a missing publication will
  // be created publishing everything).
  const identityMatters = facts.publication?.publishesUpdateOrDelete ?? true;
  for (const table of facts.tables) {
    const name = quoteQualifiedName(table);
    if (!table.exists) {
      problems.push({ code: 'TABLE_MISSING', table: table.key, message: `table ${name} does not exist: create it or fix its name (names are case-sensitive)` });
      continue;
    }
    if (!table.canSelect) {
      problems.push({
        code: 'TABLE_PRIVILEGE',
        table: table.key,
        message: `role ${facts.role} cannot read table ${name} for the baseline: GRANT SELECT ON ${name} TO ${quoteIdentifier(facts.role)}`,
      });
    }
    if (!identityMatters) continue;
    const fix = `add a primary key, or run ALTER TABLE ${name} REPLICA IDENTITY FULL`;
    if (table.replicaIdentity === 'd' && !table.hasPrimaryKey) {
      warnings.push({
        code: 'NO_REPLICA_IDENTITY',
        table: table.key,
        message: `table ${name} has no primary key and REPLICA IDENTITY DEFAULT: PostgreSQL will refuse UPDATE and DELETE on it once it is published: ${fix}`,
      });
    } else if (table.replicaIdentity === 'n' || (table.replicaIdentity === 'i' && !table.hasIdentityIndex)) {
      warnings.push({
        code: 'REPLICA_IDENTITY_NOTHING',
        table: table.key,
        message: `table ${name} has REPLICA IDENTITY NOTHING (or its identity index is gone): PostgreSQL will refuse UPDATE and DELETE on it once it is published: ${fix}`,
      });
    }
  }
  if (facts.publicationName !== null && facts.publication === null) {
    warnings.push({ code: 'PUBLICATION_MISSING', message: `publication ${facts.publicationName} does not exist yet (it is created when publication.create = true)` });
  }
  return { problems, warnings };
}

/**
 * Runs every check. Throws one PreflightError holding every problem (wal_level, REPLICATION, SELECT
 * on each table, a free slot and WAL sender, the server version); returns warnings for tables whose
 * updates and deletes PostgreSQL would refuse to publish.
 */
export async function preflight(client: SqlQueryable, options: PreflightOptions): Promise<PreflightResult> {
  const { problems, warnings } = evaluatePreflight(await gatherPreflightFacts(client, options));
  if (problems.length > 0) throw new PreflightError(problems);
  return { warnings };
}
