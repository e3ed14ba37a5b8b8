import { Observable, type OperatorFunction } from 'rxjs';
import type {
  BeginEvent,
  CommitEvent,
  DeleteChange,
  InsertChange,
  MessageChange,
  ProgressEvent,
  RollbackEvent,
  SchemaEvent,
  SourceEvent,
  TransactionInfo,
  TruncateChange,
  UpdateChange,
} from '../model/events.js';
import { tableKey, type TableKey, type TableSchema } from '../model/table.js';
import { ProtocolError } from '../protocol/errors.js';
import { Lsn } from '../protocol/lsn.js';
import { PgoutputDecoder, type PgoutputProtocolVersion } from '../protocol/pgoutput.js';
import type {
  DeleteMessage,
  InsertMessage,
  LogicalDecodingMessage,
  PgoutputMessage,
  RelationMessage,
  TruncateMessage,
  UpdateMessage,
} from '../protocol/pgoutput-messages.js';
import { parseReplicationMessage, pgTimestampToIso } from '../protocol/replication-messages.js';
import type { ValueOptions } from '../protocol/values.js';

/**
 * What to do with transactions PostgreSQL streams before they commit (protocol v2+, `streaming on`):
 * - `assemble` (default): buffer each one's chunks in memory and emit it as one ordinary
 *   begin/changes/commit sequence at Stream Commit; drop it at Stream Abort. Targets never see
 *   uncommitted data, but a streamed transaction is held in memory whole.
 * - `passthrough`: emit changes as they arrive, in bounded memory. Several transactions can then be
 *   open at once; a streamed transaction's `begin` has commitLsn 0/0 and an empty commitTime (both
 *   unknown until it commits; its `commit` carries them), its changes carry `subXid` when a
 *   subtransaction made them, and a Stream Abort becomes a `rollback` (with `subXid` when only a
 *   subtransaction aborted).
 */
export type StreamedTransactions = 'assemble' | 'passthrough';

export interface DecodePgoutputOptions {
  /** The `proto_version` given to START_REPLICATION. Default 4 (reads what 1-3 send, too). */
  readonly protocolVersion?: PgoutputProtocolVersion;
  /** The `binary` option given to START_REPLICATION. Default false. */
  readonly binary?: boolean;
  readonly values?: ValueOptions;
  /**
   * Table shapes the baseline delivered. A Relation message equal to one of these emits nothing; one
   * that differs emits a `schema` event with `previous`. A table the baseline did not deliver gets a
   * `schema` event the first time the stream names it.
   */
  readonly knownTables?: ReadonlyMap<TableKey, TableSchema> | readonly TableSchema[];
  /** Default `assemble`. */
  readonly streams?: StreamedTransactions;
}

/**
 * Turns the CopyData payloads of a logical replication stream (pgoutput) into source events:
 * XLogData through a {@link PgoutputDecoder} into begin / insert / update / delete / truncate /
 * message / commit / schema events, keepalives into `progress` events.
 *
 * Every event's `bytes` is the length of the frame(s) it stands for; a frame that yields no event
 * (Relation unchanged, Type, Origin, Stream Start/Stop/Abort) hands its bytes to the next event, so the
 * total over events equals the total over frames (the byte budget is released from events). Frames
 * buffered by `streams: 'assemble'` are accounted at once through a `progress` event with walEnd 0/0,
 * which confirms nothing: a streamed transaction is larger than logical_decoding_work_mem, so holding
 * its bytes until Stream Commit would stall the reader on the budget before the commit could arrive.
 *
 * Bytes PostgreSQL would not send, or messages out of order (a change outside a transaction, a
 * commit without begin), error with a ProtocolError (not retryable). Before any error or completion,
 * bytes not yet given to an event go out in a `progress` event with walEnd 0/0.
 */
export function decodePgoutput(options: DecodePgoutputOptions = {}): OperatorFunction<Buffer, SourceEvent> {
  return (frames: Observable<Buffer>): Observable<SourceEvent> =>
    new Observable<SourceEvent>((subscriber) => {
      const decoder = new PgoutputEventDecoder(options);
      const emit = (event: SourceEvent): void => {
        subscriber.next(event);
      };
      // On error too, bytes not yet given to an event go out first, so a budget that outlives this
      // connection (acknowledge placed after reconnect) gets every byte back.
      const fail = (error: unknown): void => {
        decoder.finish(emit);
        subscriber.error(error);
      };
      return frames.subscribe({
        next: (frame) => {
          try {
            decoder.push(frame, emit);
          } catch (error) {
            fail(error);
          }
        },
        error: fail,
        complete: () => {
          decoder.finish(emit);
          subscriber.complete();
        },
      });
    });
}

type SchemaLookup = (relationId: number) => TableSchema | undefined;

/** XLogData (`w`): tag, WAL start, WAL end, server clock, then the pgoutput message. */
const XLOG_DATA = 0x77;
const XLOG_DATA_HEADER = 1 + 8 + 8 + 8;

type BufferedEvent = SchemaEvent | InsertChange | UpdateChange | DeleteChange | TruncateChange | MessageChange;

/** A streamed transaction being assembled. */
interface AssembledTransaction {
  readonly xid: number;
  readonly events: BufferedEvent[];
  /** Table shapes as this transaction sees them (a Relation sent inside it may be its own ALTER). */
  readonly schemas: Map<number, TableSchema>;
  /** Index into `events` of each subtransaction's first change, for Stream Abort of a subtransaction. */
  readonly subtransactionStarts: Map<number, number>;
}

/**
 * The state machine behind {@link decodePgoutput}, without RxJS: `push` one frame, receive its events.
 * One per replication connection.
 */
export class PgoutputEventDecoder {
  readonly #decoder: PgoutputDecoder;
  readonly #streams: StreamedTransactions;
  readonly #known: ReadonlyMap<TableKey, TableSchema>;
  /** Table shapes outside streamed transactions, by relation id. */
  readonly #schemas = new Map<number, TableSchema>();
  readonly #assembling = new Map<number, AssembledTransaction>();
  /** The open non-streamed transaction. */
  #transaction: TransactionInfo | undefined;
  /** Top-level xid of the Stream Start .. Stream Stop block being read. */
  #streamXid: number | undefined;
  /** Passthrough: streamed transactions begun and not yet committed or aborted. */
  readonly #passthroughOpen = new Set<number>();
  /** Bytes of frames that produced no event yet. */
  #carry = 0;
  readonly #committedSchema: SchemaLookup = (relationId) => this.#schemas.get(relationId);

  constructor(options: DecodePgoutputOptions = {}) {
    this.#decoder = new PgoutputDecoder({
      ...(options.protocolVersion === undefined ? {} : { protocolVersion: options.protocolVersion }),
      ...(options.binary === undefined ? {} : { binary: options.binary }),
      ...(options.values === undefined ? {} : { values: options.values }),
    });
    this.#streams = options.streams ?? 'assemble';
    const known = options.knownTables ?? [];
    this.#known = known instanceof Map ? known : new Map((known as readonly TableSchema[]).map((t) => [t.key, t]));
  }

  /** Decodes one CopyData payload and emits what it yields. */
  push(frame: Buffer, emit: (event: SourceEvent) => void): void {
    this.#carry += frame.length;
    let walStart: Lsn;
    let pgoutput: PgoutputMessage;
    if (frame[0] === XLOG_DATA && frame.length >= XLOG_DATA_HEADER) {
      // XLogData, read in place: parseReplicationMessage would make a view of the payload and read
      // the server's WAL end and clock, which nothing here needs, for every row.
      walStart = frame.readBigUInt64BE(1);
      pgoutput = this.#decoder.decode(frame, XLOG_DATA_HEADER);
    } else {
      const message = parseReplicationMessage(frame);
      if (message.tag === 'k') {
        const progress: ProgressEvent = { kind: 'progress', walEnd: message.walEnd, bytes: this.#takeCarry() };
        emit(progress);
        return;
      }
      walStart = message.walStart;
      pgoutput = this.#decoder.decode(message.data);
    }
    const assembled = this.#handle(pgoutput, walStart, emit);
    // An assembled frame's bytes cannot wait for Stream Commit (see decodePgoutput): account now.
    if (assembled && this.#carry > 0) emit({ kind: 'progress', walEnd: Lsn.ZERO, bytes: this.#takeCarry() });
  }

  /**
   * The input ended: bytes of trailing frames that produced no event go out in a `progress` event
   * with walEnd 0/0, so the budget gets them back. Transactions still being assembled are dropped.
   */
  finish(emit: (event: SourceEvent) => void): void {
    if (this.#carry > 0) emit({ kind: 'progress', walEnd: Lsn.ZERO, bytes: this.#takeCarry() });
    this.#assembling.clear();
  }

  /** Returns true when the message went into a transaction being assembled (or only steered one). */
  #handle(message: PgoutputMessage, walStart: Lsn, emit: (event: SourceEvent) => void): boolean {
    switch (message.tag) {
      case 'begin': {
        if (this.#transaction !== undefined) {
          throw sequenceError(`Begin of xid ${message.xid} while xid ${this.#transaction.xid} is still open`);
        }
        const transaction: TransactionInfo = {
          xid: message.xid,
          commitLsn: message.finalLsn,
          commitTime: pgTimestampToIso(message.commitTime),
        };
        this.#transaction = transaction;
        const event: BeginEvent = { kind: 'begin', transaction, bytes: this.#takeCarry() };
        emit(event);
        return false;
      }
      case 'commit': {
        const transaction = this.#transaction;
        if (transaction === undefined) throw sequenceError(`Commit at ${Lsn.format(message.commitLsn)} without a Begin`);
        this.#transaction = undefined;
        const event: CommitEvent = { kind: 'commit', transaction, commitEndLsn: message.commitEndLsn, bytes: this.#takeCarry() };
        emit(event);
        return false;
      }
      case 'origin':
      case 'type':
        return this.#inAssembledStream();
      case 'relation':
        return this.#relation(message, emit);
      case 'insert':
      case 'update':
      case 'delete':
      case 'truncate':
      case 'message':
        return this.#change(message, walStart, emit);
      case 'stream_start':
        return this.#streamStart(message.xid, message.firstSegment, emit);
      case 'stream_stop': {
        const wasAssembling = this.#inAssembledStream();
        this.#streamXid = undefined;
        return wasAssembling;
      }
      case 'stream_commit':
        this.#streamCommit(message.xid, message.commitLsn, message.commitEndLsn, message.commitTime, emit);
        return false;
      case 'stream_abort':
        this.#streamAbort(message.xid, message.subXid, emit);
        return false;
      case 'begin_prepare':
      case 'prepare':
      case 'commit_prepared':
      case 'rollback_prepared':
      case 'stream_prepare':
        throw new ProtocolError(
          'UNKNOWN_MESSAGE',
          `pgoutput two-phase message '${message.tag}' (xid ${message.xid}): laredo does not enable two_phase; ` +
            `the slot was created by something else with two_phase = true. Use a slot laredo created`,
          0,
        );
    }
  }

  #inAssembledStream(): boolean {
    return this.#streamXid !== undefined && this.#streams === 'assemble';
  }

  #relation(message: RelationMessage, emit: (event: SourceEvent) => void): boolean {
    const assembling = this.#streamXid === undefined || this.#streams === 'passthrough' ? undefined : this.#assembled(this.#streamXid);
    const schemaName = message.schema === '' ? 'pg_catalog' : message.schema;
    const key = tableKey(schemaName, message.name);
    const previous =
      assembling?.schemas.get(message.relationId) ?? this.#schemas.get(message.relationId) ?? this.#known.get(key);
    const next = tableSchemaOf(message, schemaName, key, previous);
    const unchanged = previous !== undefined && sameShape(previous, next);
    const current = unchanged ? previous : next;
    if (assembling !== undefined) {
      assembling.schemas.set(message.relationId, current);
      if (!unchanged) assembling.events.push(schemaEvent(current, previous, 0));
      return true;
    }
    this.#schemas.set(message.relationId, current);
    if (!unchanged) emit(schemaEvent(current, previous, this.#takeCarry()));
    return false;
  }

  #change(
    message: InsertMessage | UpdateMessage | DeleteMessage | TruncateMessage | LogicalDecodingMessage,
    walStart: Lsn,
    emit: (event: SourceEvent) => void,
  ): boolean {
    if (message.tag === 'message' && !message.transactional) {
      // Emitted by pg_logical_emit_message(false, ...) at once, in or out of any transaction.
      emit({ kind: 'message', prefix: message.prefix, content: message.content, transactional: false, lsn: message.lsn, bytes: this.#takeCarry() });
      return false;
    }
    const streamXid = this.#streamXid;
    if (streamXid === undefined) {
      const transaction = this.#transaction;
      if (transaction === undefined) throw sequenceError(`${message.tag} outside a transaction (no Begin before it)`);
      emit(this.#changeEvent(message, walStart, transaction.xid, undefined, this.#committedSchema, this.#takeCarry()));
      return false;
    }
    // Inside a stream block every data message carries the xid of the (sub)transaction that made it.
    const madeBy = message.xid ?? streamXid;
    const subXid = madeBy === streamXid ? undefined : madeBy;
    if (this.#streams === 'passthrough') {
      emit(this.#changeEvent(message, walStart, streamXid, subXid, this.#committedSchema, this.#takeCarry()));
      return false;
    }
    const assembling = this.#assembled(streamXid);
    if (subXid !== undefined && !assembling.subtransactionStarts.has(subXid)) {
      assembling.subtransactionStarts.set(subXid, assembling.events.length);
    }
    const schemas = (relationId: number): TableSchema | undefined => assembling.schemas.get(relationId) ?? this.#schemas.get(relationId);
    assembling.events.push(this.#changeEvent(message, walStart, streamXid, undefined, schemas, 0));
    return true;
  }

  #changeEvent(
    message: InsertMessage | UpdateMessage | DeleteMessage | TruncateMessage | LogicalDecodingMessage,
    lsn: Lsn,
    xid: number,
    subXid: number | undefined,
    schemas: SchemaLookup,
    bytes: number,
  ): BufferedEvent {
    if (subXid === undefined) {
      // The hot path, as plain literals: spreading even an empty object copies it for every event.
      switch (message.tag) {
        case 'insert':
          return { kind: 'insert', table: this.#schema(schemas, message.relationId), row: message.new, lsn, xid, bytes };
        case 'update': {
          const table = this.#schema(schemas, message.relationId);
          if (message.old !== undefined) return { kind: 'update', table, row: message.new, old: message.old, oldKind: 'full', lsn, xid, bytes };
          if (message.key !== undefined) return { kind: 'update', table, row: message.new, old: message.key, oldKind: 'key', lsn, xid, bytes };
          return { kind: 'update', table, row: message.new, lsn, xid, bytes };
        }
        case 'delete': {
          const table = this.#schema(schemas, message.relationId);
          if (message.old !== undefined) return { kind: 'delete', table, old: message.old, oldKind: 'full', lsn, xid, bytes };
          if (message.key !== undefined) return { kind: 'delete', table, old: message.key, oldKind: 'key', lsn, xid, bytes };
          break; // refused below
        }
        default:
          break;
      }
    }
    const sub = subXid === undefined ? {} : { subXid };
    switch (message.tag) {
      case 'insert':
        return { kind: 'insert', table: this.#schema(schemas, message.relationId), row: message.new, lsn, xid, ...sub, bytes };
      case 'update': {
        const table = this.#schema(schemas, message.relationId);
        if (message.old !== undefined) return { kind: 'update', table, row: message.new, old: message.old, oldKind: 'full', lsn, xid, ...sub, bytes };
        if (message.key !== undefined) return { kind: 'update', table, row: message.new, old: message.key, oldKind: 'key', lsn, xid, ...sub, bytes };
        return { kind: 'update', table, row: message.new, lsn, xid, ...sub, bytes };
      }
      case 'delete': {
        const table = this.#schema(schemas, message.relationId);
        if (message.old !== undefined) return { kind: 'delete', table, old: message.old, oldKind: 'full', lsn, xid, ...sub, bytes };
        if (message.key !== undefined) return { kind: 'delete', table, old: message.key, oldKind: 'key', lsn, xid, ...sub, bytes };
        throw new ProtocolError('MALFORMED', `Delete on ${table.key} carries neither a key (K) nor an old row (O)`, 0);
      }
      case 'truncate':
        return {
          kind: 'truncate',
          tables: message.relationIds.map((id) => this.#schema(schemas, id)),
          cascade: message.cascade,
          restartIdentity: message.restartIdentity,
          lsn,
          xid,
          ...sub,
          bytes,
        };
      case 'message':
        return { kind: 'message', prefix: message.prefix, content: message.content, transactional: true, lsn: message.lsn, xid, ...sub, bytes };
    }
  }

  #schema(schemas: SchemaLookup, relationId: number): TableSchema {
    const schema = schemas(relationId);
    if (schema === undefined) {
      throw new ProtocolError('UNKNOWN_RELATION', `a change names relation ${relationId}, but no Relation message announced it`, 0);
    }
    return schema;
  }

  #streamStart(xid: number, firstSegment: boolean, emit: (event: SourceEvent) => void): boolean {
    this.#streamXid = xid;
    if (this.#streams === 'passthrough') {
      if (firstSegment && !this.#passthroughOpen.has(xid)) {
        this.#passthroughOpen.add(xid);
        // Commit LSN and time are unknown until Stream Commit.
        emit({ kind: 'begin', transaction: { xid, commitLsn: Lsn.ZERO, commitTime: '' }, bytes: this.#takeCarry() });
      } else if (!this.#passthroughOpen.has(xid)) {
        throw sequenceError(`Stream Start of a later segment of xid ${xid}, whose first segment never came`);
      }
      return false;
    }
    if (firstSegment) {
      this.#assembling.set(xid, { xid, events: [], schemas: new Map(), subtransactionStarts: new Map() });
    } else if (!this.#assembling.has(xid)) {
      throw sequenceError(`Stream Start of a later segment of xid ${xid}, whose first segment never came`);
    }
    return true;
  }

  #assembled(xid: number): AssembledTransaction {
    const assembling = this.#assembling.get(xid);
    if (assembling === undefined) throw sequenceError(`data for streamed xid ${xid} outside its Stream Start`);
    return assembling;
  }

  #streamCommit(xid: number, commitLsn: Lsn, commitEndLsn: Lsn, commitTime: bigint, emit: (event: SourceEvent) => void): void {
    const transaction: TransactionInfo = { xid, commitLsn, commitTime: pgTimestampToIso(commitTime) };
    if (this.#streams === 'passthrough') {
      if (!this.#passthroughOpen.delete(xid)) throw sequenceError(`Stream Commit of xid ${xid}, which never started`);
      emit({ kind: 'commit', transaction, commitEndLsn, bytes: this.#takeCarry() });
      return;
    }
    const assembled = this.#assembling.get(xid);
    if (assembled === undefined) throw sequenceError(`Stream Commit of xid ${xid}, which never started`);
    this.#assembling.delete(xid);
    emit({ kind: 'begin', transaction, bytes: 0 });
    for (const event of assembled.events) {
      if (event.kind !== 'schema') {
        emit(event);
        continue;
      }
      // Transactions that committed while this one was streamed may have announced the same shape
      // already: compare with the committed shape as of now, not as of the Relation message.
      const committed = this.#schemas.get(event.table.relationId) ?? this.#known.get(event.table.key);
      if (committed === undefined || !sameShape(committed, event.table)) emit(schemaEvent(event.table, committed, 0));
      // Shapes the transaction announced are the committed shapes from now on.
      this.#schemas.set(event.table.relationId, event.table);
    }
    for (const [relationId, schema] of assembled.schemas) this.#schemas.set(relationId, schema);
    emit({ kind: 'commit', transaction, commitEndLsn, bytes: this.#takeCarry() });
  }

  #streamAbort(xid: number, subXid: number, emit: (event: SourceEvent) => void): void {
    if (this.#streams === 'passthrough') {
      if (!this.#passthroughOpen.has(xid)) throw sequenceError(`Stream Abort of xid ${xid}, which never started`);
      if (subXid === xid) this.#passthroughOpen.delete(xid);
      const rollback: RollbackEvent = subXid === xid ? { kind: 'rollback', xid, bytes: this.#takeCarry() } : { kind: 'rollback', xid, subXid, bytes: this.#takeCarry() };
      emit(rollback);
      return;
    }
    const assembled = this.#assembling.get(xid);
    if (assembled === undefined) throw sequenceError(`Stream Abort of xid ${xid}, which never started`);
    if (subXid === xid) {
      this.#assembling.delete(xid);
      return;
    }
    // Like PostgreSQL's own apply worker: a subtransaction's changes, and those of subtransactions
    // that started after it (its children), are everything from its first change on. Schema events
    // stay: the server will not announce those shapes again inside this transaction.
    const start = assembled.subtransactionStarts.get(subXid);
    if (start === undefined) return;
    const kept = assembled.events.filter((event, index) => index < start || event.kind === 'schema');
    assembled.events.length = 0;
    assembled.events.push(...kept);
    for (const [sub, index] of assembled.subtransactionStarts) if (index >= start) assembled.subtransactionStarts.delete(sub);
  }

  #takeCarry(): number {
    const bytes = this.#carry;
    this.#carry = 0;
    return bytes;
  }
}

/**
 * The TableSchema a Relation message describes. Under REPLICA IDENTITY FULL pgoutput flags every
 * column as key, which says nothing about the table's primary key: keep the key columns known
 * before (from the baseline) when they still exist, so rows keep the same identity in targets.
 */
function tableSchemaOf(message: RelationMessage, schemaName: string, key: TableKey, previous: TableSchema | undefined): TableSchema {
  const flagged = message.columns.filter((c) => c.isKey).map((c) => c.name);
  let keyColumns = flagged;
  if (message.replicaIdentity === 'full' && previous !== undefined && previous.keyColumns.length > 0) {
    const names = new Set(message.columns.map((c) => c.name));
    if (previous.keyColumns.every((name) => names.has(name))) keyColumns = [...previous.keyColumns];
  }
  return {
    key,
    schema: schemaName,
    name: message.name,
    relationId: message.relationId,
    replicaIdentity: message.replicaIdentity,
    columns: message.columns,
    keyColumns,
  };
}

/** Same name, identity, columns (name, type, modifier, order) and key: nothing a target must react to. */
function sameShape(a: TableSchema, b: TableSchema): boolean {
  if (a.key !== b.key || a.relationId !== b.relationId || a.replicaIdentity !== b.replicaIdentity) return false;
  if (a.columns.length !== b.columns.length || a.keyColumns.length !== b.keyColumns.length) return false;
  for (let i = 0; i < a.columns.length; i++) {
    const x = a.columns[i]!;
    const y = b.columns[i]!;
    if (x.name !== y.name || x.typeOid !== y.typeOid || x.typeMod !== y.typeMod) return false;
  }
  return a.keyColumns.every((name, i) => name === b.keyColumns[i]);
}

function schemaEvent(table: TableSchema, previous: TableSchema | undefined, bytes: number): SchemaEvent {
  return previous === undefined ? { kind: 'schema', table, bytes } : { kind: 'schema', table, previous, bytes };
}

function sequenceError(problem: string): ProtocolError {
  return new ProtocolError('MALFORMED', `pgoutput messages out of order: ${problem}`, 0);
}
