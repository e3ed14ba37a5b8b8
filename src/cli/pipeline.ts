import { resolve } from 'node:path';
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
  /** Whether every baseline handed to the targets is durable in all of them. */
  readonly baselines: BaselineTracker;
}

/**
 * Builds a source per config entry and one target instance per distinct target config of its tables
 * (two tables writing to the same jsonl file share one writer), each routed to its own tables. The
 * config refuses one jsonl file written by two sources.
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
        const groupKey = targetGroup(target, key);
        const group = grouped.get(groupKey) ?? { config: target, tables: new Set<TableKey>() };
        group.tables.add(key);
        grouped.set(groupKey, group);
      }
    }
    const routedTargets = [...grouped.values()].map(({ config: targetConfig, tables: routed }) =>
      routeTables(instrument(id, createTarget(id, targetConfig, [...routed]), metrics), routed),
    );
    const baselines = new BaselineTracker(routedTargets.length);
    // The counting target first: the source hands each event to its targets in order, so a reset is
    // seen before a target that completes at once reports its baseline durable.
    const targets = [countingTarget(id, metrics, baselines), ...routedTargets.map((target, index) => trackDurability(target, index, baselines))];
    return { id, source, targets, tables, baselines };
  });
}

/** Which target instance a table's target config goes to. */
function targetGroup(target: TargetConfig, table: TableKey): string {
  switch (target.type) {
    case 'indexed-memory':
      // Indexes are per table: one instance per table.
      return `${JSON.stringify(target)}#${table}`;
    case 'jsonl':
      // One writer per file, however its path is spelled (the config checked the settings agree).
      return target.path === '-' ? JSON.stringify(target) : `jsonl#${resolve(target.path)}`;
    case 'http-sync':
      return JSON.stringify(target);
  }
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
        tables: Object.fromEntries(tables.map((table) => [table, { lookupFields: config.lookupFields, additionalIndexes: config.additionalIndexes }])),
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
 * Whether every baseline handed to the targets of a source is durable in all of them: a `reset` opens
 * a table's baseline, its `baseline-complete` closes it once durable in every target. The source
 * streams (state STREAMING) as soon as it has *handed* the baseline over, so that state alone would
 * call a source ready whose slow target is still writing the baseline.
 */
export class BaselineTracker {
  readonly #targets: number;
  /** Tables whose baseline was handed over, with the targets it is not yet durable in. */
  readonly #pending = new Map<TableKey, Set<number>>();

  constructor(targets: number) {
    this.#targets = targets;
  }

  /** True when no baseline handed over is still being written by a target. */
  get durable(): boolean {
    return this.#pending.size === 0;
  }

  handed(batch: readonly TargetMessage[]): void {
    if (this.#targets === 0) return;
    for (const message of batch) {
      if (message.kind !== 'reset') continue;
      for (const table of message.tables) this.#pending.set(table, new Set(Array.from({ length: this.#targets }, (_, index) => index)));
    }
  }

  /** `batch` is durable in target `index` (messages routed away from it included: they are done for it). */
  madeDurable(index: number, batch: readonly TargetMessage[]): void {
    for (const message of batch) {
      if (message.kind !== 'baseline-complete') continue;
      const pending = this.#pending.get(message.table.key);
      pending?.delete(index);
      if (pending?.size === 0) this.#pending.delete(message.table.key);
    }
  }
}

/** Tells `baselines` when `target` made a batch durable. */
function trackDurability(target: Target, index: number, baselines: BaselineTracker): Target {
  const write = (batch: readonly TargetMessage[]): Observable<unknown> =>
    target.write(batch).pipe(
      tap({
        complete: () => {
          baselines.madeDurable(index, batch);
        },
      }),
    );
  return target.close === undefined ? { name: target.name, write } : { name: target.name, write, close: target.close.bind(target) };
}

/** Counts changes by table and operation and baseline rows, and tells `baselines` what was handed over; durable at once, it never holds the source back. */
function countingTarget(source: string, metrics: LaredoMetrics, baselines: BaselineTracker): Target {
  return {
    name: 'metrics',
    write(batch) {
      baselines.handed(batch);
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
