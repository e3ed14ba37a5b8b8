import type { Duplex } from 'node:stream';
import pg from 'pg';
import pgCopyStreams from 'pg-copy-streams';
import { Lsn } from '../protocol/lsn.js';
import { describeConnection, replicationClientConfig, type ConnectionConfig } from './connection.js';
import { fromPgError, SlotError, UnsupportedOptionError, type PgErrorContext } from './errors.js';
import { quoteIdentifier, quoteReplicationLiteral, validateSlotName } from './identifiers.js';

/**
 * A walsender connection (`replication=database`): replication commands (IDENTIFY_SYSTEM,
 * CREATE_REPLICATION_SLOT, START_REPLICATION, ...) and, in this mode, simple SQL queries too. Only
 * the simple query protocol works on a walsender, so nothing here uses bind parameters; literals go
 * through `quoteLiteral`.
 */

export interface ReplicationClientOptions {
  /** `application_name`; the connection string's wins. Default `laredo`. */
  readonly applicationName?: string;
  /** Startup settings instead of the value converters' SESSION_SETTINGS (tests). */
  readonly sessionSettings?: Readonly<Record<string, string>>;
}

export interface SystemIdentity {
  /** The cluster's system identifier (a 64-bit number, as text). */
  readonly systemId: string;
  readonly timeline: number;
  /** Current WAL flush position. */
  readonly xlogPos: Lsn;
  /** The database this walsender is connected to. */
  readonly dbName: string | null;
}

/**
 * `export`: the slot's snapshot is exported for `SET TRANSACTION SNAPSHOT` (the baseline), valid
 * until this connection runs its next command. `use`: the current transaction uses it (the command
 * must be the first in a transaction). `nothing`: no snapshot.
 */
export type SnapshotAction = 'export' | 'nothing' | 'use';

export interface CreateSlotOptions {
  /** Dropped when this connection ends or on error. Default false. */
  readonly temporary?: boolean;
  /** Default `export`. */
  readonly snapshot?: SnapshotAction;
  /** Decode prepared transactions at PREPARE (PostgreSQL 15+ through the replication protocol). */
  readonly twoPhase?: boolean;
  /** Output plugin. Default `pgoutput`. */
  readonly plugin?: string;
}

export interface CreatedSlot {
  readonly slotName: string;
  /** Changes committed after this position are streamed; the snapshot holds everything before it. */
  readonly consistentPoint: Lsn;
  /** The exported snapshot (`snapshot: 'export'`), else null. */
  readonly snapshotName: string | null;
  readonly outputPlugin: string;
}

/** pg-copy-streams' CopyBoth duplex (its typings only cover `to` and `from`). */
export interface CopyBothStream extends Duplex {
  submit(connection: unknown): void;
}

interface CopyBothOptions {
  /** One `data` chunk per CopyData message: every frame arrives whole and alone. */
  readonly alignOnCopyDataFrame?: boolean;
  readonly highWaterMark?: number;
  readonly readableHighWaterMark?: number;
}

const copyBoth = (pgCopyStreams as unknown as { both: (sql: string, options?: CopyBothOptions) => CopyBothStream }).both;

/** `CREATE_REPLICATION_SLOT` in the syntax of the server's major (options list from 15, keywords before). */
export function createSlotCommand(slotName: string, options: CreateSlotOptions, serverVersion: number): string {
  validateSlotName(slotName);
  const plugin = options.plugin ?? 'pgoutput';
  const snapshot = options.snapshot ?? 'export';
  const head = `CREATE_REPLICATION_SLOT ${quoteIdentifier(slotName)}${options.temporary === true ? ' TEMPORARY' : ''} LOGICAL ${quoteIdentifier(plugin)}`;
  if (serverVersion >= 150000) {
    const list = [`SNAPSHOT ${quoteReplicationLiteral(snapshot)}`];
    if (options.twoPhase === true) list.push('TWO_PHASE true');
    return `${head} (${list.join(', ')})`;
  }
  // 14: keywords, and no two-phase through the replication protocol (pg_create_logical_replication_slot
  // has it, but a slot made there exports no snapshot).
  if (options.twoPhase === true) {
    throw new UnsupportedOptionError(
      `two-phase slots need PostgreSQL 15+ through the replication protocol (server is ${Math.floor(serverVersion / 10000)}); remove twoPhase`,
    );
  }
  return `${head} ${{ export: 'EXPORT_SNAPSHOT', nothing: 'NOEXPORT_SNAPSHOT', use: 'USE_SNAPSHOT' }[snapshot]}`;
}

/** `SHOW` output of a time setting (`60s`, `1min`, `500ms`, `0`) in milliseconds. */
export function parsePostgresDuration(text: string): number {
  const match = /^\s*(-?\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$/.exec(text);
  if (match === null) throw new RangeError(`not a PostgreSQL duration: ${JSON.stringify(text)}`);
  const value = Number(match[1]);
  const unit = match[2] ?? 'ms';
  const factor = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }[unit as 'us' | 'ms' | 's' | 'min' | 'h' | 'd'];
  return value * factor;
}

export class ReplicationClient {
  /** server_version_num, e.g. 140011 or 180001. */
  readonly serverVersion: number;
  /** wal_sender_timeout as this walsender read it at connect, ms (0: disabled). */
  readonly walSenderTimeoutMs: number;
  /** The walsender's backend pid (pg_stat_replication.pid). */
  readonly pid: number;
  /** `user@host:port/db`, for messages. */
  readonly server: string;
  readonly #client: pg.Client;
  readonly #secrets: readonly string[];
  #closed = false;
  #closing: Promise<void> | undefined;
  #lostError: unknown;

  private constructor(client: pg.Client, server: string, secrets: readonly string[], serverVersion: number, walSenderTimeoutMs: number) {
    this.#client = client;
    this.server = server;
    this.#secrets = secrets;
    this.serverVersion = serverVersion;
    this.walSenderTimeoutMs = walSenderTimeoutMs;
    this.pid = (client as unknown as { processID: number }).processID;
    client.on('end', () => {
      this.#closed = true;
    });
  }

  /** Opens a walsender connection and reads server_version_num and wal_sender_timeout. */
  static async connect(connection: string | ConnectionConfig, options: ReplicationClientOptions = {}): Promise<ReplicationClient> {
    const config = replicationClientConfig(connection, {
      applicationName: options.applicationName ?? 'laredo',
      ...(options.sessionSettings === undefined ? {} : { sessionSettings: options.sessionSettings }),
    });
    const server = describeConnection(config);
    const secrets = typeof config.password === 'string' ? [config.password] : [];
    const client = new pg.Client(config);
    // A socket error while no query is active is emitted on the client; without a listener it would
    // crash the process. Queries (and the CopyBoth stream) get the same error through their own path.
    let lostError: unknown;
    client.on('error', (error) => {
      lostError = error;
    });
    try {
      await client.connect();
    } catch (error) {
      client.end().catch(() => undefined);
      throw fromPgError(error, { action: 'opening a replication connection', server, secrets });
    }
    try {
      const version = await client.query<{ server_version_num: string }>('SHOW server_version_num');
      const timeout = await client.query<{ wal_sender_timeout: string }>('SHOW wal_sender_timeout');
      const replication = new ReplicationClient(
        client,
        server,
        secrets,
        Number(version.rows[0]?.server_version_num),
        parsePostgresDuration(timeout.rows[0]?.wal_sender_timeout ?? '60s'),
      );
      client.removeAllListeners('error');
      client.on('error', (error) => {
        replication.#lostError = error;
      });
      replication.#lostError = lostError;
      return replication;
    } catch (error) {
      await client.end().catch(() => undefined);
      throw fromPgError(error, { action: 'reading settings on a new replication connection', server, secrets });
    }
  }

  /** True once the connection ended (closed by us, or lost). */
  get closed(): boolean {
    return this.#closed;
  }

  /** The database this walsender serves (from the connection config). */
  get database(): string {
    return (this.#client as unknown as { database: string }).database;
  }

  #context(action: string, slotName?: string): PgErrorContext {
    return { action, server: this.server, secrets: this.#secrets, ...(slotName === undefined ? {} : { slotName }) };
  }

  /** Runs one command or simple SQL query (no parameters: walsenders speak only the simple protocol). */
  async query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, action = 'running a query on the replication connection'): Promise<pg.QueryResult<R>> {
    try {
      return await this.#client.query<R>(sql);
    } catch (error) {
      throw fromPgError(error ?? this.#lostError, this.#context(action));
    }
  }

  async identifySystem(): Promise<SystemIdentity> {
    const result = await this.query<{ systemid: string; timeline: number | string; xlogpos: string; dbname: string | null }>(
      'IDENTIFY_SYSTEM',
      'identifying the system',
    );
    const row = result.rows[0];
    if (row === undefined) throw fromPgError(new Error('IDENTIFY_SYSTEM returned no row'), this.#context('identifying the system'));
    return { systemId: row.systemid, timeline: Number(row.timeline), xlogPos: Lsn.parse(row.xlogpos), dbName: row.dbname };
  }

  /**
   * Creates a logical slot. With `snapshot: 'export'` (the default) the returned `snapshotName` is
   * valid only until this connection runs its next command: import it on every baseline connection
   * first, and run nothing else here until the baseline is done.
   */
  async createSlot(slotName: string, options: CreateSlotOptions = {}): Promise<CreatedSlot> {
    const sql = createSlotCommand(slotName, options, this.serverVersion);
    let result: pg.QueryResult<{ slot_name: string; consistent_point: string; snapshot_name: string | null; output_plugin: string }>;
    try {
      result = await this.#client.query(sql);
    } catch (error) {
      const record = error as { code?: unknown };
      if (record.code === '42710') {
        throw new SlotError(
          'SLOT_EXISTS',
          slotName,
          `replication slot "${slotName}" already exists (${this.server}): use it (stateful mode resumes from it), drop it, or choose another slot_name`,
          { cause: error },
        );
      }
      throw fromPgError(error ?? this.#lostError, this.#context(`creating replication slot "${slotName}"`));
    }
    const row = result.rows[0];
    if (row === undefined) throw fromPgError(new Error('CREATE_REPLICATION_SLOT returned no row'), this.#context(`creating replication slot "${slotName}"`));
    return {
      slotName: row.slot_name,
      consistentPoint: Lsn.parse(row.consistent_point),
      snapshotName: row.snapshot_name ?? null,
      outputPlugin: row.output_plugin,
    };
  }

  /**
   * Drops a slot. `wait`: if another process holds it, wait until it is released (else SLOT_ACTIVE at
   * once). `ifExists`: a missing slot is not an error.
   */
  async dropSlot(slotName: string, options: { wait?: boolean; ifExists?: boolean } = {}): Promise<void> {
    validateSlotName(slotName);
    try {
      await this.#client.query(`DROP_REPLICATION_SLOT ${quoteIdentifier(slotName)}${options.wait === true ? ' WAIT' : ''}`);
    } catch (error) {
      const mapped = fromPgError(error ?? this.#lostError, this.#context(`dropping replication slot "${slotName}"`, slotName));
      if (options.ifExists === true && mapped.code === 'SLOT_MISSING') return;
      throw mapped;
    }
  }

  /** Reads wal_sender_timeout again, ms (0: disabled). Do not call while an exported snapshot must stay valid. */
  async walSenderTimeout(): Promise<number> {
    const result = await this.query<{ wal_sender_timeout: string }>('SHOW wal_sender_timeout', 'reading wal_sender_timeout');
    return parsePostgresDuration(result.rows[0]?.wal_sender_timeout ?? '60s');
  }

  /**
   * Starts a CopyBoth command (START_REPLICATION) and returns its duplex: the readable side yields
   * one Buffer per CopyData message, the writable side sends CopyData; `end()` sends CopyDone.
   * Nothing else may run on this connection while it is open. After a logical stream ended, the
   * walsender runs commands again, but a second START_REPLICATION on it ends at once (the servers
   * tested, 14 and 18, keep their end-of-streaming state): stream again on a new connection.
   */
  startCopyBoth(sql: string, options: { readableHighWaterMark?: number } = {}): CopyBothStream {
    const stream = copyBoth(sql, {
      alignOnCopyDataFrame: true,
      ...(options.readableHighWaterMark === undefined ? {} : { readableHighWaterMark: options.readableHighWaterMark }),
    });
    // pg-copy-streams calls this at ReadyForQuery, and sets it only when we end the copy: when the
    // server ends it first (shutdown, or a second START_REPLICATION on one walsender), it would be
    // missing and the call would throw out of node-postgres' socket handler.
    (stream as unknown as { cb_flush?: () => void }).cb_flush = () => undefined;
    void this.#client.query(stream as unknown as pg.Submittable);
    return stream;
  }

  /** The error that ended the connection, if it was lost rather than closed. */
  get lostError(): unknown {
    return this.#lostError;
  }

  /** Maps an error seen on this connection to a LaredoError with this server in the message. */
  mapError(error: unknown, action: string, slotName?: string): ReturnType<typeof fromPgError> {
    return fromPgError(error, this.#context(action, slotName));
  }

  /**
   * Ends the connection (a walsender exits with it, and drops its temporary slots). While a copy is
   * active node-postgres destroys the socket at once; otherwise it sends Terminate. Never throws.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#closed) return;
      const socket = (this.#client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream;
      const forced = setTimeout(() => {
        socket.destroy();
      }, 2000);
      try {
        await this.#client.end();
      } catch {
        socket.destroy();
      } finally {
        clearTimeout(forced);
        this.#closed = true;
      }
    })();
    return this.#closing;
  }
}
