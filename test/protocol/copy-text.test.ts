import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRowFactory, CopyTextDecoder } from '../../src/protocol/copy-text.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import type { Row } from '../../src/protocol/row.js';
import { textParser, TypeOid } from '../../src/protocol/values.js';
import { expectedRow, storedCaptures } from '../fixtures/values/wide-table.js';

const TEXT = TypeOid.text;

function decodeAll(decoder: CopyTextDecoder, chunks: readonly Buffer[]): Row[] {
  const rows = chunks.flatMap((chunk) => decoder.push(chunk));
  decoder.end();
  return rows;
}

/** Splits `data` at the given (sorted, deduplicated) offsets. */
function splitAt(data: Buffer, offsets: readonly number[]): Buffer[] {
  const cuts = [...new Set(offsets.map((offset) => offset % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const cut of [...cuts, data.length]) {
    chunks.push(data.subarray(start, cut));
    start = cut;
  }
  return chunks;
}

// --- an encoder for the test: every way COPY text can spell a value ----------------------------------

const CANONICAL_ESCAPES: Record<string, string> = { '\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't', '\v': 'v', '\\': '\\' };

/**
 * Encodes one field. `choices` picks, per character, one of the spellings COPY text allows: the
 * character itself (where that is unambiguous), its canonical escape, `\` + the character, an octal
 * or hex escape of each UTF-8 byte, or backslash + raw newline for a newline.
 */
function encodeField(value: string | null, choices: Iterator<number>): Buffer {
  if (value === null) return Buffer.from('\\N');
  const parts: Buffer[] = [];
  for (const char of value) {
    const choice = choices.next().value as number;
    const bytes = Buffer.from(char, 'utf8');
    const canonical = CANONICAL_ESCAPES[char];
    const literalEscapeAllowed = !/[bfnrtvxN0-7]/.test(char) && char !== '\n' && char !== '\r';
    const spellings: string[] = [];
    if (canonical !== undefined) spellings.push(`\\${canonical}`);
    else spellings.push(char);
    if (literalEscapeAllowed) spellings.push(`\\${char}`);
    if (char === '\n') spellings.push('\\\n');
    // Always three octal / two hex digits: a shorter escape could swallow a following digit.
    spellings.push([...bytes].map((byte) => `\\${byte.toString(8).padStart(3, '0')}`).join(''));
    spellings.push([...bytes].map((byte) => `\\x${byte.toString(16).padStart(2, '0')}`).join(''));
    const spelling = spellings[choice % spellings.length]!;
    // Octal and hex spellings name bytes: write them as latin1 so each stays one byte.
    parts.push(Buffer.from(spelling, /^\\[0-7x]/.test(spelling) ? 'latin1' : 'utf8'));
  }
  return Buffer.concat(parts);
}

function encodeRows(rows: readonly (string | null)[][], choices: Iterator<number>): Buffer {
  const lines = rows.map((row) => {
    const fields = row.map((value) => encodeField(value, choices));
    return Buffer.concat([...fields.flatMap((field, index) => (index === 0 ? [field] : [Buffer.from('\t'), field])), Buffer.from('\n')]);
  });
  return Buffer.concat(lines);
}

const anyText = fc.string({ unit: fc.oneof(fc.constantFrom('\t', '\n', '\r', '\\', '\b', '\f', '\v', 'N', 'x', '7', '.', ' ', 'é', '😀', '\u0000'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 12 });

describe.each(storedCaptures())('COPY text of the wide table from PostgreSQL $major', (capture) => {
  const expectedRows = capture.outputs.map((outputs) =>
    Object.fromEntries(capture.columns.map((column, index) => [column.name, outputs[index] === null ? null : textParser(column.typeOid)(outputs[index]!)])),
  );

  it('gives the rows that parsing each column output gives, the documented values', () => {
    const rows = decodeAll(new CopyTextDecoder(capture.columns), [capture.copyText]);
    expect(rows).toEqual(expectedRows);
    rows.forEach((row) => expect(row).toEqual(expectedRow(capture.columns, row['id'] as number)));
  });

  it('gives the same rows whatever the chunk boundaries, inside escapes and UTF-8 characters too', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 40 }), (offsets) => {
        expect(decodeAll(new CopyTextDecoder(capture.columns), splitAt(capture.copyText, offsets))).toEqual(expectedRows);
      }),
      { numRuns: 300 },
    );
    // One byte at a time: every possible boundary at once.
    const bytes = [...capture.copyText].map((byte) => Buffer.from([byte]));
    expect(decodeAll(new CopyTextDecoder(capture.columns), bytes)).toEqual(expectedRows);
  });

  it('passes options to the converters (int8 as bigint, json as text)', () => {
    const rows = decodeAll(new CopyTextDecoder(capture.columns, { int8: 'bigint', json: 'text' }), [capture.copyText]);
    expect(rows[1]!['c_int8']).toBe(9_223_372_036_854_775_807n);
    expect(rows[0]!['c_json']).toBe('{"b": 1,  "a": [1, 2.50]}');
  });

  it('converts mutated bytes to rows or a ProtocolError, never another error', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 5 }), (mutations, offsets) => {
        const data = Buffer.from(capture.copyText);
        for (const [at, byte] of mutations) data[at % data.length] = byte;
        try {
          decodeAll(new CopyTextDecoder(capture.columns), splitAt(data, offsets));
        } catch (error) {
          if (!(error instanceof ProtocolError)) throw error;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('COPY text format', () => {
  it('decodes every spelling of any text, NULLs included, whatever the chunk boundaries', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }).chain((columns) => fc.array(fc.array(fc.option(anyText, { freq: 5 }), { minLength: columns, maxLength: columns }), { maxLength: 6 })),
        fc.infiniteStream(fc.nat()),
        fc.array(fc.nat(), { maxLength: 10 }),
        (rows, choices, offsets) => {
          const columnCount = rows[0]?.length ?? 1;
          const columns = Array.from({ length: columnCount }, (_, index) => ({ name: `c${index}`, typeOid: TEXT }));
          const data = encodeRows(rows, choices[Symbol.iterator]());
          const decoded = decodeAll(new CopyTextDecoder(columns), splitAt(data, offsets));
          expect(decoded).toEqual(rows.map((row) => Object.fromEntries(row.map((value, index) => [`c${index}`, value]))));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['a\\tb', 'a\tb'],
    ['\\x41\\x4a\\x4', 'AJ\u0004'],
    ['\\101\\12\\7x', 'A\n\u0007x'],
    ['\\xg', 'xg'],
    ['\\q\\.\\N', 'q.N'],
    ['\\303\\251', 'é'],
    ['\\xe2\\x98\\x83', '☃'],
    ['a\\\nb', 'a\nb'],
  ])('reads %j as %j', (field, expected) => {
    const rows = decodeAll(new CopyTextDecoder([{ name: 'v', typeOid: TEXT }]), [Buffer.from(`${field}\n`, 'latin1')]);
    expect(rows).toEqual([{ v: expected }]);
  });

  it('keeps the low 8 bits of \\400-\\777, and refuses escaped bytes that are not UTF-8', () => {
    const decode = (field: string) => decodeAll(new CopyTextDecoder([{ name: 'v', typeOid: TEXT }]), [Buffer.from(`${field}\n`)]);
    expect(decode('\\501')).toEqual([{ v: 'A' }]);
    expect(() => decode('\\777')).toThrow(/do not form valid UTF-8/);
    expect(() => decode('\\xc3')).toThrow(ProtocolError);
  });

  it('tells \\N (NULL) from the text \\N (escaped as \\\\N) and from N', () => {
    const rows = decodeAll(new CopyTextDecoder([{ name: 'a', typeOid: TEXT }, { name: 'b', typeOid: TEXT }, { name: 'c', typeOid: TEXT }]), [Buffer.from('\\N\t\\\\N\tN\n')]);
    expect(rows).toEqual([{ a: null, b: '\\N', c: 'N' }]);
  });

  it('names the line when a row has too few or too many columns', () => {
    const columns = [{ name: 'a', typeOid: TEXT }, { name: 'b', typeOid: TEXT }];
    expect(() => decodeAll(new CopyTextDecoder(columns), [Buffer.from('1\t2\n3\n')])).toThrow(/COPY line 2 has 1 column, expected 2 \(a, b\)/);
    expect(() => decodeAll(new CopyTextDecoder(columns), [Buffer.from('1\t2\n3\t4\t5\n')])).toThrow(/COPY line 2 has 3 columns, expected 2/);
    expect(() => decodeAll(new CopyTextDecoder(columns), [Buffer.from('1\t2\n3\\t\t4\t\\N\n')])).toThrow(/COPY line 2 has 3 columns/);
    expect(() => decodeAll(new CopyTextDecoder(columns), [Buffer.from('1\\N\n')])).toThrow(/COPY line 1 has 1 column/);
    // The offset is the bad line's byte offset in the whole stream: '1\t2\n' and 'é\t\n' are 8 bytes.
    expect(() => decodeAll(new CopyTextDecoder(columns), [Buffer.from('1\t2\n'), Buffer.from('é\t\n3\n')])).toThrow(
      expect.objectContaining({ code: 'MALFORMED', offset: 8 }),
    );
  });

  it('names the line and column when a value does not convert', () => {
    const decoder = new CopyTextDecoder([{ name: 'id', typeOid: TypeOid.int4 }, { name: 'at', typeOid: TypeOid.timestamptz }]);
    expect(decoder.push(Buffer.from('1\t2024-01-02 03:04:05+00\n'))).toEqual([{ id: 1, at: '2024-01-02T03:04:05.000000Z' }]);
    expect(() => decoder.push(Buffer.from('2\t02/01/2024\n'))).toThrow(/COPY line 2, column "at": "02\/01\/2024" is not timestamptz text/);
  });

  it('refuses COPY data that ends inside a row', () => {
    const decoder = new CopyTextDecoder([{ name: 'a', typeOid: TEXT }]);
    expect(decoder.push(Buffer.from('x\ny'))).toEqual([{ a: 'x' }]);
    expect(() => decoder.end()).toThrow(expect.objectContaining({ code: 'TRUNCATED', message: expect.stringContaining('line 2') }));
    // A trailing escaped newline does not end the row either.
    const escaped = new CopyTextDecoder([{ name: 'a', typeOid: TEXT }]);
    expect(escaped.push(Buffer.from('x\\\n'))).toEqual([]);
    expect(() => escaped.end()).toThrow(ProtocolError);
  });

  it('refuses bytes that are not UTF-8', () => {
    const decoder = new CopyTextDecoder([{ name: 'a', typeOid: TEXT }]);
    expect(() => decoder.push(Buffer.from([0x61, 0xff, 0x0a]))).toThrow(/not valid UTF-8/);
  });

  it('keeps an odd run of backslashes before a chunk-start newline as an escape', () => {
    const decoder = new CopyTextDecoder([{ name: 'a', typeOid: TEXT }]);
    const rows = [...decoder.push(Buffer.from('a\\')), ...decoder.push(Buffer.from('\\\\')), ...decoder.push(Buffer.from('\n')), ...decoder.push(Buffer.from('b\n'))];
    expect(rows).toEqual([{ a: 'a\\\nb' }]);
    decoder.end();
  });

  it('builds rows with any column names, __proto__ as an own property', () => {
    const columns = ['__proto__', 'constructor', 'a "quoted" name', 'new\nline', 'é', ''].map((name) => ({ name, typeOid: TEXT }));
    const [row] = decodeAll(new CopyTextDecoder(columns), [Buffer.from('1\t2\t3\t4\t5\t6\n')]);
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.keys(row!)).toEqual(columns.map((column) => column.name));
    expect(Object.values(row!)).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(Object.hasOwn(row!, '__proto__')).toBe(true);
  });

  it('compiles row factories that keep column order and allocate a fresh row each time', () => {
    const make = compileRowFactory(['b', 'a', '1']);
    const first = make(['x', 'y', 'z']);
    expect(Object.keys(first)).toEqual(['1', 'b', 'a']); // integer-like keys come first in JS objects
    expect(make(['x', 'y', 'z'])).not.toBe(first);
  });

  it('decodes a table without columns: one empty line per row', () => {
    expect(decodeAll(new CopyTextDecoder([]), [Buffer.from('\n\n')])).toEqual([{}, {}]);
    expect(() => decodeAll(new CopyTextDecoder([]), [Buffer.from('x\n')])).toThrow(ProtocolError);
  });
});
