import { defer, EMPTY, finalize, type Observable } from 'rxjs';
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
    const targets: Target[] = [...grouped.values()].map(({ config: targetConfig, tables: routed }) => {
      const target = createTarget(id, targetConfig, [...routed]);
      const instrumented = metrics === undefined ? target : instrument(id, target, metrics);
      return routeTables(instrumented, routed);
    });
    if (metrics !== undefined) targets.push(countingTarget(id, metrics));
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

/** Counts changes by table and operation and baseline rows; durable at once, it never holds the source back. */
function countingTarget(source: string, metrics: LaredoMetrics): Target {
  return {
    name: 'metrics',
    write(batch) {
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
