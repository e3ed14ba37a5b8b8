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
    const onAbort = (): void => {
      source.stop();
    };
    const settle = (outcome: SourceRunOutcome): void => {
      options.signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    };

    source.run(targets, { untilCaughtUp: options.untilCaughtUp }).subscribe({
      error: (error: unknown) => {
        void Promise.all(
          targets.map(async (target) => {
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
