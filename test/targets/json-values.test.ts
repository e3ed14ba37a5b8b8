import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UNCHANGED_TOAST, type PgValue, type Row } from '../../src/protocol/row.js';
import { jsonNumber, jsonRow, jsonValue, sameShape, UnencodableValueError } from '../../src/targets/json-values.js';
import { items, table, INT4 } from './fixtures.js';

describe('jsonValue', () => {
  it('keeps booleans, strings, null and finite numbers (int2/int4/float) as they are', () => {
    expect(jsonValue(true)).toBe(true);
    expect(jsonValue(false)).toBe(false);
    expect(jsonValue('héllo "quoted"\n')).toBe('héllo "quoted"\n');
    expect(jsonValue(null)).toBe(null);
    expect(jsonValue(-32768)).toBe(-32768);
    expect(jsonValue(2147483647)).toBe(2147483647);
    expect(jsonValue(1.5e-300)).toBe(1.5e-300);
  });

  it('writes NaN, ±Infinity and -0 (which JSON numbers cannot carry) as the text PostgreSQL prints', () => {
    expect([Number.NaN, Infinity, -Infinity, -0].map(jsonValue)).toEqual(['NaN', 'Infinity', '-Infinity', '-0']);
    expect([Number.NaN, Infinity, -Infinity, -0].map((v) => Number(jsonNumber(v)))).toEqual([Number.NaN, Infinity, -Infinity, -0]);
  });

  it('keeps int8 and numeric strings, and writes bigint (int8 on request) as a decimal string', () => {
    expect(jsonValue('9223372036854775807')).toBe('9223372036854775807');
    expect(jsonValue('12345678901234567890.123456789012345678901')).toBe('12345678901234567890.123456789012345678901');
    expect(jsonValue(-9223372036854775808n)).toBe('-9223372036854775808');
  });

  it('writes bytea as PostgreSQL hex text', () => {
    expect(jsonValue(Buffer.from([0, 1, 0xab, 0xff]))).toBe('\\x0001abff');
    expect(jsonValue(Buffer.alloc(0))).toBe('\\x');
    const view = Buffer.from([9, 8, 7, 6]).subarray(1, 3);
    expect(jsonValue(view)).toBe('\\x0807');
  });

  it('keeps timestamps, dates, times and intervals (strings already) untouched', () => {
    for (const text of ['2024-01-02T03:04:05.123456Z', '2024-01-02T03:04:05.123456', '2024-02-29', '0044-03-15 BC', 'infinity', '12:00:00.5+02', '1 year 2 mons 3 days 04:05:06.789']) {
      expect(jsonValue(text)).toBe(text);
    }
  });

  it('converts arrays all the way down, keeping NULL elements and dimensions', () => {
    expect(
      jsonValue([
        [1, null],
        [Number.NaN, 2],
      ]),
    ).toEqual([
      [1, null],
      ['NaN', 2],
    ]);
    expect(jsonValue([Buffer.from('a'), null])).toEqual(['\\x61', null]);
    expect(jsonValue(['9223372036854775807', 1n])).toEqual(['9223372036854775807', '1']);
  });

  it('returns json/jsonb documents as they are, without copying them', () => {
    const document = { a: [1, 2, { b: 'c' }], d: null, e: true };
    expect(jsonValue(document)).toBe(document);
    const list = [1, 'two', { three: 3 }];
    expect(jsonValue(list)).toBe(list);
  });

  it('converts structured values (point, interval as objects) by the same rules', () => {
    expect(jsonValue({ x: 1.5, y: Infinity })).toEqual({ x: 1.5, y: 'Infinity' });
  });

  it('refuses what is not a column value with a typed error', () => {
    expect(() => jsonValue(undefined as unknown as PgValue)).toThrow(UnencodableValueError);
    expect(() => jsonValue((() => 1) as unknown as PgValue)).toThrow(/a function/);
    expect(() => jsonValue([UNCHANGED_TOAST] as unknown as PgValue)).toThrow(/unchanged-TOAST marker inside a value/);
    const cycle: unknown[] = [];
    cycle.push(cycle);
    expect(() => jsonValue(cycle as PgValue)).toThrow(/deeper than/);
  });

  it('gives JSON that survives a round trip through JSON text for any value', () => {
    fc.assert(
      fc.property(pgValue, (value) => {
        const encoded = jsonValue(value);
        expect(JSON.parse(JSON.stringify(encoded))).toEqual(encoded);
      }),
    );
  });
});

describe('jsonRow', () => {
  it('returns a row of plain values without copying it', () => {
    const row = { id: 1, name: 'a', ok: true, gone: null };
    const encoded = jsonRow(row);
    expect(encoded.values).toBe(row);
    expect(encoded.unchanged).toEqual([]);
  });

  it('leaves unchanged TOASTed columns out and names them, keeping column order', () => {
    const encoded = jsonRow({ id: 1, big: UNCHANGED_TOAST, raw: Buffer.from('z'), other: UNCHANGED_TOAST, n: 2 });
    expect(Object.entries(encoded.values)).toEqual([
      ['id', 1],
      ['raw', '\\x7a'],
      ['n', 2],
    ]);
    expect(encoded.unchanged).toEqual(['big', 'other']);
  });

  it('names the table and column of a value it cannot write', () => {
    expect(() => jsonRow({ id: 1, bad: undefined } as unknown as Row, 'public.items')).toThrow(/in public\.items\.bad as JSON: undefined/);
  });

  it('encodes every row so that JSON text round-trips it', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(pgValue, fc.constant(UNCHANGED_TOAST as PgValue))), (row) => {
        const { values, unchanged } = jsonRow(row);
        expect(JSON.parse(JSON.stringify(values))).toEqual(values);
        expect(Object.keys(values).length + unchanged.length).toBe(Object.keys(row).length);
      }),
    );
  });
});

describe('sameShape', () => {
  it('compares schemas by shape, not identity', () => {
    expect(sameShape(items, { ...items })).toBe(true);
    expect(sameShape(undefined, items)).toBe(false);
    expect(sameShape(items, table('items', [['id', INT4, true]]))).toBe(false);
    expect(sameShape(items, { ...items, replicaIdentity: 'full' })).toBe(false);
  });
});

const scalar: fc.Arbitrary<PgValue> = fc.oneof(
  fc.boolean(),
  fc.double(),
  fc.integer(),
  fc.string(),
  fc.constant(null),
  fc.bigInt(),
  fc.uint8Array({ maxLength: 16 }).map((bytes) => Buffer.from(bytes)),
);

const pgValue: fc.Arbitrary<PgValue> = fc.letrec<{ value: PgValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    scalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 4 }) as fc.Arbitrary<PgValue>,
  ),
})).value;
