import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { textParser, textRangeParser, TypeOid, type ValueOptions } from '../../src/protocol/values.js';

type Outcome = { value: unknown } | { error: string };

function outcome(convert: () => unknown): Outcome {
  try {
    return { value: convert() };
  } catch (error) {
    const e = error as Error & { code?: string };
    return { error: `${e.constructor.name} ${e.code ?? ''}: ${e.message}` };
  }
}

/** The in-place converter on `text` inside a larger string converts it, or refuses it, exactly as textParser does. */
function expectSameAsTextParser(typeOid: number, text: string, before: string, after: string, options: ValueOptions = {}): void {
  const inPlace = textRangeParser(typeOid, options);
  if (inPlace === undefined) return;
  const expected = outcome(() => textParser(typeOid, options)(text));
  const actual = outcome(() => inPlace(before + text + after, before.length, before.length + text.length));
  expect(actual, `${typeOid} ${JSON.stringify(text)} between ${JSON.stringify(before)} and ${JSON.stringify(after)}`).toEqual(expected);
}

const RANGE_TYPES = [TypeOid.int2, TypeOid.int4, TypeOid.int8, TypeOid.numeric, TypeOid.json, TypeOid.jsonb, TypeOid.timestamp, TypeOid.timestamptz];

/** Strings near each type's text: digits, signs, points, separators of dates and zones, JSON punctuation. */
const nearText = fc.string({ unit: fc.constantFrom(...'0123456789-+.: eETZ{}[]",n'.split('')), maxLength: 32 });
const surroundings = fc.string({ unit: fc.constantFrom(...'0-9.:" t\u0000\u0004'.split('')), maxLength: 3 });

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
/** A timestamp as PostgreSQL prints it under DateStyle ISO (some with a fraction, some with a zone). */
const printedTimestamp = fc
  .record({
    year: fc.integer({ min: 1, max: 12_000 }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 31 }),
    hour: fc.integer({ min: 0, max: 24 }),
    minute: fc.integer({ min: 0, max: 59 }),
    second: fc.integer({ min: 0, max: 60 }),
    fraction: fc.option(fc.integer({ min: 1, max: 999_999 }), { nil: undefined }),
    zone: fc.constantFrom('', '+00', '+05:30', '-08', '+00:00:01'),
    bc: fc.boolean(),
  })
  .map(
    (t) =>
      `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)} ${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}` +
      `${t.fraction === undefined ? '' : `.${pad(t.fraction, 6).replace(/0+$/, '')}`}${t.zone}${t.bc ? ' BC' : ''}`,
  );

describe('textRangeParser', () => {
  it('exists for the types that convert in place, and not where the value is the text anyway', () => {
    for (const typeOid of RANGE_TYPES) expect(textRangeParser(typeOid), String(typeOid)).toBeTypeOf('function');
    expect(textRangeParser(TypeOid.text)).toBeUndefined();
    expect(textRangeParser(TypeOid.jsonb, { json: 'text' })).toBeUndefined();
    expect(textRangeParser(TypeOid.int8, { int8: 'bigint' })).toBeUndefined();
  });

  it('converts or refuses any text near its type exactly as textParser does', () => {
    fc.assert(
      fc.property(fc.constantFrom(...RANGE_TYPES), nearText, surroundings, surroundings, (typeOid, text, before, after) => {
        expectSameAsTextParser(typeOid, text, before, after);
      }),
      { seed: 20_261_126, numRuns: 20_000 },
    );
  });

  it('converts printed timestamps exactly as textParser does, zones and BC included', () => {
    fc.assert(
      fc.property(printedTimestamp, surroundings, surroundings, (text, before, after) => {
        expectSameAsTextParser(TypeOid.timestamp, text, before, after);
        expectSameAsTextParser(TypeOid.timestamptz, text, before, after);
      }),
      { seed: 20_261_127, numRuns: 5000 },
    );
  });

  it('converts printed numbers and json exactly as textParser does', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31) - 2, max: 2 ** 31 + 2 }), fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }), fc.double(), fc.json(), surroundings, (int, big, double, json, before) => {
        for (const typeOid of [TypeOid.int2, TypeOid.int4, TypeOid.int8, TypeOid.numeric]) {
          expectSameAsTextParser(typeOid, String(int), before, '');
          expectSameAsTextParser(typeOid, String(big), before, '5');
        }
        expectSameAsTextParser(TypeOid.numeric, String(double), before, '.');
        expectSameAsTextParser(TypeOid.jsonb, json, before, '}');
      }),
      { seed: 20_261_128, numRuns: 3000 },
    );
  });

  it('treats runs of digits of every length, leading zeros included, as textParser does', () => {
    const digits = fc.string({ unit: fc.constantFrom(...'0123456789'.split('')), maxLength: 22 });
    fc.assert(
      fc.property(digits, fc.constantFrom('', '-'), fc.constantFrom('', '.', '.5'), (run, sign, tail) => {
        for (const typeOid of [TypeOid.int2, TypeOid.int4, TypeOid.int8, TypeOid.numeric]) expectSameAsTextParser(typeOid, sign + run + tail, '7', '7');
      }),
      { seed: 20_261_129, numRuns: 3000 },
    );
    for (const text of ['00000000001', '-00000000001', '0000000000000000001', '00000000000000000001', '32767', '32768', '-32768', '-32769']) {
      for (const typeOid of [TypeOid.int2, TypeOid.int4, TypeOid.int8]) expectSameAsTextParser(typeOid, text, '', '');
    }
  });

  it('refuses the empty value, wherever it sits, as textParser does', () => {
    for (const typeOid of RANGE_TYPES) {
      for (const around of ['', '-', '1', '-1', '{}']) expectSameAsTextParser(typeOid, '', around, around);
    }
  });
});
