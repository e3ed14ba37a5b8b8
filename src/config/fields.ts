// Zod building blocks for the config file. Each scalar is parsed by a small function that throws
// `ConfigValueError` with a message that says what is allowed; the block turns that into a zod issue.
// Scalars accept what HOCON's automatic conversions allow (a number written as a string, `yes`/`no` for
// booleans), because values from `${?ENV}` substitutions and environment overrides are always strings.
import { z } from 'zod';
import { parseByteSize } from './byte-size.js';
import { describeInput, describeType } from './describe.js';
import { parseDuration, parseMillis } from './duration.js';
import { ConfigValueError } from './errors.js';
import { didYouMean } from './suggest.js';

/** Parses one value or throws `ConfigValueError`. */
export type ValueParser<T> = (input: unknown) => T;

function parseInto<T>(parse: ValueParser<T>, input: unknown, ctx: z.RefinementCtx): T {
  try {
    return parse(input);
  } catch (error) {
    if (!(error instanceof ConfigValueError)) throw error;
    ctx.addIssue({ code: 'custom', message: error.message });
    return z.NEVER;
  }
}

/** An optional scalar: absent stays undefined. */
export function optional<T>(parse: ValueParser<T>) {
  return z.unknown().optional().transform((input, ctx): T | undefined => (input === undefined ? undefined : parseInto(parse, input, ctx)));
}

/** A scalar that must be present; `hint` says what to write. */
export function required<T>(parse: ValueParser<T>, hint: string) {
  return z.unknown().optional().transform((input, ctx): T => {
    if (input === undefined) {
      ctx.addIssue({ code: 'custom', message: `is required: ${hint}` });
      return z.NEVER;
    }
    return parseInto(parse, input, ctx);
  });
}

/** A scalar with a default applied when absent. */
export function withDefault<T>(parse: ValueParser<T>, fallback: T) {
  return z.unknown().optional().transform((input, ctx): T => (input === undefined ? fallback : parseInto(parse, input, ctx)));
}

/** Marks an unknown key; the message (with "did you mean") is written where the key is known. */
export interface UnknownKeyParams {
  readonly knownKeys: readonly string[];
}

/**
 * An object section with exactly these keys. Every unknown key is its own issue at its own path, with
 * the section's keys attached so the message can suggest the intended one.
 */
export function section<Shape extends z.ZodRawShape>(shape: Shape) {
  const knownKeys = Object.keys(shape);
  return z
    .object(shape, { error: (issue) => expected('an object { ... }', issue.input) })
    .catchall(
      z.unknown().superRefine((_value, ctx) => {
        ctx.addIssue({ code: 'custom', message: 'is not a known key', params: { knownKeys } satisfies UnknownKeyParams });
      }),
    );
}

/** A list of `item`, with at least `minItems` entries. */
export function list<Item extends z.ZodType>(item: Item, minItems = 0, what = 'entry') {
  return z
    .array(item, { error: (issue) => expected('a list [ ... ]', issue.input) })
    .min(minItems, { error: `must have at least ${minItems} ${what}${minItems === 1 ? '' : 's'}` });
}

/** An object whose keys are chosen by the user (`headers`, `publication.tables`). */
export function map<Value extends z.ZodType>(value: Value, what = 'an object { ... }') {
  return z.record(z.string(), value, { error: (issue) => expected(what, issue.input) });
}

function expected(what: string, input: unknown): string {
  return input === undefined ? `is required: ${what}` : `must be ${what} (got ${describeType(input)})`;
}

// ---- scalar parsers ----

export function text(input: unknown): string {
  if (typeof input === 'string') return input;
  // HOCON converts numbers to strings where a string is wanted (`slot_name = 2024`).
  if (typeof input === 'number') return String(input);
  throw new ConfigValueError(`must be a string (got ${describeType(input)})`);
}

export function nonEmptyText(input: unknown): string {
  const value = text(input);
  if (value.trim() === '') throw new ConfigValueError('must not be empty');
  return value;
}

const TRUE = new Set(['true', 'yes', 'on']);
const FALSE = new Set(['false', 'no', 'off']);

export function bool(input: unknown): boolean {
  if (typeof input === 'boolean') return input;
  if (typeof input === 'string') {
    const lower = input.trim().toLowerCase();
    if (TRUE.has(lower)) return true;
    if (FALSE.has(lower)) return false;
  }
  throw new ConfigValueError(`must be true or false (got ${describeInput(input)})`);
}

function numeric(input: unknown): number | undefined {
  if (typeof input === 'number') return input;
  if (typeof input === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(input)) return Number(input);
  return undefined;
}

/** A whole number from `min` to `max`. */
export function integer(min: number, max: number = Number.MAX_SAFE_INTEGER): ValueParser<number> {
  return (input) => {
    const value = numeric(input);
    if (value === undefined || !Number.isInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
      throw new ConfigValueError(`must be a whole number ${range} (got ${describeInput(input)})`);
    }
    return value;
  };
}

/** A number from `min` to `max`. */
export function decimal(min: number, max: number): ValueParser<number> {
  return (input) => {
    const value = numeric(input);
    if (value === undefined || !Number.isFinite(value) || value < min || value > max) {
      throw new ConfigValueError(`must be a number from ${min} to ${max} (got ${describeInput(input)})`);
    }
    return value;
  };
}

/** One of `values`, with a suggestion for a typo. */
export function oneOf<const Value extends string>(values: readonly Value[]): ValueParser<Value> {
  return (input) => {
    if (typeof input === 'string' && (values as readonly string[]).includes(input)) return input as Value;
    const suggestion = typeof input === 'string' ? didYouMean(input, values) : '';
    throw new ConfigValueError(`must be one of ${values.join(', ')} (got ${describeInput(input)})${suggestion}`);
  };
}

export const duration: ValueParser<number> = parseDuration;
export const millis: ValueParser<number> = parseMillis;
export const byteSize: ValueParser<number> = parseByteSize;

/** A value parser restricted further: `check` throws `ConfigValueError` or returns the value. */
export function refine<T, U>(parse: ValueParser<T>, check: (value: T) => U): ValueParser<U> {
  return (input) => check(parse(input));
}
