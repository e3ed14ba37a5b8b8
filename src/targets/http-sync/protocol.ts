// The Laredo HTTP sync protocol: the bodies the http-sync target POSTs (docs/targets.md describes them
// for receiver authors). Types for receivers written in TypeScript, and the encoders the target uses.
import type { TableSchema } from '../../model/table.js';
import { Lsn } from '../../protocol/lsn.js';
import type { JsonValue, Row } from '../../protocol/row.js';
import { jsonColumns, jsonRow, keyOnly, type JsonColumn } from '../json-values.js';

export interface TableRef {
  readonly schema: string;
  readonly table: string;
}

type JsonRowValues = Readonly<Record<string, JsonValue>>;

/** `POST {base_url}/baseline/start`: drop what you hold of `table`; a full baseline follows. */
export interface BaselineStartBody {
  readonly source: string;
  readonly table: TableRef;
  readonly columns: readonly JsonColumn[];
  readonly key: readonly string[];
}

/** `POST {base_url}/baseline/batch`: rows of the baseline, at most batch_size. */
export interface BaselineBatchBody {
  readonly source: string;
  readonly table: TableRef;
  readonly rows: readonly JsonRowValues[];
}

/** `POST {base_url}/baseline/complete`: every row of the baseline was sent (`row_count` in all). */
export interface BaselineCompleteBody {
  readonly source: string;
  readonly table: TableRef;
  readonly row_count: number;
}

export type ChangeAction = 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE';

export interface ChangeEntry {
  readonly action: ChangeAction;
  /** Start LSN of the change's WAL record. */
  readonly lsn: string;
  readonly xid: number;
  /** LSN of the commit record of the change's transaction: increases with commit order. */
  readonly commit_lsn: string;
  readonly commit_time: string;
  /** INSERT, UPDATE: the new row without its unchanged TOASTed columns. */
  readonly columns?: JsonRowValues;
  /** INSERT, UPDATE: columns whose (TOASTed) value did not change: keep what you have. */
  readonly unchanged?: readonly string[];
  /** UPDATE, DELETE: which row: old key columns, or the whole old row under REPLICA IDENTITY FULL. */
  readonly identity?: JsonRowValues;
  readonly identity_unchanged?: readonly string[];
  /** TRUNCATE */
  readonly cascade?: boolean;
  readonly restart_identity?: boolean;
}

/** `POST {base_url}/changes`: committed changes of one table, in commit order. */
export interface ChangesBody {
  readonly source: string;
  readonly table: TableRef;
  /** The key columns that identify a row of the table. */
  readonly key: readonly string[];
  /** The table's columns, present the first time the table's changes are sent and whenever it changed shape. */
  readonly columns?: readonly JsonColumn[];
  readonly changes: readonly ChangeEntry[];
}

/** Encodes request bodies for one source. Change entries are built open (see `commitFields`). */
export class HttpSyncEncoder {
  readonly #sourceJson: string;
  readonly #heads = new WeakMap<TableSchema, string>();

  constructor(source: string) {
    this.#sourceJson = JSON.stringify(source);
  }

  baselineStart(table: TableSchema): string {
    return `${this.#head(table)},"columns":${JSON.stringify(jsonColumns(table))},"key":${JSON.stringify(table.keyColumns)}}`;
  }

  /** `rows` are JSON texts of rows (see `row`). */
  baselineBatch(table: TableSchema, rows: readonly string[]): string {
    return `${this.#head(table)},"rows":[${rows.join(',')}]}`;
  }

  baselineComplete(table: TableSchema, rowCount: number): string {
    return `${this.#head(table)},"row_count":${rowCount}}`;
  }

  /** `entries` are closed change entries (open entry + commit fields). */
  changes(table: TableSchema, announceColumns: boolean, entries: readonly string[]): string {
    const columns = announceColumns ? `,"columns":${JSON.stringify(jsonColumns(table))}` : '';
    return `${this.#head(table)},"key":${JSON.stringify(table.keyColumns)}${columns},"changes":[${entries.join(',')}]}`;
  }

  row(table: TableSchema, row: Row): string {
    return JSON.stringify(jsonRow(row, table.key).values);
  }

  openInsert(table: TableSchema, lsn: Lsn, xid: number, row: Row): string {
    return `${changeHead('INSERT', lsn, xid)},${rowFields('columns', 'unchanged', row, table)}`;
  }

  openUpdate(table: TableSchema, lsn: Lsn, xid: number, row: Row, old: Row | undefined, oldKind: 'key' | 'full' | undefined): string {
    let entry = `${changeHead('UPDATE', lsn, xid)},${rowFields('columns', 'unchanged', row, table)}`;
    const identity = old === undefined ? identityFromRow(table, row) : oldKind === 'full' ? old : keyOnly(table, old);
    if (identity !== undefined) entry += `,${rowFields('identity', 'identity_unchanged', identity, table)}`;
    return entry;
  }

  openDelete(table: TableSchema, lsn: Lsn, xid: number, old: Row, oldKind: 'key' | 'full'): string {
    return `${changeHead('DELETE', lsn, xid)},${rowFields('identity', 'identity_unchanged', oldKind === 'full' ? old : keyOnly(table, old), table)}`;
  }

  openTruncate(lsn: Lsn, xid: number, cascade: boolean, restartIdentity: boolean): string {
    return `${changeHead('TRUNCATE', lsn, xid)},"cascade":${cascade},"restart_identity":${restartIdentity}`;
  }

  #head(table: TableSchema): string {
    let head = this.#heads.get(table);
    if (head === undefined) {
      head = `{"source":${this.#sourceJson},"table":${JSON.stringify({ schema: table.schema, table: table.name })}`;
      this.#heads.set(table, head);
    }
    return head;
  }
}

/** `,"commit_lsn":…,"commit_time":…}`: closes an open change entry at its transaction's commit. */
export function commitFields(commitLsn: Lsn, commitTime: string): string {
  return `,"commit_lsn":"${Lsn.format(commitLsn)}","commit_time":${JSON.stringify(commitTime)}}`;
}

function changeHead(action: ChangeAction, lsn: Lsn, xid: number): string {
  return `{"action":"${action}","lsn":"${Lsn.format(lsn)}","xid":${xid}`;
}

function rowFields(valuesField: string, unchangedField: string, row: Row, table: TableSchema): string {
  const { values, unchanged } = jsonRow(row, table.key);
  const text = `"${valuesField}":${JSON.stringify(values)}`;
  return unchanged.length === 0 ? text : `${text},"${unchangedField}":${JSON.stringify(unchanged)}`;
}

/**
 * An update without an old tuple did not change the key: the new row's key columns identify it. None
 * when the table has no key, or a key column is an unchanged TOASTed value (not in the row).
 */
function identityFromRow(table: TableSchema, row: Row): Row | undefined {
  if (table.keyColumns.length === 0) return undefined;
  const key: Record<string, Row[string]> = {};
  for (const column of table.keyColumns) {
    const value = row[column];
    if (value === undefined || typeof value === 'symbol') return undefined;
    key[column] = value;
  }
  return key;
}
