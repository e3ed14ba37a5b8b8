// What a loaded config file is: library options keyed by source id, and what the CLI needs around
// them. Every default is already applied here except those of PostgresSourceOptions, which stay absent
// when the file does not set them so the source's own defaults (src/source/options.ts) decide.
import type { LogLevel } from '../observability/logger.js';
import type { PostgresSourceOptions } from '../source/options.js';

export type { LogLevel } from '../observability/logger.js';

/** Append change records as JSON lines to a file, or to stdout with `path = "-"`. */
export interface JsonlTargetConfig {
  readonly type: 'jsonl';
  /** File path (relative to the working directory), or `-` for stdout. */
  readonly path: string;
  /** How long writes are grouped before one flush (and fsync). */
  readonly flushIntervalMs: number;
}

/** POST batches of changes to an HTTP endpoint. */
export interface HttpSyncTargetConfig {
  readonly type: 'http-sync';
  readonly baseUrl: string;
  /** Changes per request at most. */
  readonly batchSize: number;
  /** How long changes are grouped before a request is sent. */
  readonly flushIntervalMs: number;
  /** Per-request timeout. */
  readonly timeoutMs: number;
  /** Retries of a failed request before the target fails. */
  readonly retryCount: number;
  /** Wait before the first retry (doubling after). */
  readonly retryBackoffMs: number;
  /** Value of the Authorization header; a secret, never logged. */
  readonly authHeader?: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Keep the table in memory with lookups by the given fields. */
export interface IndexedMemoryTargetConfig {
  readonly type: 'indexed-memory';
  /** The unique lookup key (one or more columns). */
  readonly lookupFields: readonly string[];
  /** Further, non-unique indexes, each a list of columns. */
  readonly additionalIndexes: readonly (readonly string[])[];
}

export type TargetConfig = JsonlTargetConfig | HttpSyncTargetConfig | IndexedMemoryTargetConfig;
export type TargetType = TargetConfig['type'];

/** One `tables[]` entry: where a table's changes go. */
export interface TableConfig {
  /** Id of the source (a key of `sources`). */
  readonly source: string;
  readonly schema: string;
  readonly table: string;
  readonly targets: readonly TargetConfig[];
}

export interface HealthConfig {
  /** Port of the HTTP server for /health/live and /health/ready; no server when absent. */
  readonly httpPort?: number;
}

export interface ObservabilityConfig {
  readonly metrics: {
    /** Port serving `path`; defaults to `health.httpPort` (one server for both). No metrics server when neither is set. */
    readonly port?: number;
    readonly path: string;
  };
  readonly logging: {
    readonly level: LogLevel;
  };
}

export interface LaredoConfig {
  /** The file this was loaded from, as given. */
  readonly file: string;
  /**
   * Source options keyed by source id. `publication.tables` holds every table the source publishes: the
   * keys of the file's `publication.tables` plus each `tables[]` entry naming the source.
   */
  readonly sources: Readonly<Record<string, PostgresSourceOptions>>;
  readonly tables: readonly TableConfig[];
  readonly health: HealthConfig;
  readonly observability: ObservabilityConfig;
  /** Where stateful sources keep their small state file. */
  readonly stateDir: string;
}
