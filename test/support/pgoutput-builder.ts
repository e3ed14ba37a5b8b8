/**
 * Encoders of pgoutput messages and replication CopyData payloads, byte for byte as PostgreSQL sends
 * them ("Logical Replication Message Formats", "Streaming Replication Protocol"). For tests only: marble
 * tests of the decode operator, round trips through PgoutputDecoder, and seeds for the fuzz tests.
 *
 * Messages are the objects of src/protocol/pgoutput-messages.ts, except that the tuples of insert,
 * update and delete are given as a `Tuple`, one entry per column in the relation's column order:
 *
 *   null            -> `n` (SQL NULL)
 *   UNCHANGED_TOAST -> `u` (unchanged TOASTed value, not sent)
 *   a string        -> `t` (text format; encoded as UTF-8)
 *   a Buffer        -> `b` (binary format, the type's send/recv bytes)
 *
 * An `xid` present on a data message (relation, type, insert, update, delete, truncate, message) is
 * written, as PostgreSQL does between Stream Start and Stream Stop; leave it out elsewhere. Stream Abort
 * writes `abortLsn`/`abortTime` when both are given (protocol v4 with streaming = parallel).
 *
 *   const frames = [
 *     xlogData(0x100n, 0x200n, encodePgoutput({ tag: 'begin', finalLsn: 0x180n, commitTime: 0n, xid: 7 })),
 *     xlogData(0x110n, 0x200n, encodePgoutput(relation)),
 *     xlogData(0x120n, 0x200n, encodePgoutput({ tag: 'insert', relationId: 16384, new: ['1', null, UNCHANGED_TOAST] })),
 *     keepalive(0x200n, true),
 *   ];
 */
import type {
  DeleteMessage,
  InsertMessage,
  PgoutputMessage,
  RelationColumn,
  RelationMessage,
  ReplicaIdentity,
  UpdateMessage,
} from '../../src/protocol/pgoutput-messages.js';
import type { Lsn } from '../../src/protocol/lsn.js';
import { UNCHANGED_TOAST, type UnchangedToast } from '../../src/protocol/row.js';

/** One TupleData column: see the header for the mapping to `n`, `u`, `t`, `b`. */
export type TupleColumn = null | UnchangedToast | string | Buffer;
export type Tuple = readonly TupleColumn[];

export type EncodableInsert = Omit<InsertMessage, 'new'> & { readonly new: Tuple };
export type EncodableUpdate = Omit<UpdateMessage, 'key' | 'old' | 'new'> & {
  readonly key?: Tuple;
  readonly old?: Tuple;
  readonly new: Tuple;
};
export type EncodableDelete = Omit<DeleteMessage, 'key' | 'old'> & { readonly key?: Tuple; readonly old?: Tuple };

/** Every pgoutput message, with tuples as `Tuple` instead of decoded rows. */
export type EncodableMessage =
  | Exclude<PgoutputMessage, InsertMessage | UpdateMessage | DeleteMessage>
  | EncodableInsert
  | EncodableUpdate
  | EncodableDelete;

/** Appends big-endian fields; sized up front would be faster, but tests value clarity here. */
class WireWriter {
  readonly #chunks: Buffer[] = [];

  byte(value: number): this {
    this.#chunks.push(Buffer.from([value & 0xff]));
    return this;
  }

  tag(char: string): this {
    return this.byte(char.charCodeAt(0));
  }

  int16(value: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeInt16BE(value);
    this.#chunks.push(b);
    return this;
  }

  /** Int32 as PostgreSQL writes it; oids and xids above 2^31 are written as their unsigned bits. */
  int32(value: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(value >>> 0);
    this.#chunks.push(b);
    return this;
  }

  int64(value: bigint): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt.asUintN(64, value));
    this.#chunks.push(b);
    return this;
  }

  /** A NUL-terminated string. */
  cstring(value: string): this {
    this.#chunks.push(Buffer.from(value, 'utf8'), Buffer.from([0]));
    return this;
  }

  bytes(value: Buffer): this {
    this.#chunks.push(value);
    return this;
  }

  optionalXid(xid: number | undefined): this {
    return xid === undefined ? this : this.int32(xid);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}

const REPLICA_IDENTITY_BYTES: Readonly<Record<ReplicaIdentity, string>> = {
  default: 'd',
  nothing: 'n',
  full: 'f',
  index: 'i',
};

/** TupleData: Int16 column count, then per column a kind byte and, for `t`/`b`, Int32 length + bytes. */
export function encodeTupleData(tuple: Tuple): Buffer {
  const w = new WireWriter().int16(tuple.length);
  for (const column of tuple) writeTupleColumn(w, column);
  return w.toBuffer();
}

function writeTupleColumn(w: WireWriter, column: TupleColumn): void {
  if (column === null) {
    w.tag('n');
  } else if (column === UNCHANGED_TOAST) {
    w.tag('u');
  } else if (typeof column === 'string') {
    const bytes = Buffer.from(column, 'utf8');
    w.tag('t').int32(bytes.length).bytes(bytes);
  } else {
    w.tag('b').int32(column.length).bytes(column);
  }
}

/** Encodes one pgoutput message: the `data` of an XLogData payload. */
export function encodePgoutput(message: EncodableMessage): Buffer {
  const w = new WireWriter();
  switch (message.tag) {
    case 'begin':
      return w.tag('B').int64(message.finalLsn).int64(message.commitTime).int32(message.xid).toBuffer();
    case 'commit':
      return w
        .tag('C')
        .byte(message.flags)
        .int64(message.commitLsn)
        .int64(message.commitEndLsn)
        .int64(message.commitTime)
        .toBuffer();
    case 'origin':
      return w.tag('O').int64(message.originLsn).cstring(message.name).toBuffer();
    case 'relation': {
      w.tag('R').optionalXid(message.xid).int32(message.relationId).cstring(message.schema).cstring(message.name);
      w.tag(REPLICA_IDENTITY_BYTES[message.replicaIdentity]).int16(message.columns.length);
      for (const column of message.columns) {
        w.byte(column.isKey ? 1 : 0).cstring(column.name).int32(column.typeOid).int32(column.typeMod);
      }
      return w.toBuffer();
    }
    case 'type':
      return w.tag('Y').optionalXid(message.xid).int32(message.typeOid).cstring(message.schema).cstring(message.name).toBuffer();
    case 'insert':
      return w.tag('I').optionalXid(message.xid).int32(message.relationId).tag('N').bytes(encodeTupleData(message.new)).toBuffer();
    case 'update':
      w.tag('U').optionalXid(message.xid).int32(message.relationId);
      if (message.key !== undefined) w.tag('K').bytes(encodeTupleData(message.key));
      if (message.old !== undefined) w.tag('O').bytes(encodeTupleData(message.old));
      return w.tag('N').bytes(encodeTupleData(message.new)).toBuffer();
    case 'delete':
      w.tag('D').optionalXid(message.xid).int32(message.relationId);
      if (message.key !== undefined) w.tag('K').bytes(encodeTupleData(message.key));
      if (message.old !== undefined) w.tag('O').bytes(encodeTupleData(message.old));
      return w.toBuffer();
    case 'truncate': {
      w.tag('T').optionalXid(message.xid).int32(message.relationIds.length);
      w.byte((message.cascade ? 1 : 0) | (message.restartIdentity ? 2 : 0));
      for (const id of message.relationIds) w.int32(id);
      return w.toBuffer();
    }
    case 'message':
      return w
        .tag('M')
        .optionalXid(message.xid)
        .byte(message.transactional ? 1 : 0)
        .int64(message.lsn)
        .cstring(message.prefix)
        .int32(message.content.length)
        .bytes(message.content)
        .toBuffer();
    case 'stream_start':
      return w.tag('S').int32(message.xid).byte(message.firstSegment ? 1 : 0).toBuffer();
    case 'stream_stop':
      return w.tag('E').toBuffer();
    case 'stream_commit':
      return w
        .tag('c')
        .int32(message.xid)
        .byte(message.flags)
        .int64(message.commitLsn)
        .int64(message.commitEndLsn)
        .int64(message.commitTime)
        .toBuffer();
    case 'stream_abort':
      w.tag('A').int32(message.xid).int32(message.subXid);
      if (message.abortLsn !== undefined && message.abortTime !== undefined) w.int64(message.abortLsn).int64(message.abortTime);
      return w.toBuffer();
    case 'begin_prepare':
      return w
        .tag('b')
        .int64(message.prepareLsn)
        .int64(message.prepareEndLsn)
        .int64(message.prepareTime)
        .int32(message.xid)
        .cstring(message.gid)
        .toBuffer();
    case 'prepare':
    case 'stream_prepare':
      return w
        .tag(message.tag === 'prepare' ? 'P' : 'p')
        .byte(message.flags)
        .int64(message.prepareLsn)
        .int64(message.prepareEndLsn)
        .int64(message.prepareTime)
        .int32(message.xid)
        .cstring(message.gid)
        .toBuffer();
    case 'commit_prepared':
      return w
        .tag('K')
        .byte(message.flags)
        .int64(message.commitLsn)
        .int64(message.commitEndLsn)
        .int64(message.commitTime)
        .int32(message.xid)
        .cstring(message.gid)
        .toBuffer();
    case 'rollback_prepared':
      return w
        .tag('r')
        .byte(message.flags)
        .int64(message.prepareEndLsn)
        .int64(message.rollbackEndLsn)
        .int64(message.prepareTime)
        .int64(message.rollbackTime)
        .int32(message.xid)
        .cstring(message.gid)
        .toBuffer();
  }
}

/** An XLogData CopyData payload (`w`): header, then `payload` (usually an `encodePgoutput` result). */
export function xlogData(walStart: Lsn, walEnd: Lsn, payload: Buffer, serverClock = 0n): Buffer {
  return Buffer.concat([new WireWriter().tag('w').int64(walStart).int64(walEnd).int64(serverClock).toBuffer(), payload]);
}

/** A primary keepalive CopyData payload (`k`). */
export function keepalive(walEnd: Lsn, replyRequested = false, serverClock = 0n): Buffer {
  return new WireWriter().tag('k').int64(walEnd).int64(serverClock).byte(replyRequested ? 1 : 0).toBuffer();
}

/** Shorthand: `xlogData(walStart, walEnd ?? walStart, encodePgoutput(message))`. */
export function xlogMessage(message: EncodableMessage, walStart: Lsn, walEnd: Lsn = walStart): Buffer {
  return xlogData(walStart, walEnd, encodePgoutput(message));
}

/** Shorthand for a Relation message: columns as `[name, typeOid, isKey?, typeMod?]`. */
export function relationMessage(
  relationId: number,
  schema: string,
  name: string,
  columns: readonly (readonly [name: string, typeOid: number, isKey?: boolean, typeMod?: number])[],
  replicaIdentity: ReplicaIdentity = 'default',
): RelationMessage {
  const relationColumns: RelationColumn[] = columns.map(([columnName, typeOid, isKey = false, typeMod = -1]) => ({
    isKey,
    name: columnName,
    typeOid,
    typeMod,
  }));
  return { tag: 'relation', relationId, schema, name, replicaIdentity, columns: relationColumns };
}
