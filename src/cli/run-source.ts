import type { Target } from '../model/target.js';
import type { PostgresSource } from '../source/index.js';

/** How a source's run ended. */
export type SourceRunOutcome =
  /** Stopped as asked (or caught up): targets drained and closed, the final position confirmed. */
  | { readonly kind: 'stopped' }
  /** The source went to ERROR: a non-retryable failure, reconnects exhausted, a target failed. */
  | { readonly kind: 'failed'; readonly error: unknown };

export interface SourceRunOptions {
  readonly untilCaughtUp: boolean;
  /** Aborting stops the source gracefully. */
  readonly signal: AbortSignal;
  /** Called when closing a target failed after a failure or a stop between connections (logged, not fatal). */
  readonly onCloseError?: (target: Target, error: unknown) => void;
}

/**
 * Runs `source` into `targets` until it completes, fails, or `signal` aborts; then it stops gracefully
 * (`source.stop()`: targets drain, the final position is confirmed, a temporary slot goes with the
 * connection). Never rejects.
 *
 * A stop asked while the source waits to reconnect ends the run at once: there is no connection to
 * drain or confirm on then (the slot keeps the last confirmed position), and `source.stop()` alone is
 * not seen by a connection attempt that has not started yet, so a SIGTERM during an outage would
 * otherwise wait for the next attempt, reconnect (and, ephemeral, baseline again) before stopping.
 * Targets are closed here whenever the source did not close them itself (after a failure, and after
 * such a stop), so what they hold is flushed and released before the process exits.
 */
export function runSource(source: PostgresSource, targets: readonly Target[], options: SourceRunOptions): Promise<SourceRunOutcome> {
  return new Promise<SourceRunOutcome>((resolve) => {
    const progress = { settled: false };
    let stopping = false;
    // Only targets that were given something are closed here: closing one that never opened its
    // output could create it (an empty jsonl file after a run that failed before its first event).
    const written = new Set<Target>();
    const watched = targets.map((target): Target => {
      const write: Target['write'] = (batch) => {
        written.add(target);
        return target.write(batch);
      };
      return target.close === undefined ? { name: target.name, write } : { name: target.name, write, close: target.close.bind(target) };
    });

    function settle(outcome: SourceRunOutcome, closeTargets: boolean): void {
      if (progress.settled) return;
      progress.settled = true;
      options.signal.removeEventListener('abort', onAbort);
      watch.unsubscribe();
      if (!closeTargets) {
        resolve(outcome);
        return;
      }
      void Promise.all(
        [...written].map(async (target) => {
          try {
            await target.close?.();
          } catch (error) {
            options.onCloseError?.(target, error);
          }
        }),
      ).then(() => {
        resolve(outcome);
      });
    }

    function onAbort(): void {
      if (progress.settled || stopping) return;
      stopping = true;
      source.stop();
      if (source.state === 'RECONNECTING') stopBetweenConnections();
    }

    function stopBetweenConnections(): void {
      run.unsubscribe();
      settle({ kind: 'stopped' }, true);
    }

    // Subscribed before the run starts, so no state of it is missed.
    const watch = source.state$.subscribe((state) => {
      if (stopping && state === 'RECONNECTING') stopBetweenConnections();
    });
    const run = source.run(watched, { untilCaughtUp: options.untilCaughtUp }).subscribe({
      error: (error: unknown) => {
        settle({ kind: 'failed', error }, true);
      },
      complete: () => {
        settle({ kind: 'stopped' }, false);
      },
    });
    if (progress.settled) return;
    options.signal.addEventListener('abort', onAbort, { once: true });
    if (options.signal.aborted) onAbort();
  });
}
