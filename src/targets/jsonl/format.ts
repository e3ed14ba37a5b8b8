// The jsonl file format: one JSON object per line, each with an `op`. docs/targets.md describes it for
// readers; these are the types a reader gets and the encoders the target writes with.
import type { TableKey, TableSchema } from '../../model/table.js';
import { Lsn } from '../../protocol/lsn.js';
import type { JsonValue, Row } from '../../protocol/row.js';
import { jsonColumns, jsonRow, keyOnly, type JsonColumn } from '../json-values.js';

export type JsonRowValues = Readonly<Record<string, JsonValue>>;

/** Fields of every line that stands for part of a committed transaction. */
export interface CommitFields {
  /** LSN of the transaction's commit record: increases with commit order, so it orders and dedupes. */
  readonly commit_lsn: string;
  /** ISO-8601 UTC with microseconds. */
  readonly commit_time: string;
}

export interface ResetLine {
  readonly op: 'reset';
  readonly source: string;
  readonly table: TableKey;
}

/** Written before the first line of a table, and again whenever its shape changes. */
export interface SchemaLine extends Partial<CommitFields> {
  readonly op: 'schema';
  readonly source: string;
  readonly table: TableKey;
  readonly relation_id: number;
  readonly replica_identity: string;
  readonly columns: readonly JsonColumn[];
  /** Key column names in column order: what identifies a row of this table. */
  readonly key: readonly string[];
}

export interface BaselineLine {
  readonly op: 'baseline';
  readonly source: string;
  readonly table: TableKey;
  readonly row: JsonRowValues;
}

export interface BaselineCompleteLine {
  readonly op: 'baseline_complete';
  readonly source: string;
  readonly table: TableKey;
  readonly rows: number;
}

interface ChangeLineBase extends CommitFields {
  readonly source: string;
  readonly table: TableKey;
  /** Start LSN of the change's WAL record. */
  readonly lsn: string;
  readonly xid: number;
}

export interface InsertLine extends ChangeLineBase {
  readonly op: 'insert';
  readonly row: JsonRowValues;
  readonly unchanged?: readonly string[];
}

export interface UpdateLine extends ChangeLineBase {
  readonly op: 'update';
  /** The new row, without the unchanged TOASTed columns (named in `unchanged`). */
  readonly row: JsonRowValues;
  readonly unchanged?: readonly string[];
  /** The old key columns (when the key changed) or the whole old row (REPLICA IDENTITY FULL). */
  readonly old?: JsonRowValues;
  readonly old_unchanged?: readonly string[];
}

export interface DeleteLine extends ChangeLineBase {
  readonly op: 'delete';
  readonly old: JsonRowValues;
  readonly old_unchanged?: readonly string[];
}

export interface TruncateLine extends ChangeLineBase {
  readonly op: 'truncate';
  readonly cascade: boolean;
  readonly restart_identity: boolean;
}

/** A logical decoding message (`pg_logical_emit_message`), when the source asks for them. */
export interface MessageLine extends Partial<CommitFields> {
  readonly op: 'message';
  readonly source: string;
  readonly lsn: string;
  readonly transactional: boolean;
  readonly xid?: number;
  readonly prefix: string;
  /** The content as bytea hex text, `\x…`. */
  readonly content: string;
}

export type ChangeLine = InsertLine | UpdateLine | DeleteLine | TruncateLine;
export type JsonlLine = ResetLine | SchemaLine | BaselineLine | BaselineCompleteLine | ChangeLine | MessageLine;
export type JsonlOp = JsonlLine['op'];

/** `,"commit_lsn":…,"commit_time":…}\n`: closes every open line of a transaction at its commit. */
export function commitSuffix(commitLsn: Lsn, commitTime: string): string {
  return `,"commit_lsn":"${Lsn.format(commitLsn)}","commit_time":${JSON.stringify(commitTime)}}\n`;
}

/**
 * Encodes lines for one source. Lines of a transaction are built "open" (without their closing brace)
 * so the commit fields, known only at the commit, are appended without parsing them again, even after
 * they went through a temporary file.
 */
export class JsonlEncoder {
  readonly #sourceJson: string;
  readonly #heads = new Map<string, string>();
  readonly #schemaBodies = new WeakMap<TableSchema, string>();

  constructor(source: string) {
    this.#sourceJson = JSON.stringify(source);
  }

  reset(table: TableKey): string {
    return `${this.#head('reset', table)}}\n`;
  }

  schema(table: TableSchema): string {
    return `${this.openSchema(table)}}\n`;
  }

  /** A schema line inside a transaction: it gets the transaction's commit fields. */
  openSchema(table: TableSchema): string {
    let body = this.#schemaBodies.get(table);
    if (body === undefined) {
      body =
        `,"relation_id":${table.relationId},"replica_identity":${JSON.stringify(table.replicaIdentity)}` +
        `,"columns":${JSON.stringify(jsonColumns(table))},"key":${JSON.stringify(table.keyColumns)}`;
      this.#schemaBodies.set(table, body);
    }
    return this.#head('schema', table.key) + body;
  }

  /** Every row of a baseline batch, each line ending with a line feed. */
  baselineRows(table: TableSchema, rows: readonly Row[]): string {
    const head = `${this.#head('baseline', table.key)},"row":`;
    let text = '';
    for (const row of rows) text += `${head}${JSON.stringify(jsonRow(row, table.key).values)}}\n`;
    return text;
  }

  baselineComplete(table: TableSchema, rows: number): string {
    return `${this.#head('baseline_complete', table.key)},"rows":${rows}}\n`;
  }

  openInsert(table: TableSchema, lsn: Lsn, xid: number, row: Row): string {
    return this.#changeHead('insert', table, lsn, xid) + rowFields('row', 'unchanged', row, table.key);
  }

  openUpdate(table: TableSchema, lsn: Lsn, xid: number, row: Row, old: Row | undefined, oldKind: 'key' | 'full' | undefined): string {
    let line = this.#changeHead('update', table, lsn, xid) + rowFields('row', 'unchanged', row, table.key);
    if (old !== undefined) line += `,${rowFields('old', 'old_unchanged', oldKind === 'full' ? old : keyOnly(table, old), table.key)}`;
    return line;
  }

  openDelete(table: TableSchema, lsn: Lsn, xid: number, old: Row, oldKind: 'key' | 'full'): string {
    return this.#changeHead('delete', table, lsn, xid) + rowFields('old', 'old_unchanged', oldKind === 'full' ? old : keyOnly(table, old), table.key);
  }

  openTruncate(table: TableSchema, lsn: Lsn, xid: number, cascade: boolean, restartIdentity: boolean): string {
    return `${this.#changeHead('truncate', table, lsn, xid)}"cascade":${cascade},"restart_identity":${restartIdentity}`;
  }

  /** A message line, open when transactional (it waits for the commit like the rows around it). */
  message(lsn: Lsn, transactional: boolean, xid: number | undefined, prefix: string, content: Buffer): string {
    const line =
      `{"op":"message","source":${this.#sourceJson},"lsn":"${Lsn.format(lsn)}","transactional":${transactional}` +
      `${xid === undefined ? '' : `,"xid":${xid}`},"prefix":${JSON.stringify(prefix)},"content":"\\\\x${content.toString('hex')}"`;
    return transactional ? line : `${line}}\n`;
  }

  #head(op: string, table: TableKey): string {
    const cacheKey = `${op}\u0000${table}`;
    let head = this.#heads.get(cacheKey);
    if (head === undefined) {
      head = `{"op":"${op}","source":${this.#sourceJson},"table":${JSON.stringify(table)}`;
      this.#heads.set(cacheKey, head);
    }
    return head;
  }

  #changeHead(op: string, table: TableSchema, lsn: Lsn, xid: number): string {
    return `${this.#head(op, table.key)},"lsn":"${Lsn.format(lsn)}","xid":${xid},`;
  }
}

function rowFields(valuesField: string, unchangedField: string, row: Row, table: TableKey): string {
  const { values, unchanged } = jsonRow(row, table);
  const text = `"${valuesField}":${JSON.stringify(values)}`;
  return unchanged.length === 0 ? text : `${text},"${unchangedField}":${JSON.stringify(unchanged)}`;
}
