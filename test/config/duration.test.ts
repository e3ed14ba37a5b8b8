import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, MAX_DURATION_MS, parseDuration, parseMillis } from '../../src/config/duration.js';
import { ConfigValueError } from '../../src/config/errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, seconds: 1000, minutes: 60_000, millis: 1 };

/** Either a whole number of milliseconds in range, or a ConfigValueError: never another outcome. */
function outcome(parse: (input: unknown) => number, input: unknown): number | ConfigValueError {
  try {
    const value = parse(input);
    expect(Number.isSafeInteger(value)).toBe(true);
    expect(value).toBeGreaterThanOrEqual(0);
    expect(value).toBeLessThanOrEqual(MAX_DURATION_MS);
    return value;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigValueError);
    return error as ConfigValueError;
  }
}

describe('parseDuration', () => {
  it('reads the durations of the specification and the defaults', () => {
    expect(parseDuration('200ms')).toBe(200);
    expect(parseDuration('1s')).toBe(1000);
    expect(parseDuration('60s')).toBe(60_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration(' 10 seconds ')).toBe(10_000);
    expect(parseDuration('0ms')).toBe(0);
  });

  it('counts decimal fractions exactly, without floating-point error', () => {
    expect(parseDuration('1.1s')).toBe(1100);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('0.001s')).toBe(1);
  });

  it('refuses a number without a unit, naming the units to use', () => {
    expect(() => parseDuration(10)).toThrow(/has no unit.*200ms, 1s/);
    expect(() => parseDuration('10')).toThrow(/has no unit/);
  });

  it('refuses unknown units, negatives, fractions of a millisecond and timers Node.js cannot set', () => {
    expect(() => parseDuration('5 mins')).toThrow(/unknown unit "mins"/);
    expect(() => parseDuration('-1s')).toThrow(/negative/);
    expect(() => parseDuration('1.5ms')).toThrow(/whole number of milliseconds/);
    expect(() => parseDuration('25d')).toThrow(/longest timer/);
    expect(() => parseDuration('')).toThrow(ConfigValueError);
    expect(() => parseDuration(true)).toThrow(ConfigValueError);
    expect(() => parseDuration('1constructor')).toThrow(/unknown unit/);
  });

  it('reads back every duration formatDuration writes', () => {
    fc.assert(
      fc.property(fc.nat({ max: MAX_DURATION_MS }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });

  it('multiplies a whole number by its unit, or refuses it when the timer would overflow', () => {
    fc.assert(
      fc.property(fc.nat({ max: 10_000_000 }), fc.constantFrom(...Object.keys(UNITS)), fc.constantFrom('', ' '), (count, unit, space) => {
        const expected = count * UNITS[unit]!;
        const result = outcome(parseDuration, `${count}${space}${unit}`);
        if (expected <= MAX_DURATION_MS) expect(result).toBe(expected);
        else expect(result).toBeInstanceOf(ConfigValueError);
      }),
    );
  });

  it('adds up to three decimals of seconds to whole milliseconds', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), fc.nat({ max: 999 }), (seconds, millis) => {
        expect(parseDuration(`${seconds}.${String(millis).padStart(3, '0')}s`)).toBe(seconds * 1000 + millis);
      }),
    );
  });

  it('never crashes or returns garbage on arbitrary input', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.anything()), (input) => void outcome(parseDuration, input)));
    fc.assert(
      fc.property(fc.oneof(
          fc.stringMatching(/^-?\d{0,25}(\.\d{0,12})?\s?[a-zA-Z]{0,13}$/),
          fc.constantFrom(...Object.getOwnPropertyNames(Object.prototype)).map((name) => `1${name}`),
        ), (input) => void outcome(parseDuration, input)),
    );
  });
});

describe('parseMillis', () => {
  it('takes whole milliseconds as a number or its text', () => {
    expect(parseMillis(5000)).toBe(5000);
    expect(parseMillis('250')).toBe(250);
    expect(parseMillis(0)).toBe(0);
  });

  it('refuses a unit, so that timeout_ms = 5s is not silently 5 ms', () => {
    expect(() => parseMillis('5s')).toThrow(/whole number of milliseconds.*_ms/);
    expect(() => parseMillis(1.5)).toThrow(ConfigValueError);
    expect(() => parseMillis(-1)).toThrow(/negative/);
    expect(() => parseMillis(MAX_DURATION_MS + 1)).toThrow(/longest timer/);
  });

  it('never crashes or returns garbage on arbitrary input', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.anything(), fc.double()), (input) => void outcome(parseMillis, input)));
  });
});
