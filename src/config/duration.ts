// Durations as the config file writes them (`200ms`, `1s`, `5m`, `1.5h`), in whole milliseconds. A
// number without a unit is refused where the key does not say `_ms`: whether `status_interval = 10` means
// seconds or milliseconds is the classic config bug, so the file has to say.
import { ConfigValueError } from './errors.js';
import { describeInput } from './describe.js';

/** Milliseconds per unit; the HOCON spellings of each unit are accepted. A Map, so `1constructor` finds nothing. */
const DURATION_UNITS: ReadonlyMap<string, number> = new Map(Object.entries({
  ms: 1,
  milli: 1,
  millis: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
}));

/**
 * The longest wait a Node.js timer can express (2^31 - 1 ms, about 24.8 days): a longer setTimeout fires
 * at once with a warning, so a longer duration would silently mean "immediately".
 */
export const MAX_DURATION_MS = 2_147_483_647;

const DURATION_SYNTAX = /^(\d{1,20})(?:\.(\d{1,9}))?\s*([a-z]+)$/i;
const UNIT_HINT = 'a number and a unit, e.g. 200ms, 1s, 60s, 5m, 1h (units: ms, s, m, h, d)';

/**
 * Milliseconds in a duration such as `200ms`, `1.5s`, `5 minutes`. Throws `ConfigValueError` for
 * anything else: a number without a unit, an unknown unit, a negative or fractional-millisecond value,
 * or more than `MAX_DURATION_MS`.
 */
export function parseDuration(input: unknown): number {
  if (typeof input === 'number') {
    throw new ConfigValueError(`${describeInput(input)} has no unit: write ${UNIT_HINT}`);
  }
  if (typeof input !== 'string') throw new ConfigValueError(`must be a duration: ${UNIT_HINT}`);
  const text = input.trim();
  if (text.startsWith('-')) throw new ConfigValueError(`${describeInput(input)} is negative: a duration is at least 0ms`);
  if (/^\d+(\.\d+)?$/.test(text)) throw new ConfigValueError(`${describeInput(input)} has no unit: write ${UNIT_HINT}`);
  const match = DURATION_SYNTAX.exec(text);
  if (match === null) throw new ConfigValueError(`${describeInput(input)} is not a duration: write ${UNIT_HINT}`);
  const [, whole, fraction = '', unit] = match as unknown as [string, string, string | undefined, string];
  // Units are case-sensitive in HOCON only for sizes; for durations accept `MS`/`Min` typed by habit.
  const factor = DURATION_UNITS.get(unit.toLowerCase());
  if (factor === undefined) {
    throw new ConfigValueError(`${describeInput(input)} has an unknown unit "${unit}": write ${UNIT_HINT}`);
  }
  const millis = scaleExactly(whole, fraction, factor);
  if (millis === undefined) {
    throw new ConfigValueError(`${describeInput(input)} is not a whole number of milliseconds`);
  }
  if (millis > BigInt(MAX_DURATION_MS)) {
    throw new ConfigValueError(`${describeInput(input)} is longer than the longest timer Node.js can set (${formatDuration(MAX_DURATION_MS)})`);
  }
  return Number(millis);
}

/**
 * Milliseconds for a key named `..._ms`: a plain whole number (or its decimal text, as an environment
 * variable gives it). A duration with a unit is refused so that `timeout_ms = 5s` is not silently 5 ms.
 */
export function parseMillis(input: unknown): number {
  let value: number | undefined;
  if (typeof input === 'number') value = input;
  else if (typeof input === 'string' && /^\s*\d{1,16}\s*$/.test(input)) value = Number(input.trim());
  if (value === undefined || !Number.isInteger(value)) {
    throw new ConfigValueError(`${describeInput(input)} is not a whole number of milliseconds (the key ends in _ms: write e.g. 5000)`);
  }
  if (value < 0) throw new ConfigValueError(`${describeInput(input)} is negative: write 0 or more milliseconds`);
  if (value > MAX_DURATION_MS) {
    throw new ConfigValueError(`${describeInput(input)} is longer than the longest timer Node.js can set (${MAX_DURATION_MS} ms)`);
  }
  return value;
}

/** The shortest exact text for `ms` in the largest unit that divides it (`90000` → `90s`, `3600000` → `1h`). */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new ConfigValueError(`${ms} is not a whole, non-negative number of milliseconds`);
  for (const [unit, factor] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms !== 0 && ms % factor === 0) return `${ms / factor}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * `whole.fraction × factor` as an exact integer, or undefined when it is not one. Decimal fractions are
 * not exact in floating point (`1.1 * 1000` is `1100.0000000000002`), so this counts in bigint.
 */
export function scaleExactly(whole: string, fraction: string, factor: number): bigint | undefined {
  const scale = 10n ** BigInt(fraction.length);
  const product = BigInt(whole + fraction) * BigInt(factor);
  return product % scale === 0n ? product / scale : undefined;
}
