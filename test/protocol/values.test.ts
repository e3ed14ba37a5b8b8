import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/protocol/errors.js';
import { binaryParser, SESSION_SETTINGS, sessionSettingsOptions, textParser, TypeOid } from '../../src/protocol/values.js';
import { expectedRow, storedCaptures, WIDE_TABLE_EXPECTED } from '../fixtures/values/wide-table.js';

/** Parses one captured row (output-function text per column) with textParser. */
function parseOutputs(columns: readonly { name: string; typeOid: number }[], outputs: readonly (string | null)[], options = {}) {
  return Object.fromEntries(columns.map((column, index) => {
    const text = outputs[index] ?? null;
    return [column.name, text === null ? null : textParser(column.typeOid, options)(text)];
  }));
}

/** Either a value or a ProtocolError: anything else thrown fails the property. */
function convertsOrRefuses(convert: () => unknown): boolean {
  try {
    convert();
    return true;
  } catch (error) {
    if (error instanceof ProtocolError) return true;
    throw error;
  }
}

const MICROS_2000_TO_1970 = 946_684_800_000_000n;
const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * An independent oracle for timestamps, through JS Date (whose proleptic Gregorian calendar and
 * range cover 271821 BC to 275760 AD): the text PostgreSQL prints (DateStyle ISO, TimeZone UTC) and
 * the ISO string laredo promises for the same microsecond.
 */
function timestampOracle(pgMicros: bigint, zoned: boolean): { pgText: string; iso: string } {
  const unixMicros = pgMicros + MICROS_2000_TO_1970;
  let millis = unixMicros / 1000n;
  let subMillis = unixMicros % 1000n;
  if (subMillis < 0n) {
    subMillis += 1000n;
    millis -= 1n;
  }
  const date = new Date(Number(millis));
  const year = date.getUTCFullYear();
  const micros = date.getUTCMilliseconds() * 1000 + Number(subMillis);
  let fraction = micros === 0 ? '' : `.${pad(micros, 6)}`.replace(/0+$/, '');
  if (fraction === '.') fraction = '';
  const pgText =
    `${pad(year > 0 ? year : 1 - year, 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)} ` +
    `${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}${fraction}` +
    `${zoned ? '+00' : ''}${year > 0 ? '' : ' BC'}`;
  const iso = `${date.toISOString().slice(0, -5)}.${pad(micros, 6)}${zoned ? 'Z' : ''}`;
  return { pgText, iso };
}

function int64Bytes(value: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64BE(value);
  return bytes;
}

// PostgreSQL's timestamp range: 4713-01-01 BC (julian day 0) to 294276-12-31, in µs since 2000.
const MIN_TIMESTAMP = -211_813_488_000_000_000n;
// The end of JS Date's range, which the oracle needs.
const DATE_LIMIT_MICROS = 8_640_000_000_000_000_000n - MICROS_2000_TO_1970 - 1n;

describe.each(storedCaptures())('text converters on the wide table from PostgreSQL $major', (capture) => {
  it('converts every column of every row to the documented value', () => {
    for (const outputs of capture.outputs) {
      const id = Number(outputs[0]);
      expect({ id, ...parseOutputs(capture.columns, outputs) }).toEqual({ id, ...expectedRow(capture.columns, id) });
    }
    expect(capture.outputs.map((row) => Number(row[0]))).toEqual(Object.keys(WIDE_TABLE_EXPECTED).map(Number));
  });

  it('gives int8 as bigint, in arrays too, with { int8: "bigint" }', () => {
    const row = parseOutputs(capture.columns, capture.outputs[1]!, { int8: 'bigint' });
    expect(row['c_int8']).toBe(9_223_372_036_854_775_807n);
    expect(parseOutputs(capture.columns, capture.outputs[0]!, { int8: 'bigint' })['a_int8']).toEqual([9_223_372_036_854_775_807n, null]);
    expect(parseOutputs(capture.columns, capture.outputs[3]!, { int8: 'bigint' })['c_int8']).toBe(-9_223_372_036_854_775_808n);
  });

  it('keeps json and jsonb text exactly, every digit, with { json: "text" }', () => {
    const row = parseOutputs(capture.columns, capture.outputs[1]!, { json: 'text' });
    expect(row['c_jsonb']).toMatch(/^\{"big": 12345678901234567890, "deep": \{"x": \[15{1}0{299}\]\}\}$/);
    expect(parseOutputs(capture.columns, capture.outputs[0]!, { json: 'text' })['c_json']).toBe('{"b": 1,  "a": [1, 2.50]}');
    expect(parseOutputs(capture.columns, capture.outputs[0]!, { json: 'text' })['a_jsonb']).toEqual(['{"a": [true, null]}', '"s"']);
  });
});

describe('SESSION_SETTINGS', () => {
  it('names every setting the converters depend on', () => {
    expect(SESSION_SETTINGS).toEqual({
      client_encoding: 'UTF8',
      DateStyle: 'ISO, YMD',
      TimeZone: 'UTC',
      IntervalStyle: 'postgres',
      extra_float_digits: '3',
      bytea_output: 'hex',
    });
    expect(Object.isFrozen(SESSION_SETTINGS)).toBe(true);
  });

  it('becomes a startup options string with spaces and backslashes escaped', () => {
    expect(sessionSettingsOptions()).toBe(
      '-c client_encoding=UTF8 -c DateStyle=ISO,\\ YMD -c TimeZone=UTC -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex',
    );
    expect(sessionSettingsOptions({ application_name: 'a b\\c' })).toBe('-c application_name=a\\ b\\\\c');
  });
});

describe('integers', () => {
  it('keeps every digit of int8 from min to max, as a string or a bigint', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (value) => {
        expect(textParser(TypeOid.int8)(String(value))).toBe(String(value));
        expect(textParser(TypeOid.int8, { int8: 'bigint' })(String(value))).toBe(value);
      }),
    );
  });

  it('reads int2, int4 and oid over their whole range and refuses values outside it', () => {
    fc.assert(
      fc.property(fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }), (value) => {
        expect(textParser(TypeOid.int4)(String(value))).toBe(value);
      }),
    );
    expect(textParser(TypeOid.int2)('-32768')).toBe(-32768);
    expect(() => textParser(TypeOid.int2)('32768')).toThrow(ProtocolError);
    expect(textParser(TypeOid.oid)('4294967295')).toBe(4294967295);
    expect(() => textParser(TypeOid.oid)('-1')).toThrow(ProtocolError);
    expect(() => textParser(TypeOid.int4)('2147483648')).toThrow(ProtocolError);
    expect(Object.is(textParser(TypeOid.int4)('-0'), 0)).toBe(true);
  });

  it.each(['', '-', ' 1', '1 ', '0x10', '1e3', '1.0', '+1', '١'])('refuses %j as an integer', (text) => {
    for (const oid of [TypeOid.int2, TypeOid.int4, TypeOid.oid, TypeOid.int8]) {
      expect(() => textParser(oid)(text)).toThrow(ProtocolError);
    }
  });
});

describe('floats', () => {
  it('reads back every double from its shortest text, NaN, ±Infinity and -0 included', () => {
    fc.assert(
      fc.property(fc.double(), (value) => {
        // JS and PostgreSQL (extra_float_digits > 0) both print the shortest round-trip digits.
        const text = Object.is(value, -0) ? '-0' : String(value);
        expect(Object.is(textParser(TypeOid.float8)(text), value)).toBe(true);
      }),
    );
    expect(textParser(TypeOid.float8)('1e+308')).toBe(1e308);
    expect(textParser(TypeOid.float4)('-Infinity')).toBe(Number.NEGATIVE_INFINITY);
  });

  it.each(['', 'nan', 'inf', '1.5x', '0x10', ' 1', '1e', '.'])('refuses %j as a float', (text) => {
    expect(() => textParser(TypeOid.float8)(text)).toThrow(ProtocolError);
  });
});

describe('numeric', () => {
  it('keeps the text with every digit and the scale', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.stringMatching(/^(0|[1-9]\d{0,60})$/), fc.stringMatching(/^\d{0,40}$/), (negative, integer, fraction) => {
        const text = `${negative ? '-' : ''}${integer}${fraction === '' ? '' : `.${fraction}`}`;
        expect(textParser(TypeOid.numeric)(text)).toBe(text);
      }),
    );
    for (const special of ['NaN', 'Infinity', '-Infinity']) expect(textParser(TypeOid.numeric)(special)).toBe(special);
  });

  it.each(['', '-', '1.', '.5', '1.2.3', '1e5', 'nan', '--1', '1,5'])('refuses %j as numeric', (text) => {
    expect(() => textParser(TypeOid.numeric)(text)).toThrow(ProtocolError);
  });
});

describe('dates and timestamps', () => {
  const micros = fc.bigInt({ min: MIN_TIMESTAMP, max: DATE_LIMIT_MICROS });

  it('turns timestamp text into ISO-8601 with six fraction digits, the same as from binary, from 4713 BC on', () => {
    fc.assert(
      fc.property(micros, fc.boolean(), (value, zoned) => {
        const { pgText, iso } = timestampOracle(value, zoned);
        const oid = zoned ? TypeOid.timestamptz : TypeOid.timestamp;
        expect(textParser(oid)(pgText)).toBe(iso);
        expect(binaryParser(oid)(int64Bytes(value))).toBe(iso);
      }),
      { numRuns: 2000 },
    );
  });

  it('formats dates the same from text and from binary', () => {
    fc.assert(
      fc.property(fc.integer({ min: -2_451_545, max: 97_000_000 }), (days) => {
        const { pgText, iso } = timestampOracle(BigInt(days) * 86_400_000_000n, false);
        const dateText = pgText.replace(/ \d\d:\d\d:\d\d/, '');
        const bytes = Buffer.alloc(4);
        bytes.writeInt32BE(days);
        expect(textParser(TypeOid.date)(dateText)).toBe(iso.slice(0, iso.indexOf('T')));
        expect(binaryParser(TypeOid.date)(bytes)).toBe(iso.slice(0, iso.indexOf('T')));
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['0001-01-01 00:00:00', '0001-01-01T00:00:00.000000'],
    ['0001-12-31 23:59:59.999999 BC', '0000-12-31T23:59:59.999999'],
    ['4713-01-01 00:00:00 BC', '-004712-01-01T00:00:00.000000'],
    ['9999-12-31 23:59:59.999999', '9999-12-31T23:59:59.999999'],
    ['10000-01-01 00:00:00', '+010000-01-01T00:00:00.000000'],
    ['294276-12-31 23:59:59.999999', '+294276-12-31T23:59:59.999999'],
    ['2024-02-29 12:00:00.1', '2024-02-29T12:00:00.100000'],
    ['infinity', 'infinity'],
    ['-infinity', '-infinity'],
  ])('reads timestamp %j as %j', (text, iso) => {
    expect(textParser(TypeOid.timestamp)(text)).toBe(iso);
  });

  it('shifts timestamptz printed in another time zone to UTC', () => {
    const parse = textParser(TypeOid.timestamptz);
    expect(parse('2024-01-01 01:30:00.25+05:30')).toBe('2023-12-31T20:00:00.250000Z');
    expect(parse('1900-01-01 00:00:00-00:09:21')).toBe('1900-01-01T00:09:21.000000Z');
    expect(parse('0001-01-01 00:00:00+01 BC')).toBe('-000001-12-31T23:00:00.000000Z');
    expect(parse('9999-12-31 23:00:00-02')).toBe('+010000-01-01T01:00:00.000000Z');
  });

  it.each([
    '2024-01-02',
    '2024-1-02 00:00:00',
    '2024-13-01 00:00:00',
    '2024-01-02T03:04:05',
    '2024-01-02 03:04:05.',
    '2024-01-02 03:04:05.1234567',
    '2024-01-02 03:04:05 AD',
    '02/01/2024 03:04:05',
    'Tue Jan 02 03:04:05 2024',
  ])('refuses %j as timestamp text', (text) => {
    expect(() => textParser(TypeOid.timestamp)(text)).toThrow(ProtocolError);
  });

  it('refuses a timestamptz without its zone and a date that is not ISO', () => {
    expect(() => textParser(TypeOid.timestamptz)('2024-01-02 03:04:05')).toThrow(/SESSION_SETTINGS/);
    expect(() => textParser(TypeOid.date)('01/02/2024')).toThrow(ProtocolError);
    expect(() => textParser(TypeOid.date)('2024-01-02 AD')).toThrow(ProtocolError);
  });

  it('leaves time, timetz and interval text as printed', () => {
    for (const [oid, text] of [
      [TypeOid.time, '24:00:00'],
      [TypeOid.timetz, '12:00:00.5-00:00:10'],
      [TypeOid.interval, '-1 years -2 mons +3 days -04:05:06.000001'],
    ] as const) {
      expect(textParser(oid)(text)).toBe(text);
    }
  });
});

describe('bytea, bool, json', () => {
  it('decodes hex bytea and refuses the escape format and bad hex', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(textParser(TypeOid.bytea)(`\\x${Buffer.from(bytes).toString('hex')}`)).toEqual(Buffer.from(bytes));
      }),
    );
    expect(() => textParser(TypeOid.bytea)('abc\\000')).toThrow(/bytea_output = hex/);
    expect(() => textParser(TypeOid.bytea)('\\x0g')).toThrow(ProtocolError);
    expect(() => textParser(TypeOid.bytea)('\\x012')).toThrow(ProtocolError);
  });

  it('reads t/f (and true/false) as booleans', () => {
    expect([textParser(TypeOid.bool)('t'), textParser(TypeOid.bool)('f'), textParser(TypeOid.bool)('true'), textParser(TypeOid.bool)('false')]).toEqual([true, false, true, false]);
    expect(() => textParser(TypeOid.bool)('yes')).toThrow(ProtocolError);
  });

  it('refuses text that is not JSON without quoting it in the message', () => {
    const refuse = () => textParser(TypeOid.jsonb)('{"secret": hunter2}');
    expect(refuse).toThrow(ProtocolError);
    expect(refuse).not.toThrow(/hunter2/);
  });
});

describe('text-like and unknown types', () => {
  it.each([TypeOid.text, TypeOid.varchar, TypeOid.bpchar, TypeOid.name, TypeOid.uuid, TypeOid.char, TypeOid.xml, 16_385, 0, 22, 30])('keeps the text of type %i', (oid) => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        expect(textParser(oid)(text)).toBe(text);
      }),
    );
  });
});

// --- arrays -----------------------------------------------------------------------------------------

type NestedStrings = (string | null)[] | NestedStrings[];

/** array_out's quoting rules, as the oracle for the array parser. */
function arrayElementText(element: string | null): string {
  if (element === null) return 'NULL';
  const needsQuotes = element === '' || element.toUpperCase() === 'NULL' || /[{}",\\\s]/.test(element);
  return needsQuotes ? `"${element.replace(/["\\]/g, (c) => `\\${c}`)}"` : element;
}

function arrayText(value: NestedStrings): string {
  return `{${value.map((item) => (Array.isArray(item) ? arrayText(item) : arrayElementText(item))).join(',')}}`;
}

/** Rectangular nested arrays of 1-3 dimensions, as PostgreSQL arrays are. */
const rectangularArray = fc
  .tuple(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }), fc.infiniteStream(fc.option(fc.string({ unit: 'grapheme', maxLength: 8 }))))
  .map(([dimensions, elements]) => {
    const iterator = elements[Symbol.iterator]();
    const build = (level: number): NestedStrings =>
      level === dimensions.length - 1
        ? Array.from({ length: dimensions[level]! }, () => iterator.next().value as string | null)
        : Array.from({ length: dimensions[level]! }, () => build(level + 1));
    return build(0);
  });

describe('arrays', () => {
  it('parses array_out text of any strings and NULLs back into nested arrays', () => {
    fc.assert(
      fc.property(rectangularArray, (value) => {
        expect(textParser(1009)(arrayText(value))).toEqual(value);
      }),
    );
  });

  it('converts elements with the element type, int8 as bigint when asked', () => {
    expect(textParser(1016)('{1,NULL,-9223372036854775808}')).toEqual(['1', null, '-9223372036854775808']);
    expect(textParser(1016, { int8: 'bigint' })('{1,NULL}')).toEqual([1n, null]);
    expect(textParser(1115)('{"2024-01-02 03:04:05.5",infinity}')).toEqual(['2024-01-02T03:04:05.500000', 'infinity']);
    expect(textParser(1001)('{"\\\\x0102",NULL}')).toEqual([Buffer.from([1, 2]), null]);
    expect(textParser(3807)('{"{\\"a\\": 1}",null}')).toEqual([{ a: 1 }, null]);
  });

  it('drops the lower bounds of a non-default array and reads empty and box arrays', () => {
    expect(textParser(1007)('[0:1]={7,8}')).toEqual([7, 8]);
    expect(textParser(1007)('[1:1][-1:0]={{7,8}}')).toEqual([[7, 8]]);
    expect(textParser(1007)('{}')).toEqual([]);
    expect(textParser(1020)('{(3,4),(1,2);(1,1),(0,0)}')).toEqual(['(3,4),(1,2)', '(1,1),(0,0)']);
  });

  it.each(['', '{', '{1,2', '{1,}', '{,1}', '{"a}', '{"a"b}', '{{1},2', '{1}}', '{1} ', '[0:1]{1}', '{a{b}', '1,2'])('refuses %j as an array', (text) => {
    expect(() => textParser(1009)(text)).toThrow(ProtocolError);
  });

  it('returns or refuses any text as an array, never hanging or crashing', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('{', '}', '"', '\\', ',', 'N', 'U', 'L', 'a', '1', ' ', '[', ']', ':', '=') }), (text) => {
        expect(convertsOrRefuses(() => textParser(1007)(text))).toBe(true);
        expect(convertsOrRefuses(() => textParser(1009)(text))).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('any text', () => {
  const oids = [TypeOid.bool, TypeOid.bytea, TypeOid.int2, TypeOid.int4, TypeOid.int8, TypeOid.oid, TypeOid.float4, TypeOid.float8, TypeOid.numeric, TypeOid.json, TypeOid.jsonb, TypeOid.date, TypeOid.timestamp, TypeOid.timestamptz, 1000, 1016, 1115, 1185, 3807];
  const printed = storedCaptures()[1]!.outputs.flat().filter((text): text is string => text !== null);

  it('converts to a value or a ProtocolError, never another error', () => {
    fc.assert(
      fc.property(fc.constantFrom(...oids), fc.string({ unit: 'binary' }), (oid, text) => convertsOrRefuses(() => textParser(oid)(text))),
      { numRuns: 5000 },
    );
  });

  it('converts mutated PostgreSQL output to a value or a ProtocolError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...oids),
        fc.constantFrom(...printed),
        fc.nat(),
        fc.string({ unit: 'binary', maxLength: 3 }),
        fc.nat({ max: 3 }),
        (oid, text, at, insert, remove) => {
          const index = at % (text.length + 1);
          return convertsOrRefuses(() => textParser(oid)(text.slice(0, index) + insert + text.slice(index + remove)));
        },
      ),
      { numRuns: 5000 },
    );
  });
});
