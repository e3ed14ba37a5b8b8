import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { asyncScheduler, throwError, type Observable, type SchedulerLike } from 'rxjs';
import type { CommitEvent, TargetMessage } from '../../model/events.js';
import type { TableKey, TableSchema } from '../../model/table.js';
import type { Target } from '../../model/target.js';
import { BatchInbox } from '../batch-inbox.js';
import { sameShape } from '../json-values.js';
import { TransactionBuffer } from '../transaction-buffer.js';
import { DurableAppender } from './durable-appender.js';
import { JsonlTargetError } from './errors.js';
import { commitSuffix, JsonlEncoder } from './format.js';
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

/** What the target tracks of an open transaction besides its lines. */
interface TransactionSchemas {
  /** Schema of each table as of the transaction's first change of it, and as of its last one. */
  readonly first: Map<TableKey, TableSchema>;
  readonly last: Map<TableKey, TableSchema>;
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
  readonly #inbox = new BatchInbox<Job>((job) => this.#take(job));
  readonly #transactions: TransactionBuffer<TransactionSchemas>;
  /** The schema line last written for each table: a line of another shape is preceded by a new one. */
  readonly #writtenSchema = new Map<TableKey, TableSchema>();
  #failure: unknown;
  #closed: Promise<void> | undefined;

  constructor(options: JsonlTargetOptions) {
    const flushIntervalMs = atLeast(0, options, 'flushIntervalMs', options.flushIntervalMs ?? JSONL_DEFAULTS.flushIntervalMs);
    this.#maxBufferedChars = atLeast(1, options, 'maxBufferedBytes', options.maxBufferedBytes ?? JSONL_DEFAULTS.maxBufferedBytes);
    if (options.path === '') throw new JsonlTargetError('JSONL_INVALID_OPTION', options.path, 'path is empty; give a file name, or - for stdout');
    this.path = options.path;
    this.name = options.name ?? `jsonl:${options.path}`;
    this.#transactions = new TransactionBuffer<TransactionSchemas>({
      memoryLimitChars: atLeast(1, options, 'transactionMemoryBytes', options.transactionMemoryBytes ?? JSONL_DEFAULTS.transactionMemoryBytes),
      ...(options.spillDirectory === undefined ? {} : { spillDirectory: options.spillDirectory }),
      createState: () => ({ first: new Map(), last: new Map() }),
      // Schema lines of an aborted subtransaction go with it: the shapes go back to what they were.
      saveState: ({ first, last }) => {
        const savedFirst = new Map(first);
        const savedLast = new Map(last);
        return () => {
          restore(first, savedFirst);
          restore(last, savedLast);
        };
      },
    });
    this.#encoder = new JsonlEncoder(options.source);
    const fsync = options.fsync ?? ((file: FileHandle) => file.datasync());
    const stdout = options.stdout;
    const output =
      options.path === '-'
        ? (): Promise<JsonlOutput> => Promise.resolve(streamOutput(stdout ?? process.stdout))
        : (): Promise<JsonlOutput> => openFileOutput(options.path, fsync);
    this.#appender = new DurableAppender(output, {
      flushIntervalMs,
      syncChars: Math.min(atLeast(1, options, 'syncBytes', options.syncBytes ?? JSONL_DEFAULTS.syncBytes), this.#maxBufferedChars),
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
    return this.#transactions.size;
  }

  write(batch: readonly TargetMessage[]): Observable<unknown> {
    const refused = this.#closed === undefined ? (this.#failure ?? this.#appender.failure) : new JsonlTargetError('JSONL_CLOSED', this.path, 'write after close');
    if (refused !== undefined) return throwError(() => refused);
    return this.#inbox.submit((resolve, reject) => ({ batch, resolve, reject }));
  }

  /**
   * Waits for the batches given so far, writes and fsyncs them, closes the file. A target that was
   * never given a line to write does not create its file. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#inbox.idle;
      await this.#transactions.discardAll();
      await this.#appender.close();
    })();
    return this.#closed;
  }

  async #take(job: Job): Promise<void> {
    if (this.#failure !== undefined) {
      job.reject(this.#failure);
      return;
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
        this.#transactions.begin(message.transaction.xid);
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
        return this.#transactions.rollback(message.xid, message.subXid);
    }
  }

  /**
   * Appends a change line to the open transaction `xid`, and a schema line right before it when
   * `table` changed shape inside the transaction.
   */
  #hold(xid: number, subXid: number | undefined, table: TableSchema | undefined, line: () => string): Promise<void> | undefined {
    return this.#transactions.hold(xid, subXid, ({ spool, state }) => {
      if (table !== undefined) {
        const last = state.last.get(table.key);
        if (last === undefined) {
          state.first.set(table.key, table);
          state.last.set(table.key, table);
        } else if (!sameShape(last, table)) {
          spool.append(this.#encoder.openSchema(table));
          state.last.set(table.key, table);
        }
      }
      spool.append(line());
    });
  }

  #commit(commit: CommitEvent): void {
    const transaction = this.#transactions.commit(commit.transaction.xid);
    if (transaction === undefined) return;
    const { spool, state } = transaction;
    for (const schema of state.first.values()) this.#ensureSchemaWritten(schema);
    for (const [key, schema] of state.last) this.#writtenSchema.set(key, schema);
    if (spool.empty) return;
    // The appender discards the spool once its lines are written.
    this.#appender.appendSpool(spool, commitSuffix(commit.transaction.commitLsn, commit.transaction.commitTime));
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

function atLeast(minimum: number, options: JsonlTargetOptions, option: string, value: number): number {
  if (!Number.isFinite(value) || value < minimum) {
    throw new JsonlTargetError('JSONL_INVALID_OPTION', options.path, `${option} must be a number >= ${minimum}, got ${String(value)}`);
  }
  return value;
}
