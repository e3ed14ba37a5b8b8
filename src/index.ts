/**
 * laredo: PostgreSQL logical replication (pgoutput) as RxJS Observables. A consistent baseline, then
 * every change, acknowledged to PostgreSQL only once every target made it durable.
 *
 * ```ts
 * import { pg, memoryTarget } from 'laredo';
 *
 * const source = pg.source({ connection: process.env.DATABASE_URL!, publication: { tables: { 'public.rules': {} } } });
 * const rules = memoryTarget();
 * source.run([rules]).subscribe({ error: (error) => console.error(error) });
 * ```
 *
 * @packageDocumentation
 */

// The source: pg.source(options), its options, states and state store.
export {
  pg,
  PostgresSource,
  SourceBusyError,
  SourceOptionError,
  SOURCE_DEFAULTS,
  resolveSourceOptions,
  fileStateStore,
  memoryStateStore,
  StateStoreError,
  type RunOptions,
  type SourceLag,
  type SourceState,
  type ResolvedSourceOptions,
  type SlotState,
  type SourceStateStore,
} from './source/index.js';
export type {
  PostgresSourceOptions,
  PublicationOptions,
  PublicationTableOptions,
  PublishOperation,
  ReconnectOptions,
  SlotMode,
} from './source/options.js';

// What flows: events, tables, targets.
export type * from './model/events.js';
export { tableKey, type TableKey, type TableSchema } from './model/table.js';
export type { Target } from './model/target.js';

// Targets.
export { memoryTarget, MemoryTarget, MemoryTargetError, type MemoryChange, type MemoryIndexValues, type MemoryTableOptions, type MemoryTargetOptions } from './targets/memory/index.js';
export { recordingTarget, RecordingTarget, type RecordedBatch, type RecordingDurability, type RecordingTargetOptions } from './targets/recording/index.js';
export {
  jsonlTarget,
  JsonlTarget,
  JSONL_DEFAULTS,
  JsonlTargetError,
  readJsonl,
  streamJsonl,
  rebuildTables,
  type JsonlTargetOptions,
  type JsonlLine,
} from './targets/jsonl/index.js';
export { httpSyncTarget, HttpSyncTarget, HTTP_SYNC_DEFAULTS, HttpSyncError, type HttpSyncTargetOptions } from './targets/http-sync/index.js';
export { routeTables } from './targets/route-tables.js';

// Operators, for pipelines of your own.
export {
  acknowledge,
  baselineThenStream,
  decodePgoutput,
  reconnect,
  rollbackOnInterrupt,
  backoffDelay,
  resolveBackoffPolicy,
  DEFAULT_BACKOFF_POLICY,
  PgoutputEventDecoder,
  TargetActor,
  ReconnectExhaustedError,
  TargetFailedError,
  DrainTimeoutError,
  InvalidOperatorOptionError,
  type AcknowledgeOptions,
  type BackoffPolicy,
  type BaselineThenStreamOptions,
  type DecodePgoutputOptions,
  type DurableNotice,
  type ReconnectOperatorOptions,
  type RetryInfo,
  type TargetActorOptions,
} from './operators/index.js';

// Streams: the conversations with the server as Observables.
export { replicationFrames, startReplicationCommand, maxProtoVersion, type ReplicationFramesOptions, type PgoutputStartOptions } from './streams/replication-frames.js';
export { ReplicationClient, type CreatedSlot, type CreateSlotOptions, type SystemIdentity } from './streams/replication-client.js';
export { baselineRows, describeTables, type BaselineOptions, type BaselineProgress, type BaselineTable } from './streams/baseline.js';
export { ensurePublication, readPublication, type PublicationConfig, type PublicationState } from './streams/publication.js';
export { preflight, type PreflightOptions, type PreflightResult, type PreflightWarning } from './streams/preflight.js';
export { inspectSlot, assertSlotUsable, type SlotInfo } from './streams/slot.js';
export { InFlightBytes } from './streams/in-flight-bytes.js';
export { quoteIdentifier, quoteLiteral, parseTableName, validateSlotName } from './streams/identifiers.js';
export { redactConnectionString } from './streams/connection.js';

// Protocol: pure decoding, usable without any of the above.
export { Lsn } from './protocol/lsn.js';
export { UNCHANGED_TOAST, isUnchangedToast, type PgValue, type Row, type JsonValue, type UnchangedToast } from './protocol/row.js';
export { PgoutputDecoder, type PgoutputDecoderOptions } from './protocol/pgoutput.js';
export type * from './protocol/pgoutput-messages.js';
export {
  parseReplicationMessage,
  encodeStandbyStatusUpdate,
  pgTimestampToIso,
  type ReplicationMessage,
  type XLogData,
  type PrimaryKeepalive,
  type StandbyStatusUpdate,
} from './protocol/replication-messages.js';
export { textParser, binaryParser, SESSION_SETTINGS, type ValueOptions } from './protocol/values.js';
export { CopyTextDecoder } from './protocol/copy-text.js';

// Errors: one base class, stable codes, a retryable flag.
export { LaredoError, isRetryable, type LaredoErrorOptions } from './errors.js';
export { ProtocolError, type ProtocolErrorCode } from './protocol/errors.js';
export {
  ConnectionError,
  ConnectionStringError,
  PostgresServerError,
  SlotError,
  PublicationError,
  PreflightError,
  InvalidNameError,
  UnsupportedOptionError,
  TableError,
} from './streams/errors.js';

// The config file, for tools that load it themselves.
export { loadConfig, ConfigError, type LaredoConfig } from './config/index.js';
