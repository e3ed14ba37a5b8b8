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
  /** Called when closing a target after a failure failed (logged, not fatal). */
  readonly onCloseError?: (target: Target, error: unknown) => void;
}

/**
 * Runs `source` into `targets` until it completes, fails, or `signal` aborts; then it stops gracefully
 * (`source.stop()`: targets drain, the final position is confirmed, a temporary slot goes with the
 * connection; during a reconnect wait the run ends at once). Never rejects.
 *
 * After a failure the source leaves its targets open (a library caller may run them again); the CLI
 * is done with them, so they are closed here and what they hold is flushed before the process exits.
 */
export function runSource(source: PostgresSource, targets: readonly Target[], options: SourceRunOptions): Promise<SourceRunOutcome> {
  return new Promise<SourceRunOutcome>((resolve) => {
    // Only targets that were given something are closed: closing one that never opened its output
    // could create it (an empty jsonl file after a run that failed before its first event).
    const written = new Set<Target>();
    const watched = targets.map((target): Target => {
      const write: Target['write'] = (batch) => {
        written.add(target);
        return target.write(batch);
      };
      return target.close === undefined ? { name: target.name, write } : { name: target.name, write, close: target.close.bind(target) };
    });
    const onAbort = (): void => {
      source.stop();
    };
    const settle = (outcome: SourceRunOutcome): void => {
      options.signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    };

    source.run(watched, { untilCaughtUp: options.untilCaughtUp }).subscribe({
      error: (error: unknown) => {
        void Promise.all(
          [...written].map(async (target) => {
            try {
              await target.close?.();
            } catch (closeError) {
              options.onCloseError?.(target, closeError);
            }
          }),
        ).then(() => {
          settle({ kind: 'failed', error });
        });
      },
      complete: () => {
        settle({ kind: 'stopped' });
      },
    });
    options.signal.addEventListener('abort', onAbort, { once: true });
    if (options.signal.aborted) onAbort();
  });
}
