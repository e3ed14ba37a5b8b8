import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import type { RollbackEvent, SourceEvent } from '../model/events.js';

/**
 * When its source stops (errors, or completes) while a transaction is open (a `begin` without its
 * `commit` or `rollback`), emits a `rollback` for each open transaction, in the order they began,
 * before passing the error or completion on. Targets then discard the partial transaction before a
 * reconnect sends it again from its `begin`. Rollbacks carry 0 bytes: the partial transaction's
 * events carried its bytes.
 *
 * Several transactions are open at once only with streamed transactions passed through as they arrive.
 */
export function rollbackOnInterrupt(): MonoTypeOperatorFunction<SourceEvent> {
  return (source: Observable<SourceEvent>): Observable<SourceEvent> =>
    new Observable<SourceEvent>((subscriber) => {
      // Insertion-ordered: rollbacks go out in the order the transactions began.
      const open = new Set<number>();
      const rollBackOpen = (): void => {
        for (const xid of [...open]) {
          open.delete(xid);
          const rollback: RollbackEvent = { kind: 'rollback', xid, bytes: 0 };
          subscriber.next(rollback);
        }
      };
      return source.subscribe({
        next: (event) => {
          if (event.kind === 'begin') open.add(event.transaction.xid);
          else if (event.kind === 'commit') open.delete(event.transaction.xid);
          else if (event.kind === 'rollback' && event.subXid === undefined) open.delete(event.xid);
          subscriber.next(event);
        },
        error: (error: unknown) => {
          rollBackOpen();
          subscriber.error(error);
        },
        complete: () => {
          rollBackOpen();
          subscriber.complete();
        },
      });
    });
}
