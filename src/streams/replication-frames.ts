import { asyncScheduler, Observable, Subject, Subscription, tap, type SchedulerAction, type SchedulerLike } from 'rxjs';
import { Lsn } from '../protocol/lsn.js';
import { encodeStandbyStatusUpdate, parseReplicationMessage } from '../protocol/replication-messages.js';
import type { ConnectionConfig } from './connection.js';
import { ConnectionError, UnsupportedOptionError } from './errors.js';
import { quoteIdentifier, quoteReplicationLiteral, validateSlotName } from './identifiers.js';
import type { InFlightBytes } from './in-flight-bytes.js';
import { ReplicationClient, type CopyBothStream, type ReplicationClientOptions } from './replication-client.js';
import { assertSlotUsable, inspectSlot } from './slot.js';
import { DEFAULT_CONFIRM_COALESCE_MS, standbyStatusSchedule, statusIntervalFor, type StandbyStatusDue } from './standby-status.js';

export interface PgoutputStartOptions {
  /** pgoutput `proto_version`. Default: the highest the server speaks (14 → 2, 15 → 3, 16+ → 4). */
  readonly protoVersion?: number;
  readonly publicationNames: readonly string[];
  /** Logical decoding messages (pg_logical_emit_message). */
  readonly messages?: boolean;
  /** Stream large in-progress transactions (proto 2+); `parallel` needs 16+ and proto 4. */
  readonly streaming?: boolean | 'parallel';
  /** Column values in binary (send/recv) format. */
  readonly binary?: boolean;
  /** 16+: `none` skips changes that came from another replication origin. */
  readonly origin?: 'any' | 'none';
  /** 15+ (proto 3): decode prepared transactions at PREPARE; the slot must have two_phase enabled. */
  readonly twoPhase?: boolean;
}

export interface ReplicationFramesOptions extends PgoutputStartOptions {
  /** A connected walsender, or a connection string (then a connection is opened on subscribe). */
  readonly client: ReplicationClient | string | ConnectionConfig;
  /** Options for the connection opened when `client` is a connection string. */
  readonly connectOptions?: ReplicationClientOptions;
  readonly slotName: string;
  /** Where to start: the slot's consistent point after a baseline, or the last delivered commit end. */
  readonly startLsn: Lsn;
  /** Durable positions (from the acknowledge operator): the only positions ever confirmed. */
  readonly confirmed$: Observable<Lsn>;
  /** Bytes of every emitted frame are added; reading stops while it is paused. */
  readonly budget?: InFlightBytes;
  /** Standby status update period, ms. Default 10000, and at most a third of wal_sender_timeout. */
  readonly statusIntervalMs?: number;
  /** Confirmations within this many ms go out as one update. Default 100. */
  readonly confirmCoalesceMs?: number;
  /**
   * Error with a ConnectionError when the server sent nothing for this long while reading was not
   * paused, ms: a peer that vanished without closing the socket. Every timer status update asks the
   * server to answer, so a live, idle server is never silent for longer than the status interval; but
   * a walsender busy decoding a huge transaction it filters out can be slow to answer, and dropping a
   * healthy connection would only restart that work, so the default is generous: 6 status intervals,
   * at least 120 s. 0: off.
   */
  readonly receiveTimeoutMs?: number;
  /** Check pg_replication_slots before START_REPLICATION (plugin, database, active elsewhere). Default true. */
  readonly checkSlot?: boolean;
  /** Close the connection on unsubscribe and on error even when `client` was given. Default true. */
  readonly closeClient?: boolean;
  /** Called after each standby status update was written (metrics, tests). */
  readonly onStatusUpdate?: (update: StandbyStatusDue) => void;
  readonly scheduler?: SchedulerLike;
}

export const DEFAULT_STATUS_INTERVAL_MS = 10_000;

/** The newest pgoutput protocol a server major speaks. */
export function maxProtoVersion(serverVersion: number): number {
  if (serverVersion >= 160000) return 4;
  if (serverVersion >= 150000) return 3;
  if (serverVersion >= 140000) return 2;
  return 1;
}

/**
 * `START_REPLICATION SLOT ... LOGICAL ...` with pgoutput's options, checked against the server's
 * major so an option it lacks fails here with a clear error rather than on the server.
 */
export function startReplicationCommand(slotName: string, startLsn: Lsn, options: PgoutputStartOptions, serverVersion: number): string {
  validateSlotName(slotName);
  const maxProto = maxProtoVersion(serverVersion);
  const protoVersion = options.protoVersion ?? maxProto;
  const major = Math.floor(serverVersion / 10000);
  if (!Number.isInteger(protoVersion) || protoVersion < 1 || protoVersion > maxProto) {
    throw new UnsupportedOptionError(`pgoutput proto_version ${protoVersion} is not supported by PostgreSQL ${major}: use 1 to ${maxProto}`);
  }
  if (options.publicationNames.length === 0) {
    throw new UnsupportedOptionError('START_REPLICATION needs at least one publication name');
  }
  const list: string[] = [
    `"proto_version" ${quoteReplicationLiteral(String(protoVersion))}`,
    // The server splits this list like an identifier list, folding unquoted names: quote each one.
    `"publication_names" ${quoteReplicationLiteral(options.publicationNames.map(quoteIdentifier).join(','))}`,
  ];
  if (options.messages === true) list.push(`"messages" 'true'`);
  if (options.binary === true) list.push(`"binary" 'true'`);
  if (options.streaming === 'parallel') {
    if (serverVersion < 160000 || protoVersion < 4) {
      throw new UnsupportedOptionError(`streaming = parallel needs PostgreSQL 16+ and proto_version 4 (server ${major}, proto ${protoVersion})`);
    }
    list.push(`"streaming" 'parallel'`);
  } else if (options.streaming === true) {
    if (protoVersion < 2) throw new UnsupportedOptionError(`streaming needs proto_version 2 or later (got ${protoVersion})`);
    list.push(`"streaming" 'on'`);
  }
  if (options.origin !== undefined) {
    if (serverVersion < 160000) throw new UnsupportedOptionError(`the origin option needs PostgreSQL 16+ (server is ${major}); remove it`);
    list.push(`"origin" ${quoteReplicationLiteral(options.origin)}`);
  }
  if (options.twoPhase === true) {
    if (serverVersion < 150000 || protoVersion < 3) {
      throw new UnsupportedOptionError(`two_phase needs PostgreSQL 15+ and proto_version 3 (server ${major}, proto ${protoVersion})`);
    }
    list.push(`"two_phase" 'on'`);
  }
  return `START_REPLICATION SLOT ${quoteIdentifier(slotName)} LOGICAL ${Lsn.format(startLsn)} (${list.join(', ')})`;
}

// How long an unsubscribe waits for the server to answer CopyDone before it drops the socket: short,
// because a walsender busy decoding a large transaction may not look at its input for a while.
const COPY_DONE_GRACE_MS = 300;
// The duplex's readable buffer: a few frames; the real buffering is the budget, upstream of this.
const FRAME_BUFFER_BYTES = 64 * 1024;

/**
 * The raw CopyData frames of a logical replication stream, one Buffer each (a copy: frames stay valid
 * however long they are held). Cold: each subscription runs START_REPLICATION on its connection.
 *
 * Standby status updates (write = flush = apply = the latest `confirmed$` value, never what was merely
 * received) go out on every keepalive that asks for one, on a timer inside wal_sender_timeout (also
 * while reading is paused), and soon after `confirmed$` moves. While `budget` is paused the socket is
 * not read at all, so TCP flow control holds the server back and memory stays bounded.
 *
 * Unsubscribing sends CopyDone and closes the connection (unless `closeClient: false`): the walsender
 * exits, and a temporary slot goes with it. Errors are LaredoErrors: PostgresServerError with the
 * server's SQLSTATE, ConnectionError when the socket is lost, SlotError when the slot is unusable.
 */
export function replicationFrames(options: ReplicationFramesOptions): Observable<Buffer> {
  return new Observable<Buffer>((subscriber) => {
    const scheduler = options.scheduler ?? asyncScheduler;
    const owned = !(options.client instanceof ReplicationClient);
    const closeClient = options.closeClient ?? true;
    const subscriptions = new Subscription();
    const replyRequested$ = new Subject<void>();
    let client: ReplicationClient | undefined = options.client instanceof ReplicationClient ? options.client : undefined;
    let stream: CopyBothStream | undefined;
    let done = false;
    let lastReceived = scheduler.now();
    let paused = false;
    // The latest durable position, and the last one the server was told: a graceful close sends the
    // difference, which the coalescing of updates may still be holding back (a stop right after the
    // last confirmation would otherwise leave the slot behind and the next run re-delivering).
    let latestConfirmed = Lsn.ZERO;
    let lastReported = Lsn.ZERO;

    const release = (endGracefully: boolean) => {
      let graceful = endGracefully;
      subscriptions.unsubscribe();
      const current = stream;
      const connection = client;
      stream = undefined;
      if (current !== undefined) {
        current.removeAllListeners('data');
        current.removeAllListeners('error');
        current.removeAllListeners('end');
        current.on('error', () => undefined);
        // pg-copy-streams drops its connection once the copy is over; a copy the server already ended
        // takes no more CopyData (writing would throw) and needs no CopyDone.
        const copyOpen = (current as unknown as { connection?: unknown }).connection != null;
        if (graceful && copyOpen && !current.writableEnded && latestConfirmed > lastReported) {
          current.write(encodeStandbyStatusUpdate({ written: latestConfirmed, flushed: latestConfirmed, applied: latestConfirmed, replyRequested: false }));
          lastReported = latestConfirmed;
        }
        // Keep reading (and dropping) what the server still sends, so its CopyDone can reach us.
        current.on('data', () => undefined);
        current.resume();
        if (graceful && copyOpen && !current.writableEnded) current.end();
        else graceful = false;
      }
      if (connection === undefined || !(owned || closeClient)) {
        return;
      }
      if (current === undefined || !graceful) {
        void connection.close();
        return;
      }
      const timer = setTimeout(() => void connection.close(), COPY_DONE_GRACE_MS);
      current.once('finish', () => {
        clearTimeout(timer);
        void connection.close();
      });
    };

    const fail = (error: unknown, action: string) => {
      if (done) return;
      done = true;
      const mapped = client === undefined ? error : client.mapError(error, action, options.slotName);
      release(false);
      subscriber.error(mapped);
    };

    const sendStatus = (due: StandbyStatusDue, replyRequested: boolean) => {
      // Between the server's CopyDone and our 'end' handler the copy is over; writing would throw.
      if (done || stream === undefined || (stream as unknown as { connection?: unknown }).connection == null) return;
      stream.write(encodeStandbyStatusUpdate({ written: due.lsn, flushed: due.lsn, applied: due.lsn, replyRequested }));
      if (due.lsn > lastReported) lastReported = due.lsn;
      options.onStatusUpdate?.(due);
    };

    const onFrame = (chunk: Buffer) => {
      lastReceived = scheduler.now();
      // pg-copy-streams hands out views into the socket's read buffers; a held view would keep a whole
      // read chunk alive and make the byte budget lie.
      const frame = Buffer.allocUnsafe(chunk.length);
      chunk.copy(frame);
      if (frame[0] === 0x6b /* k */) {
        const keepalive = parseReplicationMessage(frame);
        if (keepalive.tag === 'k' && keepalive.replyRequested) replyRequested$.next();
      }
      options.budget?.add(frame.length);
      subscriber.next(frame);
    };

    const start = async () => {
      if (client === undefined) {
        const connected = await ReplicationClient.connect(options.client, options.connectOptions);
        // Unsubscribed while connecting: the teardown found no connection to close.
        if (done) {
          void connected.close();
          return;
        }
        client = connected;
      }
      const connection = client;
      if (options.checkSlot ?? true) {
        const slot = await inspectSlot(connection, options.slotName);
        if (done) {
          if (owned || closeClient) void connection.close();
          return;
        }
        assertSlotUsable(slot, { database: connection.database, ownPid: connection.pid }, options.slotName);
      }
      const sql = startReplicationCommand(options.slotName, options.startLsn, options, connection.serverVersion);
      const copy = connection.startCopyBoth(sql, { readableHighWaterMark: FRAME_BUFFER_BYTES });
      stream = copy;
      copy.on('data', (chunk: Buffer) => {
        try {
          onFrame(chunk);
        } catch (error) {
          fail(error, `reading replication slot "${options.slotName}"`);
        }
      });
      copy.on('error', (error: unknown) => {
        fail(error, `streaming from replication slot "${options.slotName}"`);
      });
      copy.on('end', () => {
        fail(
          new ConnectionError(
            `the server ended the replication stream of slot "${options.slotName}" (${connection.server}); it is probably shutting down: laredo reconnects`,
          ),
          `streaming from replication slot "${options.slotName}"`,
        );
      });

      const intervalMs = statusIntervalFor(options.statusIntervalMs ?? DEFAULT_STATUS_INTERVAL_MS, connection.walSenderTimeoutMs);
      subscriptions.add(
        standbyStatusSchedule({
          confirmed$: options.confirmed$.pipe(
            tap((lsn) => {
              if (lsn > latestConfirmed) latestConfirmed = lsn;
            }),
          ),
          replyRequested$,
          intervalMs,
          coalesceMs: options.confirmCoalesceMs ?? DEFAULT_CONFIRM_COALESCE_MS,
          scheduler,
        }).subscribe({
          next: (due) => {
            // Timer updates ask for an answer, so a silent server is noticed (receiveTimeoutMs).
            sendStatus(due, due.reason === 'interval');
          },
          error: (error: unknown) => {
            fail(error, 'following confirmed positions');
          },
        }),
      );

      const receiveTimeoutMs = options.receiveTimeoutMs ?? Math.max(6 * intervalMs, 120_000);
      if (receiveTimeoutMs > 0) {
        subscriptions.add(
          scheduler.schedule(function (this: SchedulerAction<unknown>) {
            if (done) return;
            const silentFor = scheduler.now() - lastReceived;
            if (!paused && silentFor >= receiveTimeoutMs) {
              fail(
                new ConnectionError(
                  `no message from the server on slot "${options.slotName}" for ${Math.round(silentFor / 1000)} s (${connection.server}): the connection is presumed dead; laredo reconnects`,
                ),
                `streaming from replication slot "${options.slotName}"`,
              );
              return;
            }
            this.schedule(undefined, Math.max(1000, Math.floor(intervalMs / 2)));
          }, intervalMs),
        );
      }

      if (options.budget !== undefined) {
        subscriptions.add(
          options.budget.paused$.subscribe((shouldPause) => {
            if (stream === undefined) return;
            paused = shouldPause;
            if (shouldPause) {
              stream.pause();
            } else {
              lastReceived = scheduler.now();
              stream.resume();
            }
          }),
        );
      }
    };

    start().catch((error: unknown) => {
      fail(error, `starting replication on slot "${options.slotName}"`);
    });

    return () => {
      if (done) return;
      done = true;
      release(true);
    };
  });
}
