import { defer, from, Observable, type ObservableInput } from 'rxjs';
import { LaredoError } from '../../errors.js';
import type { TargetMessage } from '../../model/events.js';
import type { Target } from '../../model/target.js';

/**
 * When the batches a recording target receives become durable:
 * - `auto`: at once (the Observable `write` returns completes synchronously);
 * - `held`: when the test calls `release(...)` (or fails them with `fail(...)`);
 * - `fail`: never: every write errors with `options.error`;
 * - a function: its Observable (or Promise) for that batch decides, e.g. a TestScheduler `cold('--|')`.
 */
export type RecordingDurability =
  | 'auto'
  | 'held'
  | 'fail'
  | ((batch: readonly TargetMessage[], index: number) => ObservableInput<unknown>);

export interface RecordingTargetOptions {
  /** Default `recording`. */
  readonly name?: string;
  /** Default `auto`. Can be changed later with `setDurability`. */
  readonly durability?: RecordingDurability;
  /** What writes fail with in `fail` mode. Default a retryable-false LaredoError `TARGET_WRITE_FAILED`. */
  readonly error?: unknown;
  /** Make `write` throw synchronously instead of returning a failing Observable (in `fail` mode). */
  readonly throwSynchronously?: boolean;
}

export type RecordedBatchState = 'pending' | 'durable' | 'failed' | 'cancelled';

/** One call of `write`. */
export interface RecordedBatch {
  /** 0 for the first call of `write`, counting up. */
  readonly index: number;
  readonly messages: readonly TargetMessage[];
  readonly state: RecordedBatchState;
}

interface BatchRecord {
  readonly index: number;
  readonly messages: readonly TargetMessage[];
  state: RecordedBatchState;
  /** Set while a subscriber waits on a held batch. */
  settle: ((outcome: { error?: unknown }) => void) | undefined;
  outcome: { error?: unknown } | undefined;
}

/**
 * A target that records every batch and message it is given and lets a test decide when each batch
 * becomes durable. Used for acknowledgement tests and by integration tests of the whole source.
 */
export class RecordingTarget implements Target {
  readonly name: string;
  #durability: RecordingDurability;
  readonly #error: unknown;
  readonly #throwSynchronously: boolean;
  readonly #batches: BatchRecord[] = [];
  #closeCalls = 0;
  #maxOutstanding = 0;

  constructor(options: RecordingTargetOptions = {}) {
    this.name = options.name ?? 'recording';
    this.#durability = options.durability ?? 'auto';
    this.#error = options.error ?? new LaredoError('TARGET_WRITE_FAILED', `laredo: recording target "${this.name}" was told to fail`);
    this.#throwSynchronously = options.throwSynchronously ?? false;
  }

  write(batch: readonly TargetMessage[]): Observable<unknown> {
    const record: BatchRecord = { index: this.#batches.length, messages: [...batch], state: 'pending', settle: undefined, outcome: undefined };
    this.#batches.push(record);
    this.#maxOutstanding = Math.max(this.#maxOutstanding, this.outstanding);
    const durability = this.#durability;
    if (durability === 'fail' && this.#throwSynchronously) {
      record.state = 'failed';
      throw this.#error;
    }
    return new Observable<unknown>((subscriber) => {
      const settle = (outcome: { error?: unknown }): void => {
        if (record.state === 'pending') record.state = 'error' in outcome ? 'failed' : 'durable';
        if ('error' in outcome) subscriber.error(outcome.error);
        else subscriber.complete();
      };
      if (durability === 'auto') {
        settle({});
        return undefined;
      }
      if (durability === 'fail') {
        settle({ error: this.#error });
        return undefined;
      }
      if (durability === 'held') {
        if (record.outcome !== undefined) {
          settle(record.outcome);
          return undefined;
        }
        record.settle = settle;
        return () => {
          record.settle = undefined;
          if (record.state === 'pending') record.state = 'cancelled';
        };
      }
      const inner = defer(() => from(durability(record.messages, record.index))).subscribe({
        error: (error: unknown) => {
          settle({ error });
        },
        complete: () => {
          settle({});
        },
      });
      return () => {
        inner.unsubscribe();
        if (record.state === 'pending') record.state = 'cancelled';
      };
    });
  }

  /** Completes at once (synchronously, so marble tests see it in virtual time). */
  close(): Observable<never> {
    return new Observable<never>((subscriber) => {
      this.#closeCalls++;
      subscriber.complete();
    });
  }

  /** Changes how batches written from now on become durable. */
  setDurability(durability: RecordingDurability): void {
    this.#durability = durability;
  }

  /** Makes held batches durable: the given indexes, or every held batch when none are given. */
  release(...indexes: number[]): void {
    for (const record of this.#select(indexes)) this.#settle(record, {});
  }

  /** Fails held batches with `error`: the given indexes, or every held batch when none are given. */
  fail(error: unknown, ...indexes: number[]): void {
    for (const record of this.#select(indexes)) this.#settle(record, { error });
  }

  /** Every call of `write` so far, in order. */
  get batches(): readonly RecordedBatch[] {
    return this.#batches.map(({ index, messages, state }) => ({ index, messages, state }));
  }

  /** Every message written so far, in order, across batches. */
  get messages(): readonly TargetMessage[] {
    return this.#batches.flatMap((b) => b.messages);
  }

  /** Messages of the batches that are durable, in order (what a real target would keep). */
  get durableMessages(): readonly TargetMessage[] {
    return this.#batches.filter((b) => b.state === 'durable').flatMap((b) => b.messages);
  }

  /** Indexes of batches written and neither durable nor failed nor cancelled. */
  get heldBatches(): readonly number[] {
    return this.#batches.filter((b) => b.state === 'pending').map((b) => b.index);
  }

  /** Batches currently outstanding (written, not yet durable, failed or cancelled). */
  get outstanding(): number {
    return this.#batches.reduce((n, b) => n + (b.state === 'pending' ? 1 : 0), 0);
  }

  /** The most batches that were ever outstanding at once. */
  get maxOutstanding(): number {
    return this.#maxOutstanding;
  }

  get closeCalls(): number {
    return this.#closeCalls;
  }

  #select(indexes: readonly number[]): BatchRecord[] {
    if (indexes.length === 0) return this.#batches.filter((b) => b.state === 'pending' && b.outcome === undefined);
    return indexes.map((index) => {
      const record = this.#batches[index];
      if (record === undefined) throw new RangeError(`recording target "${this.name}" has no batch ${index} (it has ${this.#batches.length})`);
      return record;
    });
  }

  #settle(record: BatchRecord, outcome: { error?: unknown }): void {
    if (record.outcome !== undefined || record.state !== 'pending') return;
    record.outcome = outcome;
    const settle = record.settle;
    record.settle = undefined;
    settle?.(outcome);
  }
}

/** A {@link RecordingTarget}: records every batch and lets the test control durability. */
export function recordingTarget(options: RecordingTargetOptions = {}): RecordingTarget {
  return new RecordingTarget(options);
}
