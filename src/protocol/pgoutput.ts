import { ProtocolError, type ProtocolErrorCode } from './errors.js';
import type { Lsn } from './lsn.js';
import type {
  BeginMessage,
  BeginPrepareMessage,
  CommitMessage,
  CommitPreparedMessage,
  DeleteMessage,
  InsertMessage,
  LogicalDecodingMessage,
  OriginMessage,
  PgoutputMessage,
  PrepareMessage,
  RelationColumn,
  RelationMessage,
  ReplicaIdentity,
  RollbackPreparedMessage,
  StreamAbortMessage,
  StreamCommitMessage,
  StreamPrepareMessage,
  StreamStartMessage,
  TruncateMessage,
  TypeMessage,
  UpdateMessage,
} from './pgoutput-messages.js';
import { UNCHANGED_TOAST, type PgValue, type Row } from './row.js';
import { tupleReader, type TupleCursor, type TupleReader } from './tuple-reader.js';
import { binaryParser, textParser, textRangeParser, type BinaryParser, type TextParser, type TextRangeParser, type ValueOptions } from './values.js';

/** The pgoutput `proto_version` a decoder understands. */
export type PgoutputProtocolVersion = 1 | 2 | 3 | 4;

export interface PgoutputDecoderOptions {
  /**
   * The `proto_version` given to START_REPLICATION. Messages of a later version are refused. Default 4,
   * the newest: every version is a superset of the previous one, so a v4 decoder reads what any server
   * from 14 to 18 sends.
   */
  readonly protocolVersion?: PgoutputProtocolVersion;
  /**
   * The `binary` option given to START_REPLICATION. Decides which column converters are prepared when
   * a Relation message arrives; a column in the other format is still decoded (its converter is made on
   * first use).
   */
  readonly binary?: boolean;
  /** How column values are converted (see values.ts). */
  readonly values?: ValueOptions;
}

/** A relation as the decoder keeps it: the message plus what decoding its rows needs, made once. */
interface CachedRelation {
  readonly message: RelationMessage;
  /** `schema.name`, for error messages. */
  readonly label: string;
  readonly names: readonly string[];
  readonly typeOids: readonly number[];
  /** Per column; `undefined` until a value of that format is first seen. */
  readonly textParsers: (TextParser | undefined)[];
  /** Per column, for the types that convert in place (see #textValue); else undefined. */
  readonly rangeParsers: readonly (TextRangeParser | undefined)[];
  readonly binaryParsers: (BinaryParser | undefined)[];
  /** Makes the row object from `values`; see rowBuilder. */
  readonly buildRow: (values: readonly PgValue[]) => Row;
  /** Scratch space for one tuple's values, reused for every row of this relation. */
  readonly values: PgValue[];
  /** The compiled hot path for text tuples (see tuple-reader.ts); null where there is none. */
  readonly readTuple: TupleReader | null;
}

// Tag bytes of "Logical Replication Message Formats".
const BEGIN = 0x42; // B
const COMMIT = 0x43; // C
const ORIGIN = 0x4f; // O
const RELATION = 0x52; // R
const TYPE = 0x59; // Y
const INSERT = 0x49; // I
const UPDATE = 0x55; // U
const DELETE = 0x44; // D
const TRUNCATE = 0x54; // T
const MESSAGE = 0x4d; // M
const STREAM_START = 0x53; // S
const STREAM_STOP = 0x45; // E
const STREAM_COMMIT = 0x63; // c
const STREAM_ABORT = 0x41; // A
const BEGIN_PREPARE = 0x62; // b
const PREPARE = 0x50; // P
const COMMIT_PREPARED = 0x4b; // K
const ROLLBACK_PREPARED = 0x72; // r
const STREAM_PREPARE = 0x70; // p

// Submessage and TupleData kind bytes.
const KIND_NEW = 0x4e; // N
const KIND_KEY = 0x4b; // K
const KIND_OLD = 0x4f; // O
const KIND_NULL = 0x6e; // n
const KIND_UNCHANGED_TOAST = 0x75; // u
const KIND_TEXT = 0x74; // t
const KIND_BINARY = 0x62; // b

const MESSAGE_NAMES: ReadonlyMap<number, string> = new Map([
  [BEGIN, 'Begin'],
  [COMMIT, 'Commit'],
  [ORIGIN, 'Origin'],
  [RELATION, 'Relation'],
  [TYPE, 'Type'],
  [INSERT, 'Insert'],
  [UPDATE, 'Update'],
  [DELETE, 'Delete'],
  [TRUNCATE, 'Truncate'],
  [MESSAGE, 'Message'],
  [STREAM_START, 'Stream Start'],
  [STREAM_STOP, 'Stream Stop'],
  [STREAM_COMMIT, 'Stream Commit'],
  [STREAM_ABORT, 'Stream Abort'],
  [BEGIN_PREPARE, 'Begin Prepare'],
  [PREPARE, 'Prepare'],
  [COMMIT_PREPARED, 'Commit Prepared'],
  [ROLLBACK_PREPARED, 'Rollback Prepared'],
  [STREAM_PREPARE, 'Stream Prepare'],
]);

/**
 * The protocol version that introduced each tag (streaming came with 2, two-phase with 3), indexed by
 * tag byte; 0 for tags of every version and for unknown ones. A table, as it is read for every message.
 */
const MINIMUM_VERSION = new Uint8Array(256);
for (const tag of [STREAM_START, STREAM_STOP, STREAM_COMMIT, STREAM_ABORT]) MINIMUM_VERSION[tag] = 2;
for (const tag of [BEGIN_PREPARE, PREPARE, COMMIT_PREPARED, ROLLBACK_PREPARED, STREAM_PREPARE]) MINIMUM_VERSION[tag] = 3;

const REPLICA_IDENTITIES: ReadonlyMap<number, ReplicaIdentity> = new Map([
  [0x64, 'default'], // d
  [0x6e, 'nothing'], // n
  [0x66, 'full'], // f
  [0x69, 'index'], // i
]);

/** Truncate option bits (TRUNCATE_CASCADE, TRUNCATE_RESTART_SEQS in logicalproto.h). */
const TRUNCATE_CASCADE = 1;
const TRUNCATE_RESTART_IDENTITY = 2;

/** Stream Abort's body: xid + subxid, and under v4 with streaming = parallel the abort LSN and time. */
const STREAM_ABORT_PARALLEL_BODY = 8 + 8 + 8;

/** Messages up to this many bytes are decoded to text in one piece (see PgoutputDecoder#sharedText). */
const SHARED_TEXT_LIMIT = 1024;

/**
 * `buffer.toString('utf8', start, end)` without its argument checks and encoding lookup, which cost
 * more than the decoding for short values. `utf8Slice` is what toString calls; it is not in Node's
 * typings, so fall back to toString where it is missing.
 */
const utf8: (data: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as { utf8Slice?: unknown }).utf8Slice === 'function'
    ? (data, start, end) => (data as Buffer & { utf8Slice(start: number, end: number): string }).utf8Slice(start, end)
    : (data, start, end) => data.toString('utf8', start, end);

/**
 * Row builders by column names (joined with NUL, which no name contains), shared by all decoders: every
 * new replication connection gets every Relation message again. Bounded, and simply emptied when full:
 * a miss only costs compiling a builder again.
 */
const ROW_BUILDERS = new Map<string, (values: readonly PgValue[]) => Row>();
const ROW_BUILDER_CACHE_SIZE = 4096;

/**
 * A function that makes a relation's row object from its column values. Adding properties one by
 * one under names known only at run time makes V8 look up a shape transition for every column of
 * every row; an object literal with the names written out gets its shape at once, several times
 * faster on the hot path. So the literal is generated once per Relation message. Names go in as
 * JSON string literals, which are valid JavaScript string literals, so no name can inject code.
 * Falls back to defining properties one by one where code generation is disallowed
 * (--disallow-code-generation-from-strings) and for a column named `__proto__`, which as a literal
 * key would set the prototype instead.
 */
function rowBuilder(names: readonly string[]): (values: readonly PgValue[]) => Row {
  if (!names.includes('__proto__')) {
    const key = names.join('\0');
    const cached = ROW_BUILDERS.get(key);
    if (cached !== undefined) return cached;
    try {
      const body = `return {${names.map((name, i) => `${JSON.stringify(name)}: values[${i}]`).join(', ')}};`;
      // eslint-disable-next-line @typescript-eslint/no-implied-eval -- see above: names are JSON-quoted
      const builder = new Function('values', body) as (values: readonly PgValue[]) => Row;
      if (ROW_BUILDERS.size >= ROW_BUILDER_CACHE_SIZE) ROW_BUILDERS.clear();
      ROW_BUILDERS.set(key, builder);
      return builder;
    } catch {
      // Code generation from strings is disallowed: build rows property by property.
    }
  }
  return (values) => {
    const row: Record<string, PgValue> = {};
    for (let i = 0; i < names.length; i++) {
      Object.defineProperty(row, names[i]!, { value: values[i], enumerable: true, writable: true, configurable: true });
    }
    return row;
  };
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, '0')}`;
}

function describeError(error: unknown): string {
  // A ProtocolError's own offset is into the value, not the message: leave it out.
  return error instanceof Error ? error.message.replace(/ \(at byte \d+\)$/, '') : String(error);
}

/**
 * Decodes pgoutput messages (protocol v1-v4), one XLogData payload at a time, in stream order.
 *
 * Stateful, so use one decoder per replication connection: it caches Relation messages by relation id
 * (rows are decoded against them, straight into `Row` objects keyed by column name, values converted by
 * type OID), and it follows Stream Start / Stream Stop, because between them every data message carries
 * the xid of the (sub)transaction it belongs to. Bytes PostgreSQL would not send raise a ProtocolError
 * with a stable code and the offset into the payload; nothing else escapes.
 */
export class PgoutputDecoder {
  readonly #protocolVersion: PgoutputProtocolVersion;
  readonly #binary: boolean;
  readonly #valueOptions: ValueOptions;
  readonly #relations = new Map<number, CachedRelation>();
  /** The relation of the last row change, while it is the one in `#relations` (see #rowRelation). */
  #lastRelation: CachedRelation | undefined;
  readonly #types = new Map<number, TypeMessage>();
  /** Inside a Stream Start .. Stream Stop block. */
  #inStream = false;

  // The message being decoded: fields instead of a reader object, so the hot path allocates nothing.
  #data: Buffer = Buffer.alloc(0);
  /** Where the message starts in `#data`: error offsets count from here. */
  #start = 0;
  #offset = 0;
  #tag = 0;
  /** The message's tuple bytes as one string, from `#textStart` on; see #sharedText. */
  #text: string | undefined;
  #textStart = 0;
  /** Where a compiled tuple reader leaves the offset. */
  readonly #cursor: TupleCursor = { at: 0 };

  constructor(options: PgoutputDecoderOptions = {}) {
    const version = options.protocolVersion ?? 4;
    if (!Number.isInteger(version) || version < 1 || version > 4) {
      throw new RangeError(`pgoutput protocolVersion must be 1, 2, 3 or 4, got ${String(version)}`);
    }
    this.#protocolVersion = version;
    this.#binary = options.binary ?? false;
    this.#valueOptions = options.values ?? {};
  }

  /** The last Relation message seen for `relationId`. */
  relation(relationId: number): RelationMessage | undefined {
    return this.#relations.get(relationId)?.message;
  }

  /** The last Type message seen for `typeOid`. */
  type(typeOid: number): TypeMessage | undefined {
    return this.#types.get(typeOid);
  }

  /** True between a Stream Start and its Stream Stop. */
  get inStream(): boolean {
    return this.#inStream;
  }

  /**
   * Decodes one pgoutput message: the `data` of one XLogData message, or the bytes of `data` from
   * `start` on (a whole XLogData frame with `start` 25, which spares making a view of every message).
   * Error offsets count from `start`.
   */
  decode(data: Buffer, start = 0): PgoutputMessage {
    if (!Number.isInteger(start) || start < 0) throw new RangeError(`pgoutput message start must be a whole number >= 0, got ${String(start)}`);
    this.#data = data;
    this.#start = start;
    this.#offset = start;
    this.#text = undefined;
    if (data.length <= start) {
      this.#tag = 0;
      throw new ProtocolError('TRUNCATED', 'empty pgoutput message: expected a tag byte', 0);
    }
    const tag = data[start]!;
    this.#tag = tag;
    this.#offset = start + 1;
    const minimumVersion = MINIMUM_VERSION[tag]!;
    if (minimumVersion > this.#protocolVersion) {
      throw new ProtocolError(
        'UNKNOWN_MESSAGE',
        `pgoutput ${MESSAGE_NAMES.get(tag) ?? hex(tag)} message needs protocol version ${minimumVersion}, but the decoder was made for version ${this.#protocolVersion}: pass the proto_version given to START_REPLICATION as protocolVersion`,
        0,
      );
    }
    const message = this.#decodeBody(tag);
    if (this.#offset !== data.length) {
      throw new ProtocolError(
        'TRAILING_BYTES',
        `${data.length - this.#offset} unexpected bytes after a complete ${this.#name()} message`,
        this.#at(this.#offset),
      );
    }
    // Only a message that decoded completely changes the decoder's state: after a ProtocolError the
    // decoder is as it was before, so the caller can tell what went wrong without anything else breaking.
    // Row changes, nearly every message, change nothing: they are ruled out by the tag byte, cheaper
    // than comparing the message's tag string with each case below.
    if (tag !== INSERT && tag !== UPDATE && tag !== DELETE) {
      switch (message.tag) {
        case 'relation':
          this.#relations.set(message.relationId, this.#prepareRelation(message));
          this.#lastRelation = undefined;
          break;
        case 'type':
          this.#types.set(message.typeOid, message);
          break;
        case 'stream_start':
          this.#inStream = true;
          break;
        case 'stream_stop':
          this.#inStream = false;
          break;
        default:
          break;
      }
    }
    return message;
  }

  #decodeBody(tag: number): PgoutputMessage {
    switch (tag) {
      case INSERT:
        return this.#insert();
      case UPDATE:
        return this.#update();
      case DELETE:
        return this.#delete();
      case BEGIN:
        return this.#begin();
      case COMMIT:
        return this.#commit();
      case RELATION:
        return this.#relation();
      case TYPE:
        return this.#type();
      case TRUNCATE:
        return this.#truncate();
      case ORIGIN:
        return this.#origin();
      case MESSAGE:
        return this.#logicalMessage();
      case STREAM_START:
        return this.#streamStart();
      case STREAM_STOP:
        this.#expectStream(true);
        return { tag: 'stream_stop' };
      case STREAM_COMMIT:
        return this.#streamCommit();
      case STREAM_ABORT:
        return this.#streamAbort();
      case BEGIN_PREPARE:
        return this.#beginPrepare();
      case PREPARE:
      case STREAM_PREPARE:
        return this.#prepare(tag);
      case COMMIT_PREPARED:
        return this.#commitPrepared();
      case ROLLBACK_PREPARED:
        return this.#rollbackPrepared();
      default:
        throw new ProtocolError('UNKNOWN_MESSAGE', `unknown pgoutput message tag ${hex(tag)}: not a pgoutput stream, or a newer protocol`, 0);
    }
  }

  // --- transactions -------------------------------------------------------------------------------

  #begin(): BeginMessage {
    this.#expectStream(false);
    const finalLsn = this.#lsn('final LSN');
    const commitTime = this.#timestamp('commit timestamp');
    const xid = this.#uint32('xid');
    return { tag: 'begin', finalLsn, commitTime, xid };
  }

  #commit(): CommitMessage {
    this.#expectStream(false);
    const flags = this.#uint8('flags');
    const commitLsn = this.#lsn('commit LSN');
    const commitEndLsn = this.#lsn('commit end LSN');
    const commitTime = this.#timestamp('commit timestamp');
    return { tag: 'commit', flags, commitLsn, commitEndLsn, commitTime };
  }

  #origin(): OriginMessage {
    // Also sent right after Stream Start (with an invalid LSN), so no stream-state check here.
    const originLsn = this.#lsn('origin LSN');
    const name = this.#cstring('origin name');
    return { tag: 'origin', originLsn, name };
  }

  #streamStart(): StreamStartMessage {
    this.#expectStream(false);
    const xid = this.#uint32('xid');
    const firstSegment = this.#flag('first-segment flag');
    return { tag: 'stream_start', xid, firstSegment };
  }

  #streamCommit(): StreamCommitMessage {
    this.#expectStream(false);
    const xid = this.#uint32('xid');
    const flags = this.#uint8('flags');
    const commitLsn = this.#lsn('commit LSN');
    const commitEndLsn = this.#lsn('commit end LSN');
    const commitTime = this.#timestamp('commit timestamp');
    return { tag: 'stream_commit', xid, flags, commitLsn, commitEndLsn, commitTime };
  }

  #streamAbort(): StreamAbortMessage {
    this.#expectStream(false);
    const body = this.#data.length - this.#offset;
    // The abort LSN and time are only there under v4 with streaming = parallel; nothing else in the
    // message says so, but the length does.
    const parallel = this.#protocolVersion >= 4 && body === STREAM_ABORT_PARALLEL_BODY;
    const xid = this.#uint32('xid');
    const subXid = this.#uint32('subtransaction xid');
    if (!parallel) return { tag: 'stream_abort', xid, subXid };
    const abortLsn = this.#lsn('abort LSN');
    const abortTime = this.#timestamp('abort timestamp');
    return { tag: 'stream_abort', xid, subXid, abortLsn, abortTime };
  }

  #beginPrepare(): BeginPrepareMessage {
    this.#expectStream(false);
    const prepareLsn = this.#lsn('prepare LSN');
    const prepareEndLsn = this.#lsn('prepare end LSN');
    const prepareTime = this.#timestamp('prepare timestamp');
    const xid = this.#uint32('xid');
    const gid = this.#cstring('gid');
    return { tag: 'begin_prepare', prepareLsn, prepareEndLsn, prepareTime, xid, gid };
  }

  #prepare(tag: number): PrepareMessage | StreamPrepareMessage {
    this.#expectStream(false);
    const flags = this.#uint8('flags');
    const prepareLsn = this.#lsn('prepare LSN');
    const prepareEndLsn = this.#lsn('prepare end LSN');
    const prepareTime = this.#timestamp('prepare timestamp');
    const xid = this.#uint32('xid');
    const gid = this.#cstring('gid');
    return { tag: tag === PREPARE ? 'prepare' : 'stream_prepare', flags, prepareLsn, prepareEndLsn, prepareTime, xid, gid };
  }

  #commitPrepared(): CommitPreparedMessage {
    this.#expectStream(false);
    const flags = this.#uint8('flags');
    const commitLsn = this.#lsn('commit LSN');
    const commitEndLsn = this.#lsn('commit end LSN');
    const commitTime = this.#timestamp('commit timestamp');
    const xid = this.#uint32('xid');
    const gid = this.#cstring('gid');
    return { tag: 'commit_prepared', flags, commitLsn, commitEndLsn, commitTime, xid, gid };
  }

  #rollbackPrepared(): RollbackPreparedMessage {
    this.#expectStream(false);
    const flags = this.#uint8('flags');
    const prepareEndLsn = this.#lsn('prepare end LSN');
    const rollbackEndLsn = this.#lsn('rollback end LSN');
    const prepareTime = this.#timestamp('prepare timestamp');
    const rollbackTime = this.#timestamp('rollback timestamp');
    const xid = this.#uint32('xid');
    const gid = this.#cstring('gid');
    return { tag: 'rollback_prepared', flags, prepareEndLsn, rollbackEndLsn, prepareTime, rollbackTime, xid, gid };
  }

  // --- schema -------------------------------------------------------------------------------------

  #relation(): RelationMessage {
    const xid = this.#streamXid();
    const relationId = this.#uint32('relation id');
    const schema = this.#cstring('namespace');
    const name = this.#cstring('relation name');
    const identityAt = this.#offset;
    const replicaIdentity = REPLICA_IDENTITIES.get(this.#uint8('replica identity'));
    if (replicaIdentity === undefined) {
      throw new ProtocolError('MALFORMED', `Relation ${schema}.${name}: replica identity must be one of d, n, f, i, got ${hex(this.#data[identityAt]!)}`, this.#at(identityAt));
    }
    const countAt = this.#offset;
    const count = this.#int16('column count');
    if (count < 0) throw new ProtocolError('MALFORMED', `Relation ${schema}.${name}: negative column count ${count}`, this.#at(countAt));
    const columns: RelationColumn[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < count; i++) {
      const flagsAt = this.#offset;
      const flags = this.#uint8('column flags');
      if (flags > 1) throw new ProtocolError('MALFORMED', `Relation ${schema}.${name}: column flags must be 0 or 1, got ${flags}`, this.#at(flagsAt));
      const nameAt = this.#offset;
      const columnName = this.#cstring('column name');
      if (seen.has(columnName)) {
        throw new ProtocolError('MALFORMED', `Relation ${schema}.${name}: column ${JSON.stringify(columnName)} appears twice`, this.#at(nameAt));
      }
      seen.add(columnName);
      const typeOid = this.#uint32('column type oid');
      const typeMod = this.#int32('column type modifier');
      columns.push({ isKey: flags === 1, name: columnName, typeOid, typeMod });
    }
    return xid === undefined
      ? { tag: 'relation', relationId, schema, name, replicaIdentity, columns }
      : { tag: 'relation', xid, relationId, schema, name, replicaIdentity, columns };
  }

  #prepareRelation(message: RelationMessage): CachedRelation {
    const names = message.columns.map((c) => c.name);
    const typeOids = message.columns.map((c) => c.typeOid);
    const label = `${message.schema === '' ? 'pg_catalog' : message.schema}.${message.name}`;
    // PostgreSQL resends a relation after every cache invalidation and in every streamed transaction,
    // mostly unchanged: keep what was made for the same columns instead of making it again.
    const previous = this.#relations.get(message.relationId);
    if (previous !== undefined && sameItems(previous.names, names)) {
      if (sameItems(previous.typeOids, typeOids)) return { ...previous, message, label };
      return { ...this.#converters(names, typeOids), message, label, buildRow: previous.buildRow };
    }
    return { ...this.#converters(names, typeOids), message, label, buildRow: rowBuilder(names) };
  }

  #converters(
    names: readonly string[],
    typeOids: readonly number[],
  ): Pick<CachedRelation, 'names' | 'typeOids' | 'textParsers' | 'rangeParsers' | 'binaryParsers' | 'values' | 'readTuple'> {
    return {
      names,
      typeOids,
      textParsers: typeOids.map((oid) => (this.#binary ? undefined : textParser(oid, this.#valueOptions))),
      rangeParsers: typeOids.map((oid) => (this.#binary ? undefined : textRangeParser(oid, this.#valueOptions))),
      binaryParsers: typeOids.map((oid) => (this.#binary ? binaryParser(oid, this.#valueOptions) : undefined)),
      values: new Array<PgValue>(names.length).fill(null),
      readTuple: this.#binary ? null : tupleReader(names, typeOids, this.#valueOptions),
    };
  }

  #type(): TypeMessage {
    const xid = this.#streamXid();
    const typeOid = this.#uint32('type oid');
    const schema = this.#cstring('namespace');
    const name = this.#cstring('type name');
    return xid === undefined ? { tag: 'type', typeOid, schema, name } : { tag: 'type', xid, typeOid, schema, name };
  }

  // --- rows ---------------------------------------------------------------------------------------

  #insert(): InsertMessage {
    const xid = this.#streamXid();
    const relation = this.#rowRelation();
    this.#expectSubmessage(KIND_NEW, 'N (new tuple)');
    const row = this.#tuple(relation);
    const relationId = relation.message.relationId;
    return xid === undefined ? { tag: 'insert', relationId, new: row } : { tag: 'insert', xid, relationId, new: row };
  }

  #update(): UpdateMessage {
    const xid = this.#streamXid();
    const relation = this.#rowRelation();
    const relationId = relation.message.relationId;
    let key: Row | undefined;
    let old: Row | undefined;
    const kindAt = this.#offset;
    const kind = this.#uint8('submessage kind');
    if (kind === KIND_KEY) key = this.#tuple(relation);
    else if (kind === KIND_OLD) old = this.#tuple(relation);
    else if (kind !== KIND_NEW) throw this.#unexpectedSubmessage(kind, 'K, O or N', kindAt);
    if (kind !== KIND_NEW) this.#expectSubmessage(KIND_NEW, 'N (new tuple)');
    const row = this.#tuple(relation);
    return {
      tag: 'update',
      ...(xid === undefined ? {} : { xid }),
      relationId,
      ...(key === undefined ? {} : { key }),
      ...(old === undefined ? {} : { old }),
      new: row,
    };
  }

  #delete(): DeleteMessage {
    const xid = this.#streamXid();
    const relation = this.#rowRelation();
    const relationId = relation.message.relationId;
    const kindAt = this.#offset;
    const kind = this.#uint8('submessage kind');
    if (kind !== KIND_KEY && kind !== KIND_OLD) throw this.#unexpectedSubmessage(kind, 'K or O', kindAt);
    const row = this.#tuple(relation);
    const tuple = kind === KIND_KEY ? { key: row } : { old: row };
    return xid === undefined ? { tag: 'delete', relationId, ...tuple } : { tag: 'delete', xid, relationId, ...tuple };
  }

  #truncate(): TruncateMessage {
    const xid = this.#streamXid();
    const countAt = this.#offset;
    const count = this.#int32('relation count');
    if (count < 0) throw new ProtocolError('MALFORMED', `Truncate: negative relation count ${count}`, this.#at(countAt));
    const optionsAt = this.#offset;
    const options = this.#uint8('options');
    if ((options & ~(TRUNCATE_CASCADE | TRUNCATE_RESTART_IDENTITY)) !== 0) {
      throw new ProtocolError('MALFORMED', `Truncate: unknown option bits ${hex(options)} (only 1 = CASCADE and 2 = RESTART IDENTITY exist)`, this.#at(optionsAt));
    }
    // Checked before allocating, so a corrupted count cannot ask for a huge array.
    if (count * 4 > this.#data.length - this.#offset) throw this.#truncated(`${count} relation ids`, count * 4, this.#offset);
    const relationIds: number[] = [];
    for (let i = 0; i < count; i++) {
      const idAt = this.#offset;
      const relationId = this.#uint32('relation id');
      if (!this.#relations.has(relationId)) throw this.#unknownRelation(relationId, idAt);
      relationIds.push(relationId);
    }
    const cascade = (options & TRUNCATE_CASCADE) !== 0;
    const restartIdentity = (options & TRUNCATE_RESTART_IDENTITY) !== 0;
    return xid === undefined
      ? { tag: 'truncate', cascade, restartIdentity, relationIds }
      : { tag: 'truncate', xid, cascade, restartIdentity, relationIds };
  }

  #logicalMessage(): LogicalDecodingMessage {
    const xid = this.#streamXid();
    const transactional = this.#flag('flags');
    const lsn = this.#lsn('message LSN');
    const prefix = this.#cstring('prefix');
    const lengthAt = this.#offset;
    const length = this.#int32('content length');
    if (length < 0) throw new ProtocolError('MALFORMED', `Message ${JSON.stringify(prefix)}: negative content length ${length}`, this.#at(lengthAt));
    const start = this.#need(length, 'content');
    // A copy: the payload may be a view into a larger frame the caller reuses or wants collected.
    const content = Buffer.from(this.#data.subarray(start, start + length));
    return xid === undefined
      ? { tag: 'message', transactional, lsn, prefix, content }
      : { tag: 'message', xid, transactional, lsn, prefix, content };
  }

  #rowRelation(): CachedRelation {
    const at = this.#offset;
    const relationId = this.#uint32('relation id');
    // Changes mostly come in runs on one table: a Map lookup (hashing the id) only when the table changes.
    const last = this.#lastRelation;
    if (last !== undefined && last.message.relationId === relationId) return last;
    const relation = this.#relations.get(relationId);
    if (relation === undefined) throw this.#unknownRelation(relationId, at);
    this.#lastRelation = relation;
    return relation;
  }

  /**
   * TupleData: Int16 column count, then per column a kind byte and, for `t` and `b`, an Int32 length
   * and the value. The hot path: one object per row, fields read straight off the buffer.
   */
  #tuple(relation: CachedRelation): Row {
    const data = this.#data;
    const end = data.length;
    let at = this.#offset;
    if (end - at < 2) throw this.#truncated('TupleData column count', 2, at);
    const count = data.readInt16BE(at);
    const names = relation.names;
    if (count !== names.length) {
      throw new ProtocolError(
        'MALFORMED',
        `${this.#name()}: TupleData has ${count} columns but relation ${relation.label} (id ${relation.message.relationId}) has ${names.length}; its Relation message and rows disagree`,
        this.#at(at),
      );
    }
    at += 2;
    const readTuple = relation.readTuple;
    if (readTuple !== null) {
      const text = this.#sharedText();
      if (text !== '') {
        try {
          const row = readTuple(data, at, end, text, this.#textStart, this.#cursor);
          if (row !== undefined) {
            this.#offset = this.#cursor.at;
            return row;
          }
        } catch {
          // A value its converter refuses: the loop below meets it again and names the column.
        }
      }
    }
    const values = relation.values;
    for (let column = 0; column < count; column++) {
      if (at >= end) throw this.#truncated('TupleData column kind', 1, at);
      const kind = data[at]!;
      let value: PgValue;
      if (kind === KIND_TEXT || kind === KIND_BINARY) {
        if (end - at < 5) throw this.#truncated('TupleData value length', 4, at + 1);
        const length = data.readInt32BE(at + 1);
        const start = at + 5;
        if (length < 0) throw new ProtocolError('MALFORMED', `${this.#name()}: negative value length ${length} in column ${JSON.stringify(names[column])}`, this.#at(at + 1));
        if (length > end - start) throw this.#truncated(`value of column ${JSON.stringify(names[column])}`, length, start);
        at = start + length;
        value = kind === KIND_TEXT ? this.#textValue(relation, column, start, at) : this.#binaryValue(relation, column, start, at);
      } else if (kind === KIND_NULL) {
        value = null;
        at += 1;
      } else if (kind === KIND_UNCHANGED_TOAST) {
        value = UNCHANGED_TOAST;
        at += 1;
      } else {
        throw new ProtocolError(
          'UNKNOWN_TUPLE_KIND',
          `${this.#name()}: TupleData kind ${hex(kind)} in column ${JSON.stringify(names[column])} of ${relation.label} is none of n, u, t, b`,
          this.#at(at),
        );
      }
      values[column] = value;
    }
    this.#offset = at;
    return relation.buildRow(values);
  }

  #textValue(relation: CachedRelation, column: number, start: number, end: number): PgValue {
    const shared = this.#sharedText();
    const inPlace = relation.rangeParsers[column];
    try {
      if (shared !== '') {
        // The column's text is shared.slice(from, to): convert it there if the type can.
        const from = start - this.#textStart;
        const to = end - this.#textStart;
        if (inPlace !== undefined) return inPlace(shared, from, to);
        return this.#textParser(relation, column)(shared.substring(from, to));
      }
      const text = utf8(this.#data, start, end);
      return inPlace === undefined ? this.#textParser(relation, column)(text) : inPlace(text, 0, text.length);
    } catch (error) {
      throw this.#valueError(relation, column, 'text', start, error);
    }
  }

  #textParser(relation: CachedRelation, column: number): TextParser {
    return relation.textParsers[column] ?? (relation.textParsers[column] = textParser(relation.typeOids[column]!, this.#valueOptions));
  }

  #binaryValue(relation: CachedRelation, column: number, start: number, end: number): PgValue {
    const parse =
      relation.binaryParsers[column] ?? (relation.binaryParsers[column] = binaryParser(relation.typeOids[column]!, this.#valueOptions));
    try {
      return parse(this.#data.subarray(start, end));
    } catch (error) {
      throw this.#valueError(relation, column, 'binary', start, error);
    }
  }

  /**
   * The message's tuple bytes as one string, or '' when each column must be decoded on its own.
   * Turning bytes into a string costs a call into C++ each time, which for the short values of a
   * typical row costs more than the conversion itself. So a small message is decoded once, from its
   * first tuple to its end, and columns are read from that string: exact when the string has one
   * UTF-16 unit per byte. Every valid multi-byte UTF-8 sequence (and every truncated one) yields fewer
   * units than bytes and nothing yields more, so equal lengths mean each byte stands for itself
   * (ASCII, or a lone invalid byte replaced by U+FFFD on its own either way) and byte offsets are
   * string offsets. A substring of 13 or more characters (a text value, a string inside a json value)
   * shares the message string instead of copying it, so only messages up to SHARED_TEXT_LIMIT bytes
   * are read this way: a kept value then holds on to at most that much.
   */
  #sharedText(): string {
    let text = this.#text;
    if (text === undefined) {
      const data = this.#data;
      const from = this.#offset;
      text = data.length - from <= SHARED_TEXT_LIMIT ? utf8(data, from, data.length) : '';
      if (text.length !== data.length - from) text = '';
      this.#text = text;
      this.#textStart = from;
    }
    return text;
  }

  /** A converter refused a value: a ProtocolError naming the column, whatever the converter threw. */
  #valueError(relation: CachedRelation, column: number, format: 'text' | 'binary', at: number, error: unknown): ProtocolError {
    const code: ProtocolErrorCode = error instanceof ProtocolError ? error.code : 'MALFORMED';
    return new ProtocolError(
      code,
      `${this.#name()}: column ${JSON.stringify(relation.names[column])} of ${relation.label} (type oid ${relation.typeOids[column]!}, ${format}) is not a valid value: ${describeError(error)}`,
      this.#at(at),
      { cause: error },
    );
  }

  // --- field readers ------------------------------------------------------------------------------

  /** An offset into `#data` as an offset into the message, for errors. */
  #at(offset: number): number {
    return offset - this.#start;
  }

  #name(): string {
    return `pgoutput ${MESSAGE_NAMES.get(this.#tag) ?? 'message'}`;
  }

  /** Claims `length` bytes at the current offset and returns where they start. */
  #need(length: number, what: string): number {
    const at = this.#offset;
    if (length > this.#data.length - at) throw this.#truncated(what, length, at);
    this.#offset = at + length;
    return at;
  }

  #truncated(what: string, length: number, at: number): ProtocolError {
    const left = Math.max(0, this.#data.length - at);
    return new ProtocolError('TRUNCATED', `${this.#name()} is cut short: ${what} needs ${length} bytes, ${left} left`, this.#at(at));
  }

  #uint8(what: string): number {
    return this.#data[this.#need(1, what)]!;
  }

  /** An Int8 that PostgreSQL only ever sets to 0 or 1. */
  #flag(what: string): boolean {
    const at = this.#offset;
    const value = this.#uint8(what);
    if (value > 1) throw new ProtocolError('MALFORMED', `${this.#name()}: ${what} must be 0 or 1, got ${value}`, this.#at(at));
    return value === 1;
  }

  #int16(what: string): number {
    return this.#data.readInt16BE(this.#need(2, what));
  }

  #int32(what: string): number {
    return this.#data.readInt32BE(this.#need(4, what));
  }

  /** Oids and xids: PostgreSQL writes them with pq_sendint32, but they are unsigned. */
  #uint32(what: string): number {
    return this.#data.readUInt32BE(this.#need(4, what));
  }

  #lsn(what: string): Lsn {
    return this.#data.readBigUInt64BE(this.#need(8, what));
  }

  /** TimestampTz: signed microseconds since 2000-01-01 UTC. */
  #timestamp(what: string): bigint {
    return this.#data.readBigInt64BE(this.#need(8, what));
  }

  #cstring(what: string): string {
    const start = this.#offset;
    const nul = start < this.#data.length ? this.#data.indexOf(0, start) : -1;
    if (nul === -1) {
      throw new ProtocolError('TRUNCATED', `${this.#name()} is cut short: ${what} has no terminating NUL byte`, this.#at(start));
    }
    this.#offset = nul + 1;
    return this.#data.toString('utf8', start, nul);
  }

  /** Between Stream Start and Stream Stop, data messages begin with the (sub)transaction's xid. */
  #streamXid(): number | undefined {
    return this.#inStream ? this.#uint32('xid') : undefined;
  }

  #expectStream(inside: boolean): void {
    if (this.#inStream === inside) return;
    throw new ProtocolError(
      'MALFORMED',
      inside
        ? `${this.#name()} outside a streamed block: no Stream Start came before it`
        : `${this.#name()} inside a streamed block: Stream Stop did not come before it`,
      0,
    );
  }

  #expectSubmessage(kind: number, expected: string): void {
    const at = this.#offset;
    const actual = this.#uint8('submessage kind');
    if (actual !== kind) throw this.#unexpectedSubmessage(actual, expected, at);
  }

  #unexpectedSubmessage(actual: number, expected: string, at: number): ProtocolError {
    return new ProtocolError('MALFORMED', `${this.#name()}: expected tuple ${expected}, got ${hex(actual)}`, this.#at(at));
  }

  #unknownRelation(relationId: number, at: number): ProtocolError {
    return new ProtocolError(
      'UNKNOWN_RELATION',
      `${this.#name()} refers to relation id ${relationId}, but no Relation message announced it: decode every message of the stream, in order, with one decoder`,
      this.#at(at),
    );
  }
}
