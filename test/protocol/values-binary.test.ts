import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/protocol/errors.js';
import { shortestFloat32, shortestFloat32Exact } from '../../src/protocol/values-binary.js';
import { binaryParser, textParser, TypeOid } from '../../src/protocol/values.js';
import { BINARY_STAYS_BUFFER, expectedRow, readBinaryCopy, storedCaptures } from '../fixtures/values/wide-table.js';

/** Either a value or a ProtocolError: anything else thrown (RangeError...) fails the property. */
function convertsOrRefuses(convert: () => unknown): boolean {
  try {
    convert();
    return true;
  } catch (error) {
    if (error instanceof ProtocolError) return true;
    throw error;
  }
}

function float32FromBits(bits: number): number {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(bits >>> 0);
  return bytes.readFloatBE(0);
}

function float32Bytes(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeFloatBE(value);
  return bytes;
}

/** numeric_send for a decimal string as numeric_out prints it: the oracle for the numeric decoder. */
function numericSend(text: string): Buffer {
  const special = { NaN: 0xc000, Infinity: 0xd000, '-Infinity': 0xf000 }[text];
  const header = Buffer.alloc(8);
  if (special !== undefined) {
    header.writeUInt16BE(special, 4);
    return header;
  }
  const negative = text.startsWith('-');
  const [integer = '', fraction = ''] = (negative ? text.slice(1) : text).split('.');
  const integerDigits = integer.padStart(Math.ceil(integer.length / 4) * 4, '0');
  const fractionDigits = fraction.padEnd(Math.ceil(fraction.length / 4) * 4, '0');
  const groups = `${integerDigits}${fractionDigits}`.match(/.{4}/g)!.map(Number);
  let weight = integerDigits.length / 4 - 1;
  while (groups.length > 0 && groups[0] === 0) {
    groups.shift();
    weight--;
  }
  while (groups.length > 0 && groups.at(-1) === 0) groups.pop();
  if (groups.length === 0) weight = 0;
  const bytes = Buffer.alloc(8 + 2 * groups.length);
  bytes.writeUInt16BE(groups.length, 0);
  bytes.writeInt16BE(weight, 2);
  bytes.writeUInt16BE(negative && groups.length > 0 ? 0x4000 : 0, 4);
  bytes.writeUInt16BE(fraction.length, 6);
  groups.forEach((group, index) => bytes.writeUInt16BE(group, 8 + 2 * index));
  return bytes;
}

describe.each(storedCaptures())('binary converters on the wide table from PostgreSQL $major', (capture) => {
  const binaryRows = readBinaryCopy(capture.copyBinary);

  it('give every decoded type the same value as the text converter', () => {
    expect(binaryRows).toHaveLength(capture.outputs.length);
    binaryRows.forEach((fields, rowIndex) => {
      const id = Number(capture.outputs[rowIndex]![0]);
      const fromBinary: Record<string, unknown> = {};
      const fromText: Record<string, unknown> = {};
      capture.columns.forEach((column, index) => {
        if (BINARY_STAYS_BUFFER.has(column.name)) return;
        const bytes = fields[index] ?? null;
        const text = capture.outputs[rowIndex]![index] ?? null;
        fromBinary[column.name] = bytes === null ? null : binaryParser(column.typeOid)(bytes);
        fromText[column.name] = text === null ? null : textParser(column.typeOid)(text);
      });
      expect(fromBinary, `row ${id}`).toEqual(fromText);
      const expected = expectedRow(capture.columns, id);
      for (const name of Object.keys(fromBinary)) expect(fromBinary[name], `row ${id} ${name}`).toEqual(expected[name]);
    });
  });

  it('leave other types as copies of their bytes, never views', () => {
    binaryRows.forEach((fields) => {
      capture.columns.forEach((column, index) => {
        const bytes = fields[index] ?? null;
        if (!BINARY_STAYS_BUFFER.has(column.name) || bytes === null) return;
        const value = binaryParser(column.typeOid)(bytes) as Buffer;
        expect(value).toEqual(bytes);
        expect(value.buffer).not.toBe(bytes.buffer);
      });
    });
  });

  it('copy bytea rather than return a view into the message', () => {
    const byteaIndex = capture.columns.findIndex((column) => column.name === 'c_bytea');
    const bytes = binaryRows[0]![byteaIndex]!;
    const value = binaryParser(TypeOid.bytea)(bytes) as Buffer;
    expect(value.buffer).not.toBe(bytes.buffer);
  });

  it('give int8 as bigint with { int8: "bigint" }', () => {
    const index = capture.columns.findIndex((column) => column.name === 'c_int8');
    expect(binaryParser(TypeOid.int8, { int8: 'bigint' })(binaryRows[1]![index]!)).toBe(9_223_372_036_854_775_807n);
    expect(binaryParser(TypeOid.int8, { int8: 'bigint' })(binaryRows[3]![index]!)).toBe(-9_223_372_036_854_775_808n);
  });

  it('keep jsonb text after the version byte with { json: "text" }', () => {
    const index = capture.columns.findIndex((column) => column.name === 'c_jsonb');
    expect(binaryParser(TypeOid.jsonb, { json: 'text' })(binaryRows[1]![index]!)).toBe(capture.outputs[1]![index]);
  });
});

describe('float4', () => {
  it('reads back as the double its shortest text gives, for every bit pattern', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), (bits) => {
        const float = float32FromBits(bits);
        const value = binaryParser(TypeOid.float4)(float32Bytes(float)) as number;
        if (Number.isNaN(float)) return Number.isNaN(value);
        // The same float, and no more than 9 significant digits.
        expect(Object.is(Math.fround(value), float)).toBe(true);
        expect(value.toExponential().replace(/^-/, '').replace(/e.*$/, '').replace('.', '').length).toBeLessThanOrEqual(9);
        return true;
      }),
      { numRuns: 20_000 },
    );
  });

  it('agrees with the exact (bigint) search on floats of every magnitude', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), (bits) => {
        const float = float32FromBits(bits);
        expect(Object.is(shortestFloat32(float), shortestFloat32Exact(float))).toBe(true);
      }),
      { numRuns: 5_000 },
    );
    fc.assert(
      fc.property(fc.double({ min: -1e12, max: 1e12, noNaN: true }), (double) => {
        const float = Math.fround(double);
        expect(Object.is(shortestFloat32(float), shortestFloat32Exact(float))).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it.each([
    [1.1, 1.1],
    [2 ** -12, 0.00024414062], // an exact tie: the even digit
    [2080313.75, 2080313.8], // a tie at 8 digits
    [101314784, 101314784], // 8 digits would sit on the interval's bound, which PostgreSQL excludes
    [3.4028234663852886e38, 3.4028235e38],
    [1.401298464324817e-45, 1e-45],
    [16777215, 16777215],
    [-0.1, -0.1],
  ])('prints %d as PostgreSQL does: %d', (float, expected) => {
    expect(binaryParser(TypeOid.float4)(float32Bytes(Math.fround(float)))).toBe(expected);
  });

  it('keeps NaN, ±Infinity and -0', () => {
    expect(binaryParser(TypeOid.float4)(float32Bytes(Number.NaN))).toBeNaN();
    expect(binaryParser(TypeOid.float4)(float32Bytes(Number.NEGATIVE_INFINITY))).toBe(Number.NEGATIVE_INFINITY);
    expect(Object.is(binaryParser(TypeOid.float4)(float32Bytes(-0)), -0)).toBe(true);
  });
});

describe('numeric', () => {
  it('prints every digit and the scale exactly as numeric_out', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.stringMatching(/^(0|[1-9]\d{0,60})$/), fc.stringMatching(/^\d{0,45}$/), (negative, integer, fraction) => {
        const isZero = /^0*$/.test(integer + fraction);
        const text = `${negative && !isZero ? '-' : ''}${integer}${fraction === '' ? '' : `.${fraction}`}`;
        expect(binaryParser(TypeOid.numeric)(numericSend(text))).toBe(text);
      }),
      { numRuns: 5000 },
    );
  });

  it.each(['NaN', 'Infinity', '-Infinity', '0', '0.00', '10000', '0.0001', '-0.00000001', '12345678901234567890123456789012345678901234567890'])('decodes %s', (text) => {
    expect(binaryParser(TypeOid.numeric)(numericSend(text))).toBe(text);
  });

  it('refuses a digit of 10000 or more, an unknown sign and a wrong length', () => {
    const bytes = numericSend('1.5');
    bytes.writeUInt16BE(10000, 8);
    expect(() => binaryParser(TypeOid.numeric)(bytes)).toThrow(ProtocolError);
    const badSign = numericSend('1');
    badSign.writeUInt16BE(0x8000, 4);
    expect(() => binaryParser(TypeOid.numeric)(badSign)).toThrow(ProtocolError);
    expect(() => binaryParser(TypeOid.numeric)(numericSend('1.5').subarray(0, 9))).toThrow(ProtocolError);
  });
});

describe('times', () => {
  const int64 = (value: bigint) => {
    const bytes = Buffer.alloc(8);
    bytes.writeBigInt64BE(value);
    return bytes;
  };

  it('prints time as time_out does: fraction without trailing zeros, 24:00:00 allowed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 86_400_000_000 }), (micros) => {
        const fraction = micros % 1_000_000;
        const seconds = Math.floor(micros / 1_000_000);
        const pad = (n: number) => String(n).padStart(2, '0');
        const expected =
          `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}` +
          (fraction === 0 ? '' : `.${String(fraction).padStart(6, '0').replace(/0+$/, '')}`);
        expect(binaryParser(TypeOid.time)(int64(BigInt(micros)))).toBe(expected);
      }),
    );
  });

  it('prints timetz zones as PostgreSQL: +HH, +HH:MM, +HH:MM:SS, west of Greenwich negative', () => {
    const timetz = (micros: number, zoneSecondsWest: number) => {
      const bytes = Buffer.alloc(12);
      bytes.writeBigInt64BE(BigInt(micros));
      bytes.writeInt32BE(zoneSecondsWest, 8);
      return binaryParser(TypeOid.timetz)(bytes);
    };
    expect(timetz(45_296_789_000, -19_800)).toBe('12:34:56.789+05:30');
    expect(timetz(0, 0)).toBe('00:00:00+00');
    expect(timetz(0, 10)).toBe('00:00:00-00:00:10');
    expect(timetz(86_400_000_000, 57_540)).toBe('24:00:00-15:59');
  });

  it('prints intervals as IntervalStyle postgres', () => {
    const interval = (months: number, days: number, micros: bigint) => {
      const bytes = Buffer.alloc(16);
      bytes.writeBigInt64BE(micros);
      bytes.writeInt32BE(days, 8);
      bytes.writeInt32BE(months, 12);
      return binaryParser(TypeOid.interval)(bytes);
    };
    expect(interval(0, 0, 0n)).toBe('00:00:00');
    expect(interval(14, 3, 14_706_500_000n)).toBe('1 year 2 mons 3 days 04:05:06.5');
    expect(interval(-14, 3, -14_706_000_001n)).toBe('-1 years -2 mons +3 days -04:05:06.000001');
    expect(interval(1, 0, 0n)).toBe('1 mon');
    expect(interval(0, -1, 0n)).toBe('-1 days');
    expect(interval(0, 1, -1n)).toBe('1 day -00:00:00.000001');
    expect(interval(0, -1, 1n)).toBe('-1 days +00:00:00.000001');
    expect(interval(0, 0, 9_223_372_036_854_775_807n)).toBe('2562047788:00:54.775807');
    expect(interval(2_147_483_647, 2_147_483_647, 9_223_372_036_854_775_807n)).toBe('infinity');
    expect(interval(-2_147_483_648, -2_147_483_648, -9_223_372_036_854_775_808n)).toBe('-infinity');
  });

  it('keeps infinite dates and timestamps as infinity / -infinity', () => {
    expect(binaryParser(TypeOid.timestamptz)(int64(9_223_372_036_854_775_807n))).toBe('infinity');
    expect(binaryParser(TypeOid.timestamp)(int64(-9_223_372_036_854_775_808n))).toBe('-infinity');
    const date = Buffer.alloc(4);
    date.writeInt32BE(-2_147_483_648);
    expect(binaryParser(TypeOid.date)(date)).toBe('-infinity');
  });

  it('refuses timestamps and dates outside PostgreSQL range', () => {
    expect(() => binaryParser(TypeOid.timestamp)(int64(9_223_372_036_854_775_806n))).toThrow(ProtocolError);
    expect(() => binaryParser(TypeOid.timestamp)(int64(-211_813_488_000_000_001n))).toThrow(ProtocolError);
    expect(() => binaryParser(TypeOid.time)(int64(86_400_000_001n))).toThrow(ProtocolError);
  });
});

describe('arrays', () => {
  function arraySend(elementOid: number, dimensions: number[], elements: (Buffer | null)[], lowerBound = 1): Buffer {
    const header = Buffer.alloc(12 + 8 * dimensions.length);
    header.writeInt32BE(dimensions.length, 0);
    header.writeInt32BE(elements.includes(null) ? 1 : 0, 4);
    header.writeUInt32BE(elementOid, 8);
    dimensions.forEach((size, index) => {
      header.writeInt32BE(size, 12 + 8 * index);
      header.writeInt32BE(lowerBound, 16 + 8 * index);
    });
    const parts = elements.map((element) => {
      const length = Buffer.alloc(4);
      length.writeInt32BE(element === null ? -1 : element.length);
      return element === null ? length : Buffer.concat([length, element]);
    });
    return Buffer.concat([header, ...parts]);
  }
  const int4 = (value: number) => {
    const bytes = Buffer.alloc(4);
    bytes.writeInt32BE(value);
    return bytes;
  };

  it('nests multi-dimensional arrays and drops lower bounds', () => {
    expect(binaryParser(1007)(arraySend(23, [2, 3], [1, 2, 3, 4, 5, null].map((n) => (n === null ? null : int4(n)))))).toEqual([
      [1, 2, 3],
      [4, 5, null],
    ]);
    expect(binaryParser(1007)(arraySend(23, [2], [int4(7), int4(8)], 0))).toEqual([7, 8]);
    expect(binaryParser(1007)(arraySend(23, [], []))).toEqual([]);
  });

  it('refuses a wrong element type, a truncated element and trailing bytes', () => {
    expect(() => binaryParser(1007)(arraySend(20, [1], [int4(1)]))).toThrow(ProtocolError);
    expect(() => binaryParser(1007)(arraySend(23, [2], [int4(1), int4(2)]).subarray(0, 30))).toThrow(ProtocolError);
    expect(() => binaryParser(1007)(Buffer.concat([arraySend(23, [1], [int4(1)]), Buffer.from([0])]))).toThrow(ProtocolError);
    expect(() => binaryParser(1007)(arraySend(23, [1_000_000, 1_000_000], [int4(1)]))).toThrow(ProtocolError);
  });

  it('leaves arrays of types it does not decode as Buffers', () => {
    const bytes = arraySend(869, [1], [Buffer.from([2, 32, 0, 4, 10, 0, 0, 1])]);
    expect(binaryParser(1041)(bytes)).toEqual(bytes);
  });
});

describe('any bytes', () => {
  const oids = [
    TypeOid.bool, TypeOid.bytea, TypeOid.int2, TypeOid.int4, TypeOid.int8, TypeOid.oid, TypeOid.float4, TypeOid.float8, TypeOid.numeric,
    TypeOid.text, TypeOid.json, TypeOid.jsonb, TypeOid.uuid, TypeOid.date, TypeOid.time, TypeOid.timetz, TypeOid.timestamp,
    TypeOid.timestamptz, TypeOid.interval, 1000, 1007, 1016, 1231, 1009, 1115, 1185, 3807, 1187,
  ];
  const captured = readBinaryCopy(storedCaptures()[1]!.copyBinary).flat().filter((bytes): bytes is Buffer => bytes !== null);

  it('convert to a value or a ProtocolError, never a RangeError', () => {
    fc.assert(
      fc.property(fc.constantFrom(...oids), fc.uint8Array({ maxLength: 64 }), (oid, bytes) => convertsOrRefuses(() => binaryParser(oid)(Buffer.from(bytes)))),
      { numRuns: 20_000 },
    );
  });

  it('convert mutated, truncated and extended real values to a value or a ProtocolError', () => {
    fc.assert(
      fc.property(fc.constantFrom(...oids), fc.constantFrom(...captured), fc.nat(), fc.nat(255), fc.integer({ min: -4, max: 4 }), (oid, original, at, byte, resize) => {
        const bytes = Buffer.from(original);
        if (bytes.length > 0) bytes[at % bytes.length] = byte;
        const resized = resize < 0 ? bytes.subarray(0, Math.max(0, bytes.length + resize)) : Buffer.concat([bytes, Buffer.alloc(resize, byte)]);
        return convertsOrRefuses(() => binaryParser(oid)(resized));
      }),
      { numRuns: 20_000 },
    );
  });
});
