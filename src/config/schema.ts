// The shape of a laredo config file, key by key, as zod schemas over the parsed HOCON. Key names are
// the file's (snake_case); load-config.ts maps the result onto the library's option types. Defaults
// that belong to the library (source options) are not applied here; those of the CLI's own settings
// (targets, observability, state_dir) are, each with its reason.
import { z } from 'zod';
import { checkConnectionString } from './connection-string.js';
import { ConfigValueError } from './errors.js';
import {
  bool,
  byteSize,
  decimal,
  duration,
  integer,
  list,
  map,
  millis,
  nonEmptyText,
  oneOf,
  optional,
  refine,
  required,
  section,
  text,
  withDefault,
} from './fields.js';
import { checkIdentifier, checkReplicationName } from './names.js';
import type { LogLevel } from '../observability/logger.js';
import type { PublishOperation } from '../source/options.js';

const PUBLISH_OPERATIONS = ['insert', 'update', 'delete', 'truncate'] as const satisfies readonly PublishOperation[];

const slotName = refine(nonEmptyText, (name) => {
  checkReplicationName(name, 'slot');
  return name;
});

const publicationName = refine(nonEmptyText, (name) => {
  checkReplicationName(name, 'publication');
  return name;
});

const connection = refine(nonEmptyText, (value) => {
  checkConnectionString(value);
  return value;
});

/** `"insert, update"` as in the specification, or a list `[insert, update]`. */
function publishOperations(input: unknown): PublishOperation[] {
  const items: readonly unknown[] | undefined = Array.isArray(input) ? input : typeof input === 'string' ? input.split(',') : undefined;
  if (items === undefined) throw new ConfigValueError('must be a comma-separated string such as "insert, update, delete, truncate" or a list');
  const operations = new Set<PublishOperation>();
  for (const item of items) {
    const word = typeof item === 'string' ? item.trim() : item;
    operations.add(oneOf(PUBLISH_OPERATIONS)(word));
  }
  if (operations.size === 0) throw new ConfigValueError('must name at least one of insert, update, delete, truncate');
  return [...operations];
}

const columnName = refine(nonEmptyText, (name) => {
  checkIdentifier(name, 'column');
  return name;
});

const columnList = list(required(columnName, 'a column name'), 1, 'column');

const publicationTable = section({
  /** Row filter (PostgreSQL 15+): a SQL boolean expression over the table's columns. */
  where: optional(nonEmptyText),
  /** Column list (PostgreSQL 15+). */
  columns: columnList.optional(),
});

const publication = section({
  name: optional(publicationName),
  create: optional(bool),
  publish: optional(publishOperations),
  tables: map(publicationTable).optional(),
});

const reconnect = section({
  max_attempts: optional(integer(0)),
  initial_backoff: optional(duration),
  max_backoff: optional(duration),
  backoff_multiplier: optional(decimal(1, 100)),
  jitter: optional(bool),
});

export const sourceSchema = section({
  type: required(oneOf(['postgresql']), 'postgresql'),
  connection: required(connection, 'a postgresql:// URL or key=value connection string'),
  slot_mode: optional(oneOf(['ephemeral', 'stateful'])),
  slot_name: optional(slotName),
  always_baseline: optional(bool),
  publication: publication.optional(),
  reconnect: reconnect.optional(),
  on_slot_invalidated: optional(oneOf(['rebaseline', 'error'])),
  baseline_parallelism: optional(integer(1, 64)),
  baseline_batch_size: optional(integer(1, 1_000_000)),
  max_in_flight_bytes: optional(refine(byteSize, (bytes) => {
    // Below one wide row the reader could never make progress.
    if (bytes < 65_536) throw new ConfigValueError('must be at least 64KiB');
    return bytes;
  })),
  status_interval: optional(refine(duration, positive)),
  messages: optional(bool),
  streaming: optional(bool),
  binary: optional(bool),
  origin: optional(oneOf(['any', 'none'])),
  stop_timeout: optional(duration),
});

function positive(ms: number): number {
  if (ms <= 0) throw new ConfigValueError('must be longer than 0ms');
  return ms;
}

/**
 * Source keys an environment variable can set (`LAREDO_SOURCES_<ID>_<KEY>`): every scalar of a source,
 * nested ones joined with `_` (`PUBLICATION_NAME`, `RECONNECT_MAX_ATTEMPTS`).
 */
export const SOURCE_OVERRIDE_KEYS: readonly (readonly string[])[] = [
  ['connection'], ['slot_mode'], ['slot_name'], ['always_baseline'], ['on_slot_invalidated'],
  ['baseline_parallelism'], ['baseline_batch_size'], ['max_in_flight_bytes'], ['status_interval'],
  ['messages'], ['streaming'], ['binary'], ['origin'], ['stop_timeout'],
  ['publication', 'name'], ['publication', 'create'], ['publication', 'publish'],
  ['reconnect', 'max_attempts'], ['reconnect', 'initial_backoff'], ['reconnect', 'max_backoff'],
  ['reconnect', 'backoff_multiplier'], ['reconnect', 'jitter'],
];

// Defaults of the targets, with the reason for each.
export const TARGET_DEFAULTS = {
  /** Long enough to group a burst of transactions into one fsync, short enough to be near real time. */
  flushIntervalMs: 200,
  /** Requests of a few hundred changes keep both ends efficient without multi-megabyte bodies. */
  batchSize: 500,
  /** A receiver that has not answered in 5 s is treated as failed and retried. */
  timeoutMs: 5000,
  /** A short outage of the receiver is ridden out; a longer one fails the pipeline (nothing is lost: unacknowledged). */
  retryCount: 3,
  retryBackoffMs: 1000,
} as const;

const headerValue = required(text, 'a header value');

const httpUrl = refine(nonEmptyText, (value) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigValueError('is not a URL: write e.g. "https://example.com/sync"');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigValueError('must be an http:// or https:// URL');
  return value;
});

const jsonlTarget = section({
  type: z.literal('jsonl'),
  path: required(nonEmptyText, 'a file path, or "-" for stdout'),
  flush_interval: withDefault(duration, TARGET_DEFAULTS.flushIntervalMs),
});

const httpSyncTarget = section({
  type: z.literal('http-sync'),
  base_url: required(httpUrl, 'the receiver\'s URL, e.g. "https://example.com/sync"'),
  batch_size: withDefault(integer(1, 100_000), TARGET_DEFAULTS.batchSize),
  flush_interval: withDefault(duration, TARGET_DEFAULTS.flushIntervalMs),
  timeout_ms: withDefault(refine(millis, positive), TARGET_DEFAULTS.timeoutMs),
  retry_count: withDefault(integer(0, 100), TARGET_DEFAULTS.retryCount),
  retry_backoff_ms: withDefault(millis, TARGET_DEFAULTS.retryBackoffMs),
  auth_header: optional(nonEmptyText),
  headers: map(headerValue).optional(),
});

const indexList = list(required(columnName, 'a column name'), 1, 'column');

const indexedMemoryTarget = section({
  type: z.literal('indexed-memory'),
  lookup_fields: indexList,
  additional_indexes: list(indexList).optional(),
});

export const TARGET_TYPES = ['jsonl', 'http-sync', 'indexed-memory'] as const;

const target = z.discriminatedUnion('type', [jsonlTarget, httpSyncTarget, indexedMemoryTarget]);

const tableEntry = section({
  /** Optional when the file has exactly one source. */
  source: optional(nonEmptyText),
  schema: withDefault(
    refine(nonEmptyText, (name) => {
      checkIdentifier(name, 'schema');
      return name;
    }),
    'public',
  ),
  table: required(
    refine(nonEmptyText, (name) => {
      checkIdentifier(name, 'table');
      return name;
    }),
    'the table name (without schema)',
  ),
  targets: list(target, 1, 'target'),
});

const port = integer(1, 65535);

const metricsPath = refine(nonEmptyText, (path) => {
  if (!path.startsWith('/')) throw new ConfigValueError('must start with "/", e.g. /metrics');
  if (path.startsWith('/health/')) throw new ConfigValueError('must not be under /health/, which serves the health checks');
  return path;
});

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LogLevel[];

export const OBSERVABILITY_DEFAULTS = {
  /** Where Prometheus looks by default. */
  metricsPath: '/metrics',
  /** Start, stop, state changes and errors, without a line per change. */
  logLevel: 'info',
  /** Next to where laredo is started, hidden; set an absolute path for services. */
  stateDir: '.laredo-state',
} as const;

export const configSchema = section({
  sources: map(sourceSchema, 'sources { pg_main { type = postgresql, connection = "postgresql://..." } }'),
  tables: list(tableEntry).optional(),
  health: section({ http_port: optional(port) }).optional(),
  observability: section({
    metrics: section({
      port: optional(port),
      path: withDefault(metricsPath, OBSERVABILITY_DEFAULTS.metricsPath),
    }).optional(),
    logging: section({
      level: withDefault(oneOf(LOG_LEVELS), OBSERVABILITY_DEFAULTS.logLevel),
    }).optional(),
  }).optional(),
  state_dir: withDefault(nonEmptyText, OBSERVABILITY_DEFAULTS.stateDir),
  /** Free-form values for `${vars.x}` substitutions; ignored by laredo. */
  vars: z.unknown().optional(),
});

export type ParsedConfig = z.output<typeof configSchema>;
export type ParsedSource = z.output<typeof sourceSchema>;
export type ParsedTarget = z.output<typeof target>;
