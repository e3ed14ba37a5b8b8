import type { Lsn } from '../protocol/lsn.js';
import type { Row } from '../protocol/row.js';
import type { TableKey, TableSchema } from './table.js';

/**
 * What a PostgreSQL source emits, in order. Every event carries `bytes`: how much data received from
 * the server it stands for. Those bytes count against the source's in-flight budget until the event is
 * durable in every target, which is how backpressure reaches the socket.
 */

/** Targets must drop everything they hold for these tables: a full baseline of them follows. */
export interface ResetEvent {
  readonly kind: 'reset';
  readonly tables: readonly TableKey[];
  readonly bytes: number;
}

/** A batch of rows of `table` as of the baseline snapshot. */
export interface BaselineRowsEvent {
  readonly kind: 'baseline';
  readonly table: TableSchema;
  readonly rows: readonly Row[];
  readonly bytes: number;
}

/** Every row of `table` at the snapshot has been emitted. */
export interface BaselineCompleteEvent {
  readonly kind: 'baseline-complete';
  readonly table: TableSchema;
  readonly rows: number;
  readonly bytes: number;
}

/**
 * A table's shape changed (a Relation message that differs from the one seen before): later rows use
 * `table`. Also emitted the first time a table is seen in the stream without a baseline.
 */
export interface SchemaEvent {
  readonly kind: 'schema';
  readonly table: TableSchema;
  readonly previous?: TableSchema;
  readonly bytes: number;
}

/** Transaction identity shared by its begin, changes and commit. */
export interface TransactionInfo {
  readonly xid: number;
  /** LSN of the commit record (pgoutput Begin's final LSN). */
  readonly commitLsn: Lsn;
  /** Commit time, ISO-8601 UTC with microseconds. */
  readonly commitTime: string;
}

export interface BeginEvent {
  readonly kind: 'begin';
  readonly transaction: TransactionInfo;
  readonly bytes: number;
}

export interface InsertChange {
  readonly kind: 'insert';
  readonly table: TableSchema;
  readonly row: Row;
  /** Start LSN of the WAL data that carried this change. */
  readonly lsn: Lsn;
  readonly xid: number;
  /**
   * Only with streamed transactions passed through as they arrive (`decodePgoutput` with
   * `streams: 'passthrough'`): the subtransaction that made this change, when it is not `xid` itself.
   */
  readonly subXid?: number;
  readonly bytes: number;
}

/** `old` is the old key (`oldKind: 'key'`) or the whole old row under REPLICA IDENTITY FULL. */
export interface UpdateChange {
  readonly kind: 'update';
  readonly table: TableSchema;
  readonly row: Row;
  readonly old?: Row;
  readonly oldKind?: 'key' | 'full';
  readonly lsn: Lsn;
  readonly xid: number;
  /**
   * Only with streamed transactions passed through as they arrive (`decodePgoutput` with
   * `streams: 'passthrough'`): the subtransaction that made this change, when it is not `xid` itself.
   */
  readonly subXid?: number;
  readonly bytes: number;
}

export interface DeleteChange {
  readonly kind: 'delete';
  readonly table: TableSchema;
  /** The key columns, or the whole old row under REPLICA IDENTITY FULL. */
  readonly old: Row;
  readonly oldKind: 'key' | 'full';
  readonly lsn: Lsn;
  readonly xid: number;
  /**
   * Only with streamed transactions passed through as they arrive (`decodePgoutput` with
   * `streams: 'passthrough'`): the subtransaction that made this change, when it is not `xid` itself.
   */
  readonly subXid?: number;
  readonly bytes: number;
}

export interface TruncateChange {
  readonly kind: 'truncate';
  readonly tables: readonly TableSchema[];
  readonly cascade: boolean;
  readonly restartIdentity: boolean;
  readonly lsn: Lsn;
  readonly xid: number;
  /**
   * Only with streamed transactions passed through as they arrive (`decodePgoutput` with
   * `streams: 'passthrough'`): the subtransaction that made this change, when it is not `xid` itself.
   */
  readonly subXid?: number;
  readonly bytes: number;
}

/** A logical decoding message (`pg_logical_emit_message`), when the source asks for them. */
export interface MessageChange {
  readonly kind: 'message';
  readonly prefix: string;
  readonly content: Buffer;
  readonly transactional: boolean;
  readonly lsn: Lsn;
  /** Absent for a non-transactional message. */
  readonly xid?: number;
  /**
   * Only with streamed transactions passed through as they arrive (`decodePgoutput` with
   * `streams: 'passthrough'`): the subtransaction that made this change, when it is not `xid` itself.
   */
  readonly subXid?: number;
  readonly bytes: number;
}

export type RowChange = InsertChange | UpdateChange | DeleteChange | TruncateChange | MessageChange;

export interface CommitEvent {
  readonly kind: 'commit';
  readonly transaction: TransactionInfo;
  /** End of the commit record: confirmed to PostgreSQL once the transaction is durable everywhere. */
  readonly commitEndLsn: Lsn;
  readonly bytes: number;
}

/**
 * The stream stopped inside a transaction (connection lost, or a streamed transaction aborted):
 * targets discard what they received of `xid` since its begin. It is delivered again after a reconnect
 * if it committed.
 */
export interface RollbackEvent {
  readonly kind: 'rollback';
  readonly xid: number;
  /**
   * Only a subtransaction of `xid` aborted (streamed transactions passed through as they arrive):
   * discard the changes of `xid` received since its first change tagged with this `subXid`; the
   * transaction itself goes on.
   */
  readonly subXid?: number;
  readonly bytes: number;
}

/**
 * Server progress with nothing to deliver (a keepalive). Once everything before it is durable, and no
 * transaction is open, `walEnd` may be confirmed so an idle slot does not hold WAL. Never sent to
 * targets.
 */
export interface ProgressEvent {
  readonly kind: 'progress';
  readonly walEnd: Lsn;
  readonly bytes: number;
}

export type SourceEvent =
  | ResetEvent
  | BaselineRowsEvent
  | BaselineCompleteEvent
  | SchemaEvent
  | BeginEvent
  | RowChange
  | CommitEvent
  | RollbackEvent
  | ProgressEvent;

/** What a target is given: every source event except progress, in source order. */
export type TargetMessage = Exclude<SourceEvent, ProgressEvent>;
