// Library options of the PostgreSQL source, mirroring the specification's config keys. Defaults live
// in DEFAULTS below, each with its reason. The config layer maps the HOCON file onto these types.
import type { SchedulerLike } from 'rxjs';
import type { ValueOptions } from '../protocol/values.js';
import type { SourceStateStore } from './state-store.js';

export type SlotMode = 'ephemeral' | 'stateful';
export type PublishOperation = 'insert' | 'update' | 'delete' | 'truncate';

export interface PublicationTableOptions {
  /** Row filter, a SQL boolean expression (PostgreSQL 15+). */
  readonly where?: string;
  /** Column list (PostgreSQL 15+); all columns when absent. */
  readonly columns?: readonly string[];
}

export interface PublicationOptions {
  /** Default: `<slotName>_pub` (an ephemeral source without a slot name: `laredo_<hash of the tables>_pub`). */
  readonly name?: string;
  /** Create the publication and keep it equal to this config on every start. Default true. */
  readonly create?: boolean;
  /** Operations to publish. Default all four. */
  readonly publish?: readonly PublishOperation[];
  /** Tables keyed `schema.table`. */
  readonly tables?: Readonly<Record<string, PublicationTableOptions>>;
}

export interface ReconnectOptions {
  /** Failures in a row before the source goes to ERROR. Default 10. */
  readonly maxAttempts?: number;
  /** Milliseconds before the first retry. Default 1000. */
  readonly initialBackoff?: number;
  /** Cap on the wait between retries, ms. Default 60000. */
  readonly maxBackoff?: number;
  /** Growth factor of the wait. Default 2.0. */
  readonly multiplier?: number;
  /** Randomise each wait by up to ±20% so many sources do not reconnect in lockstep. Default true. */
  readonly jitter?: boolean;
}

export interface PostgresSourceOptions {
  /** libpq-style URL or key/value string. */
  readonly connection: string;
  readonly slotMode?: SlotMode;
  /** Required when slotMode is stateful. `[a-z0-9_]`, at most 63 bytes. */
  readonly slotName?: string;
  /** Full baseline on every start, even with a persistent slot. */
  readonly alwaysBaseline?: boolean;
  readonly publication?: PublicationOptions;
  readonly reconnect?: ReconnectOptions;
  /** What to do when PostgreSQL invalidated the slot. Default rebaseline. */
  readonly onSlotInvalidated?: 'rebaseline' | 'error';
  /** Tables copied at once during the baseline. Default 4. */
  readonly baselineParallelism?: number;
  /** Rows per baseline batch handed to targets. Default 1000. */
  readonly baselineBatchSize?: number;
  /** Received bytes not yet durable in every target before reading pauses. Default 64 MiB. */
  readonly maxInFlightBytes?: number;
  /** Standby status update interval while streaming, ms. Default 10000 (well inside wal_sender_timeout's 60 s). */
  readonly statusInterval?: number;
  /** pgoutput options, opt-in. */
  readonly messages?: boolean;
  readonly streaming?: boolean;
  readonly binary?: boolean;
  /** PostgreSQL 16+: `any` or `none`. */
  readonly origin?: 'any' | 'none';
  readonly values?: ValueOptions;
  /** Time given to in-flight target work on a graceful stop, ms. Default 10000. */
  readonly stopTimeout?: number;
  /**
   * Where a stateful source remembers whether its slot's baseline completed (one small JSON file per
   * slot). Default `.laredo-state` in the working directory; keep it on persistent storage.
   */
  readonly stateDir?: string;
  /** Replaces the file store (tests, or state kept elsewhere). */
  readonly stateStore?: SourceStateStore;
  /** For TestScheduler: every wait of the source runs on it. */
  readonly scheduler?: SchedulerLike;
}
