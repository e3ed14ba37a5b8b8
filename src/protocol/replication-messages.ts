import { ProtocolError } from './errors.js';
import type { Lsn } from './lsn.js';

/**
 * The streaming replication protocol's CopyData payloads ("Streaming Replication Protocol"): the
 * server sends XLogData (`w`) and primary keepalives (`k`); the client answers with standby status
 * updates (`r`). Timestamps are microseconds since 2000-01-01 00:00:00 UTC.
 */

/** WAL data: for a logical slot, `data` is one pgoutput message. */
export interface XLogData {
  readonly tag: 'w';
  /** Start of the WAL data in this message. */
  readonly walStart: Lsn;
  /** Current end of WAL on the server. */
  readonly walEnd: Lsn;
  readonly serverClock: bigint;
  /** A view into the frame: the frame is the caller's own copy, so this stays valid. */
  readonly data: Buffer;
}

export interface PrimaryKeepalive {
  readonly tag: 'k';
  /** Current end of WAL on the server (for a logical slot: how far it has decoded and sent). */
  readonly walEnd: Lsn;
  readonly serverClock: bigint;
  /** The server disconnects after wal_sender_timeout unless the client answers soon. */
  readonly replyRequested: boolean;
}

export type ReplicationMessage = XLogData | PrimaryKeepalive;

const XLOG_DATA_HEADER = 1 + 8 + 8 + 8;
const KEEPALIVE_LENGTH = 1 + 8 + 8 + 1;
const STATUS_UPDATE_LENGTH = 1 + 8 + 8 + 8 + 8 + 1;

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 00:00:00 UTC). */
export const PG_EPOCH_UNIX_MICROS = 946_684_800_000_000n;

/** Decodes one CopyData payload of a replication stream. */
export function parseReplicationMessage(frame: Buffer): ReplicationMessage {
  if (frame.length === 0) throw new ProtocolError('TRUNCATED', 'empty replication message', 0);
  const tag = frame[0];
  if (tag === 0x77 /* w */) {
    if (frame.length < XLOG_DATA_HEADER) {
      throw new ProtocolError('TRUNCATED', `XLogData needs ${XLOG_DATA_HEADER} header bytes, got ${frame.length}`, frame.length);
    }
    return {
      tag: 'w',
      walStart: frame.readBigUInt64BE(1),
      walEnd: frame.readBigUInt64BE(9),
      serverClock: frame.readBigInt64BE(17),
      data: frame.subarray(XLOG_DATA_HEADER),
    };
  }
  if (tag === 0x6b /* k */) {
    if (frame.length < KEEPALIVE_LENGTH) {
      throw new ProtocolError('TRUNCATED', `primary keepalive needs ${KEEPALIVE_LENGTH} bytes, got ${frame.length}`, frame.length);
    }
    if (frame.length > KEEPALIVE_LENGTH) {
      throw new ProtocolError('TRAILING_BYTES', `primary keepalive is ${KEEPALIVE_LENGTH} bytes, got ${frame.length}`, KEEPALIVE_LENGTH);
    }
    const reply = frame[17]!;
    if (reply > 1) throw new ProtocolError('MALFORMED', `keepalive reply flag must be 0 or 1, got ${reply}`, 17);
    return { tag: 'k', walEnd: frame.readBigUInt64BE(1), serverClock: frame.readBigInt64BE(9), replyRequested: reply === 1 };
  }
  throw new ProtocolError('UNKNOWN_MESSAGE', `unknown replication message tag 0x${tag!.toString(16).padStart(2, '0')}`, 0);
}

export interface StandbyStatusUpdate {
  /** Last WAL byte + 1 received and written to disk. laredo sends its durable position here too. */
  readonly written: Lsn;
  /** Last WAL byte + 1 flushed: the slot's confirmed_flush_lsn follows this. */
  readonly flushed: Lsn;
  readonly applied: Lsn;
  /** Client clock, microseconds since 2000-01-01 UTC; now when absent. */
  readonly clock?: bigint;
  /** Ask the server to answer with a keepalive at once. */
  readonly replyRequested?: boolean;
}

/** Encodes a standby status update (`r`), the payload of a CopyData message to the server. */
export function encodeStandbyStatusUpdate(update: StandbyStatusUpdate): Buffer {
  const frame = Buffer.allocUnsafe(STATUS_UPDATE_LENGTH);
  frame[0] = 0x72; // r
  frame.writeBigUInt64BE(update.written, 1);
  frame.writeBigUInt64BE(update.flushed, 9);
  frame.writeBigUInt64BE(update.applied, 17);
  frame.writeBigInt64BE(update.clock ?? pgTimestampNow(), 25);
  frame[33] = update.replyRequested === true ? 1 : 0;
  return frame;
}

/** Decodes a standby status update (for tests and tools that sit on the server side). */
export function parseStandbyStatusUpdate(frame: Buffer): Required<StandbyStatusUpdate> {
  if (frame.length < STATUS_UPDATE_LENGTH) {
    throw new ProtocolError('TRUNCATED', `standby status update needs ${STATUS_UPDATE_LENGTH} bytes, got ${frame.length}`, frame.length);
  }
  if (frame[0] !== 0x72) throw new ProtocolError('UNKNOWN_MESSAGE', `not a standby status update: tag 0x${frame[0]!.toString(16)}`, 0);
  if (frame.length > STATUS_UPDATE_LENGTH) {
    throw new ProtocolError('TRAILING_BYTES', `standby status update is ${STATUS_UPDATE_LENGTH} bytes, got ${frame.length}`, STATUS_UPDATE_LENGTH);
  }
  const reply = frame[33]!;
  if (reply > 1) throw new ProtocolError('MALFORMED', `status update reply flag must be 0 or 1, got ${reply}`, 33);
  return {
    written: frame.readBigUInt64BE(1),
    flushed: frame.readBigUInt64BE(9),
    applied: frame.readBigUInt64BE(17),
    clock: frame.readBigInt64BE(25),
    replyRequested: reply === 1,
  };
}

/** Now, in microseconds since 2000-01-01 UTC. Millisecond resolution is all a status update needs. */
export function pgTimestampNow(nowMillis: number = Date.now()): bigint {
  return BigInt(nowMillis) * 1000n - PG_EPOCH_UNIX_MICROS;
}

/** Microseconds since the PostgreSQL epoch to ISO-8601 UTC with all six fractional digits. */
export function pgTimestampToIso(micros: bigint): string {
  const unixMicros = micros + PG_EPOCH_UNIX_MICROS;
  let millis = unixMicros / 1000n;
  let subMillis = unixMicros % 1000n;
  if (subMillis < 0n) {
    subMillis += 1000n;
    millis -= 1n;
  }
  const date = new Date(Number(millis));
  if (Number.isNaN(date.getTime())) throw new ProtocolError('MALFORMED', `timestamp out of range: ${micros} µs`, 0);
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ (or ±YYYYYY-... outside 0000-9999)
  return `${iso.slice(0, -1)}${subMillis.toString().padStart(3, '0')}Z`;
}

/** ISO-8601 (or anything Date parses) to microseconds since the PostgreSQL epoch, keeping microseconds. */
export function isoToPgTimestamp(iso: string): bigint {
  const match = /\.(\d{1,6})/.exec(iso);
  const millis = Date.parse(iso.replace(/\.(\d{1,6})/, ''));
  if (Number.isNaN(millis)) throw new ProtocolError('MALFORMED', `not a timestamp: ${JSON.stringify(iso.slice(0, 40))}`, 0);
  const fraction = BigInt((match?.[1] ?? '').padEnd(6, '0'));
  return BigInt(millis) * 1000n + fraction - PG_EPOCH_UNIX_MICROS;
}
