import { PostgresSource } from './postgres-source.js';
import type { PostgresSourceOptions } from './options.js';

/**
 * The PostgreSQL source, as the specification's `pg.New(...)`:
 *
 * ```ts
 * const source = pg.source({
 *   connection: 'postgresql://user:pass@host:5432/dbname',
 *   slotMode: 'stateful',
 *   slotName: 'laredo_warden_01',
 *   publication: { name: 'laredo_warden_01_pub', create: true, tables: { 'public.rules': {} } },
 *   reconnect: { maxAttempts: 10, initialBackoff: 1000, maxBackoff: 60_000, multiplier: 2.0 },
 * });
 * ```
 */
export const pg = {
  source(options: PostgresSourceOptions): PostgresSource {
    return new PostgresSource(options);
  },
} as const;

export { PostgresSource, SourceBusyError, type RunOptions, type SourceLag, type SourceState } from './postgres-source.js';
export { resolveSourceOptions, SOURCE_DEFAULTS, SourceOptionError, type ResolvedSourceOptions } from './defaults.js';
export { fileStateStore, memoryStateStore, StateStoreError, type SlotState, type SourceStateStore } from './state-store.js';
export type * from './options.js';
