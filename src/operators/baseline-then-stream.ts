import { concat, defer, of, switchMap, type Observable, type OperatorFunction } from 'rxjs';
import type { ResetEvent, SourceEvent } from '../model/events.js';
import type { TableKey } from '../model/table.js';

export interface BaselineThenStreamOptions<Slot> {
  /**
   * The baseline of `slot`: COPY of every table at the slot's exported snapshot. Return EMPTY when the
   * slot needs none (a stateful slot that resumes).
   */
  readonly baseline: (slot: Slot) => Observable<SourceEvent>;
  /** The change stream from the slot's consistent point (START_REPLICATION). */
  readonly stream: (slot: Slot) => Observable<SourceEvent>;
  /** The tables a `reset` event names. */
  readonly tables: readonly TableKey[] | ((slot: Slot) => readonly TableKey[]);
  /**
   * Whether targets must drop what they hold before this slot's baseline. Default: for every slot
   * after the first one this operator saw (a re-baseline: new ephemeral slot, invalidated slot).
   */
  readonly reset?: boolean | ((slot: Slot, index: number) => boolean);
}

/**
 * For each slot its source emits: a `reset` naming every table (when `options.reset` says this is a
 * re-baseline), then the slot's baseline events, and only once the baseline completed, the slot's
 * stream. The slot's snapshot covers exactly the changes committed before its consistent point and
 * the stream starts at that point, so baseline and stream neither miss nor repeat a change, as long
 * as the stream is not started before the baseline's snapshot is no longer needed: hence the strict
 * sequence (on the same replication connection, START_REPLICATION ends the exported snapshot).
 *
 * A newer slot replaces the current one: its baseline and stream are unsubscribed (switch semantics).
 * An error of the baseline or stream errors the output; the stream is then never subscribed.
 */
export function baselineThenStream<Slot>(options: BaselineThenStreamOptions<Slot>): OperatorFunction<Slot, SourceEvent> {
  const reset = options.reset ?? ((_slot: Slot, index: number) => index > 0);
  return (slots: Observable<Slot>): Observable<SourceEvent> =>
    slots.pipe(
      switchMap((slot, index) => {
        const resetting = typeof reset === 'boolean' ? reset : reset(slot, index);
        const resetEvents: Observable<ResetEvent> = resetting
          ? defer(() => {
              const tables = typeof options.tables === 'function' ? options.tables(slot) : options.tables;
              return of<ResetEvent>({ kind: 'reset', tables: [...tables], bytes: 0 });
            })
          : of();
        return concat(
          resetEvents,
          defer(() => options.baseline(slot)),
          defer(() => options.stream(slot)),
        );
      }),
    );
}
