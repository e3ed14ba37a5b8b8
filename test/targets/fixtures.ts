// Builders for the target messages the target tests (jsonl, http-sync, the transaction buffer) feed in.
import { lastValueFrom, type Observable } from 'rxjs';
import { defaultIfEmpty } from 'rxjs/operators';
import type {
  BaselineCompleteEvent,
  BaselineRowsEvent,
  BeginEvent,
  CommitEvent,
  DeleteChange,
  InsertChange,
  ResetEvent,
  RollbackEvent,
  TargetMessage,
  TruncateChange,
  UpdateChange,
} from '../../src/model/events.js';
import type { TableSchema } from '../../src/model/table.js';
import type { Target } from '../../src/model/target.js';
import { TargetActor } from '../../src/operators/target-actor.js';
import type { RelationColumn } from '../../src/protocol/pgoutput-messages.js';
import type { Row } from '../../src/protocol/row.js';
import { waitFor } from '../support/wait.js';

export const INT4 = 23;
export const INT8 = 20;
export const TEXT = 25;
export const JSONB = 3802;

export function table(
  name: string,
  columns: readonly [name: string, typeOid: number, isKey?: boolean][],
  options: { schema?: string; relationId?: number; replicaIdentity?: TableSchema['replicaIdentity'] } = {},
): TableSchema {
  const schema = options.schema ?? 'public';
  const relationColumns: RelationColumn[] = columns.map(([column, typeOid, isKey]) => ({ isKey: isKey === true, name: column, typeOid, typeMod: -1 }));
  return {
    key: `${schema}.${name}`,
    schema,
    name,
    relationId: options.relationId ?? 16384,
    replicaIdentity: options.replicaIdentity ?? 'default',
    columns: relationColumns,
    keyColumns: relationColumns.filter((column) => column.isKey).map((column) => column.name),
  };
}

/** `public.items (id int4 key, name text, data jsonb)`. */
export const items = table('items', [
  ['id', INT4, true],
  ['name', TEXT],
  ['data', JSONB],
]);

export function reset(...tables: TableSchema[]): ResetEvent {
  return { kind: 'reset', tables: tables.map((t) => t.key), bytes: 0 };
}

export function baseline(t: TableSchema, rows: Row[]): BaselineRowsEvent {
  return { kind: 'baseline', table: t, rows, bytes: 0 };
}

export function baselineComplete(t: TableSchema, rows: number): BaselineCompleteEvent {
  return { kind: 'baseline-complete', table: t, rows, bytes: 0 };
}

/** Commit LSN and time derived from the xid, so a test can predict them. */
export function commitLsnOf(xid: number): bigint {
  return 0x1_0000_0000n + BigInt(xid) * 0x100n;
}

export function commitTimeOf(xid: number): string {
  return `2024-01-02T03:04:${String(xid % 60).padStart(2, '0')}.123456Z`;
}

function transaction(xid: number): BeginEvent['transaction'] {
  return { xid, commitLsn: commitLsnOf(xid), commitTime: commitTimeOf(xid) };
}

export function begin(xid: number): BeginEvent {
  return { kind: 'begin', transaction: transaction(xid), bytes: 0 };
}

export function commit(xid: number): CommitEvent {
  return { kind: 'commit', transaction: transaction(xid), commitEndLsn: commitLsnOf(xid) + 0x10n, bytes: 0 };
}

export function rollback(xid: number): RollbackEvent {
  return { kind: 'rollback', xid, bytes: 0 };
}

let nextLsn = 0x1000n;
function lsn(): bigint {
  nextLsn += 0x28n;
  return nextLsn;
}

export function insert(xid: number, t: TableSchema, row: Row): InsertChange {
  return { kind: 'insert', table: t, row, lsn: lsn(), xid, bytes: 0 };
}

export function update(xid: number, t: TableSchema, row: Row, old?: Row, oldKind?: 'key' | 'full'): UpdateChange {
  return { kind: 'update', table: t, row, lsn: lsn(), xid, bytes: 0, ...(old === undefined ? {} : { old, oldKind: oldKind ?? 'key' }) };
}

export function remove(xid: number, t: TableSchema, old: Row, oldKind: 'key' | 'full' = 'key'): DeleteChange {
  return { kind: 'delete', table: t, old, oldKind, lsn: lsn(), xid, bytes: 0 };
}

export function truncate(xid: number, ...tables: TableSchema[]): TruncateChange {
  return { kind: 'truncate', tables, cascade: false, restartIdentity: false, lsn: lsn(), xid, bytes: 0 };
}

/** begin, the changes, commit. */
export function committed(xid: number, ...changes: TargetMessage[]): TargetMessage[] {
  return [begin(xid), ...changes, commit(xid)];
}

/** Transactions 1 to `count`, each inserting the items row whose id is its xid. */
export function committedInserts(count: number): TargetMessage[] {
  return Array.from({ length: count }, (_, index) => committed(index + 1, insert(index + 1, items, { id: index + 1, name: 'x', data: null }))).flat();
}

/** Posts `messages` to `target` through a target actor, as the pipeline does, and waits until all are durable. */
export async function writeThroughActor(target: Target, messages: readonly TargetMessage[]): Promise<void> {
  const actor = new TargetActor(target, { maxInFlight: 4, maxBatch: 16 });
  try {
    messages.forEach((message, sequence) => {
      actor.post(sequence, message);
    });
    await waitFor(() => actor.durableThrough === messages.length - 1, { what: 'every message durable' });
  } finally {
    actor.dispose();
  }
}

/** Resolves when the Observable completes (durable); rejects when it errors. */
export function durable(written: Observable<unknown>): Promise<unknown> {
  return lastValueFrom(written.pipe(defaultIfEmpty(undefined)));
}

/** Tracks whether a write's Observable completed, without waiting for it. */
export function watch(written: Observable<unknown>): { readonly done: boolean; readonly error: unknown; readonly settled: Promise<void> } {
  const state = { done: false, error: undefined as unknown, settled: Promise.resolve() };
  state.settled = new Promise<void>((resolve) => {
    written.subscribe({
      complete: () => {
        state.done = true;
        resolve();
      },
      error: (error: unknown) => {
        state.error = error;
        resolve();
      },
    });
  });
  return state;
}
