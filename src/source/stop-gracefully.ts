import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import type { SourceEvent } from '../model/events.js';

/**
 * Graceful stop of one connection's events. When `stop$` emits, the output completes at once (after a
 * `rollback` when a transaction is open, so targets drop its partial changes), but the upstream — the
 * replication connection — stays subscribed, its further events dropped, until `release$` emits: the
 * targets have drained and the final durable position is known, so the connection's teardown can still
 * send it in a last standby status update before CopyDone. Unsubscribing without a stop tears the
 * upstream down at once.
 */
export function stopGracefully(stop$: Observable<void>, release$: Observable<void>): MonoTypeOperatorFunction<SourceEvent> {
  return (source) =>
    new Observable<SourceEvent>((subscriber) => {
      let stopped = false;
      let openXid: number | undefined;
      const upstream = source.subscribe({
        next: (event) => {
          if (stopped) return;
          if (event.kind === 'begin') openXid = event.transaction.xid;
          else if (event.kind === 'commit' || event.kind === 'rollback') openXid = undefined;
          subscriber.next(event);
        },
        error: (error: unknown) => {
          if (!stopped) subscriber.error(error);
        },
        complete: () => {
          if (!stopped) subscriber.complete();
        },
      });
      const stopping = stop$.subscribe(() => {
        if (stopped) return;
        stopped = true;
        stopping.unsubscribe();
        if (openXid !== undefined) subscriber.next({ kind: 'rollback', xid: openXid, bytes: 0 });
        const releasing = release$.subscribe(() => {
          releasing.unsubscribe();
          upstream.unsubscribe();
        });
        upstream.add(releasing);
        subscriber.complete();
      });
      return () => {
        stopping.unsubscribe();
        if (!stopped) upstream.unsubscribe();
      };
    });
}
