import { EMPTY, type Observable } from 'rxjs';
import type { TargetMessage } from '../model/events.js';
import type { TableKey } from '../model/table.js';
import type { Target } from '../model/target.js';

/**
 * A view of `target` that only receives the messages of `tables` (`schema.table`): a source streams
 * every table of its publication, while each config entry sends one table to its own targets.
 * Transaction boundaries (begin, commit, rollback) and logical decoding messages always pass, so the
 * target still sees whole transactions; what it does not receive is durable as far as it is concerned.
 */
export function routeTables(target: Target, tables: Iterable<TableKey>): Target {
  const wanted = new Set(tables);
  const keep = (message: TargetMessage): TargetMessage | undefined => {
    switch (message.kind) {
      case 'reset': {
        const kept = message.tables.filter((table) => wanted.has(table));
        if (kept.length === 0) return undefined;
        return kept.length === message.tables.length ? message : { ...message, tables: kept };
      }
      case 'truncate': {
        const kept = message.tables.filter((table) => wanted.has(table.key));
        if (kept.length === 0) return undefined;
        return kept.length === message.tables.length ? message : { ...message, tables: kept };
      }
      case 'baseline':
      case 'baseline-complete':
      case 'schema':
      case 'insert':
      case 'update':
      case 'delete':
        return wanted.has(message.table.key) ? message : undefined;
      case 'begin':
      case 'commit':
      case 'rollback':
      case 'message':
        return message;
    }
  };
  const routed: Target = {
    name: target.name,
    write(batch): Observable<unknown> {
      const kept: TargetMessage[] = [];
      for (const message of batch) {
        const routedMessage = keep(message);
        if (routedMessage !== undefined) kept.push(routedMessage);
      }
      return kept.length === 0 ? EMPTY : target.write(kept);
    },
  };
  if (target.close !== undefined) {
    const close = target.close.bind(target);
    return { ...routed, close: () => close() };
  }
  return routed;
}
