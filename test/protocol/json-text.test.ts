import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJson } from '../../src/protocol/json-text.js';

/** Deep sameness as JSON.parse results go: Object.is for leaves (so -0 counts), keys in order, same prototypes. */
function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => same(item, b[i]));
  const keysA = Object.getOwnPropertyNames(a);
  const keysB = Object.getOwnPropertyNames(b);
  return (
    keysA.length === keysB.length &&
    keysA.every((key, i) => key === keysB[i] && same((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]))
  );
}

type Outcome = { value: unknown } | { error: string };

function outcome(parse: () => unknown): Outcome {
  try {
    return { value: parse() };
  } catch (error) {
    return { error: (error as Error).constructor.name };
  }
}

/** parseJson on `text` (alone, and in the middle of a larger string) does what JSON.parse does. */
function expectLikeJsonParse(text: string, before = '', after = ''): void {
  const expected = outcome(() => JSON.parse(text) as unknown);
  const outcomes = [outcome(() => parseJson(text)), outcome(() => parseJson(before + text + after, before.length, before.length + text.length))];
  for (const actual of outcomes) {
    if ('error' in expected) {
      expect(actual, text).toEqual(expected);
    } else if (!('value' in actual) || !same(actual.value, expected.value)) {
      expect.fail(`parseJson(${JSON.stringify(text)}) gave ${JSON.stringify(actual)}, JSON.parse ${JSON.stringify(expected.value)}`);
    }
  }
}

/** JSON the way jsonb_out prints it: `": "` after keys, `", "` between members. */
function jsonbText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(jsonbText).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}: ${jsonbText(item)}`).join(', ')}}`;
  }
  return JSON.stringify(value);
}

describe('parseJson', () => {
  it('returns what JSON.parse returns for any JSON, printed as jsonb prints it or as JSON.stringify does', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), (value, before, after) => {
        expectLikeJsonParse(jsonbText(value), before, after);
        expectLikeJsonParse(JSON.stringify(value), before, after);
      }),
      { seed: 20_261_126, numRuns: 2000 },
    );
  });

  it('returns the same value or throws the same error as JSON.parse for any text', () => {
    const alphabet = fc.constantFrom(...'{}[]":, 0123456789-+.eEtrufalsn\\abc\t\u00e9\u2028'.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 40 })), fc.string({ maxLength: 3 }), (text, around) => {
        expectLikeJsonParse(text, around, around);
      }),
      { seed: 20_261_127, numRuns: 5000 },
    );
  });

  it('returns the same value or throws the same error as JSON.parse for JSON with a character changed, added or removed', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), fc.constantFrom(...'{}[]":, 0-.e1\\x'.split('')), fc.constantFrom('replace', 'insert', 'delete'), (value, at, character, edit) => {
        const text = jsonbText(value);
        const i = text.length === 0 ? 0 : at % text.length;
        const edited =
          edit === 'replace' ? text.slice(0, i) + character + text.slice(i + 1) : edit === 'insert' ? text.slice(0, i) + character + text.slice(i) : text.slice(0, i) + text.slice(i + 1);
        expectLikeJsonParse(edited, 'x', '1');
      }),
      { seed: 20_261_128, numRuns: 5000 },
    );
  });

  it('keeps the numbers JSON.parse makes: negative zero, big integers, exponents, infinity', () => {
    for (const text of ['-0', '0', '-0.0', '9007199254740993', '123456789012345', '1234567890123456', '-1e-7', '1E+2', '1e400', '-1e400', '0.1', '1.5e-300', '[1, -0, 2.50]']) {
      expectLikeJsonParse(text);
    }
    expect(Object.is(parseJson('-0'), -0)).toBe(true);
  });

  it('refuses what JSON.parse refuses', () => {
    for (const text of ['', ' ', '01', '-', '1.', '.5', '1e', '+1', 'tru', 'nul', '{"a" 1}', '{"a": 1,}', '[1, ]', '"\u0001"', '{a: 1}', "'a'", '[', '{"a": 1} x']) {
      expect(() => parseJson(text), JSON.stringify(text)).toThrow(SyntaxError);
    }
  });

  it('makes __proto__ an own property, as JSON.parse does, and lets the last of duplicate keys win', () => {
    const parsed = parseJson('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(Object.getOwnPropertyNames(parsed)).toEqual(['__proto__', 'a']);
    expectLikeJsonParse('{"a": 1, "b": 2, "a": 3}');
    expectLikeJsonParse('{"2": "b", "1": "a", "x": 0}');
  });

  it('reads deep nesting, long text and escapes through JSON.parse', () => {
    expectLikeJsonParse(`${'['.repeat(500)}1${']'.repeat(500)}`);
    expectLikeJsonParse(`{"text": "${'x'.repeat(10_000)}"}`);
    expectLikeJsonParse('{"a\\"b": "c\\nd", "e": "\\u00e9"}');
    expectLikeJsonParse('{ "spaced" : [ 1 , 2 ] }');
  });

  it('stays correct when objects bring more key sequences than it remembers', () => {
    for (let i = 0; i < 5000; i++) expectLikeJsonParse(`{"k${i}": ${i}, "same": [${i}], "k${i % 7}": {"n": ${i}}}`);
  });
});
