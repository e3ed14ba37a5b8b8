import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidNameError } from '../../src/streams/errors.js';
import {
  formatTableName,
  parseTableName,
  quoteIdentifier,
  quoteLiteral,
  quoteQualifiedName,
  quoteReplicationLiteral,
  validateSlotName,
} from '../../src/streams/identifiers.js';

/** Identifiers PostgreSQL can hold: 1..63 bytes of anything but NUL. */
const identifier = fc
  .string({ unit: fc.oneof(fc.constantFrom('"', '.', ' ', "'", '\\', 'ü', '€', '😀', 'A', 'a', '_'), fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme' })), minLength: 1, maxLength: 20 })
  .filter((s) => !s.includes('\0') && Buffer.byteLength(s) <= 63 && s.length > 0);

/** What the server's scanner does with a "quoted identifier". */
function unquoteIdentifier(sql: string): string {
  expect(sql.startsWith('"') && sql.endsWith('"')).toBe(true);
  const inner = sql.slice(1, -1);
  expect(inner.replaceAll('""', '')).not.toContain('"');
  return inner.replaceAll('""', '"');
}

/** What the server's scanner does with '...' or E'...' (standard_conforming_strings either way). */
function unquoteLiteral(sql: string): string {
  if (sql.startsWith("E'")) {
    const inner = sql.slice(2, -1);
    let out = '';
    for (let i = 0; i < inner.length; i++) {
      const c = inner[i]!;
      if (c === '\\' || (c === "'" && inner[i + 1] === "'")) {
        out += inner[i + 1]!;
        i++;
      } else {
        expect(c).not.toBe("'");
        out += c;
      }
    }
    return out;
  }
  expect(sql.startsWith("'") && sql.endsWith("'")).toBe(true);
  const inner = sql.slice(1, -1);
  expect(inner.replaceAll("''", '')).not.toContain("'");
  expect(inner).not.toContain('\\');
  return inner.replaceAll("''", "'");
}

describe('quoteIdentifier', () => {
  it('round-trips any identifier through the server quoting rules', () => {
    fc.assert(
      fc.property(identifier, (name) => {
        expect(unquoteIdentifier(quoteIdentifier(name))).toBe(name);
      }),
    );
  });

  it('quotes mixed case, quotes, spaces, dots and unicode', () => {
    expect(quoteIdentifier('My "Tab".x ü')).toBe('"My ""Tab"".x ü"');
    expect(quoteQualifiedName({ schema: 'Sch.ema', name: 'a"b' })).toBe('"Sch.ema"."a""b"');
  });

  it('refuses empty names, NUL and names longer than 63 bytes with InvalidNameError', () => {
    expect(() => quoteIdentifier('')).toThrow(InvalidNameError);
    expect(() => quoteIdentifier('a\0b')).toThrow(InvalidNameError);
    expect(() => quoteIdentifier('é'.repeat(32))).toThrow(/64 bytes/);
    expect(quoteIdentifier('x'.repeat(63))).toHaveLength(65);
  });
});

describe('quoteLiteral', () => {
  it('round-trips any string without NUL, whatever standard_conforming_strings is', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.oneof(fc.constantFrom("'", '\\', 'E', '"', ' '), fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme' })) }).filter((s) => !s.includes('\0')), (value) => {
        expect(unquoteLiteral(quoteLiteral(value))).toBe(value);
      }),
    );
  });

  it("uses E'' only when there is a backslash", () => {
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral('a\\b')).toBe("E'a\\\\b'");
    expect(() => quoteLiteral('\0')).toThrow(InvalidNameError);
  });

  it('quotes replication-grammar literals without E and without touching backslashes', () => {
    expect(quoteReplicationLiteral(`"a","b'c"`)).toBe(`'"a","b''c"'`);
    expect(quoteReplicationLiteral('x\\y')).toBe("'x\\y'");
  });
});

describe('parseTableName', () => {
  it('reads schema.table, a bare table (schema public) and quoted parts', () => {
    expect(parseTableName('public.docs')).toEqual({ schema: 'public', name: 'docs' });
    expect(parseTableName('docs')).toEqual({ schema: 'public', name: 'docs' });
    expect(parseTableName('"My.Schema"."Tab"')).toEqual({ schema: 'My.Schema', name: 'Tab' });
    expect(parseTableName('app."a ""quoted"" name"')).toEqual({ schema: 'app', name: 'a "quoted" name' });
    expect(parseTableName('"x.y"')).toEqual({ schema: 'public', name: 'x.y' });
  });

  it('keeps case and spaces as written (no folding)', () => {
    expect(parseTableName('Public.Orders')).toEqual({ schema: 'Public', name: 'Orders' });
    expect(parseTableName('my schema.ünïcode tab')).toEqual({ schema: 'my schema', name: 'ünïcode tab' });
  });

  it('round-trips formatTableName for any schema and name', () => {
    fc.assert(
      fc.property(identifier, identifier, (schema, name) => {
        expect(parseTableName(formatTableName({ schema, name }))).toEqual({ schema, name });
      }),
    );
  });

  it('refuses malformed names with an InvalidNameError that names the key', () => {
    for (const bad of ['', 'a.b.c', 'a.', '.b', '"unterminated', '"a"b', 'a"b.c', '"a".""']) {
      const error = (() => {
        try {
          parseTableName(bad, 'tables[2].table');
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error, bad).toBeInstanceOf(InvalidNameError);
      expect((error as InvalidNameError).key).toBe('tables[2].table');
      expect((error as Error).message).toContain('tables[2].table');
    }
  });

  it('never throws anything but InvalidNameError on random input', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          const parsed = parseTableName(text);
          expect(parsed.schema.length).toBeGreaterThan(0);
          expect(parsed.name.length).toBeGreaterThan(0);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidNameError);
        }
      }),
    );
  });
});

describe('validateSlotName', () => {
  it('accepts [a-z0-9_] of 1 to 63 characters', () => {
    expect(validateSlotName('laredo_warden_01')).toBe('laredo_warden_01');
    expect(validateSlotName('x'.repeat(63))).toHaveLength(63);
  });

  it('refuses anything else, naming the key and the rule', () => {
    for (const bad of ['', 'Upper', 'with-dash', 'dot.ted', 'spa ce', 'ü', 'x'.repeat(64)]) {
      expect(() => validateSlotName(bad, 'sources.pg_main.slot_name'), bad).toThrow(/sources\.pg_main\.slot_name: .* a-z, 0-9 and _/);
    }
  });
});
