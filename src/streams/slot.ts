import { Lsn } from '../protocol/lsn.js';
import { fromPgError, SlotError } from './errors.js';
import { quoteLiteral, validateSlotName } from './identifiers.js';

/** Anything that runs a simple SQL query: a `pg.Client`, or a `ReplicationClient` (walsenders run SQL too). */
export interface SqlQueryable {
  query(sql: string): Promise<{ rows: unknown[] }>;
}

/** A row of pg_replication_slots, typed. Fields a major does not have are null. */
export interface SlotInfo {
  readonly slotName: string;
  readonly slotType: 'logical' | 'physical';
  /** Output plugin; null for physical slots. */
  readonly plugin: string | null;
  /** Database of a logical slot. */
  readonly database: string | null;
  readonly temporary: boolean;
  /** A walsender (or a SQL decoding call) is using it now. */
  readonly active: boolean;
  readonly activePid: number | null;
  /** Oldest WAL the slot still needs. */
  readonly restartLsn: Lsn | null;
  /** What the consumer confirmed: streaming resumes after it. */
  readonly confirmedFlushLsn: Lsn | null;
  /** reserved, extended, unreserved, or lost (the slot was invalidated: its WAL is gone). */
  readonly walStatus: string | null;
  /** Bytes of WAL that can still be written before this slot is in danger of losing its WAL (null: unlimited). */
  readonly safeWalSize: number | null;
  readonly twoPhase: boolean | null;
  /** Why PostgreSQL invalidated the slot (17+: wal_removed, rows_removed, ...); null when it is valid. */
  readonly invalidationReason: string | null;
  /** True when the slot can no longer be streamed from. */
  readonly invalidated: boolean;
}

function lsnOrNull(value: unknown): Lsn | null {
  return typeof value === 'string' ? Lsn.parse(value) : null;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/**
 * Reads one slot from pg_replication_slots, or undefined when there is none. The row is read as JSON
 * so the same query works on every major whatever columns it added (two_phase 14, conflicting 16,
 * invalidation_reason 17, ...).
 */
export async function inspectSlot(connection: SqlQueryable, slotName: string): Promise<SlotInfo | undefined> {
  validateSlotName(slotName);
  let rows: unknown[];
  try {
    ({ rows } = await connection.query(
      `SELECT to_jsonb(s)::text AS slot FROM pg_catalog.pg_replication_slots s WHERE s.slot_name = ${quoteLiteral(slotName)}`,
    ));
  } catch (error) {
    throw fromPgError(error, `reading replication slot "${slotName}"`);
  }
  const text = (rows[0] as { slot?: unknown } | undefined)?.slot;
  if (typeof text !== 'string') return undefined;
  const row = JSON.parse(text) as Record<string, unknown>;
  const walStatus = stringOrNull(row['wal_status']);
  const invalidationReason = stringOrNull(row['invalidation_reason']);
  // 16 reports invalidation through `conflicting` (logical slots on a standby) and wal_status lost.
  const invalidated = walStatus === 'lost' || invalidationReason !== null || row['conflicting'] === true;
  return {
    slotName: String(row['slot_name']),
    slotType: row['slot_type'] === 'physical' ? 'physical' : 'logical',
    plugin: stringOrNull(row['plugin']),
    database: stringOrNull(row['database']),
    temporary: row['temporary'] === true,
    active: row['active'] === true,
    activePid: typeof row['active_pid'] === 'number' ? row['active_pid'] : null,
    restartLsn: lsnOrNull(row['restart_lsn']),
    confirmedFlushLsn: lsnOrNull(row['confirmed_flush_lsn']),
    walStatus,
    safeWalSize: typeof row['safe_wal_size'] === 'number' ? row['safe_wal_size'] : null,
    twoPhase: typeof row['two_phase'] === 'boolean' ? row['two_phase'] : null,
    invalidationReason,
    invalidated,
  };
}

export interface SlotExpectations {
  /** The database the replication connection serves: a logical slot belongs to exactly one. */
  readonly database: string;
  /** Default `pgoutput`. */
  readonly plugin?: string;
  /** The pid of our own walsender: a slot active in it is ours, not "in use by another process". */
  readonly ownPid?: number;
}

/**
 * Throws a SlotError when laredo cannot stream from the slot: missing, physical, another output
 * plugin, another database, invalidated, or active in another process. START_REPLICATION on such a
 * slot would fail or (for some of them) behave badly; this check fails at once with the fix.
 */
export function assertSlotUsable(info: SlotInfo | undefined, expected: SlotExpectations, slotName = info?.slotName ?? '?'): SlotInfo {
  const plugin = expected.plugin ?? 'pgoutput';
  const quoted = `replication slot "${slotName}"`;
  if (info === undefined) {
    throw new SlotError('SLOT_MISSING', slotName, `${quoted} does not exist: let laredo create it (stateful mode does on first start) or fix slot_name`);
  }
  const dropIt = `SELECT pg_drop_replication_slot(${quoteLiteral(info.slotName)})`;
  if (info.slotType !== 'logical') {
    throw new SlotError('SLOT_WRONG_TYPE', slotName, `${quoted} is a physical slot; laredo needs a logical slot: choose another slot_name, or drop it (${dropIt})`);
  }
  if (info.plugin !== plugin) {
    throw new SlotError(
      'SLOT_WRONG_PLUGIN',
      slotName,
      `${quoted} uses output plugin ${info.plugin ?? 'none'}, laredo needs ${plugin}: choose another slot_name, or drop it (${dropIt}) so laredo recreates it`,
    );
  }
  if (info.database !== expected.database) {
    throw new SlotError(
      'SLOT_WRONG_DATABASE',
      slotName,
      `${quoted} belongs to database ${JSON.stringify(info.database)}, but the connection is to ${JSON.stringify(expected.database)}: ` +
        `fix the database in the connection string, or choose another slot_name (slot names are unique across the whole server)`,
    );
  }
  if (info.invalidated) {
    throw new SlotError(
      'SLOT_INVALIDATED',
      slotName,
      `${quoted} was invalidated by PostgreSQL (${info.invalidationReason ?? `wal_status ${info.walStatus ?? '?'}`}): the WAL it needed is gone. ` +
        `Drop it (${dropIt}) and start again with a full baseline (on_slot_invalidated = rebaseline does this), and raise max_slot_wal_keep_size`,
    );
  }
  if (info.active && info.activePid !== expected.ownPid) {
    throw new SlotError(
      'SLOT_ACTIVE',
      slotName,
      `${quoted} is in use by process ${info.activePid ?? '?'} (another laredo, a subscription, or pg_recvlogical): stop that consumer, ` +
        `or end it with SELECT pg_terminate_backend(${info.activePid ?? 'pid'}); laredo retries`,
    );
  }
  return info;
}
