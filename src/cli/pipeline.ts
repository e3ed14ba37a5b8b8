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
}

/**
 * Builds a source per config entry and one target instance per distinct target config of its tables
 * (two tables writing to the same jsonl file share one writer), each routed to its own tables.
 */
export function buildPipelines(config: LaredoConfig, metrics?: LaredoMetrics): Pipeline[] {
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
    const routedTargets = [...grouped.values()].map(({ config: targetConfig, tables: routed }) => {
      const target = createTarget(id, targetConfig, [...routed]);
      const instrumented = metrics === undefined ? target : instrument(id, target, metrics);
      return routeTables(instrumented, routed);
    });
    if (metrics === undefined) return { id, source, targets: routedTargets, tables };
    const inFlight = new InFlightGauge(routedTargets.length, (bytes) => {
      metrics.setInFlightBytes(id, bytes);
    });
    // The counting target first: the source hands each event to its targets in order, so the bytes
    // are counted as received before a target that completes at once reports them durable.
    const targets = [countingTarget(id, metrics, inFlight), ...routedTargets.map((target, index) => trackDurableBytes(target, index, inFlight))];
    return { id, source, targets, tables };
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
 * Bytes received from the server and not yet durable in every target (`laredo_in_flight_bytes`): what
 * the counting target was handed (it takes every event the moment the source emits it) less what the
 * slowest target made durable. The source's own byte budget also holds the few frames not yet decoded
 * into events; those are not counted here.
 */
class InFlightGauge {
  #received = 0;
  readonly #durable: number[];
  readonly #report: (bytes: number) => void;

  constructor(targets: number, report: (bytes: number) => void) {
    this.#durable = new Array<number>(targets).fill(0);
    this.#report = report;
    report(0);
  }

  received(bytes: number): void {
    this.#received += bytes;
    this.#update();
  }

  durable(target: number, bytes: number): void {
    this.#durable[target] = (this.#durable[target] ?? 0) + bytes;
    this.#update();
  }

  #update(): void {
    const slowest = this.#durable.length === 0 ? this.#received : Math.min(...this.#durable);
    this.#report(Math.max(0, this.#received - slowest));
  }
}

function batchBytes(batch: readonly TargetMessage[]): number {
  let bytes = 0;
  for (const message of batch) bytes += message.bytes;
  return bytes;
}

/** Reports a batch's bytes durable once `target` finished writing it (routed-away messages included: they are done for it). */
function trackDurableBytes(target: Target, index: number, inFlight: InFlightGauge): Target {
  const write = (batch: readonly TargetMessage[]): Observable<unknown> => {
    const bytes = batchBytes(batch);
    return target.write(batch).pipe(
      tap({
        complete: () => {
          inFlight.durable(index, bytes);
        },
      }),
    );
  };
  return target.close === undefined ? { name: target.name, write } : { name: target.name, write, close: target.close.bind(target) };
}

/** Counts changes by table and operation, baseline rows and received bytes; durable at once, it never holds the source back. */
function countingTarget(source: string, metrics: LaredoMetrics, inFlight: InFlightGauge): Target {
  return {
    name: 'metrics',
    write(batch) {
      inFlight.received(batchBytes(batch));
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
