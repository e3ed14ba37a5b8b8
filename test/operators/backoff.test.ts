import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF_POLICY, JITTER_RATIO, resolveBackoffPolicy } from '../../src/operators/backoff.js';
import { InvalidOperatorOptionError } from '../../src/operators/errors.js';

describe('backoffDelay', () => {
  it('doubles from 1 s and caps at 60 s with the default policy and jitter off', () => {
    const policy = resolveBackoffPolicy({ jitter: false });
    const delays = Array.from({ length: 10 }, (_, i) => backoffDelay(policy, i + 1));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000]);
  });

  it('stays at the cap for attempts so large that the exponential overflows', () => {
    const policy = resolveBackoffPolicy({ jitter: false, multiplier: 10 });
    expect(backoffDelay(policy, 10_000)).toBe(60_000);
  });

  it('keeps every jittered wait within ±20% of the exponential delay and never above maxBackoff', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 1, max: 5, noNaN: true }),
        fc.integer({ min: 0, max: 200_000 }),
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (initialBackoff, multiplier, extra, attempt, random) => {
          const policy = resolveBackoffPolicy({ initialBackoff, multiplier, maxBackoff: initialBackoff + extra, jitter: true });
          const exponential = Math.min(policy.maxBackoff, initialBackoff * multiplier ** (attempt - 1));
          const delay = backoffDelay(policy, attempt, () => random);
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(exponential * (1 - JITTER_RATIO)));
          expect(delay).toBeLessThanOrEqual(Math.min(policy.maxBackoff, Math.ceil(exponential * (1 + JITTER_RATIO))));
        },
      ),
    );
  });

  it('uses the whole jitter range: 0.8x at random 0, 1.2x just below random 1', () => {
    const policy = resolveBackoffPolicy({ jitter: true });
    expect(backoffDelay(policy, 3, () => 0)).toBe(3200);
    expect(backoffDelay(policy, 3, () => 0.999_999_9)).toBe(4800);
  });

  it('clamps a random source that misbehaves instead of producing a negative wait', () => {
    const policy = resolveBackoffPolicy({ jitter: true });
    expect(backoffDelay(policy, 1, () => -5)).toBe(800);
    expect(backoffDelay(policy, 1, () => Number.NaN)).toBe(800);
    expect(backoffDelay(policy, 1, () => 7)).toBe(1200);
  });

  it('rejects an attempt number below 1', () => {
    expect(() => backoffDelay(DEFAULT_BACKOFF_POLICY, 0)).toThrow(RangeError);
  });
});

describe('resolveBackoffPolicy', () => {
  it('fills the specification defaults', () => {
    expect(resolveBackoffPolicy()).toEqual({ maxAttempts: 10, initialBackoff: 1000, maxBackoff: 60_000, multiplier: 2, jitter: true });
  });

  it('ignores fields given as undefined', () => {
    expect(resolveBackoffPolicy({ maxAttempts: undefined as unknown as number }).maxAttempts).toBe(10);
  });

  it.each([
    [{ maxAttempts: -1 }, 'reconnect.maxAttempts'],
    [{ maxAttempts: 1.5 }, 'reconnect.maxAttempts'],
    [{ initialBackoff: -1 }, 'reconnect.initialBackoff'],
    [{ initialBackoff: Number.NaN }, 'reconnect.initialBackoff'],
    [{ maxBackoff: 10 }, 'reconnect.maxBackoff'],
    [{ maxBackoff: Number.POSITIVE_INFINITY }, 'reconnect.maxBackoff'],
    [{ multiplier: 0.5 }, 'reconnect.multiplier'],
    [{ jitter: 'yes' as unknown as boolean }, 'reconnect.jitter'],
  ])('rejects %o with an error naming %s', (policy, option) => {
    expect(() => resolveBackoffPolicy(policy)).toThrow(InvalidOperatorOptionError);
    expect(() => resolveBackoffPolicy(policy)).toThrow(option);
  });
});
