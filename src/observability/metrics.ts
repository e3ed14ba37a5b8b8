// Prometheus metrics of a laredo process. Callers record through the methods below rather than the
// prom-client objects so that every label value passes through redaction (a target named after its URL
// could otherwise put credentials into a label) and units stay consistent (bytes, seconds).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { redactSecrets } from './redact.js';

/**
 * The states a source reports. Each is its own series of `laredo_source_state{source, state}`, 1 for
 * the current state and 0 for the others, so a dashboard can alert on `state="error" == 1` directly.
 * A state not listed here is added on first use.
 */
export const SOURCE_STATES = ['CONNECTING', 'BASELINING', 'STREAMING', 'RECONNECTING', 'ERROR', 'CLOSED'] as const;

export type ChangeOperation = 'insert' | 'update' | 'delete' | 'truncate' | 'message';

export interface LaredoMetrics {
  readonly registry: Registry;
  /** Marks `state` as the source's current state (1) and every other known state 0. */
  setSourceState(source: string, state: string): void;
  /** Bytes of WAL between the server's current position and the confirmed position. */
  setLagBytes(source: string, bytes: number | bigint): void;
  /** The LSN confirmed to the server, as a byte position (comparable and subtractable in PromQL). */
  setConfirmedLsn(source: string, lsn: bigint): void;
  countChanges(source: string, table: string, operation: ChangeOperation, count?: number): void;
  countBaselineRows(source: string, table: string, rows: number): void;
  /** How long the baseline of `table` took (set once it completed). */
  setBaselineDuration(source: string, table: string, seconds: number): void;
  countReconnect(source: string): void;
  /** Time from handing a batch to a target until it was durable there. */
  observeTargetApply(source: string, target: string, seconds: number): void;
  /** Bytes received and not yet durable in every target (the in-flight budget in use). */
  setInFlightBytes(source: string, bytes: number): void;
  /** The exposition text for a scrape. */
  scrape(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions {
  /** Also export the process metrics (CPU, memory, event loop lag) with the `laredo_` prefix. Default false. */
  readonly processMetrics?: boolean;
}

/** Registers laredo's metrics in `registry` (a new one by default) and returns the recorder. */
export function createMetrics(registry: Registry = new Registry(), options: MetricsOptions = {}): LaredoMetrics {
  const registers = [registry];
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry, prefix: 'laredo_' });

  const sourceState = new Gauge({
    name: 'laredo_source_state',
    help: 'Current state of each source: 1 for the state it is in, 0 for the others.',
    labelNames: ['source', 'state'] as const,
    registers,
  });
  const lagBytes = new Gauge({
    name: 'laredo_source_lag_bytes',
    help: 'WAL bytes between the server position and the position confirmed to it.',
    labelNames: ['source'] as const,
    registers,
  });
  const confirmedLsn = new Gauge({
    name: 'laredo_source_confirmed_lsn_bytes',
    help: 'LSN last confirmed to the server (flush position), as a byte offset.',
    labelNames: ['source'] as const,
    registers,
  });
  const changes = new Counter({
    name: 'laredo_changes_total',
    help: 'Row changes streamed, by table and operation.',
    labelNames: ['source', 'table', 'op'] as const,
    registers,
  });
  const baselineRows = new Counter({
    name: 'laredo_baseline_rows_total',
    help: 'Rows copied by baselines.',
    labelNames: ['source', 'table'] as const,
    registers,
  });
  const baselineDuration = new Gauge({
    name: 'laredo_baseline_duration_seconds',
    help: 'Duration of the last completed baseline of each table.',
    labelNames: ['source', 'table'] as const,
    registers,
  });
  const reconnects = new Counter({
    name: 'laredo_reconnects_total',
    help: 'Reconnection attempts after a lost or failed replication connection.',
    labelNames: ['source'] as const,
    registers,
  });
  const targetApply = new Histogram({
    name: 'laredo_target_apply_seconds',
    help: 'Time from handing a batch to a target until it was durable there.',
    labelNames: ['source', 'target'] as const,
    // From an in-memory apply (sub-millisecond) to a slow HTTP receiver with retries (tens of seconds).
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const inFlightBytes = new Gauge({
    name: 'laredo_in_flight_bytes',
    help: 'Bytes received from the server and not yet durable in every target.',
    labelNames: ['source'] as const,
    registers,
  });

  // Shared by all sources, so every source exports the same set of state series.
  const knownStates = new Set<string>(SOURCE_STATES);
  const label = (value: string): string => redactSecrets(value);

  return {
    registry,
    contentType: registry.contentType,
    setSourceState(source, state) {
      knownStates.add(state);
      for (const each of knownStates) sourceState.set({ source: label(source), state: label(each) }, each === state ? 1 : 0);
    },
    setLagBytes(source, bytes) {
      lagBytes.set({ source: label(source) }, Number(bytes));
    },
    setConfirmedLsn(source, lsn) {
      // A double holds positions exactly up to 2^53 bytes (8 PiB of WAL), beyond any real server.
      confirmedLsn.set({ source: label(source) }, Number(lsn));
    },
    countChanges(source, table, operation, count = 1) {
      changes.inc({ source: label(source), table: label(table), op: operation }, count);
    },
    countBaselineRows(source, table, rows) {
      baselineRows.inc({ source: label(source), table: label(table) }, rows);
    },
    setBaselineDuration(source, table, seconds) {
      baselineDuration.set({ source: label(source), table: label(table) }, seconds);
    },
    countReconnect(source) {
      reconnects.inc({ source: label(source) });
    },
    observeTargetApply(source, target, seconds) {
      targetApply.observe({ source: label(source), target: label(target) }, seconds);
    },
    setInFlightBytes(source, bytes) {
      inFlightBytes.set({ source: label(source) }, bytes);
    },
    scrape() {
      return registry.metrics();
    },
  };
}
