import { InvalidOperatorOptionError } from './errors.js';

/**
 * How long to wait between reconnect attempts: `initialBackoff * multiplier^(attempt - 1)`, capped at
 * `maxBackoff`, optionally spread by ±`JITTER_RATIO`.
 */
export interface BackoffPolicy {
  /** Reconnect attempts in a row that may fail before giving up. */
  readonly maxAttempts: number;
  /** Milliseconds before the first reconnect attempt. */
  readonly initialBackoff: number;
  /** Cap on any single wait, ms (jitter never pushes a wait above it). */
  readonly maxBackoff: number;
  /** Growth factor from one wait to the next. */
  readonly multiplier: number;
  /** Spread each wait by up to ±20% so many sources that lost the same server do not return in lockstep. */
  readonly jitter: boolean;
}

/**
 * The specification's reconnect block: 10 attempts, 1 s doubling to at most 60 s. That waits about
 * 1+2+4+...+60 s ≈ 6.5 minutes before ERROR: long enough to ride out a server restart or failover,
 * short enough that a real outage surfaces. Jitter is on because synchronized reconnect storms
 * hurt a recovering server most.
 */
export const DEFAULT_BACKOFF_POLICY: BackoffPolicy = Object.freeze({
  maxAttempts: 10,
  initialBackoff: 1000,
  maxBackoff: 60_000,
  multiplier: 2.0,
  jitter: true,
});

/** ±20%: wide enough to de-synchronize clients, narrow enough that the schedule stays predictable. */
export const JITTER_RATIO = 0.2;

/** Fills defaults and checks every field; a bad value is an InvalidOperatorOptionError naming it. */
export function resolveBackoffPolicy(policy: Partial<BackoffPolicy> = {}): BackoffPolicy {
  const resolved: BackoffPolicy = { ...DEFAULT_BACKOFF_POLICY, ...stripUndefined(policy) };
  const { maxAttempts, initialBackoff, maxBackoff, multiplier } = resolved;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 0) {
    throw new InvalidOperatorOptionError('reconnect.maxAttempts', `must be a whole number >= 0, got ${String(maxAttempts)}`);
  }
  if (!Number.isFinite(initialBackoff) || initialBackoff < 0) {
    throw new InvalidOperatorOptionError('reconnect.initialBackoff', `must be a finite number of ms >= 0, got ${String(initialBackoff)}`);
  }
  if (!Number.isFinite(maxBackoff) || maxBackoff < initialBackoff) {
    throw new InvalidOperatorOptionError(
      'reconnect.maxBackoff',
      `must be a finite number of ms >= initialBackoff (${initialBackoff}), got ${String(maxBackoff)}`,
    );
  }
  if (!Number.isFinite(multiplier) || multiplier < 1) {
    throw new InvalidOperatorOptionError('reconnect.multiplier', `must be a finite number >= 1, got ${String(multiplier)}`);
  }
  if (typeof resolved.jitter !== 'boolean') {
    throw new InvalidOperatorOptionError('reconnect.jitter', `must be true or false, got ${String(resolved.jitter)}`);
  }
  return Object.freeze(resolved);
}

/**
 * Milliseconds to wait before reconnect attempt `attempt` (1-based). `random` returns [0, 1); with
 * jitter the wait is the capped exponential delay times a factor in [0.8, 1.2], capped again and
 * rounded to whole ms.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`backoff attempt must be a whole number >= 1, got ${attempt}`);
  // multiplier^(attempt-1) overflows to Infinity for large attempts; min() then yields the cap.
  const exponential = Math.min(policy.maxBackoff, policy.initialBackoff * policy.multiplier ** (attempt - 1));
  if (!policy.jitter) return Math.round(exponential);
  const factor = 1 + (2 * clampUnit(random()) - 1) * JITTER_RATIO;
  return Math.round(Math.min(policy.maxBackoff, exponential * factor));
}

/** Keeps a misbehaving random source from producing negative or oversized waits. */
function clampUnit(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return value >= 1 ? 1 : value;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
