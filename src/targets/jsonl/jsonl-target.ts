import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { asyncScheduler, Observable, type SchedulerLike } from 'rxjs';
import type { CommitEvent, TargetMessage } from '../../model/events.js';
import type { TableKey, TableSchema } from '../../model/table.js';
import type { Target } from '../../model/target.js';
import { sameShape } from '../json-values.js';
import { DurableAppender } from './durable-appender.js';
import { JsonlTargetError } from './errors.js';
import { commitSuffix, JsonlEncoder } from './format.js';
import { LineSpool } from './line-spool.js';
import { openFileOutput, streamOutput, type FsyncFunction, type JsonlOutput } from './output.js';

export interface JsonlTargetOptions {
  /** The file to append to, or `-` for stdout. */
  readonly path: string;
  /** The source id written on every line (`"source"`). */
  readonly source: string;
  /** Longest wait before what was written is fsynced (and acknowledged), ms. */
  readonly flushIntervalMs?: number;
  /** Target name for logs and metrics. Default `jsonl:<path>`. */
  readonly name?: string;
  /** Encoded bytes waiting for the disk before `write` batches wait their turn. */
  readonly maxBufferedBytes?: number;
  /** Bytes written since the last fsync that trigger an fsync before the flush interval ends. */
  readonly syncBytes?: number;
  /** Bytes of one open transaction held in memory before the rest goes to a temporary file. */
  readonly transactionMemoryBytes?: number;
  /** Where those temporary files go. Default the OS temp directory. */
  readonly spillDirectory?: string;
  /** The stream used for `path: '-'`. Default process.stdout. */
  readonly stdout?: Writable;
  /** How the file is made durable. Default `file.datasync()`; for tests. */
  readonly fsync?: FsyncFunction;
  /** Runs the flush timer. */
  readonly scheduler?: SchedulerLike;
}

/** The defaults, each with its reason. */
export const JSONL_DEFAULTS = {
  /**
   * 200 ms: one fsync covers every transaction committed within it (an fsync costs ~1-10 ms on SSDs,
   * far more on network disks), and acknowledging 200 ms late keeps no more WAL than that.
   */
  flushIntervalMs: 200,
  /** 8 MiB: several fsync intervals of a fast stream; the source's byte budget bounds the rest. */
  maxBufferedBytes: 8 * 1024 * 1024,
  /** 16 MiB: ordinary transactions never touch the disk twice; a bulk load does not fill memory. */
  transactionMemoryBytes: 16 * 1024 * 1024,
  /**
   * 128 KiB written since the last fsync: fsync now rather than at the end of the interval. A stream
   * below ~640 kB/s still shares one fsync per interval; a bulk load or a burst is limited by the disk
   * instead of by (batches in flight × batch size) per interval, which for the actor's defaults
   * (8 × 512 messages) would cap small transactions at ~7000/s.
   */
  syncBytes: 128 * 1024,
} as const;

interface Job {
  readonly batch: readonly TargetMessage[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** A transaction from its first event until its commit or rollback. */
interface OpenTransaction {
  readonly spool: LineSpool;
  /** Schema of each table as of the transaction's first change of it, and as of its last one. */
  readonly firstSchema: Map<TableKey, TableSchema>;
  readonly lastSchema: Map<TableKey, TableSchema>;
  /** Where each subtransaction's first change went, to cut back to when it aborts. */
  readonly subtransactions: Map<number, SubtransactionStart>;
}

interface SubtransactionStart {
  readonly line: number;
  readonly firstSchema: ReadonlyMap<TableKey, TableSchema>;
  readonly lastSchema: ReadonlyMap<TableKey, TableSchema>;
}

/**
 * Creates a target that appends every message as a JSON line to a file (or stdout); see
 * docs/targets.md for the format. A batch is durable once the fsync that covers its lines returned.
 */
export function jsonlTarget(options: JsonlTargetOptions): JsonlTarget {
  return new JsonlTarget(options);
}

/**
 * The jsonl target. Lines of a transaction are held (in memory, then in a temporary file) until its
 * commit and written together, so the file never holds a rolled-back or half-received transaction; a
 * batch that ends inside a transaction is answered as soon as the earlier lines are durable, because
 * the transaction's own lines cannot be lost before it commits: PostgreSQL sends it again.
 */
export class JsonlTarget implements Target {
  readonly name: string;
  readonly path: string;
  readonly #encoder: JsonlEncoder;
  readonly #appender: DurableAppender;
  readonly #maxBufferedChars: number;
  readonly #transactionMemoryChars: number;
  readonly #spillDirectory: string | undefined;
  readonly #inbox: Job[] = [];
  readonly #open = new Map<number, OpenTransaction>();
  /** The schema line last written for each table: a line of another shape is preceded by a new one. */
  readonly #writtenSchema = new Map<TableKey, TableSchema>();
  #pumping = false;
  #idle: Promise<void> = Promise.resolve();
  #failure: unknown;
  #closed: Promise<void> | undefined;

  constructor(options: JsonlTargetOptions) {
    const flushIntervalMs = nonNegative(options, 'flushIntervalMs', options.flushIntervalMs ?? JSONL_DEFAULTS.flushIntervalMs);
    this.#maxBufferedChars = positive(options, 'maxBufferedBytes', options.maxBufferedBytes ?? JSONL_DEFAULTS.maxBufferedBytes);
    this.#transactionMemoryChars = positive(options, 'transactionMemoryBytes', options.transactionMemoryBytes ?? JSONL_DEFAULTS.transactionMemoryBytes);
    if (options.path === '') throw new JsonlTargetError('JSONL_INVALID_OPTION', options.path, 'path is empty; give a file name, or - for stdout');
    this.path = options.path;
    this.name = options.name ?? `jsonl:${options.path}`;
    this.#spillDirectory = options.spillDirectory;
    this.#encoder = new JsonlEncoder(options.source);
    const fsync = options.fsync ?? ((file: FileHandle) => file.datasync());
    const stdout = options.stdout;
    const output =
      options.path === '-'
        ? (): Promise<JsonlOutput> => Promise.resolve(streamOutput(stdout ?? process.stdout))
        : (): Promise<JsonlOutput> => openFileOutput(options.path, fsync);
    this.#appender = new DurableAppender(output, {
      flushIntervalMs,
      syncChars: Math.min(positive(options, 'syncBytes', options.syncBytes ?? JSONL_DEFAULTS.syncBytes), this.#maxBufferedChars),
      scheduler: options.scheduler ?? asyncScheduler,
    });
  }

  /** Encoded text waiting for the disk (in characters, about bytes for mostly-ASCII data). */
  get bufferedBytes(): number {
    return this.#appender.bufferedChars;
  }

  /** Batches given to `write` and not yet taken in, because the disk lags behind. */
  get queuedBatches(): number {
    return this.#inbox.length;
  }

  /** Transactions begun and neither committed nor rolled back. */
  get openTransactions(): number {
    return this.#open.size;
  }

  write(batch: readonly TargetMessage[]): Observable<unknown> {
    const refused = this.#closed === undefined ? (this.#failure ?? this.#appender.failure) : new JsonlTargetError('JSONL_CLOSED', this.path, 'write after close');
    if (refused !== undefined) {
      return new Observable((subscriber) => {
        subscriber.error(refused);
      });
    }
    const done = new Promise<void>((resolve, reject) => this.#inbox.push({ batch, resolve, reject }));
    this.#pump();
    // The work is under way whether or not anyone subscribes; the Observable only reports it.
    done.catch(() => undefined);
    return new Observable((subscriber) => {
      done.then(
        () => {
          subscriber.complete();
        },
        (error: unknown) => {
          subscriber.error(error);
        },
      );
    });
  }

  /** Waits for the batches given so far, writes and fsyncs them, closes the file. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#idle;
      for (const transaction of this.#open.values()) await transaction.spool.discard();
      this.#open.clear();
      await this.#appender.close();
    })();
    return this.#closed;
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    this.#idle = this.#drainInbox();
  }

  async #drainInbox(): Promise<void> {
    // The flag is cleared in the same synchronous step that finds the inbox empty: a `.finally`
    // would run a microtask later, and a write arriving in between would be stranded.
    try {
      for (let job = this.#inbox.shift(); job !== undefined; job = this.#inbox.shift()) {
        if (this.#failure !== undefined) {
          job.reject(this.#failure);
          continue;
        }
        try {
          await this.#appender.whenBufferedBelow(this.#maxBufferedChars);
          for (const message of job.batch) {
            const applying = this.#apply(message);
            if (applying !== undefined) await applying;
          }
          this.#appender.durable().then(job.resolve, job.reject);
        } catch (error) {
          this.#failure ??= error;
          job.reject(error);
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Applies one message; a promise when the caller must wait (a spool catching up with its file). */
  #apply(message: TargetMessage): Promise<void> | undefined {
    switch (message.kind) {
      case 'reset':
        for (const table of message.tables) {
          // A reset starts the table over; its schema line is written again before its baseline.
          this.#writtenSchema.delete(table);
          this.#appender.append(this.#encoder.reset(table));
        }
        return undefined;
      case 'baseline':
        this.#ensureSchemaWritten(message.table);
        this.#appender.append(this.#encoder.baselineRows(message.table, message.rows));
        return undefined;
      case 'baseline-complete':
        this.#ensureSchemaWritten(message.table);
        this.#appender.append(this.#encoder.baselineComplete(message.table, message.rows));
        return undefined;
      case 'schema':
        // Written lazily, before the first line that uses the new shape (inside its transaction).
        return undefined;
      case 'begin':
        // A begin for a transaction still open means the stream restarted without a rollback; the
        // server sends the transaction again from its start.
        void this.#open.get(message.transaction.xid)?.spool.discard();
        this.#open.set(message.transaction.xid, this.#newTransaction());
        return undefined;
      case 'insert':
        return this.#hold(message.xid, message.subXid, message.table, () => this.#encoder.openInsert(message.table, message.lsn, message.xid, message.row));
      case 'update':
        return this.#hold(message.xid, message.subXid, message.table, () =>
          this.#encoder.openUpdate(message.table, message.lsn, message.xid, message.row, message.old, message.oldKind),
        );
      case 'delete':
        return this.#hold(message.xid, message.subXid, message.table, () => this.#encoder.openDelete(message.table, message.lsn, message.xid, message.old, message.oldKind));
      case 'truncate': {
        let holding: Promise<void> | undefined;
        for (const table of message.tables) {
          holding =
            this.#hold(message.xid, message.subXid, table, () => this.#encoder.openTruncate(table, message.lsn, message.xid, message.cascade, message.restartIdentity)) ??
            holding;
        }
        return holding;
      }
      case 'message':
        if (!message.transactional || message.xid === undefined) {
          this.#appender.append(this.#encoder.message(message.lsn, false, message.xid, message.prefix, message.content));
          return undefined;
        }
        return this.#hold(message.xid, message.subXid, undefined, () => this.#encoder.message(message.lsn, true, message.xid, message.prefix, message.content));
      case 'commit':
        this.#commit(message);
        return undefined;
      case 'rollback':
        return this.#rollback(message.xid, message.subXid);
    }
  }

  #newTransaction(): OpenTransaction {
    const spool = new LineSpool({
      memoryLimitChars: this.#transactionMemoryChars,
      ...(this.#spillDirectory === undefined ? {} : { directory: this.#spillDirectory }),
    });
    return { spool, firstSchema: new Map(), lastSchema: new Map(), subtransactions: new Map() };
  }

  /**
   * Appends a change line to the open transaction `xid` (opened by its first change when no begin
   * came: a streamed transaction passed through in chunks). Marks where subtransaction `subXid` starts,
   * and writes a schema line right there when `table` changed shape inside the transaction.
   */
  #hold(xid: number, subXid: number | undefined, table: TableSchema | undefined, line: () => string): Promise<void> | undefined {
    let transaction = this.#open.get(xid);
    if (transaction === undefined) {
      transaction = this.#newTransaction();
      this.#open.set(xid, transaction);
    }
    if (subXid !== undefined && !transaction.subtransactions.has(subXid)) {
      transaction.subtransactions.set(subXid, {
        line: transaction.spool.lineCount,
        firstSchema: new Map(transaction.firstSchema),
        lastSchema: new Map(transaction.lastSchema),
      });
    }
    if (table !== undefined) {
      const last = transaction.lastSchema.get(table.key);
      if (last === undefined) {
        transaction.firstSchema.set(table.key, table);
        transaction.lastSchema.set(table.key, table);
      } else if (!sameShape(last, table)) {
        transaction.spool.append(this.#encoder.openSchema(table));
        transaction.lastSchema.set(table.key, table);
      }
    }
    transaction.spool.append(line());
    return transaction.spool.needsDrain ? transaction.spool.drain() : undefined;
  }

  /**
   * Without `subXid`: drops the transaction. With it: drops what the subtransaction and those begun
   * after it (nested in it) added, as PostgreSQL's own apply worker does at a Stream Abort.
   */
  async #rollback(xid: number, subXid: number | undefined): Promise<void> {
    const transaction = this.#open.get(xid);
    if (transaction === undefined) return;
    if (subXid === undefined || subXid === xid) {
      this.#open.delete(xid);
      await transaction.spool.discard();
      return;
    }
    const start = transaction.subtransactions.get(subXid);
    if (start === undefined) return; // none of its changes reached this target
    await transaction.spool.truncate(start.line);
    for (const [other, otherStart] of transaction.subtransactions) if (otherStart.line >= start.line) transaction.subtransactions.delete(other);
    restore(transaction.firstSchema, start.firstSchema);
    restore(transaction.lastSchema, start.lastSchema);
  }

  #commit(commit: CommitEvent): void {
    const transaction = this.#open.get(commit.transaction.xid);
    if (transaction === undefined) return; // nothing of it reached this target (empty, or filtered out)
    this.#open.delete(commit.transaction.xid);
    for (const schema of transaction.firstSchema.values()) this.#ensureSchemaWritten(schema);
    for (const [key, schema] of transaction.lastSchema) this.#writtenSchema.set(key, schema);
    if (transaction.spool.empty) return;
    this.#appender.appendSpool(transaction.spool, commitSuffix(commit.transaction.commitLsn, commit.transaction.commitTime));
  }

  #ensureSchemaWritten(table: TableSchema): void {
    if (sameShape(this.#writtenSchema.get(table.key), table)) return;
    this.#writtenSchema.set(table.key, table);
    this.#appender.append(this.#encoder.schema(table));
  }
}

function restore<K, V>(map: Map<K, V>, saved: ReadonlyMap<K, V>): void {
  map.clear();
  for (const [key, value] of saved) map.set(key, value);
}

function positive(options: JsonlTargetOptions, option: string, value: number): number {
  if (!Number.isFinite(value) || value < 1) {
    throw new JsonlTargetError('JSONL_INVALID_OPTION', options.path, `${option} must be a number >= 1, got ${String(value)}`);
  }
  return value;
}

function nonNegative(options: JsonlTargetOptions, option: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new JsonlTargetError('JSONL_INVALID_OPTION', options.path, `${option} must be a number >= 0, got ${String(value)}`);
  }
  return value;
}
