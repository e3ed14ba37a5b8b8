// Small builders of source events for operator and target tests.
import type {
  BeginEvent,
  CommitEvent,
  DeleteChange,
  InsertChange,
  ProgressEvent,
  RollbackEvent,
  UpdateChange,
} from '../../src/model/events.js';
import type { TableSchema } from '../../src/model/table.js';
import type { Lsn } from '../../src/protocol/lsn.js';
import type { Row } from '../../src/protocol/row.js';

export const COMMIT_TIME = '2024-01-02T03:04:05.678901Z';

export const itemsTable: TableSchema = {
  key: 'public.items',
  schema: 'public',
  name: 'items',
  relationId: 16384,
  replicaIdentity: 'default',
  columns: [
    { isKey: true, name: 'id', typeOid: 23, typeMod: -1 },
    { isKey: false, name: 'name', typeOid: 25, typeMod: -1 },
  ],
  keyColumns: ['id'],
};

export function begin(xid: number, commitLsn: Lsn = 0n, bytes = 10): BeginEvent {
  return { kind: 'begin', transaction: { xid, commitLsn, commitTime: COMMIT_TIME }, bytes };
}

export function commit(xid: number, commitEndLsn: Lsn, bytes = 10): CommitEvent {
  return { kind: 'commit', transaction: { xid, commitLsn: commitEndLsn - 1n, commitTime: COMMIT_TIME }, commitEndLsn, bytes };
}

export function insert(xid: number, row: Row, table: TableSchema = itemsTable, bytes = 10): InsertChange {
  return { kind: 'insert', table, row, lsn: 1n, xid, bytes };
}

export function update(xid: number, row: Row, table: TableSchema = itemsTable, old?: Row, bytes = 10): UpdateChange {
  return old === undefined
    ? { kind: 'update', table, row, lsn: 1n, xid, bytes }
    : { kind: 'update', table, row, old, oldKind: 'key', lsn: 1n, xid, bytes };
}

export function remove(xid: number, old: Row, table: TableSchema = itemsTable, bytes = 10): DeleteChange {
  return { kind: 'delete', table, old, oldKind: 'key', lsn: 1n, xid, bytes };
}

export function rollback(xid: number, bytes = 0): RollbackEvent {
  return { kind: 'rollback', xid, bytes };
}

export function progress(walEnd: Lsn, bytes = 0): ProgressEvent {
  return { kind: 'progress', walEnd, bytes };
}
