import { asyncScheduler, throwError, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { CommitEvent, TargetMessage } from '../../model/events.js';
import type { TableKey, TableSchema } from '../../model/table.js';
import type { Target } from '../../model/target.js';
import { BatchInbox } from '../batch-inbox.js';
import { sameShape } from '../json-values.js';
import { TransactionBuffer } from '../transaction-buffer.js';
import { HttpSyncClient } from './client.js';
import { HttpSyncError } from './errors.js';
import { commitFields, HttpSyncEncoder } from './protocol.js';

export interface HttpSyncTargetOptions {
  /** Endpoints are `{baseUrl}/baseline/start`, `/baseline/batch`, `/baseline/complete`, `/changes`. */
  readonly baseUrl: string;
  /** The source id sent in every body (`"source"`). */
  readonly source: string;
  /** Rows per baseline batch and changes per `/changes` request, at most. */
  readonly batchSize?: number;
  /** Longest wait before a partly filled batch is sent, ms. */
  readonly flushIntervalMs?: number;
  /** Per attempt, from sending the request to reading the whole answer, ms. */
  readonly timeoutMs?: number;
  /** Retries after the first attempt (5xx, 408, 429, timeouts, network errors). */
  readonly retryCount?: number;
  /** Wait before the first retry, doubling for each next one, ms. */
  readonly retryBackoffMs?: number;
  /** Cap on the wait between retries (also on what a Retry-After header asks), ms. */
  readonly maxRetryBackoffMs?: number;
  /** Value of the `Authorization` header (e.g. `Bearer …`). Never logged. */
  readonly authHeader?: string;
  /** More headers sent with every request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Requests formed and not yet answered before `write` batches wait their turn. */
  readonly maxQueuedRequests?: number;
  /** Bytes of one open transaction held in memory before the rest goes to a temporary file. */
  readonly transactionMemoryBytes?: number;
  /** Where those temporary files go. Default the OS temp directory. */
  readonly spillDirectory?: string;
  /** Target name for logs and metrics. Default `http-sync:<origin>`. */
  readonly name?: string;
  /** Runs the flush timer, request timeouts and retry waits. */
  readonly scheduler?: SchedulerLike;
}

/** The defaults, each with its reason. */
export const HTTP_SYNC_DEFAULTS = {
  /** 500: request bodies of ~100 kB for typical rows, few enough requests for a fast baseline. */
  batchSize: 500,
  /** 200 ms: changes reach the receiver quickly, and a busy stream still fills whole batches. */
  flushIntervalMs: 200,
  /** 5 s: a receiver that needs longer for 500 rows is in trouble; retry rather than hang. */
  timeoutMs: 5000,
  /** 3 retries (1 s, 2 s, 4 s): rides out a receiver restart without hiding an outage. */
  retryCount: 3,
  retryBackoffMs: 1000,
  /** 30 s: never sleep longer than this between attempts, whatever Retry-After says. */
  maxRetryBackoffMs: 30_000,
  /** 8 requests (4000 rows by default) queued: keeps the connection busy; the byte budget does the rest. */
  maxQueuedRequests: 8,
  /** 16 MiB, as for the jsonl target. */
  transactionMemoryBytes: 16 * 1024 * 1024,
} as const;

/** A `write` call: done once every request holding one of its messages was answered 2xx. */
interface Ticket {
  /** The last request (by sequence number) holding one of its messages. */
  requiredSequence: number;
  /** Batches of requests still forming that hold some of its messages. */
  formingBatches: number;
  processed: boolean;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface Job {
  readonly batch: readonly TargetMessage[];
  readonly ticket: Ticket;
}

/** Rows or changes collecting into one request. */
interface FormingBatch {
  readonly table: TableSchema;
  readonly entries: string[];
  readonly tickets: Set<Ticket>;
}

interface BaselineInProgress {
  readonly batch: FormingBatch;
  rowsSent: number;
}

/** The tables of an open transaction's lines, each held as `<index into tables>\t<open change entry>`. */
interface TransactionTables {
  readonly tables: TableSchema[];
  readonly tableIndex: Map<TableSchema, number>;
}

interface QueuedRequest {
  readonly sequence: number;
  readonly path: string;
  readonly body: string;
}

/**
 * Creates a target that POSTs baselines and committed changes to a receiver speaking the Laredo HTTP
 * sync protocol (docs/targets.md). A batch is durable once every request holding its messages got a
 * 2xx answer.
 */
export function httpSyncTarget(options: HttpSyncTargetOptions): HttpSyncTarget {
  return new HttpSyncTarget(options);
}

/**
 * The http-sync target. One request is in flight at a time, so the receiver sees everything in source
 * order. A transaction's changes are held (in memory, then a temporary file) until its commit and only
 * then sent, so a receiver never sees a rolled-back change; they travel in `/changes` requests of one
 * table each, grouped across transactions up to `batchSize` or `flushIntervalMs`.
 */
export class HttpSyncTarget implements Target {
  readonly name: string;
  readonly #client: HttpSyncClient;
  readonly #encoder: HttpSyncEncoder;
  readonly #scheduler: SchedulerLike;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #maxQueuedRequests: number;
  readonly #inbox = new BatchInbox<Job>((job) => this.#take(job));
  readonly #tickets = new Set<Ticket>();
  readonly #transactions: TransactionBuffer<TransactionTables>;
  readonly #baselines = new Map<TableKey, BaselineInProgress>();
  /** Tables whose next baseline/start stands for a reset (the start is sent with the baseline's first event). */
  readonly #resetPending = new Set<TableKey>();
  /** The shape each table was last described with (baseline/start, or `columns` of /changes). */
  readonly #announced = new Map<TableKey, TableSchema>();
  #changes: FormingBatch | undefined;
  readonly #queue: QueuedRequest[] = [];
  #lastSequence = 0;
  #answeredSequence = 0;
  #sending = false;
  #queueWaiters: (() => void)[] = [];
  #timer: Subscription | undefined;
  #failure: Error | undefined;
  #closed: Promise<void> | undefined;

  constructor(options: HttpSyncTargetOptions) {
    let baseUrl: URL;
    try {
      baseUrl = new URL(options.baseUrl);
    } catch {
      throw invalid('base_url', options.baseUrl, 'is not a URL; give e.g. https://receiver.example.com/api/sync');
    }
    if (baseUrl.protocol !== 'http:' && baseUrl.protocol !== 'https:') throw invalid('base_url', baseUrl.origin, 'must be an http:// or https:// URL');
    if (baseUrl.username !== '' || baseUrl.password !== '') {
      baseUrl.username = '';
      baseUrl.password = '';
      throw invalid('base_url', baseUrl.origin, 'must not hold credentials; put them in auth_header (e.g. "Basic <base64>")');
    }
    const display = `${baseUrl.origin}${baseUrl.pathname}`;
    this.#batchSize = whole(display, 'batch_size', options.batchSize ?? HTTP_SYNC_DEFAULTS.batchSize, 1);
    this.#flushIntervalMs = whole(display, 'flush_interval', options.flushIntervalMs ?? HTTP_SYNC_DEFAULTS.flushIntervalMs, 0);
    this.#maxQueuedRequests = whole(display, 'maxQueuedRequests', options.maxQueuedRequests ?? HTTP_SYNC_DEFAULTS.maxQueuedRequests, 1);
    this.#transactions = new TransactionBuffer<TransactionTables>({
      memoryLimitChars: whole(display, 'transactionMemoryBytes', options.transactionMemoryBytes ?? HTTP_SYNC_DEFAULTS.transactionMemoryBytes, 1),
      ...(options.spillDirectory === undefined ? {} : { spillDirectory: options.spillDirectory }),
      // A table indexed by lines an aborted subtransaction took with it is merely never looked up.
      createState: () => ({ tables: [], tableIndex: new Map() }),
    });
    this.#scheduler = options.scheduler ?? asyncScheduler;
    this.#client = new HttpSyncClient({
      baseUrl,
      headers: requestHeaders(display, options),
      timeoutMs: whole(display, 'timeout_ms', options.timeoutMs ?? HTTP_SYNC_DEFAULTS.timeoutMs, 1),
      retryCount: whole(display, 'retry_count', options.retryCount ?? HTTP_SYNC_DEFAULTS.retryCount, 0),
      retryBackoffMs: whole(display, 'retry_backoff_ms', options.retryBackoffMs ?? HTTP_SYNC_DEFAULTS.retryBackoffMs, 0),
      maxRetryBackoffMs: whole(display, 'maxRetryBackoffMs', options.maxRetryBackoffMs ?? HTTP_SYNC_DEFAULTS.maxRetryBackoffMs, 0),
      scheduler: this.#scheduler,
    });
    this.#encoder = new HttpSyncEncoder(options.source);
    this.name = options.name ?? `http-sync:${baseUrl.origin}`;
  }

  /** Requests formed and not yet answered. */
  get queuedRequests(): number {
    return this.#queue.length;
  }

  /** Transactions begun and neither committed nor rolled back. */
  get openTransactions(): number {
    return this.#transactions.size;
  }

  write(batch: readonly TargetMessage[]): Observable<unknown> {
    const refused = this.#closed === undefined ? this.#failure : new HttpSyncError('HTTP_SYNC_CLOSED', this.name, 'write after close');
    if (refused !== undefined) return throwError(() => refused);
    return this.#inbox.submit((resolve, reject) => {
      const ticket: Ticket = { requiredSequence: 0, formingBatches: 0, processed: false, resolve, reject };
      this.#tickets.add(ticket);
      return { batch, ticket };
    });
  }

  /**
   * Waits for the batches given so far, sends every forming request and waits for their answers.
   * Open transactions are dropped (they are sent again after a restart). Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#inbox.idle;
      await this.#transactions.discardAll();
      try {
        // A target that failed before has reported it through `write`; one failing now reports here.
        if (this.#failure === undefined) {
          this.#sealAll();
          await this.#queueBelow(1);
        }
      } finally {
        this.#cancelTimer();
      }
    })();
    return this.#closed;
  }

  async #take({ batch, ticket }: Job): Promise<void> {
    try {
      if (this.#failure !== undefined) throw this.#failure;
      await this.#queueBelow(this.#maxQueuedRequests);
      for (const message of batch) {
        const applying = this.#apply(message, ticket);
        if (applying !== undefined) await applying;
      }
      ticket.processed = true;
      this.#settle(ticket);
    } catch (error) {
      this.#fail(error);
    }
  }

  #apply(message: TargetMessage, ticket: Ticket): Promise<void> | undefined {
    switch (message.kind) {
      case 'reset':
        this.#sealAll();
        for (const table of message.tables) {
          // A baseline cut short by the reset is not completed: the baseline/start that follows
          // tells the receiver to drop it.
          this.#baselines.delete(table);
          this.#resetPending.add(table);
        }
        return undefined;
      case 'baseline': {
        const baseline = this.#baseline(message.table, ticket);
        for (const row of message.rows) {
          baseline.batch.entries.push(this.#encoder.row(message.table, row));
          this.#join(baseline.batch, ticket);
          if (baseline.batch.entries.length >= this.#batchSize) this.#sealBaselineBatch(baseline);
        }
        this.#armTimer();
        return undefined;
      }
      case 'baseline-complete': {
        const baseline = this.#baseline(message.table, ticket);
        this.#sealBaselineBatch(baseline);
        this.#baselines.delete(message.table.key);
        this.#enqueue('/baseline/complete', this.#encoder.baselineComplete(message.table, baseline.rowsSent), [ticket]);
        return undefined;
      }
      case 'schema':
      case 'message':
        // Shapes travel with the next request of the table; logical decoding messages have no endpoint.
        return undefined;
      case 'begin':
        this.#transactions.begin(message.transaction.xid);
        return undefined;
      case 'insert':
        return this.#hold(message.xid, message.subXid, message.table, this.#encoder.openInsert(message.table, message.lsn, message.xid, message.row));
      case 'update':
        return this.#hold(
          message.xid,
          message.subXid,
          message.table,
          this.#encoder.openUpdate(message.table, message.lsn, message.xid, message.row, message.old, message.oldKind),
        );
      case 'delete':
        return this.#hold(message.xid, message.subXid, message.table, this.#encoder.openDelete(message.table, message.lsn, message.xid, message.old, message.oldKind));
      case 'truncate': {
        let holding: Promise<void> | undefined;
        const entry = this.#encoder.openTruncate(message.lsn, message.xid, message.cascade, message.restartIdentity);
        for (const table of message.tables) holding = this.#hold(message.xid, message.subXid, table, entry) ?? holding;
        return holding;
      }
      case 'commit':
        return this.#commit(message, ticket);
      case 'rollback':
        return this.#transactions.rollback(message.xid, message.subXid);
    }
  }

  /** The baseline in progress for `table`, started (baseline/start sent) by its first event. */
  #baseline(table: TableSchema, ticket: Ticket): BaselineInProgress {
    let baseline = this.#baselines.get(table.key);
    if (baseline === undefined) {
      this.#sealChanges();
      this.#resetPending.delete(table.key);
      this.#announced.set(table.key, table);
      this.#enqueue('/baseline/start', this.#encoder.baselineStart(table), [ticket]);
      baseline = { batch: { table, entries: [], tickets: new Set() }, rowsSent: 0 };
      this.#baselines.set(table.key, baseline);
    }
    return baseline;
  }

  /** Holds an open change entry until its transaction commits; a promise when the caller must wait for the spool. */
  #hold(xid: number, subXid: number | undefined, table: TableSchema, entry: string): Promise<void> | undefined {
    return this.#transactions.hold(xid, subXid, ({ spool, state }) => {
      let index = state.tableIndex.get(table);
      if (index === undefined) {
        index = state.tables.push(table) - 1;
        state.tableIndex.set(table, index);
      }
      spool.append(`${index}\t${entry}`);
    });
  }

  async #commit(commit: CommitEvent, ticket: Ticket): Promise<void> {
    const transaction = this.#transactions.commit(commit.transaction.xid);
    if (transaction === undefined) return;
    const { spool, state } = transaction;
    if (spool.empty) return;
    const suffix = commitFields(commit.transaction.commitLsn, commit.transaction.commitTime);
    try {
      this.#sealBaselines();
      for await (const lines of spool.lines()) {
        for (const line of lines) {
          const tab = line.indexOf('\t');
          const table = state.tables[Number(line.slice(0, tab))]!;
          this.#addChange(table, line.slice(tab + 1) + suffix, ticket);
          // A huge transaction becomes many requests: wait for the receiver rather than queue them all.
          if (this.#queue.length >= this.#maxQueuedRequests) await this.#queueBelow(this.#maxQueuedRequests);
        }
      }
    } finally {
      await spool.discard();
    }
  }

  #addChange(table: TableSchema, entry: string, ticket: Ticket): void {
    if (this.#resetPending.has(table.key)) {
      // A reset the source did not follow with a baseline of this table: the table is empty now.
      this.#sealChanges();
      const baseline = this.#baseline(table, ticket);
      this.#baselines.delete(table.key);
      this.#enqueue('/baseline/complete', this.#encoder.baselineComplete(table, baseline.rowsSent), [ticket]);
    }
    const forming = this.#changes;
    if (forming !== undefined && (forming.table.key !== table.key || !sameShape(forming.table, table))) this.#sealChanges();
    this.#changes ??= { table, entries: [], tickets: new Set() };
    this.#changes.entries.push(entry);
    this.#join(this.#changes, ticket);
    if (this.#changes.entries.length >= this.#batchSize) this.#sealChanges();
    else this.#armTimer();
  }

  #join(batch: FormingBatch, ticket: Ticket): void {
    if (batch.tickets.has(ticket)) return;
    batch.tickets.add(ticket);
    ticket.formingBatches++;
  }

  #sealAll(): void {
    this.#sealBaselines();
    this.#sealChanges();
  }

  #sealBaselines(): void {
    for (const baseline of this.#baselines.values()) this.#sealBaselineBatch(baseline);
  }

  #sealBaselineBatch(baseline: BaselineInProgress): void {
    const { batch } = baseline;
    if (batch.entries.length === 0) return;
    baseline.rowsSent += batch.entries.length;
    this.#seal(batch, '/baseline/batch', this.#encoder.baselineBatch(batch.table, batch.entries));
  }

  #sealChanges(): void {
    const batch = this.#changes;
    if (batch === undefined) return;
    this.#changes = undefined;
    const announce = !sameShape(this.#announced.get(batch.table.key), batch.table);
    this.#announced.set(batch.table.key, batch.table);
    this.#seal(batch, '/changes', this.#encoder.changes(batch.table, announce, batch.entries));
  }

  #seal(batch: FormingBatch, path: string, body: string): void {
    const tickets = [...batch.tickets];
    batch.entries.length = 0;
    batch.tickets.clear();
    this.#enqueue(path, body, tickets);
    for (const ticket of tickets) {
      ticket.formingBatches--;
      this.#settle(ticket);
    }
  }

  #enqueue(path: string, body: string, tickets: Iterable<Ticket>): void {
    const sequence = ++this.#lastSequence;
    for (const ticket of tickets) ticket.requiredSequence = Math.max(ticket.requiredSequence, sequence);
    this.#queue.push({ sequence, path, body });
    void this.#send();
  }

  async #send(): Promise<void> {
    if (this.#sending) return;
    this.#sending = true;
    try {
      for (let request = this.#queue[0]; request !== undefined && this.#failure === undefined; request = this.#queue[0]) {
        await this.#client.post(request.path, request.body);
        this.#queue.shift();
        this.#answeredSequence = request.sequence;
        for (const ticket of this.#tickets) this.#settle(ticket);
        for (const wake of this.#queueWaiters.splice(0)) wake();
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#sending = false;
    }
  }

  #settle(ticket: Ticket): void {
    if (ticket.processed && ticket.formingBatches === 0 && this.#answeredSequence >= ticket.requiredSequence && this.#tickets.delete(ticket)) {
      ticket.resolve();
    }
  }

  /** Resolves once fewer than `limit` requests are queued; rejects when the target failed. */
  async #queueBelow(limit: number): Promise<void> {
    while (this.#queue.length >= limit) {
      if (this.#failure !== undefined) throw this.#failure;
      await new Promise<void>((resolve) => this.#queueWaiters.push(resolve));
    }
    if (this.#failure !== undefined) throw this.#failure;
  }

  #armTimer(): void {
    this.#timer ??= this.#scheduler.schedule(() => {
      this.#timer = undefined;
      if (this.#failure === undefined) this.#sealAll();
    }, this.#flushIntervalMs);
  }

  #cancelTimer(): void {
    this.#timer?.unsubscribe();
    this.#timer = undefined;
  }

  #fail(error: unknown): void {
    this.#failure ??= error instanceof Error ? error : new Error(String(error));
    this.#cancelTimer();
    for (const ticket of this.#tickets) ticket.reject(this.#failure);
    this.#tickets.clear();
    for (const wake of this.#queueWaiters.splice(0)) wake();
  }
}

function invalid(option: string, shown: string, problem: string): HttpSyncError {
  return new HttpSyncError('HTTP_SYNC_INVALID_OPTION', shown, `${option} ${problem}`);
}

function whole(display: string, option: string, value: number, minimum: number): number {
  if (!Number.isSafeInteger(value) || value < minimum) {
    throw invalid(option, display, `must be a whole number >= ${minimum}, got ${String(value)}`);
  }
  return value;
}

function requestHeaders(display: string, options: HttpSyncTargetOptions): Headers {
  const headers = new Headers({ 'content-type': 'application/json', 'user-agent': 'laredo' });
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    try {
      headers.set(name, value);
    } catch {
      // The value may be a secret: name the header only.
      throw invalid(`headers.${name}`, display, 'is not a valid HTTP header (check its name and that the value has no line breaks)');
    }
  }
  if (options.authHeader !== undefined) {
    try {
      headers.set('authorization', options.authHeader);
    } catch {
      throw invalid('auth_header', display, 'is not a valid Authorization header value (it has line breaks or control characters)');
    }
  }
  return headers;
}
