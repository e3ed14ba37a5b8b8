import { createHash, randomBytes } from 'node:crypto';
import { LaredoError } from '../errors.js';
import { tableKey, type TableKey } from '../model/table.js';
import { resolveBackoffPolicy, type BackoffPolicy } from '../operators/backoff.js';
import { parseConnectionString } from '../streams/connection.js';
import { parseTableName, validateSlotName } from '../streams/identifiers.js';
import { ALL_OPERATIONS } from '../streams/publication.js';
import type { PostgresSourceOptions, PublicationTableOptions, PublishOperation, SlotMode } from './options.js';

/** An option of `pg.source()` that cannot work; `key` names it the way the options object spells it. */
export class SourceOptionError extends LaredoError {
  readonly key: string;

  constructor(key: string, problem: string) {
    super('SOURCE_OPTION', `source option ${key}: ${problem}`, { retryable: false });
    this.key = key;
  }
}

/** Every option filled in and checked: what the source actually runs with. */
export interface ResolvedSourceOptions {
  readonly connection: string;
  readonly slotMode: SlotMode;
  /** Stateful: the persistent slot. Ephemeral: the temporary slot's name (unique per run when not set). */
  readonly slotName: string;
  readonly slotNameGiven: boolean;
  readonly alwaysBaseline: boolean;
  readonly publication: {
    readonly name: string;
    readonly create: boolean;
    readonly publish: readonly PublishOperation[];
    readonly tables: Readonly<Record<TableKey, PublicationTableOptions>>;
  };
  readonly reconnect: BackoffPolicy;
  readonly onSlotInvalidated: 'rebaseline' | 'error';
  readonly baselineParallelism: number;
  readonly baselineBatchSize: number;
  readonly maxInFlightBytes: number;
  readonly statusInterval: number;
  readonly messages: boolean;
  readonly streaming: boolean;
  readonly binary: boolean;
  readonly origin: 'any' | 'none' | undefined;
  readonly stopTimeout: number;
  readonly stateDir: string;
}

/**
 * Defaults, each with its reason. The specification fixes the mode (ephemeral), the publication name
 * (`<slot_name>_pub`) and the reconnect block (10 attempts, 1 s doubling to 60 s).
 */
export const SOURCE_DEFAULTS = {
  /** A new user gets a working pipeline that leaves nothing behind on the server. */
  slotMode: 'ephemeral' as SlotMode,
  /** laredo manages the publication unless told the DBA owns it. */
  publicationCreate: true,
  /** Rebaselining loses nothing; stopping needs a human. */
  onSlotInvalidated: 'rebaseline' as const,
  /** Four COPYs keep a server's disks and one client core busy without hogging connections. */
  baselineParallelism: 4,
  /** Amortises per-batch work in targets while keeping batches to a few hundred kB. */
  baselineBatchSize: 1000,
  /** Enough to ride out a target's hiccup at full speed; small next to a container's memory. */
  maxInFlightBytes: 64 * 1024 * 1024,
  /** Well inside wal_sender_timeout's default 60 s (the connection also caps it at a third of the server's setting). */
  statusInterval: 10_000,
  /** Long enough for a target to finish an fsync or an HTTP request, short enough for a deploy's stop grace period. */
  stopTimeout: 10_000,
  /** Next to the process, like a lock file; point it at a persistent volume in containers. */
  stateDir: '.laredo-state',
} as const;

function positiveInteger(key: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new SourceOptionError(key, `must be a whole number > 0, got ${String(value)}`);
  return value;
}

function nonNegativeNumber(key: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new SourceOptionError(key, `must be a number of ms >= 0, got ${String(value)}`);
  return value;
}

/** Fills in defaults and checks the options; throws SourceOptionError (or the streams layer's name errors). */
export function resolveSourceOptions(options: PostgresSourceOptions): ResolvedSourceOptions {
  if (typeof options.connection !== 'string' || options.connection.trim() === '') {
    throw new SourceOptionError('connection', 'is required: a postgresql:// URL or a key=value connection string');
  }
  parseConnectionString(options.connection);
  const slotMode = options.slotMode ?? SOURCE_DEFAULTS.slotMode;
  // Checked at run time too: plain JavaScript callers get no type check.
  if (!['ephemeral', 'stateful'].includes(slotMode)) {
    throw new SourceOptionError('slotMode', `must be 'ephemeral' or 'stateful', got ${JSON.stringify(slotMode)}`);
  }
  if (slotMode === 'stateful' && options.slotName === undefined) {
    throw new SourceOptionError('slotName', "is required when slotMode is 'stateful': the persistent slot's name");
  }
  const slotNameGiven = options.slotName !== undefined;
  const slotName = options.slotName ?? `laredo_${randomBytes(6).toString('hex')}`;
  validateSlotName(slotName, 'slotName');
  const tables: Record<TableKey, PublicationTableOptions> = {};
  for (const [key, table] of Object.entries(options.publication?.tables ?? {})) {
    const name = parseTableName(key, `publication.tables["${key}"]`);
    tables[tableKey(name.schema, name.name)] = table;
  }
  if (Object.keys(tables).length === 0) {
    throw new SourceOptionError('publication.tables', 'names no table: list at least one `schema.table` to stream');
  }
  const publish = options.publication?.publish ?? ALL_OPERATIONS;
  for (const operation of publish) {
    if (!ALL_OPERATIONS.includes(operation)) {
      throw new SourceOptionError('publication.publish', `unknown operation ${JSON.stringify(operation)}: use ${ALL_OPERATIONS.join(', ')}`);
    }
  }
  const publicationName = options.publication?.name ?? (slotNameGiven ? `${slotName}_pub` : publicationNameFor(tables, publish));
  validateSlotName(publicationName, 'publication.name');
  let reconnect: BackoffPolicy;
  try {
    reconnect = resolveBackoffPolicy(stripUndefined(options.reconnect ?? {}));
  } catch (error) {
    throw new SourceOptionError('reconnect', (error as Error).message);
  }
  const onSlotInvalidated = options.onSlotInvalidated ?? SOURCE_DEFAULTS.onSlotInvalidated;
  if (!['rebaseline', 'error'].includes(onSlotInvalidated)) {
    throw new SourceOptionError('onSlotInvalidated', `must be 'rebaseline' or 'error', got ${JSON.stringify(onSlotInvalidated)}`);
  }
  return Object.freeze({
    connection: options.connection,
    slotMode,
    slotName,
    slotNameGiven,
    alwaysBaseline: options.alwaysBaseline ?? false,
    publication: Object.freeze({
      name: publicationName,
      create: options.publication?.create ?? SOURCE_DEFAULTS.publicationCreate,
      publish: [...publish],
      tables: Object.freeze(tables),
    }),
    reconnect,
    onSlotInvalidated,
    baselineParallelism: positiveInteger('baselineParallelism', options.baselineParallelism, SOURCE_DEFAULTS.baselineParallelism),
    baselineBatchSize: positiveInteger('baselineBatchSize', options.baselineBatchSize, SOURCE_DEFAULTS.baselineBatchSize),
    maxInFlightBytes: positiveInteger('maxInFlightBytes', options.maxInFlightBytes, SOURCE_DEFAULTS.maxInFlightBytes),
    statusInterval: positiveInteger('statusInterval', options.statusInterval, SOURCE_DEFAULTS.statusInterval),
    messages: options.messages ?? false,
    streaming: options.streaming ?? false,
    binary: options.binary ?? false,
    origin: options.origin,
    stopTimeout: nonNegativeNumber('stopTimeout', options.stopTimeout, SOURCE_DEFAULTS.stopTimeout),
    stateDir: options.stateDir ?? SOURCE_DEFAULTS.stateDir,
  });
}

/**
 * The publication of an ephemeral source without a slot name: named after what it publishes, so the
 * same config finds the same publication on every start (none is left behind per run), while two
 * sources with different tables in one database never rewrite each other's table list (a shared
 * name would make each start silently drop the other source's tables from the stream).
 */
function publicationNameFor(tables: Readonly<Record<TableKey, PublicationTableOptions>>, publish: readonly PublishOperation[]): string {
  const canonical = Object.keys(tables)
    .sort()
    .map((key) => [key, tables[key]?.where?.trim() ?? null, tables[key]?.columns === undefined ? null : [...tables[key].columns].sort()]);
  const digest = createHash('sha256')
    .update(JSON.stringify([canonical, [...publish].sort()]))
    .digest('hex');
  return `laredo_${digest.slice(0, 16)}_pub`;
}

function stripUndefined<T extends object>(value: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<{ [K in keyof T]: Exclude<T[K], undefined> }>;
}
