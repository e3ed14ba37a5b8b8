// Converters for the binary send format (pgoutput with `binary = true`, COPY ... (FORMAT binary)). Each
// gives exactly what the text converter gives for the same datum, so a row does not change with the
// wire format: numeric digits and scale as numeric_out prints them, float4 as its shortest round-trip
// decimal, dates and times through the same formatters. Types not decoded here stay Buffers (copies:
// the input is usually a view into a larger message buffer).
import { isUtf8 } from 'node:buffer';
import { ProtocolError } from './errors.js';
import type { JsonValue, PgValue } from './row.js';
import type { BinaryParser, ValueOptions } from './values.js';
import {
  DATE_END_JULIAN,
  isoDate,
  isoTimeOfDay,
  julianToCivil,
  MICROS_PER_DAY,
  PG_EPOCH_JULIAN_DAY,
  pgInterval,
  pgTime,
  pgZone,
  type CivilDate,
} from './values-datetime.js';
import { arrayTypeInfo, TypeOid } from './values-oids.js';

function malformed(typeName: string, why: string, offset = 0): ProtocolError {
  return new ProtocolError('MALFORMED', `binary ${typeName} value: ${why}`, offset);
}

function expectLength(bytes: Buffer, length: number, typeName: string): void {
  if (bytes.length !== length) throw malformed(typeName, `must be ${length} bytes, got ${bytes.length}`);
}

/** The binary converter for `typeOid` (see values.ts `binaryParser`). */
export function binaryParserFor(typeOid: number, options: ValueOptions): BinaryParser {
  const scalar = scalarBinaryParser(typeOid, options);
  if (scalar !== undefined) return scalar;
  const array = arrayTypeInfo(typeOid);
  const element = array === undefined ? undefined : scalarBinaryParser(array.elementOid, options);
  if (array === undefined || element === undefined) return copyBytes;
  const key = `${typeOid}:${options.int8 ?? 'string'}:${options.json ?? 'parsed'}`;
  let parser = arrayParsers.get(key);
  if (parser === undefined) {
    const elementOid = array.elementOid;
    parser = (bytes) => parseArrayBinary(bytes, elementOid, element);
    arrayParsers.set(key, parser);
  }
  return parser;
}

const arrayParsers = new Map<string, BinaryParser>();

function scalarBinaryParser(typeOid: number, options: ValueOptions): BinaryParser | undefined {
  switch (typeOid) {
    case TypeOid.bool:
      return parseBool;
    case TypeOid.bytea:
      return copyBytes;
    case TypeOid.int2:
      return parseInt2;
    case TypeOid.int4:
      return parseInt4;
    case TypeOid.oid:
      return parseOid;
    case TypeOid.int8:
      return options.int8 === 'bigint' ? parseInt8AsBigint : parseInt8;
    case TypeOid.float4:
      return parseFloat4;
    case TypeOid.float8:
      return parseFloat8;
    case TypeOid.numeric:
      return parseNumeric;
    case TypeOid.text:
    case TypeOid.varchar:
    case TypeOid.bpchar:
    case TypeOid.name:
      return parseText;
    case TypeOid.json:
      return options.json === 'text' ? parseText : parseJson;
    case TypeOid.jsonb:
      return options.json === 'text' ? parseJsonbText : parseJsonb;
    case TypeOid.uuid:
      return parseUuid;
    case TypeOid.date:
      return parseDate;
    case TypeOid.time:
      return parseTime;
    case TypeOid.timetz:
      return parseTimetz;
    case TypeOid.timestamp:
      return parseTimestamp;
    case TypeOid.timestamptz:
      return parseTimestamptz;
    case TypeOid.interval:
      return parseInterval;
    default:
      return undefined;
  }
}

function copyBytes(bytes: Buffer): Buffer {
  return Buffer.from(bytes);
}

function parseBool(bytes: Buffer): boolean {
  expectLength(bytes, 1, 'bool');
  // boolrecv takes any nonzero byte as true.
  return bytes[0] !== 0;
}

function parseInt2(bytes: Buffer): number {
  expectLength(bytes, 2, 'int2');
  return bytes.readInt16BE(0);
}

function parseInt4(bytes: Buffer): number {
  expectLength(bytes, 4, 'int4');
  return bytes.readInt32BE(0);
}

function parseOid(bytes: Buffer): number {
  expectLength(bytes, 4, 'oid');
  return bytes.readUInt32BE(0);
}

function parseInt8(bytes: Buffer): string {
  expectLength(bytes, 8, 'int8');
  return bytes.readBigInt64BE(0).toString();
}

function parseInt8AsBigint(bytes: Buffer): bigint {
  expectLength(bytes, 8, 'int8');
  return bytes.readBigInt64BE(0);
}

function parseFloat8(bytes: Buffer): number {
  expectLength(bytes, 8, 'float8');
  return bytes.readDoubleBE(0);
}

function parseFloat4(bytes: Buffer): number {
  expectLength(bytes, 4, 'float4');
  return shortestFloat32(bytes.readFloatBE(0));
}

/**
 * The double that the text of a float4 reads back as. PostgreSQL 12+ prints a float4 as the shortest
 * decimal that lies strictly inside its rounding interval (Ryu without accepting the bounds), the one
 * closest to the float's exact value, ties to an even last digit; parseFloat of that text gives the
 * double nearest that decimal, which is usually not the float's exact value (1.1f prints as `1.1`, is
 * 1.100000023841858). So find the same decimal. Doubles decide almost every case exactly (the bounds
 * are doubles, and a decimal's nearest double is on the same side of a bound unless it *is* the
 * bound); the few they cannot (a candidate on a bound, a near tie) go to the exact bigint search.
 */
export function shortestFloat32(value: number): number {
  if (!Number.isFinite(value) || value === 0) return value;
  const magnitude = Math.abs(value);
  float32View.setFloat32(0, magnitude);
  const bits = float32View.getUint32(0);
  const biasedExponent = bits >>> 23;
  const fraction = bits & 0x7f_ffff;
  const mantissa = biasedExponent === 0 ? fraction : fraction | 0x80_0000;
  // magnitude = mantissa * 2^exponent
  const exponent = (biasedExponent === 0 ? 1 : biasedExponent) - 150;
  // Integers below 2^24 are printed exactly (Ryu's small-integer path), and read back exactly.
  if (exponent <= 0 && exponent >= -23 && mantissa % 2 ** -exponent === 0) return value;
  // The open rounding interval (exact doubles), narrower below where the exponent steps down.
  const unit = 2 ** exponent;
  const low = magnitude - (fraction === 0 && biasedExponent > 1 ? unit / 4 : unit / 2);
  const high = magnitude + unit / 2;
  // The largest k for which a multiple of 10^k lies inside gives the fewest digits; the only multiples
  // that can are the two around the value. Start one above the leading digit (log10 may round).
  const leading = Math.floor(Math.log10(magnitude)) + 1;
  for (let k = leading; k >= leading - 10; k--) {
    // 10^k is an exact double only up to 10^22; D * 10^k and D / 10^-k are then correctly rounded.
    if (k > 22 || k < -22) break;
    const scaled = k >= 0 ? magnitude / POWERS_OF_TEN_DOUBLE[k]! : magnitude * POWERS_OF_TEN_DOUBLE[-k]!;
    const nearest = Math.round(scaled);
    // scaled carries one rounding (< 1.2e-6 for scaled < 1e10): what is that close to a multiple is
    // closer than any other, so it is the answer if inside.
    if (Math.abs(scaled - nearest) < 1e-5) {
      const candidate = decimalValue(nearest, k);
      const isInside = insideInterval(nearest, k, candidate, low, high);
      if (isInside === undefined) break;
      if (isInside) return value < 0 ? -candidate : candidate;
      continue;
    }
    const belowDigits = Math.floor(scaled);
    const below = decimalValue(belowDigits, k);
    const above = decimalValue(belowDigits + 1, k);
    const belowInside = insideInterval(belowDigits, k, below, low, high);
    const aboveInside = insideInterval(belowDigits + 1, k, above, low, high);
    if (belowInside === undefined || aboveInside === undefined) break;
    let choice: number | undefined;
    if (belowInside && aboveInside) {
      const offset = scaled - belowDigits;
      if (Math.abs(offset - 0.5) >= 1e-5) choice = offset < 0.5 ? below : above;
      else {
        // Near the midpoint: compare the midpoint with the value exactly; a tie takes the even digit.
        const midpointVersusValue = compareDecimal(2 * belowDigits + 1, k, 2 * magnitude);
        if (midpointVersusValue === undefined) break;
        choice = midpointVersusValue > 0 || (midpointVersusValue === 0 && belowDigits % 2 === 0) ? below : above;
      }
    } else if (belowInside) choice = below;
    else if (aboveInside) choice = above;
    if (choice !== undefined) return value < 0 ? -choice : choice;
  }
  return shortestFloat32Exact(value);
}

const POWERS_OF_TEN_DOUBLE: readonly number[] = Array.from({ length: 23 }, (_, n) => 10 ** n);

/** The double nearest digits * 10^exponent (|exponent| <= 22). */
function decimalValue(digits: number, exponent: number): number {
  return exponent >= 0 ? digits * POWERS_OF_TEN_DOUBLE[exponent]! : digits / POWERS_OF_TEN_DOUBLE[-exponent]!;
}

/**
 * Whether digits * 10^k (whose nearest double is `decimal`) lies strictly inside (low, high). The
 * doubles decide unless `decimal` is a bound itself; then the exact comparison does, or cannot
 * (undefined).
 */
function insideInterval(digits: number, k: number, decimal: number, low: number, high: number): boolean | undefined {
  if (digits <= 0) return false;
  if (decimal !== low && decimal !== high) return decimal > low && decimal < high;
  const aboveLow = compareDecimal(digits, k, low);
  const belowHigh = compareDecimal(digits, k, high);
  return aboveLow === undefined || belowHigh === undefined ? undefined : aboveLow > 0 && belowHigh < 0;
}

/**
 * The sign of digits * 10^k - target, computed exactly, or undefined where doubles cannot: target
 * has at most 26 significant bits (a float or a bound of its interval), so target * 10^-k is exact for
 * -k <= 11 (5^11 < 2^26), and digits * 10^k is exact while it is a safe integer.
 */
function compareDecimal(digits: number, k: number, target: number): number | undefined {
  if (k >= 0) {
    const product = digits * POWERS_OF_TEN_DOUBLE[k]!;
    return product > Number.MAX_SAFE_INTEGER ? undefined : Math.sign(product - target);
  }
  if (-k > 11) return undefined;
  return Math.sign(digits - target * POWERS_OF_TEN_DOUBLE[-k]!);
}

/** shortestFloat32 with exact (bigint) arithmetic throughout: slow, but never unsure. */
export function shortestFloat32Exact(value: number): number {
  if (!Number.isFinite(value) || value === 0) return value;
  const magnitude = Math.abs(value);
  float32View.setFloat32(0, magnitude);
  const bits = float32View.getUint32(0);
  const biasedExponent = bits >>> 23;
  const fraction = bits & 0x7f_ffff;
  const mantissa = biasedExponent === 0 ? fraction : fraction | 0x80_0000;
  // magnitude = mantissa * 2^exponent
  const exponent = (biasedExponent === 0 ? 1 : biasedExponent) - 150;
  // Integers below 2^24 are printed exactly (Ryu's small-integer path), and read back exactly.
  if (exponent <= 0 && exponent >= -23 && mantissa % 2 ** -exponent === 0) return value;
  // The rounding interval, in units of 2^(exponent - 2): the open interval (4m - lowerGap, 4m + 2),
  // narrower below where the mantissa wraps to a smaller exponent.
  const lowerGap = fraction === 0 && biasedExponent > 1 ? 1n : 2n;
  const quarterUnits = BigInt(mantissa) * 4n;
  const binaryExponent = exponent - 2;
  // The largest k for which some D * 10^k lies inside the interval gives the fewest digits. Start one
  // above the leading digit's exponent, in case log10 rounded across a power of ten.
  const leadingDigitExponent = Math.floor(Math.log10(magnitude)) + 1;
  for (let k = leadingDigitExponent; k >= leadingDigitExponent - 10; k--) {
    // Everything scaled to integers by 2^shift2 * 10^shift10.
    const shift2 = BigInt(Math.max(-binaryExponent, 0));
    const shift10 = Math.max(-k, 0);
    const toScaled = (units: bigint): bigint => (units << BigInt(Math.max(binaryExponent, 0))) * POWERS_OF_TEN[shift10]!;
    const step = (POWERS_OF_TEN[k + shift10]! << shift2);
    const exact = toScaled(quarterUnits);
    const low = toScaled(quarterUnits - lowerGap);
    const high = toScaled(quarterUnits + 2n);
    const below = exact / step;
    const belowScaled = below * step;
    if (belowScaled === exact) return signed(value, below, k);
    const above = below + 1n;
    const aboveScaled = belowScaled + step;
    const belowInside = belowScaled > low;
    const aboveInside = aboveScaled < high;
    if (belowInside && aboveInside) {
      const belowDistance = exact - belowScaled;
      const aboveDistance = aboveScaled - exact;
      if (belowDistance < aboveDistance) return signed(value, below, k);
      if (aboveDistance < belowDistance) return signed(value, above, k);
      return signed(value, below % 2n === 0n ? below : above, k);
    }
    if (belowInside) return signed(value, below, k);
    if (aboveInside) return signed(value, above, k);
  }
  return value;
}

const float32View = new DataView(new ArrayBuffer(4));
const POWERS_OF_TEN: readonly bigint[] = Array.from({ length: 80 }, (_, n) => 10n ** BigInt(n));

function signed(value: number, digits: bigint, exponent: number): number {
  const decimal = Number(`${digits}e${exponent}`);
  return value < 0 ? -decimal : decimal;
}

const NUMERIC_POSITIVE = 0x0000;
const NUMERIC_NEGATIVE = 0x4000;
const NUMERIC_NAN = 0xc000;
const NUMERIC_PLUS_INFINITY = 0xd000;
const NUMERIC_MINUS_INFINITY = 0xf000;

/**
 * numeric_send: ndigits, weight, sign, dscale (int16 each), then ndigits base-10000 digits, the first
 * worth 10000^weight. Printed as numeric_out does (get_str_from_var): the integer part without leading
 * zeros (`0` when weight < 0), then exactly dscale fraction digits.
 */
function parseNumeric(bytes: Buffer): string {
  if (bytes.length < 8) throw malformed('numeric', `needs an 8-byte header, got ${bytes.length} bytes`);
  const digitCount = bytes.readUInt16BE(0);
  const weight = bytes.readInt16BE(2);
  const sign = bytes.readUInt16BE(4);
  const scale = bytes.readUInt16BE(6);
  if (bytes.length !== 8 + 2 * digitCount) throw malformed('numeric', `${digitCount} digits need ${8 + 2 * digitCount} bytes, got ${bytes.length}`);
  if (sign === NUMERIC_NAN) return 'NaN';
  if (sign === NUMERIC_PLUS_INFINITY) return 'Infinity';
  if (sign === NUMERIC_MINUS_INFINITY) return '-Infinity';
  if (sign !== NUMERIC_POSITIVE && sign !== NUMERIC_NEGATIVE) throw malformed('numeric', `unknown sign 0x${sign.toString(16)}`, 4);
  if (scale > 0x3fff) throw malformed('numeric', `scale ${scale} out of range`, 6);
  for (let index = 0; index < digitCount; index++) {
    if (bytes.readUInt16BE(8 + 2 * index) > 9999) throw malformed('numeric', 'a digit is not base 10000', 8 + 2 * index);
  }
  let text = sign === NUMERIC_NEGATIVE ? '-' : '';
  let index: number;
  if (weight < 0) {
    text += '0';
    index = weight + 1;
  } else {
    text += String(numericDigit(bytes, digitCount, 0));
    for (index = 1; index <= weight; index++) text += String(numericDigit(bytes, digitCount, index)).padStart(4, '0');
  }
  if (scale > 0) {
    let fraction = '';
    for (; fraction.length < scale; index++) fraction += String(numericDigit(bytes, digitCount, index)).padStart(4, '0');
    text += `.${fraction.slice(0, scale)}`;
  }
  return text;
}

/** Base-10000 digit `index` of a numeric, 0 outside the stored digits. */
function numericDigit(bytes: Buffer, digitCount: number, index: number): number {
  return index < 0 || index >= digitCount ? 0 : bytes.readUInt16BE(8 + 2 * index);
}

function decodeUtf8(bytes: Buffer, typeName: string): string {
  // The server sends text in client_encoding (UTF8 per SESSION_SETTINGS); anything else is corrupt.
  if (!isUtf8(bytes)) throw malformed(typeName, 'not valid UTF-8');
  return bytes.toString('utf8');
}

function parseText(bytes: Buffer): string {
  return decodeUtf8(bytes, 'text');
}

function parseJsonValue(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    // JSON.parse's message quotes the text, which may be anything a user stored: leave it out.
    throw malformed('json', `a ${text.length}-character value is not valid JSON`);
  }
}

function parseJson(bytes: Buffer): JsonValue {
  return parseJsonValue(decodeUtf8(bytes, 'json'));
}

const JSONB_VERSION = 1;

function jsonbText(bytes: Buffer): string {
  // jsonb_send prefixes the text with a format version byte; 1 is the only one defined.
  if (bytes.length === 0 || bytes[0] !== JSONB_VERSION) throw malformed('jsonb', `unsupported jsonb version ${String(bytes[0])}`);
  return decodeUtf8(bytes.subarray(1), 'jsonb');
}

function parseJsonbText(bytes: Buffer): string {
  return jsonbText(bytes);
}

function parseJsonb(bytes: Buffer): JsonValue {
  return parseJsonValue(jsonbText(bytes));
}

function parseUuid(bytes: Buffer): string {
  expectLength(bytes, 16, 'uuid');
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const INT32_MAX = 0x7fff_ffff;
const INT32_MIN = -0x8000_0000;
/** date2j(294277, 1, 1): timestamps end before this julian day (END_TIMESTAMP). */
const TIMESTAMP_END_JULIAN = 109_203_528;
const BIG_MICROS_PER_DAY = BigInt(MICROS_PER_DAY);
const scratchDate: CivilDate = { year: 0, month: 0, day: 0 };

function parseDate(bytes: Buffer): string {
  expectLength(bytes, 4, 'date');
  const days = bytes.readInt32BE(0);
  // DATE_NOBEGIN / DATE_NOEND
  if (days === INT32_MAX) return 'infinity';
  if (days === INT32_MIN) return '-infinity';
  const julianDay = days + PG_EPOCH_JULIAN_DAY;
  if (julianDay < 0 || julianDay >= DATE_END_JULIAN) throw malformed('date', `${days} days from 2000-01-01 is out of range`);
  return isoDate(julianToCivil(julianDay, scratchDate));
}

/** Reads an int64 that is known to fit a double exactly, or returns undefined. */
function readSafeInt64(bytes: Buffer, offset: number): number | undefined {
  const value = bytes.readInt32BE(offset) * 4_294_967_296 + bytes.readUInt32BE(offset + 4);
  return Number.isSafeInteger(value) ? value : undefined;
}

function parseTime(bytes: Buffer): string {
  expectLength(bytes, 8, 'time');
  const micros = readSafeInt64(bytes, 0);
  if (micros === undefined || micros < 0 || micros > MICROS_PER_DAY) throw malformed('time', 'out of range');
  return pgTime(micros);
}

/** TZDISP_LIMIT: zones are within ±15:59:59. */
const ZONE_LIMIT_SECONDS = 16 * 3600;

function parseTimetz(bytes: Buffer): string {
  expectLength(bytes, 12, 'timetz');
  const micros = readSafeInt64(bytes, 0);
  if (micros === undefined || micros < 0 || micros > MICROS_PER_DAY) throw malformed('timetz', 'time out of range');
  const zone = bytes.readInt32BE(8);
  if (zone <= -ZONE_LIMIT_SECONDS || zone >= ZONE_LIMIT_SECONDS) throw malformed('timetz', 'zone out of range', 8);
  return pgTime(micros) + pgZone(zone);
}

function timestampToIso(bytes: Buffer, typeName: string, suffix: string): string {
  expectLength(bytes, 8, typeName);
  const high = bytes.readInt32BE(0);
  const low = bytes.readUInt32BE(4);
  // DT_NOEND / DT_NOBEGIN: the int64 extremes.
  if (high === INT32_MAX && low === 0xffff_ffff) return 'infinity';
  if (high === INT32_MIN && low === 0) return '-infinity';
  let days: number;
  let micros: number;
  const value = high * 4_294_967_296 + low;
  if (Number.isSafeInteger(value)) {
    days = Math.floor(value / MICROS_PER_DAY);
    micros = value - days * MICROS_PER_DAY;
  } else {
    // Beyond ±285 years of 2000 a double cannot hold every microsecond: split exactly with bigint.
    const big = bytes.readBigInt64BE(0);
    let bigDays = big / BIG_MICROS_PER_DAY;
    let bigMicros = big % BIG_MICROS_PER_DAY;
    if (bigMicros < 0n) {
      bigMicros += BIG_MICROS_PER_DAY;
      bigDays -= 1n;
    }
    days = Number(bigDays);
    micros = Number(bigMicros);
  }
  const julianDay = days + PG_EPOCH_JULIAN_DAY;
  if (julianDay < 0 || julianDay >= TIMESTAMP_END_JULIAN) throw malformed(typeName, 'out of range');
  // Consecutive rows mostly share a day: keep the last day's text.
  if (julianDay !== lastJulianDay) {
    lastJulianDay = julianDay;
    lastIsoDate = isoDate(julianToCivil(julianDay, scratchDate));
  }
  return `${lastIsoDate}T${isoTimeOfDay(micros)}${suffix}`;
}

let lastJulianDay = -1;
let lastIsoDate = '';

function parseTimestamp(bytes: Buffer): string {
  return timestampToIso(bytes, 'timestamp', '');
}

function parseTimestamptz(bytes: Buffer): string {
  return timestampToIso(bytes, 'timestamptz', 'Z');
}

function parseInterval(bytes: Buffer): string {
  expectLength(bytes, 16, 'interval');
  return pgInterval(bytes.readInt32BE(12), bytes.readInt32BE(8), bytes.readBigInt64BE(0));
}

/** MAXDIM */
const MAX_DIMENSIONS = 6;

/**
 * array_send: ndim, has-null flag, element type OID, (size, lower bound) per dimension, then each
 * element as an int32 length (-1 for NULL) and its bytes, in row-major order. Lower bounds are dropped,
 * as in the text converter.
 */
function parseArrayBinary(bytes: Buffer, elementOid: number, element: BinaryParser): PgValue[] {
  if (bytes.length < 12) throw malformed('array', `needs a 12-byte header, got ${bytes.length} bytes`);
  const dimensions = bytes.readInt32BE(0);
  const flags = bytes.readInt32BE(4);
  const headerElementOid = bytes.readUInt32BE(8);
  if (dimensions < 0 || dimensions > MAX_DIMENSIONS) throw malformed('array', `${dimensions} dimensions`);
  if (flags !== 0 && flags !== 1) throw malformed('array', `unknown flags ${flags}`, 4);
  if (headerElementOid !== elementOid) throw malformed('array', `element type ${headerElementOid}, expected ${elementOid}`, 8);
  let offset = 12;
  if (dimensions === 0) {
    if (bytes.length !== offset) throw new ProtocolError('TRAILING_BYTES', 'binary array value: bytes after an empty array', offset);
    return [];
  }
  if (bytes.length < offset + 8 * dimensions) throw malformed('array', 'dimensions run past the value', offset);
  const sizes: number[] = [];
  let elementCount = 1;
  for (let dimension = 0; dimension < dimensions; dimension++) {
    const size = bytes.readInt32BE(offset);
    offset += 8;
    if (size < 0) throw malformed('array', `dimension of size ${size}`, offset - 8);
    elementCount *= size;
    sizes.push(size);
  }
  // Every element takes at least its 4-byte length: refuse counts the bytes cannot hold before
  // allocating anything.
  if (elementCount * 4 > bytes.length - offset) throw malformed('array', `${elementCount} elements cannot fit in ${bytes.length} bytes`);
  const readLevel = (dimension: number): PgValue[] => {
    const size = sizes[dimension]!;
    const values = new Array<PgValue>(size);
    for (let index = 0; index < size; index++) {
      if (dimension + 1 < dimensions) {
        values[index] = readLevel(dimension + 1);
        continue;
      }
      if (offset + 4 > bytes.length) throw new ProtocolError('TRUNCATED', 'binary array value: element length runs past the value', offset);
      const length = bytes.readInt32BE(offset);
      offset += 4;
      if (length === -1) {
        values[index] = null;
        continue;
      }
      if (length < 0 || offset + length > bytes.length) throw new ProtocolError('TRUNCATED', `binary array value: element of ${length} bytes runs past the value`, offset);
      values[index] = element(bytes.subarray(offset, offset + length));
      offset += length;
    }
    return values;
  };
  const values = readLevel(0);
  if (offset !== bytes.length) throw new ProtocolError('TRAILING_BYTES', 'binary array value: bytes after the last element', offset);
  return values;
}
