import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import type { SourceEvent } from '../model/events.js';
import type { TableKey } from '../model/table.js';
import { Lsn } from '../protocol/lsn.js';

/**
 * Drops the stream's row changes to tables whose baseline came from a later snapshot than the slot's
 * position: a table added to the config of a running stateful source, or every table under
 * `alwaysBaseline`. Such a baseline is taken at a temporary slot's exported snapshot, which holds
 * exactly the transactions that committed before that slot's consistent point; the persistent slot
 * resumes from an earlier position, so its transactions committed before that point (commit LSN
 * below it) are already in the baseline and must not be applied a second time. Begin and commit stay,
 * so positions are still confirmed. The bytes of a dropped event travel with the next event passed on
 * (or, when the input ends first, in a `progress` event with walEnd 0/0), so the budget is released.
 */
export function skipCoveredBySnapshot(coveredBefore: ReadonlyMap<TableKey, Lsn>): MonoTypeOperatorFunction<SourceEvent> {
  return (source) =>
    coveredBefore.size === 0
      ? source
      : new Observable<SourceEvent>((subscriber) => {
          let commitLsn: Lsn | undefined;
          // Bytes of dropped events travel with the next event so the in-flight budget is released.
          let carriedBytes = 0;
          const covered = (table: TableKey): boolean => {
            const before = coveredBefore.get(table);
            return before !== undefined && commitLsn !== undefined && commitLsn < before;
          };
          const flushCarried = (): void => {
            if (carriedBytes === 0) return;
            subscriber.next({ kind: 'progress', walEnd: Lsn.ZERO, bytes: carriedBytes });
            carriedBytes = 0;
          };
          return source.subscribe({
            next: (event) => {
              if (event.kind === 'begin') commitLsn = event.transaction.commitLsn;
              let keep: SourceEvent | undefined = event;
              if (event.kind === 'insert' || event.kind === 'update' || event.kind === 'delete') {
                if (covered(event.table.key)) keep = undefined;
              } else if (event.kind === 'truncate') {
                const tables = event.tables.filter((table) => !covered(table.key));
                if (tables.length === 0) keep = undefined;
                else if (tables.length !== event.tables.length) keep = { ...event, tables };
              }
              if (event.kind === 'commit' || event.kind === 'rollback') commitLsn = undefined;
              if (keep === undefined) {
                carriedBytes += event.bytes;
                return;
              }
              if (carriedBytes > 0) {
                keep = { ...keep, bytes: keep.bytes + carriedBytes };
                carriedBytes = 0;
              }
              subscriber.next(keep);
            },
            // An interrupted stream can end right after dropped events: their bytes still go out (as
            // decodePgoutput hands on trailing bytes), or the budget would shrink with every reconnect.
            error: (error: unknown) => {
              flushCarried();
              subscriber.error(error);
            },
            complete: () => {
              flushCarried();
              subscriber.complete();
            },
          });
        });
}
