import {
  asyncScheduler,
  BehaviorSubject,
  defer,
  EMPTY,
  filter,
  from,
  ignoreElements,
  take,
  throwError,
  timeout,
  type Observable,
  type ObservableInput,
  type Observer,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { LaredoError } from '../errors.js';
import type { TargetMessage } from '../model/events.js';
import type { Target } from '../model/target.js';
import { InvalidOperatorOptionError, TargetFailedError } from './errors.js';
import { FifoQueue } from './fifo-queue.js';

export interface TargetActorOptions {
  /**
   * Batches handed to `write` whose Observable has not completed yet. Default 8: enough to keep a
   * target that groups flushes (one fsync, one HTTP request) busy while the next batch forms, few
   * enough that a failing target is noticed after little extra work.
   */
  readonly maxInFlight?: number;
  /**
   * Messages per `write` call at most. Default 512. The actor drains its mailbox into batches only
   * while the target is busy, so a fast target sees small batches and a slow one large batches; this
   * bounds the latter (the byte budget bounds the mailbox itself).
   */
  readonly maxBatch?: number;
}

export const DEFAULT_MAX_IN_FLIGHT = 8;
export const DEFAULT_MAX_BATCH = 512;

/**
 * A graceful stop waited `timeoutMs` and the target still had work that was not durable. Whatever was
 * not durable is not confirmed to PostgreSQL and is delivered again after a restart.
 */
export class DrainTimeoutError extends LaredoError {
  declare readonly code: 'STOP_TIMEOUT';
  readonly target: string;
  readonly pendingMessages: number;

  constructor(target: string, timeoutMs: number, pendingMessages: number) {
    super(
      'STOP_TIMEOUT',
      `laredo: target "${target}" did not make ${pendingMessages} message(s) durable within the stop timeout of ` +
        `${timeoutMs} ms; they were not acknowledged and will be sent again. Raise stop_timeout if the target is just slow.`,
      { retryable: false },
    );
    this.target = target;
    this.pendingMessages = pendingMessages;
  }
}

/**
 * Told synchronously what `durable$` tells, before it does: for the acknowledge operator, which hears
 * of every message of every target and spares the Subject and subscriber chain that way.
 */
export interface TargetActorListener {
  durable(durableThrough: number): void;
  failed(error: TargetFailedError): void;
}

/** What a batch reports to its actor. Made once per actor, so a batch needs no closures of its own. */
interface BatchOwner {
  readonly batchDurable: (batch: BatchInFlight) => void;
  readonly batchFailed: (error: unknown) => void;
}

/**
 * A batch handed to `write`, and the observer of the Observable `write` returned: one object per
 * batch instead of an observer literal with two closures (with small batches from a fast target, a
 * batch is made for every message).
 */
class BatchInFlight implements Partial<Observer<unknown>> {
  durable = false;
  subscription: Subscription | undefined = undefined;

  constructor(
    readonly owner: BatchOwner,
    readonly lastSequence: number,
    readonly size: number,
  ) {}

  error(error: unknown): void {
    this.owner.batchFailed(error);
  }

  complete(): void {
    this.owner.batchDurable(this);
  }
}

/**
 * One target's actor: an ordered mailbox in front of `Target.write`. Messages are posted with
 * strictly increasing sequence numbers (gaps allowed: a source's progress events never reach targets).
 * `write` is called with batches in posting order, one call at a time, with at most `maxInFlight`
 * batches not yet durable; while the target is that busy the mailbox fills and is drained into one
 * batch of up to `maxBatch` messages as soon as a slot frees.
 *
 * Targets may complete batches out of order; `durableThrough` only advances over the contiguous
 * prefix of completed batches, so "every message posted with a sequence <= durableThrough is durable"
 * always holds. A target error (or a synchronous throw from `write`) fails the actor for good.
 */
export class TargetActor {
  readonly target: Target;
  readonly #maxInFlight: number;
  readonly #maxBatch: number;
  /** Messages posted and not yet written, and their sequence numbers (two queues: no object per message). */
  readonly #mailbox = new FifoQueue<TargetMessage>();
  readonly #mailboxSequences = new FifoQueue<number>();
  readonly #inFlight = new FifoQueue<BatchInFlight>();
  readonly #owner: BatchOwner = {
    batchDurable: (batch) => {
      this.#batchDurable(batch);
    },
    batchFailed: (error) => {
      this.#fail(error);
    },
  };
  /** durableThrough; `#durableThrough` gets it only while someone subscribes (see durable$). */
  #durable = -1;
  readonly #durableThrough = new BehaviorSubject<number>(-1);
  readonly #listener: TargetActorListener | undefined;
  #lastPosted = -1;
  #inFlightMessages = 0;
  #pumping = false;
  #failure: TargetFailedError | undefined;
  #disposed = false;

  constructor(target: Target, options: TargetActorOptions = {}, listener?: TargetActorListener) {
    this.target = target;
    this.#listener = listener;
    this.#maxInFlight = positiveInteger('maxInFlight', options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    this.#maxBatch = positiveInteger('maxBatch', options.maxBatch ?? DEFAULT_MAX_BATCH);
  }

  /**
   * Every message posted with a sequence number up to this is durable in the target; -1 before the
   * first. Equal to the last posted sequence whenever the actor is idle.
   */
  get durableThrough(): number {
    // As BehaviorSubject#value did when this was one: a failed actor has no answer.
    if (this.#failure !== undefined) throw this.#failure;
    return this.#durable;
  }

  /**
   * `durableThrough` now and whenever it advances. Errors with {@link TargetFailedError} when the
   * target fails; completes on `dispose`.
   */
  get durable$(): Observable<number> {
    return defer(() => {
      // Advances went past the subject while nobody subscribed: bring it up to date first.
      if (this.#failure === undefined && !this.#disposed && this.#durableThrough.value !== this.#durable) this.#durableThrough.next(this.#durable);
      return this.#durableThrough;
    });
  }

  /** Posted messages not yet durable (waiting in the mailbox or written and outstanding). */
  get pendingMessages(): number {
    return this.#mailbox.size + this.#inFlightMessages;
  }

  get idle(): boolean {
    return this.pendingMessages === 0;
  }

  get failure(): TargetFailedError | undefined {
    return this.#failure;
  }

  /**
   * Puts a message into the mailbox and writes it at once if the target has room. Ignored after the
   * actor failed or was disposed (the failure was already reported through `durable$`).
   */
  post(sequence: number, message: TargetMessage): void {
    if (this.#failure !== undefined || this.#disposed) return;
    if (!(sequence > this.#lastPosted)) {
      throw new RangeError(`target "${this.target.name}": sequence ${sequence} posted after ${this.#lastPosted}; sequences must increase`);
    }
    this.#lastPosted = sequence;
    if (this.#mailbox.size === 0 && !this.#pumping && this.#inFlight.size < this.#maxInFlight) {
      // The target has room and nothing waits: write this message at once, without the mailbox.
      this.#pumping = true;
      try {
        this.#write([message], sequence);
      } finally {
        this.#pumping = false;
      }
      // Messages posted from inside that write (a synchronous reaction downstream) waited in the mailbox.
      if (this.#mailboxWaiting()) this.#pump();
      return;
    }
    this.#mailbox.push(message);
    this.#mailboxSequences.push(sequence);
    this.#pump();
  }

  /**
   * Completes once everything posted so far is durable (at once when idle). Errors with the target's
   * failure, or with {@link DrainTimeoutError} after `timeoutMs` (no limit when not finite).
   */
  drain(timeoutMs: number, scheduler: SchedulerLike = asyncScheduler): Observable<never> {
    const idle$ = this.#durableThrough.pipe(
      filter(() => this.idle),
      take(1),
    );
    const bounded$ = Number.isFinite(timeoutMs)
      ? idle$.pipe(
          timeout({
            first: Math.max(0, timeoutMs),
            scheduler,
            with: () => throwError(() => new DrainTimeoutError(this.target.name, timeoutMs, this.pendingMessages)),
          }),
        )
      : idle$;
    return bounded$.pipe(ignoreElements());
  }

  /**
   * Stops the actor: unsubscribes from outstanding writes (a target may cancel the work; nothing of it
   * is confirmed), forgets the mailbox, completes `durable$`. Idempotent.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#mailbox.clear();
    this.#mailboxSequences.clear();
    for (const batch of this.#inFlight.clear()) batch.subscription?.unsubscribe();
    this.#inFlightMessages = 0;
    if (this.#failure === undefined) this.#durableThrough.complete();
  }

  /** Neither failed nor disposed (a method, so a check after a callback is not narrowed away). */
  #running(): boolean {
    return this.#failure === undefined && !this.#disposed;
  }

  #mailboxWaiting(): boolean {
    return this.#mailbox.size > 0;
  }

  #pump(): void {
    // A write whose Observable completes synchronously re-enters through #batchDurable; the running
    // loop re-checks its condition, so re-entry just returns and the loop writes the next batch.
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#failure === undefined && !this.#disposed && this.#inFlight.size < this.#maxInFlight && this.#mailbox.size > 0) {
        const messages = this.#mailbox.take(this.#maxBatch);
        this.#write(messages, this.#mailboxSequences.skip(messages.length)!);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #write(messages: TargetMessage[], lastSequence: number): void {
    const batch = new BatchInFlight(this.#owner, lastSequence, messages.length);
    this.#inFlight.push(batch);
    this.#inFlightMessages += batch.size;
    let written: Observable<unknown>;
    try {
      // Targets written in JavaScript may return a Promise; `from` also rejects what is neither.
      written = from(this.target.write(messages) as ObservableInput<unknown>);
    } catch (error) {
      this.#fail(error);
      return;
    }
    // EMPTY (a target with nothing to wait for, such as Source#changes) is durable at once: spare the
    // subscription, which costs more than everything else here.
    if (written === EMPTY) {
      batch.complete();
      return;
    }
    const subscription = written.subscribe(batch);
    if (!batch.durable && this.#failure === undefined && !this.#disposed) batch.subscription = subscription;
  }

  #batchDurable(batch: BatchInFlight): void {
    if (this.#disposed || this.#failure !== undefined) return;
    batch.durable = true;
    let advancedTo: number | undefined;
    for (let head = this.#inFlight.peek(); head?.durable === true; head = this.#inFlight.peek()) {
      this.#inFlight.shift();
      this.#inFlightMessages -= head.size;
      advancedTo = head.lastSequence;
    }
    if (advancedTo !== undefined) {
      this.#durable = advancedTo;
      this.#listener?.durable(advancedTo);
      // Nobody listening is the rule (drain subscribes while stopping): spare the Subject then. The
      // listener may have stopped the actor (a downstream unsubscribe disposes it).
      if (this.#durableThrough.observed && this.#running()) this.#durableThrough.next(advancedTo);
    }
    this.#pump();
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined || this.#disposed) return;
    this.#failure = error instanceof TargetFailedError ? error : new TargetFailedError(this.target.name, error);
    this.#mailbox.clear();
    this.#mailboxSequences.clear();
    for (const batch of this.#inFlight.clear()) batch.subscription?.unsubscribe();
    this.#inFlightMessages = 0;
    this.#listener?.failed(this.#failure);
    this.#durableThrough.error(this.#failure);
  }
}

/** Throws InvalidOperatorOptionError for a maxInFlight or maxBatch that is not a whole number >= 1. */
export function checkTargetActorOptions(options: TargetActorOptions): void {
  positiveInteger('maxInFlight', options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
  positiveInteger('maxBatch', options.maxBatch ?? DEFAULT_MAX_BATCH);
}

function positiveInteger(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidOperatorOptionError(`targets.${option}`, `must be a whole number >= 1, got ${String(value)}`);
  }
  return value;
}
