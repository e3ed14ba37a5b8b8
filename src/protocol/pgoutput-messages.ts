import type { Lsn } from './lsn.js';
import type { Row } from './row.js';

/**
 * Typed pgoutput messages (protocol versions 1-4), as documented in "Logical Replication Message
 * Formats". Timestamps are microseconds since 2000-01-01 00:00:00 UTC, as PostgreSQL sends them; use
 * `pgTimestampToIso` for text. `xid` on data messages is present only inside a streamed transaction
 * (protocol v2+, between Stream Start and Stream Stop).
 */

/** Replica identity of a relation: default (primary key), nothing, full, or index. */
export type ReplicaIdentity = 'default' | 'nothing' | 'full' | 'index';

export interface RelationColumn {
  /** Part of the replica identity key (flag bit 1). */
  readonly isKey: boolean;
  readonly name: string;
  readonly typeOid: number;
  /** Type modifier (atttypmod), -1 when none. */
  readonly typeMod: number;
}

export interface BeginMessage {
  readonly tag: 'begin';
  /** The LSN of the transaction's commit record. */
  readonly finalLsn: Lsn;
  readonly commitTime: bigint;
  readonly xid: number;
}

export interface CommitMessage {
  readonly tag: 'commit';
  readonly flags: number;
  readonly commitLsn: Lsn;
  /** End of the commit record: the position to confirm once the transaction is durable. */
  readonly commitEndLsn: Lsn;
  readonly commitTime: bigint;
}

export interface OriginMessage {
  readonly tag: 'origin';
  readonly originLsn: Lsn;
  readonly name: string;
}

export interface RelationMessage {
  readonly tag: 'relation';
  readonly xid?: number;
  readonly relationId: number;
  readonly schema: string;
  readonly name: string;
  readonly replicaIdentity: ReplicaIdentity;
  readonly columns: readonly RelationColumn[];
}

export interface TypeMessage {
  readonly tag: 'type';
  readonly xid?: number;
  readonly typeOid: number;
  readonly schema: string;
  readonly name: string;
}

export interface InsertMessage {
  readonly tag: 'insert';
  readonly xid?: number;
  readonly relationId: number;
  readonly new: Row;
}

export interface UpdateMessage {
  readonly tag: 'update';
  readonly xid?: number;
  readonly relationId: number;
  /** Old key columns (`K`): sent when the replica identity key changed; other columns are null. */
  readonly key?: Row;
  /** Whole old row (`O`): sent under REPLICA IDENTITY FULL. */
  readonly old?: Row;
  readonly new: Row;
}

export interface DeleteMessage {
  readonly tag: 'delete';
  readonly xid?: number;
  readonly relationId: number;
  readonly key?: Row;
  readonly old?: Row;
}

export interface TruncateMessage {
  readonly tag: 'truncate';
  readonly xid?: number;
  readonly cascade: boolean;
  readonly restartIdentity: boolean;
  readonly relationIds: readonly number[];
}

export interface LogicalDecodingMessage {
  readonly tag: 'message';
  readonly xid?: number;
  readonly transactional: boolean;
  readonly lsn: Lsn;
  readonly prefix: string;
  readonly content: Buffer;
}

export interface StreamStartMessage {
  readonly tag: 'stream_start';
  readonly xid: number;
  readonly firstSegment: boolean;
}

export interface StreamStopMessage {
  readonly tag: 'stream_stop';
}

export interface StreamCommitMessage {
  readonly tag: 'stream_commit';
  readonly xid: number;
  readonly flags: number;
  readonly commitLsn: Lsn;
  readonly commitEndLsn: Lsn;
  readonly commitTime: bigint;
}

export interface StreamAbortMessage {
  readonly tag: 'stream_abort';
  readonly xid: number;
  readonly subXid: number;
  /** Present with protocol v4 and `streaming = parallel`. */
  readonly abortLsn?: Lsn;
  readonly abortTime?: bigint;
}

export interface BeginPrepareMessage {
  readonly tag: 'begin_prepare';
  readonly prepareLsn: Lsn;
  readonly prepareEndLsn: Lsn;
  readonly prepareTime: bigint;
  readonly xid: number;
  readonly gid: string;
}

export interface PrepareMessage {
  readonly tag: 'prepare';
  readonly flags: number;
  readonly prepareLsn: Lsn;
  readonly prepareEndLsn: Lsn;
  readonly prepareTime: bigint;
  readonly xid: number;
  readonly gid: string;
}

export interface CommitPreparedMessage {
  readonly tag: 'commit_prepared';
  readonly flags: number;
  readonly commitLsn: Lsn;
  readonly commitEndLsn: Lsn;
  readonly commitTime: bigint;
  readonly xid: number;
  readonly gid: string;
}

export interface RollbackPreparedMessage {
  readonly tag: 'rollback_prepared';
  readonly flags: number;
  readonly prepareEndLsn: Lsn;
  readonly rollbackEndLsn: Lsn;
  readonly prepareTime: bigint;
  readonly rollbackTime: bigint;
  readonly xid: number;
  readonly gid: string;
}

export interface StreamPrepareMessage {
  readonly tag: 'stream_prepare';
  readonly flags: number;
  readonly prepareLsn: Lsn;
  readonly prepareEndLsn: Lsn;
  readonly prepareTime: bigint;
  readonly xid: number;
  readonly gid: string;
}

export type PgoutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | RelationMessage
  | TypeMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalDecodingMessage
  | StreamStartMessage
  | StreamStopMessage
  | StreamCommitMessage
  | StreamAbortMessage
  | BeginPrepareMessage
  | PrepareMessage
  | CommitPreparedMessage
  | RollbackPreparedMessage
  | StreamPrepareMessage;
