// JSON text to values, exactly as JSON.parse returns them, but faster for the small values of a json or
// jsonb column. JSON.parse costs about as much as decoding the rest of a typical row, mostly in work
// it does for every value alike: entering the runtime, looking every key up in the string table,
// finding the object's shape key by key. This parser reads the canonical form jsonb_out prints
// (`{"a": 1, "b": [true, null]}`: `": "` after a key, `", "` between members, no other white space,
// no escapes), straight out of a larger string (the text of a whole pgoutput message, so a value
// needs no substring of its own), and remembers the key sequences it has seen: an object whose keys
// come in the same order as last time is matched key by key against the remembered ones and built by
// an object literal compiled once for that sequence. Anything else (escapes, other white space, deep
// nesting, long text, invalid JSON) goes to JSON.parse, so the result, or the SyntaxError, is always
// JSON.parse's.
import type { JsonValue } from './row.js';

/** Longer values go straight to JSON.parse: its per-call overhead no longer matters, and nothing large is cached. */
const MAX_LENGTH = 4096;
/** Deeper nesting goes to JSON.parse (this parser recurses). */
const MAX_DEPTH = 32;
/** Objects with more keys go to JSON.parse (no object literal of that size is compiled). */
const MAX_KEYS = 64;
/** Key sequences remembered at most; then they are forgotten and learnt again. */
const MAX_SHAPES = 2048;

type Builder = (values: readonly JsonValue[], base: number) => { [key: string]: JsonValue };

/** A sequence of keys (the path from the root), what followed it last time, and how to build an object of exactly these keys. */
interface Shape {
  readonly keys: readonly string[];
  /** The text that leads here from the previous shape, `"key": ` (empty for the root), as UTF-16 code units. */
  readonly token: readonly number[];
  /** The shape the key that followed this sequence last time made: objects mostly repeat. */
  next: Shape | undefined;
  children: Map<string, Shape> | undefined;
  /** Compiled on first use; null where code generation from strings is disallowed. */
  build: Builder | null | undefined;
}

function shape(keys: readonly string[], token: readonly number[]): Shape {
  return { keys, token, next: undefined, children: undefined, build: undefined };
}

/** The UTF-16 code units of `text`: comparing with numbers reads one string instead of two. */
function codeUnits(text: string): number[] {
  const units: number[] = [];
  for (let i = 0; i < text.length; i++) units.push(text.charCodeAt(i));
  return units;
}

let root = shape([], []);
let shapes = 0;

/**
 * An object literal with the keys written out, so V8 gives the object its final shape at once. Keys
 * go in as JSON string literals, which are valid JavaScript string literals: no key can inject code.
 * `__proto__` never gets here (as a literal key it would set the prototype; JSON.parse makes it an
 * own property).
 */
function compile(keys: readonly string[]): Builder | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- see above: keys are JSON-quoted
    return new Function('v', 'b', `return {${keys.map((key, i) => `${JSON.stringify(key)}: v[b + ${i}]`).join(', ')}};`) as Builder;
  } catch {
    return null;
  }
}

// The value being parsed: module state instead of a parser object, so nothing is allocated per call.
// Parsing is synchronous and calls nothing that could parse again.
let text = '';
let pos = 0;
let end = 0;
let depth = 0;
/** Set when the text leaves the fast subset: the caller then hands it to JSON.parse. */
let failed = false;
/** Values of the objects being parsed, innermost last. */
const stack: JsonValue[] = [];
let sp = 0;

/**
 * `JSON.parse(source.slice(start, end))`, the same value or the same SyntaxError, without the slice
 * and mostly without JSON.parse. Strings in the result may share memory with `source`.
 */
export function parseJson(source: string, start = 0, stop = source.length): JsonValue {
  if (stop - start <= MAX_LENGTH) {
    text = source;
    pos = start;
    end = stop;
    depth = 0;
    failed = false;
    sp = 0;
    const value = parseValue();
    text = '';
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- parseValue sets `failed`
    if (!failed && pos === stop) return value;
  }
  return JSON.parse(start === 0 && stop === source.length ? source : source.slice(start, stop)) as JsonValue;
}

function fail(): null {
  failed = true;
  return null;
}

function parseValue(): JsonValue {
  if (pos >= end) return fail();
  const c = text.charCodeAt(pos);
  if (c === 0x22 /* " */) return parseString();
  if (c === 0x7b /* { */) return parseObject();
  if (c === 0x5b /* [ */) return parseArray();
  if ((c >= 0x30 && c <= 0x39) || c === 0x2d /* - */) return parseNumber();
  if (c === 0x74 /* t */) return literal('true', true);
  if (c === 0x66 /* f */) return literal('false', false);
  if (c === 0x6e /* n */) return literal('null', null);
  return fail();
}

function literal(word: string, value: boolean | null): JsonValue {
  const length = word.length;
  if (end - pos < length) return fail();
  for (let i = 1; i < length; i++) if (text.charCodeAt(pos + i) !== word.charCodeAt(i)) return fail();
  pos += length;
  return value;
}

/** A string without escapes: the characters between the quotes. */
function parseString(): JsonValue {
  const start = pos + 1;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      pos = i + 1;
      return text.substring(start, i);
    }
    // An escape goes to JSON.parse; a raw control character is invalid JSON.
    if (c === 0x5c /* \ */ || c < 0x20) return fail();
  }
  return fail();
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Integers of up to 15 digits are summed up exactly (below 2^53, so the double JSON.parse makes is
 * the same number); anything else is checked against the JSON grammar and converted by Number(),
 * which rounds decimal text to a double exactly as JSON.parse does.
 */
function parseNumber(): JsonValue {
  const start = pos;
  let i = pos;
  if (text.charCodeAt(i) === 0x2d) i++;
  const first = i;
  let value = 0;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (!isDigit(c)) break;
    value = value * 10 + (c - 0x30);
    i++;
  }
  const digits = i - first;
  // No digits, or a leading zero (`01`): invalid, JSON.parse says so.
  if (digits === 0 || (digits > 1 && text.charCodeAt(first) === 0x30)) return fail();
  const next = i < end ? text.charCodeAt(i) : 0;
  if (digits <= 15 && next !== 0x2e /* . */ && next !== 0x65 /* e */ && next !== 0x45 /* E */) {
    pos = i;
    // `-0` is negative zero, as JSON.parse makes it.
    return first === start ? value : -value;
  }
  if (next === 0x2e) {
    i++;
    const fractionStart = i;
    while (i < end && isDigit(text.charCodeAt(i))) i++;
    if (i === fractionStart) return fail();
  }
  if (i < end && (text.charCodeAt(i) === 0x65 || text.charCodeAt(i) === 0x45)) {
    i++;
    if (i < end && (text.charCodeAt(i) === 0x2b /* + */ || text.charCodeAt(i) === 0x2d)) i++;
    const exponentStart = i;
    while (i < end && isDigit(text.charCodeAt(i))) i++;
    if (i === exponentStart) return fail();
  }
  pos = i;
  return Number(text.substring(start, i));
}

/** True when `", "` (or `": "` for `colon`) is at pos; moves past it. */
function separator(mark: number): boolean {
  if (end - pos < 2 || text.charCodeAt(pos) !== mark || text.charCodeAt(pos + 1) !== 0x20) return false;
  pos += 2;
  return true;
}

function parseArray(): JsonValue {
  if (++depth > MAX_DEPTH) return fail();
  pos++;
  const array: JsonValue[] = [];
  if (pos < end && text.charCodeAt(pos) === 0x5d /* ] */) {
    pos++;
    depth--;
    return array;
  }
  for (;;) {
    const value = parseValue();
    if (failed) return null;
    array.push(value);
    if (pos < end && text.charCodeAt(pos) === 0x5d) break;
    if (!separator(0x2c /* , */)) return fail();
  }
  pos++;
  depth--;
  return array;
}

/** Whether `token` is at `at` in `source`, whose character at `at` the caller found to be token's first. */
function tokenAt(source: string, at: number, stop: number, token: readonly number[]): boolean {
  const length = token.length;
  if (stop - at < length) return false;
  for (let i = 1; i < length; i++) if (source.charCodeAt(at + i) !== token[i]) return false;
  return true;
}

const FALSE = codeUnits('false');
const TRUE = codeUnits('true');
const NULL = codeUnits('null');

/**
 * The hot path: an object of scalars in jsonb_out's form, keys as last time. Reads with a local
 * position (module variables are context slots: every access a load, every move a store) and converts
 * strings, small integers and literals inline; anything else (nested values, other numbers, new keys)
 * goes through the general functions, which continue from `pos`.
 */
function parseObject(): JsonValue {
  if (++depth > MAX_DEPTH) return fail();
  const source = text;
  const stop = end;
  let at = pos + 1;
  if (at < stop && source.charCodeAt(at) === 0x7d /* } */) {
    pos = at + 1;
    depth--;
    return {};
  }
  const base = sp;
  let current = root;
  for (;;) {
    if (at >= stop || source.charCodeAt(at) !== 0x22 /* " */) return fail();
    // The key in its quotes and `": "` as one token: objects mostly repeat the last key sequence.
    const next = current.next;
    if (next !== undefined && tokenAt(source, at, stop, next.token)) {
      at += next.token.length;
      current = next;
    } else {
      pos = at;
      const key = parseString();
      if (failed) return null;
      // As a literal key `__proto__` would set the prototype; JSON.parse makes an own property.
      if (key === '__proto__' || current.keys.length >= MAX_KEYS) return fail();
      current = follow(current, key as string);
      if (!separator(0x3a /* : */)) return fail();
      at = pos;
    }
    let value: JsonValue;
    const c = at < stop ? source.charCodeAt(at) : 0;
    if (c === 0x22) {
      let i = at + 1;
      for (;;) {
        if (i >= stop) return fail();
        const s = source.charCodeAt(i);
        if (s === 0x22) break;
        // An escape goes to JSON.parse; a raw control character is invalid JSON.
        if (s === 0x5c /* \ */ || s < 0x20) return fail();
        i++;
      }
      value = source.substring(at + 1, i);
      at = i + 1;
    } else if (c >= 0x31 && c <= 0x39) {
      // A positive integer of up to 15 digits (below 2^53, so exact); anything longer or with a
      // fraction or exponent goes to parseNumber.
      let i = at + 1;
      let n = c - 0x30;
      let s = i < stop ? source.charCodeAt(i) : 0;
      while (s >= 0x30 && s <= 0x39) {
        n = n * 10 + (s - 0x30);
        s = ++i < stop ? source.charCodeAt(i) : 0;
      }
      if (i - at <= 15 && s !== 0x2e /* . */ && s !== 0x65 /* e */ && s !== 0x45 /* E */) {
        value = n;
        at = i;
      } else {
        pos = at;
        value = parseNumber();
        if (failed) return null;
        at = pos;
      }
    } else if (c === 0x66 /* f */ && tokenAt(source, at, stop, FALSE)) {
      value = false;
      at += 5;
    } else if (c === 0x74 /* t */ && tokenAt(source, at, stop, TRUE)) {
      value = true;
      at += 4;
    } else if (c === 0x6e /* n */ && tokenAt(source, at, stop, NULL)) {
      value = null;
      at += 4;
    } else {
      pos = at;
      value = parseValue();
      if (failed) return null;
      at = pos;
    }
    stack[sp++] = value;
    const after = at < stop ? source.charCodeAt(at) : 0;
    if (after === 0x7d) break;
    if (after !== 0x2c /* , */ || at + 1 >= stop || source.charCodeAt(at + 1) !== 0x20) return fail();
    at += 2;
  }
  pos = at + 1;
  depth--;
  let build = current.build;
  if (build === undefined) build = current.build = compile(current.keys);
  if (build === null) return fail();
  const object = build(stack, base);
  sp = base;
  return object;
}

/** The shape `key` leads to from `from`, made and remembered on first sight. */
function follow(from: Shape, key: string): Shape {
  let next = from.children?.get(key);
  if (next === undefined) {
    if (++shapes > MAX_SHAPES) {
      // Too many key sequences (keys that are data, not names): forget them all and learn again.
      // Shapes in use stay valid; they are just no longer reachable from the root.
      root = shape([], []);
      shapes = 1;
    }
    next = shape([...from.keys, key], codeUnits(`"${key}": `));
    (from.children ??= new Map()).set(key, next);
  }
  from.next = next;
  return next;
}
