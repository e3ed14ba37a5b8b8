import type { Observable } from 'rxjs';
import type { TargetMessage } from './events.js';

/**
 * A destination for changes. laredo wraps each target in an actor with its own ordered, bounded
 * mailbox: `write` is called with batches in source order, one call at a time; the next call may
 * come before the previous batch is durable (up to the actor's in-flight limit), so a target can group
 * its flushes (one fsync, one HTTP request for many transactions).
 *
 * The Observable `write` returns completes once every message in the batch is durable in this target
 * (for a commit: the whole transaction). It must complete without waiting for a later batch (a
 * partial transaction must become durable on its own, or be held by the target and answered at once),
 * and it errors when the target failed: the pipeline then stops and nothing after the last durable
 * position is confirmed.
 */
export interface Target {
  /** A short name for logs and metrics. */
  readonly name: string;
  write(batch: readonly TargetMessage[]): Observable<unknown>;
  /** Called once when the pipeline stops: flush and release resources. */
  close?(): Observable<unknown> | Promise<unknown>;
}
