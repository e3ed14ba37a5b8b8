import { isRetryable, LaredoError } from '../errors.js';

/**
 * An operator was given an option it cannot work with (a negative timeout, a multiplier below 1...).
 * Raised when the operator is built, before anything is subscribed. Never retryable.
 */
export class InvalidOperatorOptionError extends LaredoError {
  declare readonly code: 'INVALID_OPTION';
  /** Dotted path of the option, e.g. `reconnect.maxBackoff`. */
  readonly option: string;

  constructor(option: string, problem: string) {
    super('INVALID_OPTION', `laredo: invalid option ${option}: ${problem}`, { retryable: false });
    this.option = option;
  }
}

/**
 * The reconnect policy gave up: `attempts` reconnects in a row failed. `cause` is the last failure.
 * The source goes to ERROR; fix what the cause names, then start it again.
 */
export class ReconnectExhaustedError extends LaredoError {
  declare readonly code: 'RECONNECT_EXHAUSTED';
  readonly attempts: number;

  constructor(attempts: number, cause: unknown) {
    super(
      'RECONNECT_EXHAUSTED',
      `laredo: gave up after ${attempts} reconnect attempt${attempts === 1 ? '' : 's'} in a row failed; ` +
        `last error: ${describe(cause)}. Fix the cause (see error.cause), or raise reconnect.max_attempts.`,
      { retryable: false, cause },
    );
    this.attempts = attempts;
  }
}

/**
 * A target failed to make a batch durable (its `write` threw or its Observable errored). Nothing after
 * the last position durable in every target is confirmed to PostgreSQL, so the changes are delivered
 * again after a restart. Retryable exactly when the target's own error says so.
 */
export class TargetFailedError extends LaredoError {
  declare readonly code: 'TARGET_FAILED';
  readonly target: string;

  constructor(target: string, cause: unknown) {
    super(
      'TARGET_FAILED',
      `laredo: target "${target}" failed: ${describe(cause)}. Nothing after its last durable change was ` +
        `acknowledged to PostgreSQL; fix the target and restart (the changes are sent again).`,
      { retryable: isRetryable(cause), cause },
    );
    this.target = target;
  }
}

/** The message of whatever was thrown, without assuming it is an Error. */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  try {
    // JSON.stringify returns undefined for undefined, functions and symbols, whatever its type says.
    const json = JSON.stringify(error) as string | undefined;
    return json ?? String(error);
  } catch {
    return String(error);
  }
}
