// Rows from `COPY ... TO STDOUT` in text format, fed chunk by chunk as they arrive. Each row is a line
// ending in `\n`; columns are separated by tabs; `\N` is NULL; a backslash escapes: \b \f \n \r \t \v
// \\, octal \NNN (1-3 digits), hex \xHH (1-2 digits), and any other \c is c. PostgreSQL escapes the
// tab, newline, carriage return and backslash inside values, so a raw tab or newline is always
// structure (a backslash followed by a raw newline, which COPY FROM also accepts as data, is honoured).
// Columns go through the same textParser as streamed (pgoutput) values, so a baseline row and a
// streamed row of the same data are deep-equal.
import { isUtf8 } from 'node:buffer';
import { ProtocolError } from './errors.js';
import type { PgValue, Row } from './row.js';
import { textParser, textRangeParser, type TextParser, type TextRangeParser, type ValueOptions } from './values.js';

export interface CopyColumn {
  readonly name: string;
  readonly typeOid: number;
}

const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
const TAB = 0x09;

/** Builds a row from column values, in column order. */
export type RowFactory = (values: readonly PgValue[]) => Row;

/**
 * A factory of rows keyed by `names`, compiled to a single object literal: V8 then creates every row
 * with one hidden class from a boilerplate, about five times faster than assigning keys in a loop, and
 * row creation is a large share of decoding. Names are embedded as JSON string literals (JSON is valid
 * JS), and `__proto__` as a computed key so it becomes an own property instead of setting the
 * prototype. Where code generation is disabled (--disallow-code-generation-from-strings), rows are
 * built by assignment.
 */
export function compileRowFactory(names: readonly string[]): RowFactory {
  const properties = names.map((name, index) => `${name === '__proto__' ? '["__proto__"]' : JSON.stringify(name)}: values[${index}]`);
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the source holds only JSON string literals and indexes
    return new Function('values', `"use strict"; return { ${properties.join(', ')} };`) as RowFactory;
  } catch {
    return (values) => {
      const row: Record<string, PgValue> = {};
      for (let index = 0; index < names.length; index++) {
        Object.defineProperty(row, names[index]!, { value: values[index]!, enumerable: true, writable: true, configurable: true });
      }
      return row;
    };
  }
}

/**
 * Decodes COPY text format into rows. `push` takes chunks split anywhere (inside a line, an escape or
 * a multi-byte character) and returns the rows they complete; `end` checks nothing is left over.
 */
export class CopyTextDecoder {
  readonly #names: readonly string[];
  readonly #parsers: readonly TextParser[];
  /** In-place converters of the hot types (int, numeric, json, timestamps): no substring per field. */
  readonly #rangeParsers: readonly (TextRangeParser | undefined)[];
  readonly #makeRow: RowFactory;
  readonly #values: PgValue[];
  /** Bytes of the row in progress, carried over from earlier chunks. */
  #pending: Buffer[] = [];
  #pendingLength = 0;
  /** Backslashes at the end of the pending bytes: decides whether a newline at a chunk start is escaped. */
  #pendingTrailingBackslashes = 0;
  /** Rows completed so far; the 1-based number of the next line is #lineCount + 1. */
  #lineCount = 0;
  /** Bytes consumed before the pending ones, for error offsets. */
  #consumedBytes = 0;

  constructor(columns: readonly CopyColumn[], options: ValueOptions = {}) {
    this.#names = columns.map((column) => column.name);
    this.#parsers = columns.map((column) => textParser(column.typeOid, options));
    this.#rangeParsers = columns.map((column) => textRangeParser(column.typeOid, options));
    this.#makeRow = compileRowFactory(this.#names);
    this.#values = new Array<PgValue>(columns.length).fill(null);
  }

  /** Rows completed by `chunk`. The chunk is not retained. */
  push(chunk: Buffer): Row[] {
    if (chunk.length === 0) return [];
    const lineEnd = this.#lastLineEnd(chunk);
    if (lineEnd < 0) {
      this.#carry(chunk);
      return [];
    }
    const complete = this.#pendingLength === 0 ? chunk.subarray(0, lineEnd + 1) : Buffer.concat([...this.#pending, chunk.subarray(0, lineEnd + 1)]);
    const startOffset = this.#consumedBytes;
    this.#consumedBytes += complete.length;
    this.#pending = [];
    this.#pendingLength = 0;
    this.#pendingTrailingBackslashes = 0;
    if (lineEnd + 1 < chunk.length) this.#carry(chunk.subarray(lineEnd + 1));
    if (!isUtf8(complete)) {
      throw new ProtocolError('MALFORMED', `COPY data after line ${this.#lineCount} is not valid UTF-8; the connection must use client_encoding UTF8`, startOffset);
    }
    // Decoding everything up to a line end at once is safe: 0x0a never occurs inside a multi-byte
    // UTF-8 character, so no character is cut.
    return this.#parseLines(complete.toString('utf8'), startOffset);
  }

  /** Declares the end of the COPY data: a partial row left over is an error. */
  end(): void {
    if (this.#pendingLength > 0) {
      throw new ProtocolError(
        'TRUNCATED',
        `COPY data ends inside line ${this.#lineCount + 1} (${this.#pendingLength} bytes without a newline); the COPY was cut short`,
        this.#consumedBytes,
      );
    }
  }

  #carry(bytes: Buffer): void {
    // A copy, so the caller's (possibly pooled, possibly large) chunk is not kept alive.
    this.#pending.push(Buffer.from(bytes));
    this.#pendingLength += bytes.length;
    let trailing = 0;
    while (trailing < bytes.length && bytes[bytes.length - 1 - trailing] === BACKSLASH) trailing++;
    this.#pendingTrailingBackslashes = trailing === bytes.length ? this.#pendingTrailingBackslashes + trailing : trailing;
  }

  /** Index in `chunk` of the last newline that ends a line (is not escaped), or -1. */
  #lastLineEnd(chunk: Buffer): number {
    let newline = chunk.lastIndexOf(NEWLINE);
    while (newline >= 0) {
      let backslashes = 0;
      while (backslashes < newline && chunk[newline - 1 - backslashes] === BACKSLASH) backslashes++;
      if (backslashes === newline) backslashes += this.#pendingTrailingBackslashes;
      if (backslashes % 2 === 0) return newline;
      newline = newline === 0 ? -1 : chunk.lastIndexOf(NEWLINE, newline - 1);
    }
    return -1;
  }

  /** Parses whole lines: `text` ends with a line-ending newline. */
  #parseLines(text: string, startOffset: number): Row[] {
    const rows: Row[] = [];
    const parsers = this.#parsers;
    const values = this.#values;
    const lastColumn = parsers.length - 1;
    const length = text.length;
    // Next backslash and next tab at or after the current position, searched again only once passed:
    // one indexOf per occurrence instead of per field, and none per row without backslashes.
    let nextBackslash = text.indexOf('\\');
    if (nextBackslash < 0) nextBackslash = length;
    let nextTab = -1;
    let lineStart = 0;
    while (lineStart < length) {
      let lineEnd = text.indexOf('\n', lineStart);
      if (nextBackslash < lineEnd) {
        lineEnd = this.#parseEscapedLine(text, lineStart, startOffset);
        nextBackslash = text.indexOf('\\', lineEnd);
        if (nextBackslash < 0) nextBackslash = length;
      } else if (lastColumn < 0) {
        if (lineEnd !== lineStart) throw this.#columnCountError(1, text, lineStart, startOffset);
      } else {
        // Fast path: no escapes and no NULLs; fields are the text between tabs.
        let fieldStart = lineStart;
        for (let column = 0; column < lastColumn; column++) {
          if (nextTab < fieldStart) {
            nextTab = text.indexOf('\t', fieldStart);
            if (nextTab < 0) nextTab = length;
          }
          if (nextTab > lineEnd) throw this.#columnCountError(column + 1, text, lineStart, startOffset);
          values[column] = this.#convertRange(column, text, fieldStart, nextTab, lineStart, startOffset);
          fieldStart = nextTab + 1;
        }
        if (nextTab < fieldStart) {
          nextTab = text.indexOf('\t', fieldStart);
          if (nextTab < 0) nextTab = length;
        }
        if (nextTab < lineEnd) throw this.#columnCountError(this.#countFields(text, lineStart), text, lineStart, startOffset);
        values[lastColumn] = this.#convertRange(lastColumn, text, fieldStart, lineEnd, lineStart, startOffset);
      }
      rows.push(this.#makeRow(values));
      this.#lineCount++;
      lineStart = lineEnd + 1;
    }
    return rows;
  }

  /**
   * The slow path, for a line with a backslash: scans character by character so that escaped tabs and
   * newlines are data, `\N` is NULL, and escapes are decoded. Returns the index of the line's newline.
   */
  #parseEscapedLine(text: string, lineStart: number, startOffset: number): number {
    const parsers = this.#parsers;
    const values = this.#values;
    let column = 0;
    let fieldStart = lineStart;
    let escaped = false;
    let index = lineStart;
    for (;;) {
      const code = text.charCodeAt(index);
      if (code === BACKSLASH) {
        escaped = true;
        index += 2;
        continue;
      }
      if (code !== TAB && code !== NEWLINE) {
        index++;
        continue;
      }
      if (column >= parsers.length) {
        if (parsers.length === 0 && code === NEWLINE && index === lineStart) return index;
        throw this.#columnCountError(column + this.#countFields(text, fieldStart), text, lineStart, startOffset);
      }
      const raw = text.slice(fieldStart, index);
      if (!escaped) values[column] = this.#convert(column, raw, text, lineStart, startOffset);
      else if (raw === '\\N') values[column] = null;
      else values[column] = this.#convert(column, unescapeCopyText(raw, this.#lineCount + 1), text, lineStart, startOffset);
      column++;
      if (code === NEWLINE) {
        if (column !== parsers.length) throw this.#columnCountError(column, text, lineStart, startOffset);
        return index;
      }
      escaped = false;
      fieldStart = ++index;
    }
  }

  /** The field `text[from, to)` converted where it sits when its type has an in-place converter. */
  #convertRange(column: number, text: string, from: number, to: number, lineStart: number, startOffset: number): PgValue {
    const inPlace = this.#rangeParsers[column];
    if (inPlace === undefined) return this.#convert(column, text.slice(from, to), text, lineStart, startOffset);
    try {
      return inPlace(text, from, to);
    } catch (error) {
      throw this.#valueError(column, error, text, lineStart, startOffset);
    }
  }

  #convert(column: number, raw: string, text: string, lineStart: number, startOffset: number): PgValue {
    try {
      return this.#parsers[column]!(raw);
    } catch (error) {
      throw this.#valueError(column, error, text, lineStart, startOffset);
    }
  }

  #valueError(column: number, error: unknown, text: string, lineStart: number, startOffset: number): ProtocolError {
    // The value converters know no position; this error gives the line, so drop theirs.
    const message = error instanceof Error ? error.message.replace(/ \(at byte \d+\)$/, '') : String(error);
    return new ProtocolError('MALFORMED', `COPY line ${this.#lineCount + 1}, column "${this.#names[column]!}": ${message}`, byteOffset(text, lineStart, startOffset), {
      cause: error,
    });
  }

  /** Fields from `from` (a field's start) to the end of its line: 1 + the unescaped tabs. */
  #countFields(text: string, from: number): number {
    let count = 1;
    for (let index = from; index < text.length; index++) {
      const code = text.charCodeAt(index);
      if (code === BACKSLASH) index++;
      else if (code === TAB) count++;
      else if (code === NEWLINE) break;
    }
    return count;
  }

  #columnCountError(found: number, text: string, lineStart: number, startOffset: number): ProtocolError {
    return new ProtocolError(
      'MALFORMED',
      `COPY line ${this.#lineCount + 1} has ${found} column${found === 1 ? '' : 's'}, expected ${this.#parsers.length} (${this.#names.join(', ')}); ` +
        'the COPY column list must match the columns the decoder was given',
      byteOffset(text, lineStart, startOffset),
    );
  }
}

/** Byte offset in the COPY stream of character `index` of `text` (only computed for errors). */
function byteOffset(text: string, index: number, startOffset: number): number {
  return startOffset + Buffer.byteLength(text.slice(0, index), 'utf8');
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

/**
 * Decodes the backslash escapes of one COPY text field (not `\N`, which the caller handles).
 * Octal and hex escapes give bytes, which may form a multi-byte UTF-8 character together, so those are
 * collected as bytes and decoded strictly.
 */
export function unescapeCopyText(raw: string, line: number): string {
  let out = '';
  let bytes: number[] | undefined;
  let segmentStart = 0;
  const length = raw.length;
  const flushBytes = (): void => {
    if (bytes === undefined) return;
    const buffer = Buffer.from(bytes);
    if (!isUtf8(buffer)) throw new ProtocolError('MALFORMED', `COPY line ${line}: octal or hex escapes do not form valid UTF-8`, 0);
    out += buffer.toString('utf8');
    bytes = undefined;
  };
  let index = 0;
  while (index < length) {
    if (raw.charCodeAt(index) !== BACKSLASH) {
      index++;
      continue;
    }
    if (index > segmentStart) {
      flushBytes();
      out += raw.slice(segmentStart, index);
    }
    const escape = raw.charCodeAt(index + 1);
    index += 2;
    let byte = -1;
    let literal: string | undefined;
    switch (escape) {
      case 98: // b
        literal = '\b';
        break;
      case 102: // f
        literal = '\f';
        break;
      case 110: // n
        literal = '\n';
        break;
      case 114: // r
        literal = '\r';
        break;
      case 116: // t
        literal = '\t';
        break;
      case 118: // v
        literal = '\v';
        break;
      case 120: {
        // x: one or two hex digits; without any it is a plain 'x'
        const high = hexValue(raw.charCodeAt(index));
        if (high < 0) {
          literal = 'x';
          break;
        }
        index++;
        const low = hexValue(raw.charCodeAt(index));
        if (low < 0) byte = high;
        else {
          byte = high * 16 + low;
          index++;
        }
        break;
      }
      default:
        if (escape >= 48 && escape <= 55) {
          // 1-3 octal digits; PostgreSQL keeps the low 8 bits of \400-\777
          byte = escape - 48;
          for (let digits = 1; digits < 3; digits++) {
            const next = raw.charCodeAt(index) - 48;
            if (next < 0 || next > 7) break;
            byte = byte * 8 + next;
            index++;
          }
          byte &= 0xff;
        } else if (Number.isNaN(escape)) {
          // A backslash ending the field: PostgreSQL drops it too.
          literal = '';
        } else {
          literal = String.fromCharCode(escape);
          // A surrogate pair escaped as one character: keep the pair whole.
          if (escape >= 0xd800 && escape <= 0xdbff && index < length) {
            literal += raw.charAt(index);
            index++;
          }
        }
    }
    if (literal !== undefined) {
      flushBytes();
      out += literal;
    } else if (byte < 0x80) {
      flushBytes();
      out += String.fromCharCode(byte);
    } else {
      (bytes ??= []).push(byte);
    }
    segmentStart = index;
  }
  flushBytes();
  return out + raw.slice(segmentStart);
}
