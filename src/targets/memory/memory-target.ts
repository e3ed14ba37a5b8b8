import { Observable, Subject } from 'rxjs';
import { LaredoError } from '../../errors.js';
import type { TargetMessage } from '../../model/events.js';
import type { TableKey, TableSchema } from '../../model/table.js';
import type { Target } from '../../model/target.js';
import type { Lsn } from '../../protocol/lsn.js';
import { isUnchangedToast, type PgValue, type Row } from '../../protocol/row.js';
import { encodeKey } from './row-key.js';

export interface MemoryTableOptions {
  /** Fields whose value identifies one row (unique lookups with `lookup`). */
  readonly lookupFields?: readonly string[];
  /** Fields to find many rows by (non-unique lookups with `lookupAll`). */
  readonly additionalIndexes?: readonly string[];
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
 * A message the memory target cannot apply (a change of a transaction it never saw begin). Its write
 * fails with this, so nothing after it is acknowledged.
 */
export class MemoryTargetError extends LaredoError {
  declare readonly code: 'MEMORY_TARGET';

  constructor(message: string) {
    super('MEMORY_TARGET', `laredo: memory target: ${message}`, { retryable: false });
  }
}

type TransactionalChange = Extract<TargetMessage, { kind: 'insert' | 'update' | 'delete' | 'truncate' | 'message' }>;

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
  /** field -> encoded value -> row keys (insertion-ordered, the latest last). */
  readonly indexes = new Map<string, Map<string, Set<string>>>();
  readonly uniqueFields: ReadonlySet<string>;

  constructor(key: TableKey, options: MemoryTableOptions) {
    this.key = key;
    this.uniqueFields = new Set(options.lookupFields ?? []);
    for (const field of [...(options.lookupFields ?? []), ...(options.additionalIndexes ?? [])]) this.indexes.set(field, new Map());
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
    for (const [field, index] of this.indexes) {
      const value = encodeKey([row[field] ?? null]);
      let keys = index.get(value);
      if (keys === undefined) index.set(value, (keys = new Set()));
      keys.add(key);
    }
  }

  #unindex(key: string, row: Row): void {
    for (const [field, index] of this.indexes) {
      const value = encodeKey([row[field] ?? null]);
      const keys = index.get(value);
      keys?.delete(key);
      if (keys?.size === 0) index.delete(value);
    }
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
  readonly #options: Readonly<Record<TableKey, MemoryTableOptions>>;
  readonly #tables = new Map<TableKey, MemoryTable>();
  readonly #open = new Map<number, OpenTransaction>();
  readonly #changes = new Subject<MemoryChange>();

  constructor(options: MemoryTargetOptions = {}) {
    this.name = options.name ?? 'memory';
    this.#options = options.tables ?? {};
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

  /** The row whose `field` (a `lookupFields` entry) equals `value`. */
  lookup(table: TableKey, field: string, value: PgValue): Row | undefined {
    const stored = this.#tables.get(table);
    if (stored !== undefined && !stored.uniqueFields.has(field)) {
      throw new MemoryTargetError(`${table}.${field} is not one of the table's lookupFields; configure it, or use lookupAll for additionalIndexes`);
    }
    const keys = this.#indexKeys(table, field, value);
    const last = [...keys].at(-1);
    return last === undefined ? undefined : stored?.rows.get(last);
  }

  /** Every row whose `field` (a `lookupFields` or `additionalIndexes` entry) equals `value`. */
  lookupAll(table: TableKey, field: string, value: PgValue): Row[] {
    const stored = this.#tables.get(table);
    return [...this.#indexKeys(table, field, value)].flatMap((key) => {
      const row = stored?.rows.get(key);
      return row === undefined ? [] : [row];
    });
  }

  #indexKeys(table: TableKey, field: string, value: PgValue): ReadonlySet<string> {
    const options = this.#options[table];
    const indexed = [...(options?.lookupFields ?? []), ...(options?.additionalIndexes ?? [])].includes(field);
    if (!indexed) {
      throw new MemoryTargetError(`${table}.${field} has no index; add it to tables["${table}"].lookupFields or additionalIndexes`);
    }
    return this.#tables.get(table)?.indexes.get(field)?.get(encodeKey([value])) ?? new Set();
  }

  #table(schema: TableSchema): MemoryTable {
    let table = this.#tables.get(schema.key);
    if (table === undefined) {
      table = new MemoryTable(schema.key, this.#options[schema.key] ?? {});
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

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}

/** A {@link MemoryTarget}. */
export function memoryTarget(options: MemoryTargetOptions = {}): MemoryTarget {
  return new MemoryTarget(options);
}
