import {
  asyncScheduler,
  catchError,
  concat,
  defer,
  from,
  ignoreElements,
  merge,
  Observable,
  of,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import type { SourceEvent } from '../model/events.js';
import type { Target } from '../model/target.js';
import type { Lsn } from '../protocol/lsn.js';
import type { InFlightBytes } from '../streams/in-flight-bytes.js';
import { InvalidOperatorOptionError, TargetFailedError } from './errors.js';
import { FifoQueue } from './fifo-queue.js';
import { checkTargetActorOptions, DrainTimeoutError, TargetActor, type TargetActorListener, type TargetActorOptions } from './target-actor.js';

export interface AcknowledgeOptions extends TargetActorOptions {
  /** Released by each event's `bytes` once the event is durable in every target (progress: on sight). */
  readonly budget?: InFlightBytes;
  /**
   * On a graceful stop (the input completed), how long in-flight target work may take before the
   * operator completes without it, ms. Default 10000. What was not durable by then is not confirmed.
   */
  readonly stopTimeoutMs?: number;
  /** Call each target's `close()` after a graceful stop. Default true. */
  readonly closeTargets?: boolean;
  /** Told when a graceful stop gave up waiting on a target. */
  readonly onStopTimeout?: (error: DrainTimeoutError) => void;
  /** Runs the stop timeout; TestScheduler in tests. Default asyncScheduler. */
  readonly scheduler?: SchedulerLike;
  /**
   * Told, in order, when a reset, baseline-complete or commit event has become durable in every target
   * (with everything before it): e.g. to record that a table's baseline is safe.
   */
  readonly onDurable?: (event: DurableNotice) => void;
}

/** The events `onDurable` reports: small ones, so holding them until durable costs nothing. */
export type DurableNotice = Extract<SourceEvent, { kind: 'reset' | 'baseline-complete' | 'commit' }>;

/** Long enough for a target to finish an fsync or an HTTP request, short enough for a deploy's stop grace period. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

interface PendingEvent {
  /** The event is durable everywhere once every actor's `durableThrough` reaches this. */
  readonly requires: number;
  /** The position this event lets us confirm, if any. */
  readonly position: Lsn | undefined;
  readonly bytes: number;
  /** Reported to `onDurable` once durable. Always present (one object shape for every entry). */
  readonly notice: DurableNotice | undefined;
}

/**
 * Delivers every event except `progress` to every target (each through its own {@link TargetActor})
 * and emits the positions that may be confirmed to PostgreSQL, strictly increasing.
 *
 * An event is confirmable once it and every event before it is durable in every target. The position
 * emitted is the largest of, among confirmable events, a commit's `commitEndLsn` and the `walEnd` of a
 * progress event that arrived while no transaction was open. A progress event inside a transaction
 * confirms nothing: the server's WAL end can be past the commit of the very transaction being sent.
 * With nothing in flight, a progress event is confirmed at once, so a slot whose tables are idle while
 * the rest of the database writes does not hold WAL.
 *
 * A target failure errors the output with {@link TargetFailedError} and nothing more is confirmed.
 * When the input completes, the operator waits up to `stopTimeoutMs` for in-flight target work,
 * emits the last position that became durable, closes the targets and completes. On error or
 * unsubscribe, outstanding target work is abandoned (and its bytes released); targets are not closed
 * then, so the caller may retry with the same targets.
 */
export function acknowledge(targets: readonly Target[], options: AcknowledgeOptions = {}): OperatorFunction<SourceEvent, Lsn> {
  const stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  if (!(stopTimeoutMs >= 0)) {
    throw new InvalidOperatorOptionError('acknowledge.stopTimeoutMs', `must be a number of ms >= 0, got ${String(stopTimeoutMs)}`);
  }
  const scheduler = options.scheduler ?? asyncScheduler;
  const closeTargets = options.closeTargets ?? true;
  const budget = options.budget;
  // Refuse bad actor options when the operator is built, not at subscription.
  checkTargetActorOptions(options);

  return (source: Observable<SourceEvent>): Observable<Lsn> =>
    new Observable<Lsn>((subscriber) => {
      // Actors report to `listener` directly (see below), not through their durable$ Subjects.
      const listener: TargetActorListener = {
        durable: () => {
          confirm();
        },
        failed: (error) => {
          subscriber.error(error);
        },
      };
      const actors = targets.map((target) => new TargetActor(target, options, listener));
      const pending = new FifoQueue<PendingEvent>();
      const openTransactions = new Set<number>();
      let nextSequence = 0;
      let lastTargetSequence = -1;
      let best: Lsn = 0n;
      let lastEmitted: Lsn = 0n;
      let stopping: Subscription | undefined;

      const minDurable = (): number => {
        let min = Number.POSITIVE_INFINITY;
        for (const actor of actors) min = Math.min(min, actor.durableThrough);
        return min;
      };

      const confirm = (): void => {
        const durable = minDurable();
        for (let head = pending.peek(); head !== undefined && head.requires <= durable; head = pending.peek()) {
          pending.shift();
          if (head.bytes > 0) budget?.release(head.bytes);
          if (head.position !== undefined && head.position > best) best = head.position;
          if (head.notice !== undefined) options.onDurable?.(head.notice);
        }
        if (best > lastEmitted) {
          lastEmitted = best;
          subscriber.next(best);
        }
      };

      const releaseAbandoned = (): void => {
        for (const event of pending.clear()) if (event.bytes > 0) budget?.release(event.bytes);
      };

      const onEvent = (event: SourceEvent): void => {
        const sequence = nextSequence++;
        if (event.kind === 'progress') {
          if (event.bytes > 0) budget?.release(event.bytes);
          const position = openTransactions.size === 0 ? event.walEnd : undefined;
          pending.push({ requires: lastTargetSequence, position, bytes: 0, notice: undefined });
          confirm();
          return;
        }
        if (event.kind === 'begin') openTransactions.add(event.transaction.xid);
        else if (event.kind === 'commit') openTransactions.delete(event.transaction.xid);
        else if (event.kind === 'rollback' && event.subXid === undefined) openTransactions.delete(event.xid);
        lastTargetSequence = sequence;
        // Queued before posting: a target that completes synchronously confirms it during post().
        const notice =
          options.onDurable !== undefined && (event.kind === 'reset' || event.kind === 'baseline-complete' || event.kind === 'commit') ? event : undefined;
        pending.push({ requires: sequence, position: event.kind === 'commit' ? event.commitEndLsn : undefined, bytes: event.bytes, notice });
        for (const actor of actors) {
          actor.post(sequence, event);
          if (subscriber.closed) return;
        }
        if (actors.length === 0) confirm();
      };

      const stopGracefully = (): void => {
        const drains = actors.map((actor) =>
          actor.drain(stopTimeoutMs, scheduler).pipe(
            catchError((error: unknown) => {
              if (error instanceof DrainTimeoutError) {
                options.onStopTimeout?.(error);
                return of(undefined);
              }
              throw error;
            }),
          ),
        );
        const closes = closeTargets ? targets.filter((t) => t.close !== undefined).map((target) => closeTarget(target)) : [];
        stopping = concat(
          merge(...drains),
          defer(() => {
            confirm();
            // Actors are done (or abandoned); targets are closed only after their last write settled.
            for (const actor of actors) actor.dispose();
            releaseAbandoned();
            return merge(...closes);
          }),
        )
          .pipe(ignoreElements())
          .subscribe({
            error: (error: unknown) => {
              subscriber.error(error);
            },
            complete: () => {
              subscriber.complete();
            },
          });
      };

      const input = source.subscribe({
        next: onEvent,
        error: (error: unknown) => {
          subscriber.error(error);
        },
        complete: stopGracefully,
      });

      return () => {
        input.unsubscribe();
        stopping?.unsubscribe();
        for (const actor of actors) actor.dispose();
        releaseAbandoned();
      };
    });
}

function closeTarget(target: Target): Observable<unknown> {
  return defer(() => from(target.close!())).pipe(
    catchError((error: unknown) => {
      throw new TargetFailedError(target.name, error);
    }),
  );
}
