/** Options every laredo error accepts. */
export interface LaredoErrorOptions {
  /** Whether trying the same thing again (reconnecting, re-running) can succeed. */
  readonly retryable?: boolean;
  readonly cause?: unknown;
}

/**
 * The one base class of every error laredo raises. `code` is stable across versions and safe to switch
 * on; `retryable` says whether the reconnect logic may try again. Messages say what to do.
 */
export class LaredoError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: LaredoErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** True when `error` is a laredo error that says retrying can help. */
export function isRetryable(error: unknown): boolean {
  return error instanceof LaredoError && error.retryable;
}
