// Reading a jsonl file back: for tests ("rebuild every table from the file exactly") and for users who
// replay a file into something else.
import { open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { TableKey } from '../../model/table.js';
import type { JsonValue } from '../../protocol/row.js';
import { JsonlFormatError, JsonlReplayError } from './errors.js';
import type { JsonlLine, JsonlOp, JsonRowValues } from './format.js';

const READ_CHUNK_BYTES = 1 << 20;

/**
 * Every line of a jsonl file, in order, checked against the format. A last line without its line feed
 * is a write torn by a crash (the target ends every write with a line feed before it fsyncs, so such
 * a line was never acknowledged) and is skipped; any other bad line is a {@link JsonlFormatError}.
 */
export async function readJsonl(path: string): Promise<JsonlLine[]> {
  const lines: JsonlLine[] = [];
  for await (const line of streamJsonl(path)) lines.push(line);
  return lines;
}

/** Like {@link readJsonl}, one line at a time, for files larger than memory. */
export async function* streamJsonl(path: string): AsyncGenerator<JsonlLine> {
  const file = await open(path, 'r');
  try {
    const decoder = new StringDecoder('utf8');
    const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    let carry = '';
    let lineNumber = 0;
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      const text = carry + decoder.write(buffer.subarray(0, bytesRead));
      let start = 0;
      for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
        lineNumber++;
        if (end > start) yield parseJsonlLine(text.slice(start, end), lineNumber, path);
        start = end + 1;
      }
      carry = text.slice(start);
    }
    // `carry` (plus what the decoder still holds) is a torn last line, if anything: skipped.
  } finally {
    await file.close();
  }
}

const OPS: ReadonlySet<string> = new Set<JsonlOp>(['reset', 'schema', 'baseline', 'baseline_complete', 'insert', 'update', 'delete', 'truncate', 'message']);

/** One line of a jsonl file, checked against the format. `lineNumber` and `file` name it in errors. */
export function parseJsonlLine(text: string, lineNumber = 1, file = 'jsonl'): JsonlLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new JsonlFormatError(file, lineNumber, `not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const fail = (problem: string): never => {
    throw new JsonlFormatError(file, lineNumber, problem);
  };
  if (!isObject(value)) return fail('not a JSON object');
  const op = value.op;
  if (typeof op !== 'string' || !OPS.has(op)) return fail(`unknown op ${JSON.stringify(op)}`);
  const expect = (field: string, check: (v: unknown) => boolean, what: string, optional = false): void => {
    const v = value[field];
    if (v === undefined && optional) return;
    if (!check(v)) fail(`"${field}" of a ${op} line must be ${what}${v === undefined ? ', and is missing' : ''}`);
  };
  expect('source', isString, 'a string');
  if (op !== 'message') expect('table', isString, 'a string');
  const commitFields = (optional: boolean): void => {
    expect('commit_lsn', isLsnText, 'an LSN like "0/16B3748"', optional);
    expect('commit_time', isString, 'an ISO-8601 string', optional);
  };
  switch (op) {
    case 'schema':
      expect('relation_id', isCount, 'a non-negative integer');
      expect('replica_identity', isString, 'a string');
      expect('columns', isColumnList, 'an array of {name, type_oid, type_mod, key}');
      expect('key', isStringList, 'an array of column names');
      commitFields(true);
      break;
    case 'baseline':
      expect('row', isObject, 'an object');
      break;
    case 'baseline_complete':
      expect('rows', isCount, 'a non-negative integer');
      break;
    case 'insert':
    case 'update':
    case 'delete':
    case 'truncate':
      expect('lsn', isLsnText, 'an LSN like "0/16B3748"');
      expect('xid', isCount, 'a non-negative integer');
      commitFields(false);
      if (op === 'insert' || op === 'update') {
        expect('row', isObject, 'an object');
        expect('unchanged', isStringList, 'an array of column names', true);
      }
      if (op === 'update') expect('old', isObject, 'an object', true);
      if (op === 'delete') expect('old', isObject, 'an object');
      if (op === 'update' || op === 'delete') expect('old_unchanged', isStringList, 'an array of column names', true);
      if (op === 'truncate') {
        expect('cascade', isBoolean, 'a boolean');
        expect('restart_identity', isBoolean, 'a boolean');
      }
      break;
    case 'message':
      expect('lsn', isLsnText, 'an LSN like "0/16B3748"');
      expect('transactional', isBoolean, 'a boolean');
      expect('xid', isCount, 'a non-negative integer', true);
      expect('prefix', isString, 'a string');
      expect('content', (v) => typeof v === 'string' && /^\\x(?:[0-9a-f]{2})*$/.test(v), 'bytea hex text like "\\\\x0102"');
      commitFields(true);
      break;
  }
  return value as unknown as JsonlLine;
}

/** A table rebuilt from a jsonl file: rows keyed by the JSON of their key values. */
export type RebuiltTable = Map<string, JsonRowValues>;

export interface RebuildOptions {
  /** Only lines of this source (a file may hold several). Default every line. */
  readonly source?: string;
}

/**
 * Replays jsonl lines into tables: reset empties a table, baseline and insert put a row, update
 * replaces it (taking unchanged TOASTed columns from the stored row, and moving it when its key
 * changed), delete removes it, truncate empties the table. Rows are keyed by the table's key columns
 * (from its schema line; the whole row when it has none) as `JSON.stringify([values...])`. A table
 * reset or baselined with zero rows is present and empty.
 *
 * Replaying a transaction again (a crash between writing it and acknowledging it makes PostgreSQL
 * send it again) gives the same tables, because every line sets or removes whole rows.
 */
export function rebuildTables(lines: Iterable<JsonlLine>, options: RebuildOptions = {}): Map<TableKey, RebuiltTable> {
  const tables = new Map<TableKey, RebuiltTable>();
  const keys = new Map<TableKey, readonly string[]>();
  // Rows an update left without some unchanged TOASTed columns because the row was not there. That
  // happens legitimately when transactions are replayed a second time (the row was deleted later in
  // the first pass, and will be again); a row still incomplete at the end is an error.
  const incomplete = new Map<TableKey, Map<string, MissingColumns>>();
  const rowsOf = (table: TableKey): RebuiltTable => {
    let rows = tables.get(table);
    if (rows === undefined) {
      rows = new Map();
      tables.set(table, rows);
    }
    return rows;
  };
  const keyOf = (table: TableKey, row: JsonRowValues): string => rowKey(keys.get(table), row);
  const setRow = (table: TableKey, key: string, row: JsonRowValues, missing?: MissingColumns): void => {
    rowsOf(table).set(key, row);
    if (missing !== undefined) {
      let byKey = incomplete.get(table);
      if (byKey === undefined) incomplete.set(table, (byKey = new Map<string, MissingColumns>()));
      byKey.set(key, missing);
    } else incomplete.get(table)?.delete(key);
  };
  const deleteRow = (table: TableKey, key: string): void => {
    rowsOf(table).delete(key);
    incomplete.get(table)?.delete(key);
  };
  const clear = (table: TableKey): void => {
    rowsOf(table).clear();
    incomplete.delete(table);
  };
  let index = -1;
  for (const line of lines) {
    index++;
    if (options.source !== undefined && line.source !== options.source) continue;
    switch (line.op) {
      case 'schema': {
        const previous = keys.get(line.table);
        keys.set(line.table, line.key);
        const rows = tables.get(line.table);
        // A new key (say a primary key added under replica identity full): re-key what is stored.
        if (rows !== undefined && rows.size > 0 && !sameList(previous, line.key)) {
          const rekeyed: RebuiltTable = new Map();
          for (const row of rows.values()) rekeyed.set(keyOf(line.table, row), row);
          tables.set(line.table, rekeyed);
          incomplete.delete(line.table);
        }
        break;
      }
      case 'reset':
      case 'truncate':
        clear(line.table);
        break;
      case 'baseline':
      case 'insert':
        setRow(line.table, keyOf(line.table, line.row), line.row);
        break;
      case 'baseline_complete':
        rowsOf(line.table);
        break;
      case 'update': {
        const rows = rowsOf(line.table);
        const unchanged = line.unchanged ?? [];
        const oldKey = line.old === undefined ? keyOfUpdated(keys.get(line.table), line.row, unchanged, line.table, index) : keyOf(line.table, line.old);
        let row = line.row;
        let missing: MissingColumns | undefined;
        if (unchanged.length > 0) {
          const stored = rows.get(oldKey);
          row = mergeUnchanged(line.row, stored ?? {}, unchanged);
          const absent = unchanged.filter((column) => !(column in row));
          const inherited = incomplete.get(line.table)?.get(oldKey);
          if (absent.length > 0) missing = { index: inherited?.index ?? index, columns: absent };
        }
        const newKey = keyOf(line.table, row);
        if (newKey !== oldKey) deleteRow(line.table, oldKey);
        setRow(line.table, newKey, row, missing);
        break;
      }
      case 'delete':
        deleteRow(line.table, keyOf(line.table, line.old));
        break;
      case 'message':
        break;
    }
  }
  for (const [table, byKey] of incomplete) {
    for (const [key, { index: at, columns }] of byKey) {
      throw new JsonlReplayError(table, at, `the row with key ${key} keeps unchanged TOASTed column(s) ${columns.join(', ')} but no earlier line gave their values`);
    }
  }
  return tables;
}

/** Unchanged TOASTed columns a row lacks, and the line that first left them out. */
interface MissingColumns {
  readonly index: number;
  readonly columns: readonly string[];
}

/** The key of a row: the JSON of its key columns' values in key order, or of the whole row without a key. */
export function rowKey(keyColumns: readonly string[] | undefined, row: JsonRowValues): string {
  if (keyColumns === undefined || keyColumns.length === 0) return JSON.stringify(Object.values(row));
  return JSON.stringify(keyColumns.map((column) => row[column] ?? null));
}

function keyOfUpdated(keyColumns: readonly string[] | undefined, row: JsonRowValues, unchanged: readonly string[], table: string, index: number): string {
  // Without an old key the key did not change, so the new row's key columns find the stored row; a key
  // column that is itself an unchanged TOASTed value (a key over 2 kB) leaves nothing to find it by.
  const missing = (keyColumns ?? []).filter((column) => unchanged.includes(column));
  if (missing.length > 0) throw new JsonlReplayError(table, index, `key column(s) ${missing.join(', ')} are unchanged TOASTed values`);
  if ((keyColumns === undefined || keyColumns.length === 0) && unchanged.length > 0) {
    throw new JsonlReplayError(table, index, 'a table without key columns has an update with unchanged TOASTed columns');
  }
  return rowKey(keyColumns, row);
}

/** The new row with the unchanged columns taken from the stored one, in the stored row's column order. */
function mergeUnchanged(row: JsonRowValues, stored: JsonRowValues, unchanged: readonly string[]): JsonRowValues {
  const merged: Record<string, JsonValue> = {};
  for (const column of Object.keys(stored)) {
    if (column in row) merged[column] = row[column]!;
    else if (unchanged.includes(column)) merged[column] = stored[column]!;
  }
  for (const column of Object.keys(row)) if (!(column in merged)) merged[column] = row[column]!;
  return merged;
}

function sameList(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((value, index) => value === b[index]);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): boolean {
  return typeof value === 'string';
}

function isBoolean(value: unknown): boolean {
  return typeof value === 'boolean';
}

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isLsnText(value: unknown): boolean {
  return typeof value === 'string' && /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/.test(value);
}

function isStringList(value: unknown): boolean {
  return Array.isArray(value) && value.every(isString);
}

function isColumnList(value: unknown): boolean {
  return (
    Array.isArray(value) &&
    value.every(
      (column) =>
        isObject(column) &&
        isString(column.name) &&
        typeof column.type_oid === 'number' &&
        typeof column.type_mod === 'number' &&
        isBoolean(column.key),
    )
  );
}
