// A TupleData reader compiled for one column list: the hot path of PgoutputDecoder. A loop over the
// columns calls each column's converter through one call site that sees every converter, so V8 can
// inline none of them, and it collects the values in an array that a row builder then copies into the
// row. Generated code, with one call site per column, lets V8 inline each converter where it is called,
// and keeps the values in locals that the row literal takes directly: the largest gain of the second
// decode pass (BENCHMARKS.md, Decode).
import type { Row, UnchangedToast } from './row.js';
import { UNCHANGED_TOAST } from './row.js';
import { textParser, textRangeParser, type TextParser, type TextRangeParser, type ValueOptions } from './values.js';

/** Where a reader leaves the offset after the tuple it read. */
export interface TupleCursor {
  at: number;
}

/**
 * Reads the TupleData columns at `data[at]` on (the Int16 column count already read and checked) when
 * every column is text (`t`), null (`n`) or unchanged TOAST (`u`) and within `end`, converting each
 * value in `text`, the message decoded from `textStart` on (see PgoutputDecoder#sharedText). Returns
 * the row and puts the offset after the tuple into `cursor`; returns undefined for anything else
 * (binary values, unknown kinds, lengths out of bounds) and lets a converter's error through, without
 * naming the column: the caller then decodes the tuple the general way, which says what is wrong.
 */
export type TupleReader = (data: Buffer, at: number, end: number, text: string, textStart: number, cursor: TupleCursor) => Row | undefined;

/** Wider rows are read by the general loop: the generated function would grow past what V8 optimises. */
const MAX_COLUMNS = 128;

/** Readers by column names and converters, shared by all decoders (a new connection gets every Relation again). */
const READERS = new Map<string, TupleReader | null>();
const READER_CACHE_SIZE = 1024;

/** A number per converter, for the cache key: converters are module-level functions, so few. */
const converterIds = new WeakMap<TextParser | TextRangeParser, number>();
let nextConverterId = 0;

function converterId(converter: TextParser | TextRangeParser): number {
  let id = converterIds.get(converter);
  if (id === undefined) converterIds.set(converter, (id = nextConverterId++));
  return id;
}

/**
 * The compiled reader for columns `names` of types `typeOids`, converting as textParser and
 * textRangeParser do with `options`; null where it cannot be made (too many columns, a column named
 * `__proto__`, which as a literal key would set the prototype, or code generation from strings
 * disallowed), and then the caller's general loop does the work.
 */
export function tupleReader(names: readonly string[], typeOids: readonly number[], options: ValueOptions): TupleReader | null {
  if (names.length > MAX_COLUMNS || names.includes('__proto__')) return null;
  const converters = typeOids.map((oid) => {
    const inPlace = textRangeParser(oid, options);
    return inPlace === undefined ? { inPlace: false, convert: textParser(oid, options) } : { inPlace: true, convert: inPlace };
  });
  const key = `${names.join('\0')}\u0001${converters.map((c) => converterId(c.convert)).join(',')}`;
  let reader = READERS.get(key);
  if (reader === undefined) {
    reader = compile(names, converters);
    if (READERS.size >= READER_CACHE_SIZE) READERS.clear();
    READERS.set(key, reader);
  }
  return reader;
}

// TupleData kind bytes.
const KIND_TEXT = 0x74; // t
const KIND_NULL = 0x6e; // n
const KIND_UNCHANGED_TOAST = 0x75; // u

function compile(names: readonly string[], converters: readonly { inPlace: boolean; convert: TextParser | TextRangeParser }[]): TupleReader | null {
  // Only indices and JSON-quoted names (valid JavaScript string literals) go into the code: no column
  // name can inject any.
  const columns = converters.map(
    ({ inPlace }, i) => `
    if (at >= end) return undefined;
    kind = data[at];
    if (kind === ${KIND_TEXT}) {
      if (end - at < 5) return undefined;
      length = (data[at + 1] << 24) | (data[at + 2] << 16) | (data[at + 3] << 8) | data[at + 4];
      at += 5;
      if (length < 0 || length > end - at) return undefined;
      from = at - textStart;
      at += length;
      v${i} = ${inPlace ? `c${i}(text, from, from + length)` : `c${i}(text.substring(from, from + length))`};
    } else if (kind === ${KIND_NULL}) {
      v${i} = null;
      at += 1;
    } else if (kind === ${KIND_UNCHANGED_TOAST}) {
      v${i} = toast;
      at += 1;
    } else return undefined;`,
  );
  const locals = names.map((_, i) => `v${i}`);
  const body = `'use strict';
  ${names.length === 0 ? '' : `const ${converters.map((_, i) => `c${i} = converters[${i}]`).join(', ')};`}
  return function readTuple(data, at, end, text, textStart, cursor) {
    let kind = 0, length = 0, from = 0${locals.map((local) => `, ${local}`).join('')};
    ${columns.join('\n')}
    cursor.at = at;
    return {${names.map((name, i) => `${JSON.stringify(name)}: v${i}`).join(', ')}};
  };`;
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- see above: names are JSON-quoted
    const factory = new Function('converters', 'toast', body) as (converters: readonly (TextParser | TextRangeParser)[], toast: UnchangedToast) => TupleReader;
    return factory(
      converters.map((c) => c.convert),
      UNCHANGED_TOAST,
    );
  } catch {
    return null;
  }
}
