import { defer, EMPTY, finalize, tap, type Observable } from 'rxjs';
import type { LaredoConfig, TargetConfig } from '../config/types.js';
import type { TargetMessage } from '../model/events.js';
import { tableKey, type TableKey } from '../model/table.js';
import type { Target } from '../model/target.js';
import type { ChangeOperation, LaredoMetrics } from '../observability/metrics.js';
import { pg, type PostgresSource } from '../source/index.js';
import { httpSyncTarget } from '../targets/http-sync/index.js';
import { jsonlTarget } from '../targets/jsonl/index.js';
import { memoryTarget } from '../targets/memory/index.js';
import { routeTables } from '../targets/route-tables.js';

/** One configured source with the targets its tables go to. */
export interface Pipeline {
  readonly id: string;
  readonly source: PostgresSource;
  readonly targets: readonly Target[];
  readonly tables: readonly TableKey[];
  /** What the targets hold: bytes still in flight, and whether every baseline handed over is durable. */
  readonly delivery: DeliveryTracker;
}

/**
 * Builds a source per config entry and one target instance per distinct target config of its tables
 * (two tables writing to the same jsonl file share one writer), each routed to its own tables.
 */
export function buildPipelines(config: LaredoConfig, metrics: LaredoMetrics): Pipeline[] {
  return Object.entries(config.sources).map(([id, options]) => {
    const source = pg.source({ ...options, stateDir: options.stateDir ?? config.stateDir });
    const grouped = new Map<string, { config: TargetConfig; tables: Set<TableKey> }>();
    const tables: TableKey[] = [];
    for (const entry of config.tables) {
      if (entry.source !== id) continue;
      const key = tableKey(entry.schema, entry.table);
      tables.push(key);
      for (const target of entry.targets) {
        // indexed-memory keeps per-table indexes: one instance per table; others share by config.
        const groupKey = target.type === 'indexed-memory' ? `${JSON.stringify(target)}#${key}` : JSON.stringify(target);
        const group = grouped.get(groupKey) ?? { config: target, tables: new Set<TableKey>() };
        group.tables.add(key);
        grouped.set(groupKey, group);
      }
    }
    const routedTargets = [...grouped.values()].map(({ config: targetConfig, tables: routed }) =>
      routeTables(instrument(id, createTarget(id, targetConfig, [...routed]), metrics), routed),
    );
    const delivery = new DeliveryTracker(routedTargets.length, (bytes) => {
      metrics.setInFlightBytes(id, bytes);
    });
    // The counting target first: the source hands each event to its targets in order, so an event is
    // counted as handed over before a target that completes at once reports it durable.
    const targets = [countingTarget(id, metrics, delivery), ...routedTargets.map((target, index) => trackDurability(target, index, delivery))];
    return { id, source, targets, tables, delivery };
  });
}

function createTarget(source: string, config: TargetConfig, tables: readonly TableKey[]): Target {
  switch (config.type) {
    case 'jsonl':
      return jsonlTarget({ path: config.path, source, flushIntervalMs: config.flushIntervalMs });
    case 'http-sync':
      return httpSyncTarget({
        baseUrl: config.baseUrl,
        source,
        batchSize: config.batchSize,
        flushIntervalMs: config.flushIntervalMs,
        timeoutMs: config.timeoutMs,
        retryCount: config.retryCount,
        retryBackoffMs: config.retryBackoffMs,
        headers: config.headers,
        ...(config.authHeader === undefined ? {} : { authHeader: config.authHeader }),
      });
    case 'indexed-memory':
      return memoryTarget({
        name: `indexed-memory:${tables.join(',')}`,
        tables: Object.fromEntries(
          tables.map((table) => [table, { lookupFields: config.lookupFields, additionalIndexes: config.additionalIndexes.flat() }]),
        ),
      });
  }
}

/** Times each write from hand-over to durability (laredo_target_apply_seconds). */
function instrument(source: string, target: Target, metrics: LaredoMetrics): Target {
  const write = (batch: readonly TargetMessage[]): Observable<unknown> =>
    defer(() => {
      const started = performance.now();
      return target.write(batch).pipe(
        finalize(() => {
          metrics.observeTargetApply(source, target.name, (performance.now() - started) / 1000);
        }),
      );
    });
  return target.close === undefined ? { name: target.name, write } : { name: target.name, write, close: target.close.bind(target) };
}

/**
 * What the targets of a source hold, from the batches they were handed and the batches they made
 * durable:
 * - in-flight bytes (`laredo_in_flight_bytes`): bytes of the events handed to the counting target (it
 *   takes every event the moment the source emits it) less what the slowest target made durable. The
 *   source's own byte budget also holds the few frames not yet decoded into events; those are not
 *   counted here.
 * - whether every baseline handed over is durable in every target: a `reset` opens a table's baseline,
 *   its `baseline-complete` closes it once durable everywhere. The source streams as soon as it has
 *   *handed* the baseline over, so its STREAMING state alone would call a source ready whose slow
 *   target still writes the baseline.
 */
export class DeliveryTracker {
  #handed = 0;
  readonly #durable: number[];
  readonly #targets: number;
  /** Tables whose baseline is handed over, with the targets it is not yet durable in. */
  readonly #baselining = new Map<TableKey, Set<number>>();
  readonly #report: (bytes: number) => void;

  constructor(targets: number, reportInFlight: (bytes: number) => void) {
    this.#targets = targets;
    this.#durable = new Array<number>(targets).fill(0);
    this.#report = reportInFlight;
    reportInFlight(0);
  }

  /** True when no baseline handed over is still being written by a target. */
  get baselinesDurable(): boolean {
    return this.#baselining.size === 0;
  }

  handed(batch: readonly TargetMessage[]): void {
    for (const message of batch) {
      this.#handed += message.bytes;
      if (message.kind === 'reset' && this.#targets > 0) {
        for (const table of message.tables) this.#baselining.set(table, new Set(Array.from({ length: this.#targets }, (_, index) => index)));
      }
    }
    this.#update();
  }

  /** `batch` is durable in target `index` (messages routed away from it included: they are done for it). */
  durable(index: number, batch: readonly TargetMessage[]): void {
    for (const message of batch) {
      this.#durable[index] = (this.#durable[index] ?? 0) + message.bytes;
      if (message.kind === 'baseline-complete') {
        const pending = this.#baselining.get(message.table.key);
        pending?.delete(index);
        if (pending?.size === 0) this.#baselining.delete(message.table.key);
      }
    }
    this.#update();
  }

  #update(): void {
    const slowest = this.#durable.length === 0 ? this.#handed : Math.min(...this.#durable);
    this.#report(Math.max(0, this.#handed - slowest));
  }
}

/** Tells `delivery` when `target` made a batch durable. */
function trackDurability(target: Target, index: number, delivery: DeliveryTracker): Target {
  const write = (batch: readonly TargetMessage[]): Observable<unknown> =>
    target.write(batch).pipe(
      tap({
        complete: () => {
          delivery.durable(index, batch);
        },
      }),
    );
  return target.close === undefined ? { name: target.name, write } : { name: target.name, write, close: target.close.bind(target) };
}

/** Counts changes by table and operation and baseline rows, and tells `delivery` what was handed over; durable at once, it never holds the source back. */
function countingTarget(source: string, metrics: LaredoMetrics, delivery: DeliveryTracker): Target {
  return {
    name: 'metrics',
    write(batch) {
      delivery.handed(batch);
      for (const message of batch) {
        switch (message.kind) {
          case 'insert':
          case 'update':
          case 'delete':
            metrics.countChanges(source, message.table.key, message.kind satisfies ChangeOperation);
            break;
          case 'truncate':
            for (const table of message.tables) metrics.countChanges(source, table.key, 'truncate');
            break;
          case 'baseline':
            metrics.countBaselineRows(source, message.table.key, message.rows.length);
            break;
          default:
            break;
        }
      }
      return EMPTY;
    },
  };
}
