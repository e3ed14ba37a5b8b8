// Calendar arithmetic and the date/time text forms laredo emits, shared by the text and binary
// converters so both produce the same string for the same datum. JS Date is never used: it keeps only
// milliseconds and its range (±275,760 years) is narrower than PostgreSQL's (4713 BC to 294276 AD).

/** Julian day of 2000-01-01, PostgreSQL's epoch for date, timestamp and timestamptz. */
export const PG_EPOCH_JULIAN_DAY = 2_451_545;
export const MICROS_PER_DAY = 86_400_000_000;
const MICROS_PER_HOUR = 3_600_000_000;
const MICROS_PER_MINUTE = 60_000_000;
const MICROS_PER_SECOND = 1_000_000;

/** Julian days PostgreSQL accepts for dates: [0, DATE_END_JULIAN) (4713-01-01 BC to 5874897-12-31). */
export const DATE_END_JULIAN = 2_147_483_494;

const TWO_DIGITS: readonly string[] = Array.from({ length: 100 }, (_, n) => (n < 10 ? `0${n}` : String(n)));

/** `n` (0-99) as two digits. */
export function pad2(n: number): string {
  return TWO_DIGITS[n]!;
}

/** A civil date; `year` is astronomical (0 = 1 BC, -1 = 2 BC). */
export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

/**
 * PostgreSQL's j2date (proleptic Gregorian), for julian day `julianDay` >= 0. Writes into `out` so the
 * hot path allocates nothing.
 */
export function julianToCivil(julianDay: number, out: CivilDate): CivilDate {
  let julian = julianDay + 32_044;
  let quad = Math.floor(julian / 146_097);
  const extra = (julian - quad * 146_097) * 4 + 3;
  julian += 60 + quad * 3 + Math.floor(extra / 146_097);
  quad = Math.floor(julian / 1461);
  julian -= quad * 1461;
  let y = Math.floor((julian * 4) / 1461);
  julian = (y !== 0 ? (julian + 305) % 365 : (julian + 306) % 366) + 123;
  y += quad * 4;
  out.year = y - 4800;
  quad = Math.floor((julian * 2141) / 65_536);
  out.day = julian - Math.floor((7834 * quad) / 256);
  out.month = ((quad + 10) % 12) + 1;
  return out;
}

/** PostgreSQL's date2j, for astronomical `year` >= -4800. */
export function civilToJulian(year: number, month: number, day: number): number {
  let y = year;
  let m = month;
  if (m > 2) {
    m += 1;
    y += 4800;
  } else {
    m += 13;
    y += 4799;
  }
  const century = Math.floor(y / 100);
  let julian = y * 365 - 32_167;
  julian += Math.floor(y / 4) - century + Math.floor(century / 4);
  julian += Math.floor((7834 * m) / 256) + day;
  return julian;
}

/**
 * An astronomical year the way ECMAScript's `Date#toISOString` writes it: four digits for 0000-9999,
 * otherwise a sign and (at least) six digits. So 1 BC is `0000`, 44 BC is `-000043`, 10000 AD is
 * `+010000`: unambiguous, sortable within 0000-9999, and accepted by `Date.parse` where Date has range.
 */
export function isoYear(year: number): string {
  if (year >= 0 && year <= 9999) {
    return year >= 1000 ? String(year) : String(year).padStart(4, '0');
  }
  return (year < 0 ? '-' : '+') + String(Math.abs(year)).padStart(6, '0');
}

/** `YYYY-MM-DD` (see isoYear for years outside 0000-9999). */
export function isoDate(date: CivilDate): string {
  return `${isoYear(date.year)}-${pad2(date.month)}-${pad2(date.day)}`;
}

/** `HH:MM:SS.ffffff` for microseconds since midnight (0 to 24:00:00 inclusive), always six fraction digits. */
export function isoTimeOfDay(micros: number): string {
  const hour = Math.floor(micros / MICROS_PER_HOUR);
  const minute = Math.floor((micros % MICROS_PER_HOUR) / MICROS_PER_MINUTE);
  const second = Math.floor((micros % MICROS_PER_MINUTE) / MICROS_PER_SECOND);
  const fraction = micros % MICROS_PER_SECOND;
  return `${pad2(hour)}:${pad2(minute)}:${pad2(second)}.${String(fraction).padStart(6, '0')}`;
}

/**
 * Seconds and fraction as PostgreSQL's AppendSeconds prints them (fillzeros, precision 6): two-digit
 * seconds, then `.` and the fraction with trailing zeros removed, nothing when the fraction is zero.
 */
function pgSeconds(seconds: number, fractionMicros: number): string {
  const whole = pad2(seconds);
  if (fractionMicros === 0) return whole;
  let fraction = String(fractionMicros).padStart(6, '0');
  let end = fraction.length;
  while (fraction.charCodeAt(end - 1) === 48 /* 0 */) end--;
  fraction = fraction.slice(0, end);
  return `${whole}.${fraction}`;
}

/** A `time` value (microseconds since midnight) as time_out prints it: `HH:MM:SS[.fraction]`. */
export function pgTime(micros: number): string {
  const hour = Math.floor(micros / MICROS_PER_HOUR);
  const minute = Math.floor((micros % MICROS_PER_HOUR) / MICROS_PER_MINUTE);
  const second = Math.floor((micros % MICROS_PER_MINUTE) / MICROS_PER_SECOND);
  return `${pad2(hour)}:${pad2(minute)}:${pgSeconds(second, micros % MICROS_PER_SECOND)}`;
}

/**
 * A time zone offset as EncodeTimezone prints it in ISO style. PostgreSQL stores zones as seconds
 * *west* of Greenwich, so +05:30 is -19800: `+HH`, `+HH:MM` when minutes are set, `+HH:MM:SS` when
 * seconds are.
 */
export function pgZone(secondsWest: number): string {
  let seconds = Math.abs(secondsWest);
  let minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  const hours = Math.floor(minutes / 60);
  minutes -= hours * 60;
  const sign = secondsWest <= 0 ? '+' : '-';
  const hh = hours < 100 ? pad2(hours) : String(hours);
  if (seconds !== 0) return `${sign}${hh}:${pad2(minutes)}:${pad2(seconds)}`;
  if (minutes !== 0) return `${sign}${hh}:${pad2(minutes)}`;
  return `${sign}${hh}`;
}

const INT32_MAX = 2_147_483_647;
const INT32_MIN = -2_147_483_648;
const INT64_MAX = 0x7fff_ffff_ffff_ffffn;
const INT64_MIN = -0x8000_0000_0000_0000n;
const BIG_MICROS_PER_HOUR = 3_600_000_000n;

/**
 * An interval as interval_out prints it with IntervalStyle 'postgres' (EncodeInterval,
 * INTSTYLE_POSTGRES), e.g. `1 year 2 mons -3 days +04:05:06.5`. Divisions truncate toward zero as in C,
 * so every part carries the sign of its field. PostgreSQL 17+ spells the infinite intervals
 * `infinity`/`-infinity`.
 */
export function pgInterval(months: number, days: number, micros: bigint): string {
  if (months === INT32_MAX && days === INT32_MAX && micros === INT64_MAX) return 'infinity';
  if (months === INT32_MIN && days === INT32_MIN && micros === INT64_MIN) return '-infinity';
  const years = Math.trunc(months / 12);
  const monthsOfYear = months % 12;
  const hours = micros / BIG_MICROS_PER_HOUR; // bigint division truncates toward zero, like C
  // What is left after whole hours fits a double exactly (|rest| < 3.6e9).
  const rest = Number(micros - hours * BIG_MICROS_PER_HOUR);
  const minutes = Math.trunc(rest / MICROS_PER_MINUTE);
  const seconds = Math.trunc((rest % MICROS_PER_MINUTE) / MICROS_PER_SECOND);
  const fraction = rest % MICROS_PER_SECOND;

  let text = '';
  let isZero = true;
  let isBefore = false;
  const parts: readonly (readonly [number, string])[] = [
    [years, 'year'],
    [monthsOfYear, 'mon'],
    [days, 'day'],
  ];
  for (const [value, unit] of parts) {
    if (value === 0) continue;
    text += `${isZero ? '' : ' '}${isBefore && value > 0 ? '+' : ''}${value} ${unit}${value !== 1 ? 's' : ''}`;
    // Each nonzero field decides whether the next one shows an explicit '+' (PostgreSQL's rule).
    isBefore = value < 0;
    isZero = false;
  }
  if (isZero || hours !== 0n || minutes !== 0 || seconds !== 0 || fraction !== 0) {
    const minus = hours < 0n || minutes < 0 || seconds < 0 || fraction < 0;
    const absHours = hours < 0n ? -hours : hours;
    const hh = absHours < 10n ? `0${absHours}` : String(absHours);
    text += `${isZero ? '' : ' '}${minus ? '-' : isBefore ? '+' : ''}${hh}:${pad2(Math.abs(minutes))}:${pgSeconds(Math.abs(seconds), Math.abs(fraction))}`;
  }
  return text;
}
