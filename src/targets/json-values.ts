// Column values → JSON, shared by the jsonl and http-sync targets so a row has one JSON form whatever
// the transport. The rules keep every value lossless (docs/targets.md has the table):
// - numbers JSON can carry exactly stay numbers; NaN, Infinity, -Infinity and -0 (float4/float8 can
//   hold them, JSON numbers cannot) become the strings PostgreSQL prints, so `Number(text)` restores
//   them;
// - bigint (int8 on request) becomes its decimal string, like int8 and numeric by default;
// - bytea (a Buffer) becomes PostgreSQL's hex text `\x0102…`;
// - arrays stay arrays and objects stay objects (json/jsonb, structured types), converted all the way
//   down by the same rules;
// - an unchanged TOASTed column (UNCHANGED_TOAST) is not a value at all: it is left out of the row and
//   named in `unchanged`, because the receiver must keep the value it has.
import { LaredoError } from '../errors.js';
import type { TableKey, TableSchema } from '../model/table.js';
import { isUnchangedToast, type JsonValue, type PgValue, type Row } from '../protocol/row.js';

/** A row as JSON: the columns that carry a value, and the unchanged TOASTed ones by name. */
export interface JsonRow {
  readonly values: Readonly<Record<string, JsonValue>>;
  /** Columns PostgreSQL did not send because their TOASTed value did not change; empty when none. */
  readonly unchanged: readonly string[];
}

/** A column of a table as the targets describe it to a reader or a receiver. */
export interface JsonColumn {
  readonly name: string;
  readonly type_oid: number;
  /** atttypmod, -1 when none (e.g. varchar(20) → 24, numeric(10,2) → 655366). */
  readonly type_mod: number;
  /** Part of the replica identity (primary key by default). */
  readonly key: boolean;
}

/**
 * A value could not be written as JSON: something that is not a column value (a function, a symbol,
 * `undefined`, a cycle) or the unchanged-TOAST marker where a value is required. This is a bug upstream
 * of the target, so it is never retryable.
 */
export class UnencodableValueError extends LaredoError {
  declare readonly code: 'UNENCODABLE_VALUE';
  readonly problem: string;
  readonly table: TableKey | undefined;
  readonly column: string | undefined;

  constructor(problem: string, table?: TableKey, column?: string) {
    const where = table === undefined ? '' : ` in ${table}${column === undefined ? '' : `.${column}`}`;
    super(
      'UNENCODABLE_VALUE',
      `laredo: cannot write a value${where} as JSON: ${problem}. Column values must be what the pgoutput ` +
        `decoder produces (null, boolean, number, string, bigint, Buffer, arrays, json); report this as a bug.`,
      { retryable: false },
    );
    this.problem = problem;
    this.table = table;
    this.column = column;
  }
}

/**
 * Deeper than any json/jsonb document PostgreSQL accepts under its default max_stack_depth; a value
 * nested deeper is a cycle or garbage, and refusing it beats a stack overflow.
 */
const MAX_DEPTH = 2000;

/** A number as JSON: itself when JSON can carry it exactly, else the text PostgreSQL prints. */
export function jsonNumber(value: number): number | string {
  if (Number.isFinite(value)) return Object.is(value, -0) ? '-0' : value;
  return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
}

/** bytea as PostgreSQL's hex output format, `\x` followed by two lower-case hex digits per byte. */
export function byteaHex(bytes: Uint8Array): string {
  return `\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
}

/**
 * One column value as JSON (see the rules at the top of this file). Returns the very same object when
 * nothing in it needs converting, so parsed json/jsonb documents are not copied.
 */
export function jsonValue(value: PgValue): JsonValue {
  return convert(value, 0);
}

function convert(value: unknown, depth: number): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return jsonNumber(value);
    case 'bigint':
      return value.toString();
    case 'object':
      if (value === null) return null;
      if (depth >= MAX_DEPTH) throw new UnencodableValueError(`nested deeper than ${MAX_DEPTH} levels (a cycle?)`);
      if (Array.isArray(value)) return convertArray(value, depth + 1);
      if (value instanceof Uint8Array) return byteaHex(value);
      if (value instanceof Date) {
        // laredo never produces Dates (they keep only milliseconds); a user transform might.
        if (Number.isNaN(value.getTime())) throw new UnencodableValueError('an invalid Date');
        return value.toISOString();
      }
      return convertObject(value as Record<string, unknown>, depth + 1);
    case 'symbol':
      throw new UnencodableValueError(
        isUnchangedToast(value) ? 'the unchanged-TOAST marker inside a value (it may only stand for a whole column)' : 'a symbol',
      );
    default:
      throw new UnencodableValueError(typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`);
  }
}

function convertArray(array: readonly unknown[], depth: number): JsonValue[] {
  let copy: JsonValue[] | undefined;
  for (let index = 0; index < array.length; index++) {
    const element = array[index];
    const converted = convert(element, depth);
    if (copy === undefined && converted !== element) copy = array.slice(0, index) as JsonValue[];
    if (copy !== undefined) copy.push(converted);
  }
  return copy ?? (array as JsonValue[]);
}

function convertObject(object: Record<string, unknown>, depth: number): { [key: string]: JsonValue } {
  let copy: Record<string, JsonValue> | undefined;
  for (const key of Object.keys(object)) {
    const element = object[key];
    const converted = convert(element, depth);
    if (copy === undefined && converted !== element) {
      copy = {};
      for (const earlier of Object.keys(object)) {
        if (earlier === key) break;
        copy[earlier] = object[earlier] as JsonValue;
      }
    }
    if (copy !== undefined) copy[key] = converted;
  }
  return copy ?? (object as Record<string, JsonValue>);
}

const NO_UNCHANGED: readonly string[] = Object.freeze([]);

/**
 * A row as JSON. The hot path of both targets: a row of strings, booleans, nulls and plain numbers (most
 * rows) is returned as is, without a copy; the first value that needs converting starts one.
 */
export function jsonRow(row: Row, table?: TableKey): JsonRow {
  let values: Record<string, JsonValue> | undefined;
  let unchanged: string[] | undefined;
  for (const column in row) {
    const value = row[column];
    if (typeof value === 'string' || typeof value === 'boolean' || value === null) {
      if (values !== undefined) values[column] = value;
      continue;
    }
    if (typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0)) {
      if (values !== undefined) values[column] = value;
      continue;
    }
    values ??= copyBefore(row, column);
    if (isUnchangedToast(value)) {
      (unchanged ??= []).push(column);
      continue;
    }
    try {
      values[column] = convert(value, 0);
    } catch (error) {
      if (error instanceof UnencodableValueError) throw new UnencodableValueError(error.problem, table, column);
      throw error;
    }
  }
  return { values: values ?? (row as Record<string, JsonValue>), unchanged: unchanged ?? NO_UNCHANGED };
}

function copyBefore(row: Row, stop: string): Record<string, JsonValue> {
  const copy: Record<string, JsonValue> = {};
  for (const column in row) {
    if (column === stop) break;
    copy[column] = row[column] as JsonValue;
  }
  return copy;
}

/** The columns of `table` as JSON. */
export function jsonColumns(table: TableSchema): JsonColumn[] {
  return table.columns.map((column) => ({ name: column.name, type_oid: column.typeOid, type_mod: column.typeMod, key: column.isKey }));
}

/**
 * True when two schemas describe the same shape (the decoder may build a new object for an unchanged
 * Relation message). Cheap when they are the same object, which is the common case.
 */
export function sameShape(a: TableSchema | undefined, b: TableSchema): boolean {
  if (a === b) return true;
  if (a === undefined) return false;
  if (a.key !== b.key || a.relationId !== b.relationId || a.replicaIdentity !== b.replicaIdentity) return false;
  if (a.columns.length !== b.columns.length || a.keyColumns.length !== b.keyColumns.length) return false;
  for (let index = 0; index < a.columns.length; index++) {
    const x = a.columns[index]!;
    const y = b.columns[index]!;
    if (x.name !== y.name || x.typeOid !== y.typeOid || x.typeMod !== y.typeMod || x.isKey !== y.isKey) return false;
  }
  return a.keyColumns.every((name, index) => name === b.keyColumns[index]);
}

/**
 * The key columns of an old-key tuple. pgoutput sends a `K` tuple with every column, the non-key ones
 * as NULL; the NULLs say nothing about the old row, so they are not written.
 */
export function keyOnly(table: TableSchema, old: Row): Row {
  if (table.keyColumns.length === 0) return old;
  const key: Record<string, Row[string]> = {};
  for (const column of table.keyColumns) if (column in old) key[column] = old[column]!;
  return key;
}
