// Column values by type OID, from the text PostgreSQL's output functions print (pgoutput `t` columns,
// COPY text) and from the binary send format (pgoutput `b` columns, see values-binary.ts). Lossless:
// the only conversions are those that keep every digit; everything else stays the text PostgreSQL
// printed. The text depends on session settings, hence SESSION_SETTINGS. The value table and the
// reasons are in docs/values.md.
import { ProtocolError } from './errors.js';
import type { JsonValue, PgValue } from './row.js';
import { parseJson } from './json-text.js';
import { binaryParserFor } from './values-binary.js';
import { civilToJulian, julianToCivil, isoDate, isoTimeOfDay, MICROS_PER_DAY, type CivilDate } from './values-datetime.js';
import { arrayTypeInfo, TypeOid } from './values-oids.js';

export { TypeOid } from './values-oids.js';

/** How values are converted; the defaults are lossless. */
export interface ValueOptions {
  /** int8 as a decimal string (default) or a bigint. */
  readonly int8?: 'string' | 'bigint';
  /**
   * json and jsonb parsed with JSON.parse (default), or kept as the text PostgreSQL sent. JSON.parse
   * turns numbers into doubles, so digits beyond ~15-17 significant ones are rounded (and `1.0`
   * becomes `1`); choose 'text' when such numbers must survive exactly.
   */
  readonly json?: 'parsed' | 'text';
}

export type TextParser = (text: string) => PgValue;
export type BinaryParser = (bytes: Buffer) => PgValue;

/**
 * The settings every laredo connection (replication and baseline) must use, because the output
 * functions print values according to them and the converters parse exactly that text: so a value
 * from pgoutput (printed by the walsender with its session's settings) and from COPY (printed by the
 * baseline session) is the same text and converts to the same JS value.
 */
export const SESSION_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  // Every string converted here is decoded as UTF-8; the server converts from its encoding.
  client_encoding: 'UTF8',
  // Dates `YYYY-MM-DD`, timestamps `YYYY-MM-DD HH:MM:SS.ffffff`; YMD only matters for input.
  DateStyle: 'ISO, YMD',
  // timestamptz printed in UTC (`+00`): the converter's fast path (other offsets are shifted, slowly).
  TimeZone: 'UTC',
  // interval as `1 year 2 mons 3 days 04:05:06`, the form the binary converter reproduces.
  IntervalStyle: 'postgres',
  // Any value > 0 makes PostgreSQL 12+ print floats in the shortest form that reads back exactly.
  extra_float_digits: '3',
  // `\x0a0b`, which the bytea converter decodes; the older escape format is refused.
  bytea_output: 'hex',
});

/**
 * SESSION_SETTINGS as a libpq/node-postgres `options` startup string (`-c DateStyle=ISO,\ YMD ...`):
 * startup parameters apply before the first statement, also on a replication connection.
 */
export function sessionSettingsOptions(settings: Readonly<Record<string, string>> = SESSION_SETTINGS): string {
  // The server splits `options` on whitespace; a backslash keeps the next character (a space, a
  // backslash) literal.
  const escape = (text: string): string => text.replace(/[\\\s]/g, (c) => `\\${c}`);
  return Object.entries(settings)
    .map(([name, value]) => `-c ${escape(name)}=${escape(value)}`)
    .join(' ');
}

/** The converter for a column of type `typeOid` sent as text (pgoutput `t`, COPY text). */
export function textParser(typeOid: number, options: ValueOptions = {}): TextParser {
  const scalar = scalarTextParser(typeOid, options);
  if (scalar !== undefined) return scalar;
  const array = arrayTypeInfo(typeOid);
  if (array === undefined) return keepText;
  const key = `${typeOid}:${options.int8 ?? 'string'}:${options.json ?? 'parsed'}`;
  let parser = arrayParsers.get(key);
  if (parser === undefined) {
    const element = scalarTextParser(array.elementOid, options) ?? keepText;
    const delimiter = array.delimiter.charCodeAt(0);
    parser = (text) => parseArrayText(text, element, delimiter);
    arrayParsers.set(key, parser);
  }
  return parser;
}

/** The converter for a column of type `typeOid` sent in binary (pgoutput `b`); unknown types stay Buffers. */
export function binaryParser(typeOid: number, options: ValueOptions = {}): BinaryParser {
  return binaryParserFor(typeOid, options);
}

const arrayParsers = new Map<string, TextParser>();

function scalarTextParser(typeOid: number, options: ValueOptions): TextParser | undefined {
  switch (typeOid) {
    case TypeOid.bool:
      return parseBoolText;
    case TypeOid.bytea:
      return parseByteaText;
    case TypeOid.int2:
      return parseInt2Text;
    case TypeOid.int4:
      return parseInt4Text;
    case TypeOid.oid:
      return parseOidText;
    case TypeOid.int8:
      return options.int8 === 'bigint' ? parseInt8TextAsBigint : parseInt8Text;
    case TypeOid.float4:
    case TypeOid.float8:
      return parseFloatText;
    case TypeOid.numeric:
      return parseNumericText;
    case TypeOid.json:
    case TypeOid.jsonb:
      return options.json === 'text' ? keepText : parseJsonText;
    case TypeOid.date:
      return parseDateText;
    case TypeOid.timestamp:
      return parseTimestampText;
    case TypeOid.timestamptz:
      return parseTimestamptzText;
    default:
      // text, varchar, bpchar, name, uuid, time, timetz, interval, enums, domains, composites and
      // every type laredo does not know: the text as PostgreSQL printed it.
      return undefined;
  }
}

/** A ProtocolError for a value that is not what the output function prints under SESSION_SETTINGS. */
function malformedValue(typeName: string, text: string, why = ''): ProtocolError {
  // Values of these types can hold anything a user stored, so the message shows only their length.
  const opaque = typeName === 'array' || typeName === 'json' || typeName === 'bytea';
  const preview = opaque ? `a ${text.length}-character value` : text.length > 32 ? `${JSON.stringify(text.slice(0, 32))}...` : JSON.stringify(text);
  // Invalid JSON is the data's problem; anything else usually means a session with other settings.
  const remedy =
    typeName === 'json'
      ? 'the server sent text JSON.parse refuses'
      : 'the connection must use laredo SESSION_SETTINGS (DateStyle ISO, TimeZone UTC, bytea_output hex, client_encoding UTF8)';
  return new ProtocolError('MALFORMED', `${preview} is not ${typeName} text as PostgreSQL prints it${why === '' ? '' : ` (${why})`}; ${remedy}`, 0);
}

const keepText: TextParser = (text) => text;

function parseBoolText(text: string): boolean {
  // boolout prints t/f; a bool cast to text (and so some expressions) gives true/false.
  if (text === 't' || text === 'true') return true;
  if (text === 'f' || text === 'false') return false;
  throw malformedValue('bool', text);
}

function parseByteaText(text: string): Buffer {
  // Hex format: `\x` then two hex digits per byte.
  if (text.charCodeAt(0) !== 92 /* \ */ || text.charCodeAt(1) !== 120 /* x */) {
    throw malformedValue('bytea', text, 'not the hex format: set bytea_output = hex');
  }
  const hexLength = text.length - 2;
  const bytes = Buffer.from(text.slice(2), 'hex');
  // Buffer.from stops quietly at the first pair that is not hex; a short result means bad input.
  if (bytes.length * 2 !== hexLength) throw malformedValue('bytea', text, 'bad hex digits');
  return bytes;
}

/** A decimal integer as int2/int4/oid print it: optional '-', then digits, within [min, max]. */
function parseIntegerText(text: string, min: number, max: number, typeName: string): number {
  const length = text.length;
  let index = 0;
  const negative = length > 1 && text.charCodeAt(0) === 45; /* - */
  if (negative) index = 1;
  if (length === index || length - index > 10) throw malformedValue(typeName, text);
  let value = 0;
  for (; index < length; index++) {
    const digit = text.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) throw malformedValue(typeName, text);
    value = value * 10 + digit;
  }
  if (negative) value = 0 - value;
  if (value < min || value > max) throw malformedValue(typeName, text, 'out of range');
  return value;
}

function parseInt2Text(text: string): number {
  return parseIntegerText(text, -32_768, 32_767, 'int2');
}

function parseInt4Text(text: string): number {
  return parseIntegerText(text, -2_147_483_648, 2_147_483_647, 'int4');
}

function parseOidText(text: string): number {
  return parseIntegerText(text, 0, 4_294_967_295, 'oid');
}

function checkInt8Text(text: string): void {
  const length = text.length;
  let index = text.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  if (length === index || length - index > 19) throw malformedValue('int8', text);
  for (; index < length; index++) {
    const code = text.charCodeAt(index);
    if (code < 48 || code > 57) throw malformedValue('int8', text);
  }
}

function parseInt8Text(text: string): string {
  checkInt8Text(text);
  return text;
}

function parseInt8TextAsBigint(text: string): bigint {
  checkInt8Text(text);
  return BigInt(text);
}

function parseFloatText(text: string): number {
  const length = text.length;
  if (length === 0) throw malformedValue('float', text);
  // PostgreSQL prints -?digits[.digits][e±digits], NaN, Infinity or -Infinity; Number() alone would
  // also take '', ' 1' or '0x10'.
  for (let index = 0; index < length; index++) {
    const code = text.charCodeAt(index);
    if ((code < 48 || code > 57) && code !== 46 && code !== 45 && code !== 43 && code !== 101 && code !== 69) {
      if (text === 'NaN') return Number.NaN;
      if (text === 'Infinity') return Number.POSITIVE_INFINITY;
      if (text === '-Infinity') return Number.NEGATIVE_INFINITY;
      throw malformedValue('float', text);
    }
  }
  const value = Number(text);
  if (Number.isNaN(value)) throw malformedValue('float', text);
  return value;
}

function parseNumericText(text: string): string {
  const length = text.length;
  let index = text.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  let digits = 0;
  let points = 0;
  for (; index < length; index++) {
    const code = text.charCodeAt(index);
    if (code >= 48 && code <= 57) digits++;
    else if (code === 46 /* . */ && points === 0 && digits > 0) points++;
    else break;
  }
  if (index === length && digits > 0 && text.charCodeAt(length - 1) !== 46) return text;
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return text;
  throw malformedValue('numeric', text);
}

function parseJsonText(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    // JSON.parse's message quotes the text, which may be anything a user stored: leave it out.
    throw malformedValue('json', text, 'not valid JSON');
  }
}

// --- dates and timestamps -------------------------------------------------------------------------
//
// PostgreSQL (DateStyle ISO) prints `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS[.f{1,6}]` and, for timestamptz,
// the zone `+HH[:MM[:SS]]`; years have at least four digits and BC dates end in ` BC`. laredo emits
// ISO-8601: `T` between date and time, always six fraction digits (fixed width, so timestamps of years
// 0000-9999 sort as strings), `Z` for timestamptz (shifted to UTC if the session was not), and
// astronomical years (1 BC = 0000) written as in isoYear.

const scratchDate: CivilDate = { year: 0, month: 0, day: 0 };

function areDigits(text: string, from: number, to: number): boolean {
  for (let index = from; index < to; index++) {
    const code = text.charCodeAt(index);
    if (code < 48 || code > 57) return false;
  }
  return true;
}

function digitAt(text: string, index: number): number {
  const digit = text.charCodeAt(index) - 48;
  return digit >= 0 && digit <= 9 ? digit : -1;
}

function twoDigitsAt(text: string, index: number): number {
  const tens = digitAt(text, index);
  const ones = digitAt(text, index + 1);
  return tens < 0 || ones < 0 ? -1 : tens * 10 + ones;
}

/**
 * Scans `YYYY-MM-DD` at the start of `text`: returns the index after it, or -1. Puts the (BC-unaware)
 * year, month and day into scratchDate.
 */
function scanDate(text: string): number {
  let index = 0;
  let year = 0;
  for (;;) {
    const digit = digitAt(text, index);
    if (digit < 0) break;
    year = year * 10 + digit;
    index++;
  }
  if (index < 4 || index > 7 || text.charCodeAt(index) !== 45 /* - */ || text.charCodeAt(index + 3) !== 45) return -1;
  const month = twoDigitsAt(text, index + 1);
  const day = twoDigitsAt(text, index + 4);
  if (month < 1 || month > 12 || day < 1 || day > 31) return -1;
  scratchDate.year = year;
  scratchDate.month = month;
  scratchDate.day = day;
  return index + 6;
}

function endsWithBc(text: string, index: number): boolean {
  return text.length === index + 3 && text.charCodeAt(index) === 32 && text.charCodeAt(index + 1) === 66 && text.charCodeAt(index + 2) === 67;
}

function parseDateText(text: string): string {
  if (text === 'infinity' || text === '-infinity') return text;
  const end = scanDate(text);
  if (end < 0) throw malformedValue('date', text);
  if (end === text.length) {
    // The common case: a year of four digits AD is already ISO.
    return end === 10 ? text : isoDate(scratchDate);
  }
  if (!endsWithBc(text, end)) throw malformedValue('date', text);
  scratchDate.year = 1 - scratchDate.year;
  return isoDate(scratchDate);
}

function parseTimestampText(text: string): string {
  return timestampTextToIso(text, false);
}

function parseTimestamptzText(text: string): string {
  return timestampTextToIso(text, true);
}

/**
 * The date of `YYYY-MM-DD HH:MM:SS` (a four-digit year) at `at` in `text`, as the number YYYYMMDD, or
 * -1 when that is not there: every digit and separator checked, fields in range, without scanning for
 * anything else. The caller makes sure 19 characters are there.
 */
function isoDateTimePrefixDay(text: string, at: number): number {
  if (
    text.charCodeAt(at + 4) !== 45 ||
    text.charCodeAt(at + 7) !== 45 ||
    text.charCodeAt(at + 10) !== 32 ||
    text.charCodeAt(at + 13) !== 58 ||
    text.charCodeAt(at + 16) !== 58
  ) {
    return -1;
  }
  // Straight-line on purpose: this runs for every timestamp of every row.
  const y0 = text.charCodeAt(at) - 48;
  const y1 = text.charCodeAt(at + 1) - 48;
  const y2 = text.charCodeAt(at + 2) - 48;
  const y3 = text.charCodeAt(at + 3) - 48;
  const mo0 = text.charCodeAt(at + 5) - 48;
  const mo1 = text.charCodeAt(at + 6) - 48;
  const d0 = text.charCodeAt(at + 8) - 48;
  const d1 = text.charCodeAt(at + 9) - 48;
  const h0 = text.charCodeAt(at + 11) - 48;
  const h1 = text.charCodeAt(at + 12) - 48;
  const mi0 = text.charCodeAt(at + 14) - 48;
  const mi1 = text.charCodeAt(at + 15) - 48;
  const s0 = text.charCodeAt(at + 17) - 48;
  const s1 = text.charCodeAt(at + 18) - 48;
  if (
    !(y0 >= 0 && y0 <= 9 && y1 >= 0 && y1 <= 9 && y2 >= 0 && y2 <= 9 && y3 >= 0 && y3 <= 9) ||
    !(mo0 >= 0 && mo0 <= 1 && mo1 >= 0 && mo1 <= 9 && d0 >= 0 && d0 <= 3 && d1 >= 0 && d1 <= 9) ||
    !(h0 >= 0 && h0 <= 2 && h1 >= 0 && h1 <= 9 && mi0 >= 0 && mi0 <= 5 && mi1 >= 0 && mi1 <= 9 && s0 >= 0 && s0 <= 5 && s1 >= 0 && s1 <= 9)
  ) {
    return -1;
  }
  const month = mo0 * 10 + mo1;
  const day = d0 * 10 + d1;
  if (month < 1 || month > 12 || day < 1 || day > 31 || h0 * 10 + h1 >= 24) return -1;
  return (((y0 * 10 + y1) * 10 + y2) * 10 + y3) * 10_000 + month * 100 + day;
}

// What follows the printed time to make it ISO: the fraction padded to six digits, and `Z` for
// timestamptz; indexed by the fraction digits PostgreSQL printed (0 = no fraction).
const FRACTION_PADDING = ['.000000', '00000', '0000', '000', '00', '0', ''];
const FRACTION_PADDING_Z = FRACTION_PADDING.map((padding) => `${padding}Z`);

/**
 * `YYYY-MM-DDT` of the last timestamp converted, and its date as YYYYMMDD: timestamps in a stream
 * mostly fall on the same few days, and reusing the date spares making it (a copy of 10 characters,
 * then another of 11 with the `T`) for every value.
 */
let lastIsoDay = -1;
let lastIsoDatePrefix = '';

/**
 * The fast path, for what a UTC session prints for years 1000-9999, of the timestamp at
 * `text.slice(start, end)`: the date and time are already ISO; only a space becomes `T`, the fraction
 * is padded and the zone `+00` becomes `Z`. Undefined for anything else.
 */
function isoTimestampFastPath(text: string, start: number, end: number, withZone: boolean): string | undefined {
  const timeEnd = withZone ? end - 3 : end;
  const timeLength = timeEnd - start;
  if (
    !(timeLength === 19 || (timeLength >= 21 && timeLength <= 26 && text.charCodeAt(start + 19) === 46)) /* . */ ||
    (withZone && !(text.charCodeAt(timeEnd) === 43 /* + */ && text.charCodeAt(timeEnd + 1) === 48 && text.charCodeAt(timeEnd + 2) === 48)) ||
    !areDigits(text, start + 20, timeEnd)
  ) {
    return undefined;
  }
  const day = isoDateTimePrefixDay(text, start);
  if (day < 0) return undefined;
  let datePrefix = lastIsoDatePrefix;
  if (day !== lastIsoDay) {
    datePrefix = lastIsoDatePrefix = `${text.slice(start, start + 10)}T`;
    lastIsoDay = day;
  }
  const fractionDigits = timeLength === 19 ? 0 : timeLength - 20;
  return datePrefix + text.slice(start + 11, timeEnd) + (withZone ? FRACTION_PADDING_Z[fractionDigits]! : FRACTION_PADDING[fractionDigits]!);
}

function timestampTextToIso(text: string, withZone: boolean): string {
  const fast = isoTimestampFastPath(text, 0, text.length, withZone);
  if (fast !== undefined) return fast;
  if (text === 'infinity' || text === '-infinity') return text;
  const typeName = withZone ? 'timestamptz' : 'timestamp';
  const dateEnd = scanDate(text);
  if (dateEnd < 0 || text.charCodeAt(dateEnd) !== 32 /* space */) throw malformedValue(typeName, text);
  const timeStart = dateEnd + 1;
  const hour = twoDigitsAt(text, timeStart);
  const minute = twoDigitsAt(text, timeStart + 3);
  const second = twoDigitsAt(text, timeStart + 6);
  if (hour < 0 || hour > 24 || minute < 0 || minute > 59 || second < 0 || second > 60 || text.charCodeAt(timeStart + 2) !== 58 || text.charCodeAt(timeStart + 5) !== 58) {
    throw malformedValue(typeName, text);
  }
  let index = timeStart + 8;
  let fraction = '000000';
  if (text.charCodeAt(index) === 46 /* . */) {
    const fractionStart = ++index;
    while (digitAt(text, index) >= 0) index++;
    const digits = index - fractionStart;
    if (digits < 1 || digits > 6) throw malformedValue(typeName, text);
    fraction = digits === 6 ? text.slice(fractionStart, index) : text.slice(fractionStart, index).padEnd(6, '0');
  }
  let offsetSeconds = 0;
  if (withZone) {
    const sign = text.charCodeAt(index);
    if (sign !== 43 /* + */ && sign !== 45 /* - */) throw malformedValue(typeName, text);
    const offsetHours = twoDigitsAt(text, index + 1);
    if (offsetHours < 0) throw malformedValue(typeName, text);
    index += 3;
    let offsetMinutes = 0;
    let offsetSecs = 0;
    if (text.charCodeAt(index) === 58 /* : */) {
      offsetMinutes = twoDigitsAt(text, index + 1);
      index += 3;
      if (text.charCodeAt(index) === 58) {
        offsetSecs = twoDigitsAt(text, index + 1);
        index += 3;
      }
    }
    if (offsetMinutes < 0 || offsetSecs < 0) throw malformedValue(typeName, text);
    offsetSeconds = (sign === 45 ? -1 : 1) * (offsetHours * 3600 + offsetMinutes * 60 + offsetSecs);
  }
  let bc = false;
  if (index !== text.length) {
    if (!endsWithBc(text, index)) throw malformedValue(typeName, text);
    bc = true;
  }
  const suffix = withZone ? 'Z' : '';
  if (bc) scratchDate.year = 1 - scratchDate.year;
  // Shift to UTC (a session not in UTC) and carry 24:00:00 / leap seconds over, through julian days.
  let julianDay = civilToJulian(scratchDate.year, scratchDate.month, scratchDate.day);
  let micros = (hour * 3600 + minute * 60 + second - offsetSeconds) * 1_000_000 + Number(fraction);
  const dayShift = Math.floor(micros / MICROS_PER_DAY);
  julianDay += dayShift;
  micros -= dayShift * MICROS_PER_DAY;
  if (julianDay < 0) throw malformedValue(typeName, text, 'before 4713 BC');
  julianToCivil(julianDay, scratchDate);
  return `${isoDate(scratchDate)}T${isoTimeOfDay(micros)}${suffix}`;
}

// --- values inside a larger string ------------------------------------------------------------------
//
// The pgoutput decoder turns the tuple bytes of a small message into one string and cuts its columns
// from it (see PgoutputDecoder#sharedText). For the types below, a converter that reads the value in
// place spares that cut: no substring to allocate, and reading a flat string is faster than reading a
// substring of one (each character access has to find the parent first). Each does exactly what the
// text converter does; on anything but its fast path it calls the text converter with the substring,
// which converts it or throws the same error.

/**
 * A converter that reads the value `text.slice(start, end)` where it is, for the types where that
 * pays (textRangeParser); the result and the errors are those of textParser's converter.
 */
export type TextRangeParser = (text: string, start: number, end: number) => PgValue;

/** The in-place converter for a column of type `typeOid` sent as text, or undefined: then use textParser with the substring. */
export function textRangeParser(typeOid: number, options: ValueOptions = {}): TextRangeParser | undefined {
  switch (typeOid) {
    case TypeOid.int2:
      return parseInt2Range;
    case TypeOid.int4:
      return parseInt4Range;
    case TypeOid.int8:
      return options.int8 === 'bigint' ? undefined : parseInt8Range;
    case TypeOid.numeric:
      return parseNumericRange;
    case TypeOid.json:
    case TypeOid.jsonb:
      return options.json === 'text' ? undefined : parseJsonRange;
    case TypeOid.timestamp:
      return parseTimestampRange;
    case TypeOid.timestamptz:
      return parseTimestamptzRange;
    default:
      return undefined;
  }
}

/** parseIntegerText's fast path in place: undefined unless a plain decimal within [min, max]. */
function integerInRange(text: string, start: number, end: number, min: number, max: number): number | undefined {
  let index = start;
  const negative = end - start > 1 && text.charCodeAt(start) === 45; /* - */
  if (negative) index++;
  if (end === index || end - index > 10) return undefined;
  let value = 0;
  for (; index < end; index++) {
    const digit = text.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  if (negative) value = 0 - value;
  return value < min || value > max ? undefined : value;
}

function parseInt2Range(text: string, start: number, end: number): number {
  return integerInRange(text, start, end, -32_768, 32_767) ?? parseInt2Text(text.substring(start, end));
}

function parseInt4Range(text: string, start: number, end: number): number {
  return integerInRange(text, start, end, -2_147_483_648, 2_147_483_647) ?? parseInt4Text(text.substring(start, end));
}

function parseInt8Range(text: string, start: number, end: number): string {
  let index = text.charCodeAt(start) === 45 /* - */ ? start + 1 : start;
  let valid = end > index && end - index <= 19;
  for (; valid && index < end; index++) {
    const code = text.charCodeAt(index);
    valid = code >= 48 && code <= 57;
  }
  return valid ? text.substring(start, end) : parseInt8Text(text.substring(start, end));
}

function parseNumericRange(text: string, start: number, end: number): string {
  let index = text.charCodeAt(start) === 45 /* - */ ? start + 1 : start;
  let digits = 0;
  let points = 0;
  for (; index < end; index++) {
    const code = text.charCodeAt(index);
    if (code >= 48 && code <= 57) digits++;
    else if (code === 46 /* . */ && points === 0 && digits > 0) points++;
    else break;
  }
  const value = text.substring(start, end);
  return index === end && digits > 0 && text.charCodeAt(end - 1) !== 46 ? value : parseNumericText(value);
}

function parseJsonRange(text: string, start: number, end: number): JsonValue {
  try {
    return parseJson(text, start, end);
  } catch {
    throw malformedValue('json', text.slice(start, end), 'not valid JSON');
  }
}

function parseTimestampRange(text: string, start: number, end: number): string {
  return isoTimestampFastPath(text, start, end, false) ?? timestampTextToIso(text.substring(start, end), false);
}

function parseTimestamptzRange(text: string, start: number, end: number): string {
  return isoTimestampFastPath(text, start, end, true) ?? timestampTextToIso(text.substring(start, end), true);
}

// --- arrays ---------------------------------------------------------------------------------------
//
// array_out prints `{e1,e2}` (nested braces per dimension), unquoted NULL for a null element, and
// double-quotes an element that is empty, equals NULL in any case, or contains braces, the delimiter,
// a double quote, a backslash or white space, backslash-escaping `"` and `\` inside the quotes. Lower
// bounds other than 1 are printed as a `[lo:hi]=` prefix, which is dropped (JS arrays start at 0).
// postgres-array is not used: it loops forever on an unterminated quote.

function parseArrayText(text: string, element: TextParser, delimiter: number): PgValue[] {
  const length = text.length;
  let index = 0;
  if (text.charCodeAt(0) === 91 /* [ */) {
    index = text.indexOf('=') + 1;
    if (index === 0) throw malformedValue('array', text, 'dimensions without "="');
  }
  if (text.charCodeAt(index) !== 123 /* { */) throw malformedValue('array', text, 'expected "{"');
  index++;
  const root: PgValue[] = [];
  const parents: PgValue[][] = [];
  let current = root;
  let expectElement = true;
  let justOpened = true;
  while (index < length) {
    const code = text.charCodeAt(index);
    if (expectElement) {
      if (code === 123 /* { */) {
        const child: PgValue[] = [];
        current.push(child);
        parents.push(current);
        current = child;
        index++;
        justOpened = true;
        continue;
      }
      if (code === 125 /* } */ && justOpened) {
        expectElement = false;
        continue; // closed below
      }
      if (code === 34 /* " */) {
        let value = '';
        let segmentStart = ++index;
        for (;;) {
          if (index >= length) throw malformedValue('array', text, 'unterminated quoted element');
          const inner = text.charCodeAt(index);
          if (inner === 34) break;
          if (inner === 92 /* \ */) {
            value += text.slice(segmentStart, index);
            segmentStart = ++index; // the escaped character is kept literally
            if (index >= length) throw malformedValue('array', text, 'unterminated quoted element');
          }
          index++;
        }
        value += text.slice(segmentStart, index);
        index++;
        current.push(element(value));
      } else {
        const start = index;
        let escaped = false;
        while (index < length) {
          const inner = text.charCodeAt(index);
          if (inner === delimiter || inner === 125) break;
          if (inner === 123 || inner === 34) throw malformedValue('array', text, 'unexpected character in element');
          if (inner === 92) {
            escaped = true;
            index++;
          }
          index++;
        }
        if (index === start) throw malformedValue('array', text, 'empty element');
        const raw = text.slice(start, index);
        if (!escaped && raw.length === 4 && raw.toUpperCase() === 'NULL') current.push(null);
        else current.push(element(escaped ? raw.replace(/\\(.)/gs, '$1') : raw));
      }
      expectElement = false;
      justOpened = false;
      continue;
    }
    if (code === delimiter) {
      expectElement = true;
      index++;
    } else if (code === 125 /* } */) {
      index++;
      justOpened = false;
      const parent = parents.pop();
      if (parent === undefined) {
        if (index !== length) throw malformedValue('array', text, 'text after the closing "}"');
        return root;
      }
      current = parent;
    } else {
      throw malformedValue('array', text, 'expected a delimiter or "}"');
    }
  }
  throw malformedValue('array', text, 'missing "}"');
}
