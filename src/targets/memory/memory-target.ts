import { Observable, Subject } from 'rxjs';
import { LaredoError } from '../../errors.js';
import type { TargetMessage } from '../../model/events.js';
import type { TableKey, TableSchema } from '../../model/table.js';
import type { Target } from '../../model/target.js';
import type { Lsn } from '../../protocol/lsn.js';
import { isUnchangedToast, type PgValue, type Row } from '../../protocol/row.js';
import { encodeKey } from './row-key.js';

export interface MemoryTableOptions {
  /**
   * The unique lookup key: one or more columns whose values together identify one row (`lookup`).
   * It need not be the table's primary key or replica identity, by which rows are stored.
   */
  readonly lookupFields?: readonly string[];
  /** Non-unique indexes, each one or more columns, to find many rows by (`lookupAll`). */
  readonly additionalIndexes?: readonly (readonly string[])[];
}

export interface MemoryTargetOptions {
  /** Default `memory`. */
  readonly name?: string;
  /** Per table (`schema.table`): the indexes to keep. */
  readonly tables?: Readonly<Record<TableKey, MemoryTableOptions>>;
}

/** What the memory target applied, in the order it applied it. */
export type MemoryChange =
  | { readonly kind: 'insert'; readonly table: TableKey; readonly row: Row; readonly previous?: Row }
  | { readonly kind: 'update'; readonly table: TableKey; readonly row: Row; readonly previous?: Row }
  | { readonly kind: 'delete'; readonly table: TableKey; readonly previous: Row }
  | { readonly kind: 'truncate'; readonly table: TableKey }
  | { readonly kind: 'reset'; readonly table: TableKey }
  | { readonly kind: 'schema'; readonly table: TableKey; readonly schema: TableSchema }
  | { readonly kind: 'baseline-complete'; readonly table: TableKey; readonly rows: number }
  | { readonly kind: 'message'; readonly prefix: string; readonly content: Buffer }
  | { readonly kind: 'commit'; readonly xid: number; readonly commitEndLsn: Lsn };

/**
 * A message the memory target cannot apply (a change of a transaction it never saw begin): its write
 * fails with this, so nothing after it is acknowledged. Also thrown for table options it cannot index
 * by, and for a lookup by columns that have no index.
 */
export class MemoryTargetError extends LaredoError {
  declare readonly code: 'MEMORY_TARGET';

  constructor(message: string) {
    super('MEMORY_TARGET', `laredo: memory target: ${message}`, { retryable: false });
  }
}

type TransactionalChange = Extract<TargetMessage, { kind: 'insert' | 'update' | 'delete' | 'truncate' | 'message' }>;

/** Values of an index's columns: in its column order, or by column name. */
export type MemoryIndexValues = readonly PgValue[] | Readonly<Record<string, PgValue>>;

/** The indexes of one table, as configured: the unique lookup key (if any) and every index by its id. */
interface TableIndexes {
  readonly lookupKey: readonly string[] | undefined;
  /** Index id (see `indexId`) -> its columns. */
  readonly columns: ReadonlyMap<string, readonly string[]>;
}

const NO_INDEXES: TableIndexes = { lookupKey: undefined, columns: new Map() };

function indexId(columns: readonly string[]): string {
  return JSON.stringify(columns);
}

interface OpenTransaction {
  readonly changes: TransactionalChange[];
}

/** One table's rows, keyed by its key columns, plus its indexes. */
class MemoryTable {
  readonly key: TableKey;
  readonly rows = new Map<string, Row>();
  /** The columns rows are keyed by now; empty means the whole row. */
  keyColumns: readonly string[] = [];
  schema: TableSchema | undefined;
  /** Index id -> encoded values of its columns -> row keys (insertion-ordered, the latest last). */
  readonly indexes = new Map<string, Map<string, Set<string>>>();
  readonly #indexColumns: ReadonlyMap<string, readonly string[]>;

  constructor(key: TableKey, indexes: TableIndexes) {
    this.key = key;
    this.#indexColumns = indexes.columns;
    for (const id of indexes.columns.keys()) this.indexes.set(id, new Map());
  }

  rowKey(row: Row): string {
    const columns = this.keyColumns.length > 0 ? this.keyColumns : Object.keys(row);
    return encodeKey(columns.map((c) => row[c] ?? null));
  }

  /** Adopts `schema`'s key, re-keying stored rows when it changed. */
  useSchema(schema: TableSchema): void {
    this.schema = schema;
    if (sameColumns(this.keyColumns, schema.keyColumns)) return;
    this.keyColumns = [...schema.keyColumns];
    const rows = [...this.rows.values()];
    this.clear();
    for (const row of rows) this.put(row);
  }

  put(row: Row): Row | undefined {
    const key = this.rowKey(row);
    const previous = this.rows.get(key);
    if (previous !== undefined) this.#unindex(key, previous);
    this.rows.set(key, row);
    this.#index(key, row);
    return previous;
  }

  remove(key: string): Row | undefined {
    const previous = this.rows.get(key);
    if (previous === undefined) return undefined;
    this.rows.delete(key);
    this.#unindex(key, previous);
    return previous;
  }

  clear(): void {
    this.rows.clear();
    for (const index of this.indexes.values()) index.clear();
  }

  #index(key: string, row: Row): void {
    for (const [id, index] of this.indexes) {
      const values = this.#indexed(id, row);
      let keys = index.get(values);
      if (keys === undefined) index.set(values, (keys = new Set()));
      keys.add(key);
    }
  }

  #unindex(key: string, row: Row): void {
    for (const [id, index] of this.indexes) {
      const values = this.#indexed(id, row);
      const keys = index.get(values);
      keys?.delete(key);
      if (keys?.size === 0) index.delete(values);
    }
  }

  #indexed(id: string, row: Row): string {
    return encodeKey(this.#indexColumns.get(id)!.map((column) => row[column] ?? null));
  }
}

/**
 * A target that keeps every published table in memory: rows keyed by primary key or replica identity
 * (the whole row when a table has none), optional lookup indexes, and an Observable of what it
 * applied. Transactions are buffered and applied at commit (so readers never see half of one); a
 * rollback discards the buffer. Writes are durable at once.
 */
export class MemoryTarget implements Target {
  readonly name: string;
  readonly #indexes = new Map<TableKey, TableIndexes>();
  readonly #tables = new Map<TableKey, MemoryTable>();
  readonly #open = new Map<number, OpenTransaction>();
  readonly #changes = new Subject<MemoryChange>();

  constructor(options: MemoryTargetOptions = {}) {
    this.name = options.name ?? 'memory';
    for (const [table, tableOptions] of Object.entries(options.tables ?? {})) this.#indexes.set(table, tableIndexes(table, tableOptions));
  }

  /** Everything the target applies from now on. */
  get changes$(): Observable<MemoryChange> {
    return this.#changes.asObservable();
  }

  write(batch: readonly TargetMessage[]): Observable<unknown> {
    return new Observable<never>((subscriber) => {
      try {
        for (const message of batch) this.#apply(message);
        subscriber.complete();
      } catch (error) {
        subscriber.error(error);
      }
    });
  }

  close(): Observable<never> {
    return new Observable<never>((subscriber) => {
      this.#open.clear();
      this.#changes.complete();
      subscriber.complete();
    });
  }

  /** Tables that hold or held rows, `schema.table`. */
  tables(): TableKey[] {
    return [...this.#tables.keys()];
  }

  /** The shape the table's rows were last delivered with. */
  schema(table: TableKey): TableSchema | undefined {
    return this.#tables.get(table)?.schema;
  }

  /** Every row of `table`, in the order first stored. */
  rows(table: TableKey): Row[] {
    return [...(this.#tables.get(table)?.rows.values() ?? [])];
  }

  size(table: TableKey): number {
    return this.#tables.get(table)?.rows.size ?? 0;
  }

  /**
   * The row with key `key`: the key column values as an object (`{ id: 1 }`), as an array in key
   * column order, or, for a one-column key, the value itself.
   */
  get(table: TableKey, key: Readonly<Record<string, PgValue>> | readonly PgValue[] | string | number | bigint | boolean): Row | undefined {
    const stored = this.#tables.get(table);
    if (stored === undefined) return undefined;
    const columns = stored.keyColumns;
    let values: PgValue[];
    if (Array.isArray(key)) values = [...(key as readonly PgValue[])];
    else if (typeof key === 'object' && !Buffer.isBuffer(key)) {
      const record = key as Readonly<Record<string, PgValue>>;
      values = (columns.length > 0 ? columns : Object.keys(record)).map((c) => record[c] ?? null);
    } else values = [key];
    return stored.rows.get(encodeKey(values));
  }

  /**
   * The row whose lookup key (`lookupFields`) has `values`: in key column order, or by column name.
   * When two rows share the key (the table does not enforce it), the one stored last.
   */
  lookup(table: TableKey, values: MemoryIndexValues): Row | undefined;
  /** The row whose one-column lookup key `field` equals `value`. */
  lookup(table: TableKey, field: string, value: PgValue): Row | undefined;
  lookup(table: TableKey, valuesOrField: MemoryIndexValues | string, value?: PgValue): Row | undefined {
    const key = this.#indexes.get(table)?.lookupKey;
    if (key === undefined) {
      throw new MemoryTargetError(`${table} has no lookup key; set tables["${table}"].lookupFields, or use lookupAll for additionalIndexes`);
    }
    if (typeof valuesOrField === 'string' && (key.length !== 1 || key[0] !== valuesOrField)) {
      throw new MemoryTargetError(
        `${table}.${valuesOrField} is not the table's lookup key (${key.join(', ')}); ` +
          (key.length === 1 ? 'use lookupAll for additionalIndexes' : 'give the values of all its columns: lookup(table, [...values])'),
      );
    }
    const keys = this.#indexKeys(table, key, typeof valuesOrField === 'string' ? [value ?? null] : valuesOrField);
    const last = [...keys].at(-1);
    return last === undefined ? undefined : this.#tables.get(table)?.rows.get(last);
  }

  /**
   * Every row whose `fields` (the columns of an `additionalIndexes` entry or of `lookupFields`, in
   * their order) have `values` (in that order, or by column name), in the order first stored.
   */
  lookupAll(table: TableKey, fields: readonly string[], values: MemoryIndexValues): Row[];
  /** Every row whose `field` (a one-column index) equals `value`. */
  lookupAll(table: TableKey, field: string, value: PgValue): Row[];
  lookupAll(table: TableKey, fieldOrFields: string | readonly string[], valueOrValues: PgValue): Row[] {
    const single = typeof fieldOrFields === 'string';
    const keys = this.#indexKeys(table, single ? [fieldOrFields] : fieldOrFields, single ? [valueOrValues] : valueOrValues);
    const stored = this.#tables.get(table);
    return [...keys].flatMap((key) => {
      const row = stored?.rows.get(key);
      return row === undefined ? [] : [row];
    });
  }

  /** `values` comes from the caller unchecked (a one-column value is a PgValue too, so the overloads cannot tell). */
  #indexKeys(table: TableKey, columns: readonly string[], values: PgValue): ReadonlySet<string> {
    const id = indexId(columns);
    if (this.#indexes.get(table)?.columns.has(id) !== true) {
      throw new MemoryTargetError(`${table} has no index on (${columns.join(', ')}); add it to tables["${table}"].additionalIndexes (or lookupFields)`);
    }
    let ordered: readonly PgValue[];
    if (Array.isArray(values)) {
      ordered = values;
      if (ordered.length !== columns.length) {
        throw new MemoryTargetError(`${table}: the index on (${columns.join(', ')}) takes ${columns.length} values, got ${ordered.length}`);
      }
    } else if (isRecord(values)) {
      ordered = columns.map((column) => values[column] ?? null);
    } else {
      throw new MemoryTargetError(`${table}: give the values of (${columns.join(', ')}) as an array in that order, or as an object by column name`);
    }
    return this.#tables.get(table)?.indexes.get(id)?.get(encodeKey(ordered)) ?? new Set();
  }

  #table(schema: TableSchema): MemoryTable {
    let table = this.#tables.get(schema.key);
    if (table === undefined) {
      table = new MemoryTable(schema.key, this.#indexes.get(schema.key) ?? NO_INDEXES);
      this.#tables.set(schema.key, table);
    }
    if (table.schema !== schema) table.useSchema(schema);
    return table;
  }

  #apply(message: TargetMessage): void {
    switch (message.kind) {
      case 'reset':
        for (const key of message.tables) {
          this.#tables.delete(key);
          this.#changes.next({ kind: 'reset', table: key });
        }
        return;
      case 'baseline': {
        const table = this.#table(message.table);
        for (const row of message.rows) {
          const previous = table.put(row);
          this.#changes.next(previous === undefined ? { kind: 'insert', table: table.key, row } : { kind: 'insert', table: table.key, row, previous });
        }
        return;
      }
      case 'baseline-complete':
        this.#table(message.table);
        this.#changes.next({ kind: 'baseline-complete', table: message.table.key, rows: message.rows });
        return;
      case 'schema':
        this.#table(message.table);
        this.#changes.next({ kind: 'schema', table: message.table.key, schema: message.table });
        return;
      case 'begin':
        // A begin for an xid already open means the stream was re-sent from its begin after an
        // interruption we never heard about: the old partial transaction is void.
        this.#open.set(message.transaction.xid, { changes: [] });
        return;
      case 'commit': {
        const open = this.#open.get(message.transaction.xid);
        if (open === undefined) throw new MemoryTargetError(`commit of xid ${message.transaction.xid}, which never began`);
        this.#open.delete(message.transaction.xid);
        for (const change of open.changes) this.#applyChange(change);
        this.#changes.next({ kind: 'commit', xid: message.transaction.xid, commitEndLsn: message.commitEndLsn });
        return;
      }
      case 'rollback': {
        const open = this.#open.get(message.xid);
        if (open === undefined) return; // nothing of it arrived
        if (message.subXid === undefined) {
          this.#open.delete(message.xid);
          return;
        }
        const start = open.changes.findIndex((change) => change.subXid === message.subXid);
        if (start >= 0) open.changes.length = start;
        return;
      }
      case 'message':
        if (!message.transactional) {
          this.#changes.next({ kind: 'message', prefix: message.prefix, content: message.content });
          return;
        }
        this.#buffer(message, message.xid);
        return;
      case 'insert':
      case 'update':
      case 'delete':
      case 'truncate':
        this.#buffer(message, message.xid);
        return;
    }
  }

  #buffer(change: TransactionalChange, xid: number | undefined): void {
    const open = xid === undefined ? undefined : this.#open.get(xid);
    if (open === undefined) throw new MemoryTargetError(`${change.kind} of xid ${String(xid)}, whose begin never arrived`);
    open.changes.push(change);
  }

  #applyChange(change: TransactionalChange): void {
    switch (change.kind) {
      case 'insert': {
        const table = this.#table(change.table);
        const previous = table.put(change.row);
        this.#changes.next(
          previous === undefined ? { kind: 'insert', table: table.key, row: change.row } : { kind: 'insert', table: table.key, row: change.row, previous },
        );
        return;
      }
      case 'update': {
        const table = this.#table(change.table);
        const oldKey = table.rowKey(change.old === undefined ? change.row : keyPart(change.old, change.row, table.keyColumns));
        const previous = table.remove(oldKey);
        const row = mergeUnchangedToast(change.row, previous, change.old);
        table.put(row);
        this.#changes.next(previous === undefined ? { kind: 'update', table: table.key, row } : { kind: 'update', table: table.key, row, previous });
        return;
      }
      case 'delete': {
        const table = this.#table(change.table);
        const previous = table.remove(table.rowKey(keyPart(change.old, change.old, table.keyColumns)));
        this.#changes.next({ kind: 'delete', table: table.key, previous: previous ?? change.old });
        return;
      }
      case 'truncate':
        for (const schema of change.tables) {
          this.#table(schema).clear();
          this.#changes.next({ kind: 'truncate', table: schema.key });
        }
        return;
      case 'message':
        this.#changes.next({ kind: 'message', prefix: change.prefix, content: change.content });
        return;
    }
  }
}

/**
 * The row to take a key from. A `K` tuple carries only the key columns (the others are null), an `O`
 * tuple the whole old row; with no key columns (REPLICA IDENTITY FULL without a key) the key is the
 * whole old row, whose unchanged TOAST columns are taken from the new row.
 */
function keyPart(old: Row, current: Row, keyColumns: readonly string[]): Row {
  if (keyColumns.length > 0) return old;
  const row: Record<string, PgValue> = {};
  for (const [column, value] of Object.entries(old)) row[column] = isUnchangedToast(value) ? (current[column] ?? null) : value;
  return row;
}

/** PostgreSQL did not send unchanged TOASTed values: take them from the stored row (or the old row). */
function mergeUnchangedToast(row: Row, stored: Row | undefined, old: Row | undefined): Row {
  let merged: Record<string, PgValue> | undefined;
  for (const [column, value] of Object.entries(row)) {
    if (!isUnchangedToast(value)) continue;
    // `in`, not `??`: a stored SQL NULL is a value, not a miss.
    const source = stored !== undefined && column in stored ? stored : old !== undefined && column in old ? old : undefined;
    const known = source?.[column];
    if (known === undefined || isUnchangedToast(known)) continue;
    merged ??= { ...row };
    merged[column] = known;
  }
  return merged ?? row;
}

function isRecord(value: PgValue): value is Readonly<Record<string, PgValue>> {
  return typeof value === 'object' && value !== null && !Buffer.isBuffer(value) && !Array.isArray(value);
}

/** Checks one table's index options; a bad one is a typed error at construction, not a wrong lookup later. */
function tableIndexes(table: TableKey, options: MemoryTableOptions): TableIndexes {
  const columns = new Map<string, readonly string[]>();
  const add = (option: string, index: unknown): readonly string[] => {
    if (!Array.isArray(index) || index.length === 0 || !index.every((column) => typeof column === 'string' && column !== '')) {
      throw new MemoryTargetError(`tables["${table}"].${option} must be a non-empty list of column names, e.g. ['customer_id', 'status']; got ${JSON.stringify(index)}`);
    }
    const names = [...(index as string[])];
    columns.set(indexId(names), names);
    return names;
  };
  const lookupKey = options.lookupFields === undefined || options.lookupFields.length === 0 ? undefined : add('lookupFields', options.lookupFields);
  (options.additionalIndexes ?? []).forEach((index, position) => add(`additionalIndexes[${position}]`, index));
  return { lookupKey, columns };
}

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}

/** A {@link MemoryTarget}. */
export function memoryTarget(options: MemoryTargetOptions = {}): MemoryTarget {
  return new MemoryTarget(options);
}
