import { asyncScheduler, defer, retry, tap, throwError, timer, type MonoTypeOperatorFunction, type Observable, type SchedulerLike } from 'rxjs';
import { isRetryable } from '../errors.js';
import { backoffDelay, resolveBackoffPolicy, type BackoffPolicy } from './backoff.js';
import { ReconnectExhaustedError } from './errors.js';

/** What the source's state machine hears before each wait. */
export interface RetryInfo {
  /** 1 for the first reconnect after a failure, counting up while reconnects keep failing. */
  readonly attempt: number;
  /** How long the operator waits before re-subscribing. */
  readonly delayMs: number;
  /** The failure that caused this attempt. */
  readonly error: unknown;
}

export interface ReconnectOperatorOptions<T> {
  /** Which failures a reconnect can cure. Default: `isRetryable` (a LaredoError with `retryable`). */
  readonly shouldRetry?: (error: unknown) => boolean;
  /**
   * Which values prove a reconnect "streamed again", resetting the attempt count. Default: any value.
   * A source passes e.g. `(event) => event.kind !== 'progress'` when a keepalive alone must not count.
   */
  readonly resetWhen?: (value: T) => boolean;
  /** Called before every wait (for states such as RECONNECTING, logs and metrics). */
  readonly onRetry?: (info: RetryInfo) => void;
  /** Runs the waits; TestScheduler in tests. Default asyncScheduler. */
  readonly scheduler?: SchedulerLike;
  /** Source of jitter in [0, 1). Default Math.random. */
  readonly random?: () => number;
}

/**
 * Re-subscribes to its source after a retryable failure, waiting `initialBackoff * multiplier^(n-1)`
 * ms (capped at `maxBackoff`, ±20% with jitter) before the n-th reconnect in a row. Non-retryable
 * failures pass through at once. When `maxAttempts` reconnects in a row have failed, the next failure
 * becomes a {@link ReconnectExhaustedError} whose `cause` is that failure. The count starts over
 * once a reconnect streamed again (`options.resetWhen`).
 *
 * Built on `retry({ delay })`: the failed subscription is torn down before the wait, so the source
 * (the per-connection pipeline) closes its socket before the next one opens.
 */
export function reconnect<T>(policy: Partial<BackoffPolicy> = {}, options: ReconnectOperatorOptions<T> = {}): MonoTypeOperatorFunction<T> {
  const resolved = resolveBackoffPolicy(policy);
  const shouldRetry = options.shouldRetry ?? isRetryable;
  const resetWhen = options.resetWhen ?? (() => true);
  const scheduler = options.scheduler ?? asyncScheduler;
  const random = options.random ?? Math.random;

  return (source: Observable<T>): Observable<T> =>
    defer(() => {
      // Per subscriber: two subscriptions of the same pipeline must not share one failure count.
      let failedInARow = 0;
      return source.pipe(
        tap((value) => {
          if (failedInARow > 0 && resetWhen(value)) failedInARow = 0;
        }),
        retry({
          delay: (error: unknown) => {
            if (!shouldRetry(error)) return throwError(() => error);
            const attempt = failedInARow + 1;
            if (attempt > resolved.maxAttempts) return throwError(() => new ReconnectExhaustedError(resolved.maxAttempts, error));
            failedInARow = attempt;
            const delayMs = backoffDelay(resolved, attempt, random);
            options.onRetry?.({ attempt, delayMs, error });
            return timer(delayMs, scheduler);
          },
        }),
      );
    });
}
