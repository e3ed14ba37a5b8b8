import type { SchedulerLike, Subscription } from 'rxjs';
import type { LineSpool } from '../line-spool.js';
import type { JsonlOutput } from './output.js';

/** A committed transaction whose lines sit in a spool: written in order, each line closed by `suffix`. */
interface SpooledTransaction {
  readonly spool: LineSpool;
  readonly suffix: string;
}

type Pending = string | SpooledTransaction;

interface BelowWaiter {
  readonly limit: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface Waiter {
  readonly position: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export interface DurableAppenderOptions {
  readonly flushIntervalMs: number;
  /**
   * Characters appended since the last fsync that start a write and fsync at once instead of waiting
   * for the timer: a busy stream is then bound by the disk, not by how many batches the actor sends
   * per flush interval.
   */
  readonly syncChars: number;
  readonly scheduler: SchedulerLike;
}

/**
 * Appends text to an output and makes it durable in groups: everything appended within one flush
 * interval is written and then covered by one fsync, however many transactions it holds. Positions
 * count appends; `durable()` resolves once the fsync that covers every append made so far returned.
 *
 * Writes and fsyncs run one at a time on a promise chain, so a slow disk makes the buffer grow rather
 * than the number of concurrent writes; the target stops feeding it past its high-water mark
 * (`whenBufferedBelow`). Any I/O failure is final: every waiter and every later call gets it.
 */
export class DurableAppender {
  readonly #output: () => Promise<JsonlOutput>;
  readonly #options: DurableAppenderOptions;
  #pending: Pending[] = [];
  #pendingChars = 0;
  /** Characters taken by the write in progress. */
  #writingChars = 0;
  #appended = 0;
  #written = 0;
  #durable = 0;
  readonly #waiters: Waiter[] = [];
  #belowWaiters: BelowWaiter[] = [];
  #timer: Subscription | undefined;
  #writeQueued = false;
  #syncQueued = false;
  /** Characters ever appended; ever taken by a write; covered by the last fsync begun. */
  #appendedChars = 0;
  #takenChars = 0;
  #syncCoveredChars = 0;
  #chain: Promise<void> = Promise.resolve();
  #opened: Promise<JsonlOutput> | undefined;
  #failure: Error | undefined;

  constructor(output: () => Promise<JsonlOutput>, options: DurableAppenderOptions) {
    this.#output = output;
    this.#options = options;
  }

  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Characters appended and not yet written. */
  get bufferedChars(): number {
    return this.#pendingChars + this.#writingChars;
  }

  append(text: string): void {
    if (text === '') return;
    this.#push(text, text.length);
  }

  /** Appends a committed transaction's spooled lines; the spool is discarded once written. */
  appendSpool(spool: LineSpool, suffix: string): void {
    this.#push({ spool, suffix }, spool.memoryChars);
  }

  /** Resolves once everything appended so far is durable; rejects with the I/O failure. */
  durable(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const position = this.#appended;
    if (this.#durable >= position) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ position, resolve, reject }));
  }

  /** Resolves once fewer than `limit` characters are buffered, starting a write if none is on its way. */
  whenBufferedBelow(limit: number): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.bufferedChars < limit) return Promise.resolve();
    this.#queueWrite();
    return new Promise((resolve, reject) => this.#belowWaiters.push({ limit, resolve, reject }));
  }

  /** Writes and fsyncs everything appended so far, now. */
  async flush(): Promise<void> {
    this.#cancelTimer();
    this.#chain = this.#chain.then(() => this.#flushOnce(true));
    await this.#chain;
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Flushes, then closes the output. Pending spools are discarded whatever happens. */
  async close(): Promise<void> {
    try {
      if (this.#failure === undefined) await this.flush();
    } finally {
      this.#cancelTimer();
      for (const item of this.#pending) if (typeof item !== 'string') await item.spool.discard();
      this.#pending = [];
      const output = await this.#opened?.catch(() => undefined);
      await output?.close();
    }
  }

  #push(item: Pending, chars: number): void {
    this.#pending.push(item);
    this.#pendingChars += chars;
    this.#appendedChars += chars;
    this.#appended++;
    if (this.#failure !== undefined) return;
    this.#timer ??= this.#options.scheduler.schedule(() => {
      this.#timer = undefined;
      this.#chain = this.#chain.then(() => this.#flushOnce(true));
    }, this.#options.flushIntervalMs);
    if (this.#appendedChars - this.#syncCoveredChars >= this.#options.syncChars) this.#queueSync();
  }

  #queueSync(): void {
    if (this.#syncQueued || this.#failure !== undefined) return;
    this.#syncQueued = true;
    this.#chain = this.#chain.then(() => {
      this.#syncQueued = false;
      return this.#flushOnce(true);
    });
  }

  #queueWrite(): void {
    if (this.#writeQueued || this.#failure !== undefined) return;
    this.#writeQueued = true;
    this.#chain = this.#chain.then(() => {
      this.#writeQueued = false;
      return this.#flushOnce(false);
    });
  }

  #cancelTimer(): void {
    this.#timer?.unsubscribe();
    this.#timer = undefined;
  }

  async #flushOnce(sync: boolean): Promise<void> {
    if (this.#failure !== undefined) return;
    // Opening the output creates the file: a target closed before it had a line to write leaves none.
    if (this.#opened === undefined && this.#pending.length === 0) return;
    try {
      const output = await (this.#opened ??= this.#output());
      if (this.#pending.length > 0) {
        const items = this.#pending;
        const position = this.#appended;
        this.#writingChars = this.#pendingChars;
        this.#takenChars = this.#appendedChars;
        this.#pending = [];
        this.#pendingChars = 0;
        await writeItems(output, items);
        this.#written = position;
        this.#writingChars = 0;
        this.#settleBelowWaiters();
      }
      if (sync && this.#durable < this.#written) {
        const position = this.#written;
        this.#syncCoveredChars = this.#takenChars;
        await output.sync();
        this.#durable = position;
        while (this.#waiters.length > 0 && this.#waiters[0]!.position <= position) this.#waiters.shift()!.resolve();
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  #settleBelowWaiters(): void {
    const still: BelowWaiter[] = [];
    for (const waiter of this.#belowWaiters) {
      if (this.bufferedChars < waiter.limit) waiter.resolve();
      else still.push(waiter);
    }
    this.#belowWaiters = still;
    if (still.length > 0) this.#queueWrite();
  }

  #fail(error: unknown): void {
    this.#failure ??= error instanceof Error ? error : new Error(String(error));
    this.#cancelTimer();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#failure);
    for (const waiter of this.#belowWaiters.splice(0)) waiter.reject(this.#failure);
  }
}

async function writeItems(output: JsonlOutput, items: readonly Pending[]): Promise<void> {
  let run: string[] = [];
  for (const item of items) {
    if (typeof item === 'string') {
      run.push(item);
      continue;
    }
    if (run.length > 0) await output.write(run.join(''));
    run = [];
    try {
      // Every spooled line ends with a line feed and contains no other: the suffix closes each one.
      for await (const chunk of item.spool.chunks()) await output.write(chunk.replaceAll('\n', item.suffix));
    } finally {
      await item.spool.discard();
    }
  }
  if (run.length > 0) await output.write(run.join(''));
}
