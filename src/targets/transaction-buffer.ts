import { LineSpool } from './line-spool.js';

export interface TransactionBufferOptions<State> {
  /** Characters of one open transaction held in memory before the rest goes to a temporary file. */
  readonly memoryLimitChars: number;
  /** Where those temporary files go. Default the OS temp directory. */
  readonly spillDirectory?: string;
  /** The target's own bookkeeping for a new transaction (e.g. the table shapes its lines use). */
  readonly createState: () => State;
  /**
   * Called where a subtransaction's first change is about to go; the function it returns puts `state`
   * back as it was there, and runs if that subtransaction aborts. Without it the state is kept as is.
   */
  readonly saveState?: (state: State) => () => void;
}

/** A transaction from its first event until its commit or rollback: its lines in order, and the target's state. */
export interface BufferedTransaction<State> {
  readonly spool: LineSpool;
  readonly state: State;
}

interface OpenTransaction<State> extends BufferedTransaction<State> {
  /** Where each subtransaction's first change went, to cut back to when it aborts. */
  readonly subtransactions: Map<number, SubtransactionStart>;
}

interface SubtransactionStart {
  /** Lines the transaction held before the subtransaction's first change. */
  readonly line: number;
  readonly restoreState: (() => void) | undefined;
}

/**
 * The open transactions of a target that writes whole transactions only (jsonl, http-sync): each
 * transaction's encoded lines are held from its first event until its commit, when the target takes
 * them to write or send, or its rollback, when they are dropped. Past `memoryLimitChars` a
 * transaction's lines go to a temporary file ({@link LineSpool}), so a bulk load does not fill memory.
 */
export class TransactionBuffer<State> {
  readonly #options: TransactionBufferOptions<State>;
  readonly #open = new Map<number, OpenTransaction<State>>();

  constructor(options: TransactionBufferOptions<State>) {
    this.#options = options;
  }

  /** Transactions begun and neither committed nor rolled back. */
  get size(): number {
    return this.#open.size;
  }

  /** Opens transaction `xid` at its begin. */
  begin(xid: number): void {
    // A begin for a transaction still open means the stream restarted without a rollback: the server
    // sends the transaction again from its start, so what was held of it is void.
    void this.#open.get(xid)?.spool.discard();
    this.#open.set(xid, this.#newTransaction());
  }

  /**
   * Lets `append` add one change's lines to transaction `xid`, which its first change opens when no
   * begin came (a streamed transaction passed through in chunks). Marks where subtransaction `subXid`
   * starts before `append` runs. Returns a promise when the caller must wait before the next change:
   * the temporary file lags behind.
   */
  hold(xid: number, subXid: number | undefined, append: (transaction: BufferedTransaction<State>) => void): Promise<void> | undefined {
    let transaction = this.#open.get(xid);
    if (transaction === undefined) {
      transaction = this.#newTransaction();
      this.#open.set(xid, transaction);
    }
    if (subXid !== undefined && !transaction.subtransactions.has(subXid)) {
      transaction.subtransactions.set(subXid, { line: transaction.spool.lineCount, restoreState: this.#options.saveState?.(transaction.state) });
    }
    append(transaction);
    return transaction.spool.needsDrain ? transaction.spool.drain() : undefined;
  }

  /**
   * Closes transaction `xid` at its commit and hands it over: the caller reads its lines and then
   * discards its spool. Undefined when nothing of it reached this target (empty, or filtered out).
   */
  commit(xid: number): BufferedTransaction<State> | undefined {
    const transaction = this.#open.get(xid);
    this.#open.delete(xid);
    return transaction;
  }

  /**
   * Without `subXid`: drops the transaction. With it: drops what the subtransaction and those begun
   * after it (nested in it) added, as PostgreSQL's own apply worker does at a Stream Abort.
   */
  async rollback(xid: number, subXid: number | undefined): Promise<void> {
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
    start.restoreState?.();
  }

  /** Drops every open transaction (the target closes; they are sent again after a restart). */
  async discardAll(): Promise<void> {
    const open = [...this.#open.values()];
    this.#open.clear();
    for (const transaction of open) await transaction.spool.discard();
  }

  #newTransaction(): OpenTransaction<State> {
    const spool = new LineSpool({
      memoryLimitChars: this.#options.memoryLimitChars,
      ...(this.#options.spillDirectory === undefined ? {} : { directory: this.#options.spillDirectory }),
    });
    return { spool, state: this.#options.createState(), subtransactions: new Map() };
  }
}
