import { from, ignoreElements, type Observable } from 'rxjs';

/**
 * The batches given to a target's `write`, taken in one at a time and in order by `take`. `write`
 * returns at once (the actor may send the next batch before this one is durable); a target whose
 * output lags waits inside `take`, so later batches queue here instead of piling up in its buffers.
 * A job carries the callbacks that settle its `write`: the target calls them once the batch is durable.
 */
export class BatchInbox<Job> {
  readonly #take: (job: Job) => Promise<void>;
  readonly #jobs: Job[] = [];
  #draining = false;
  #idle: Promise<void> = Promise.resolve();

  /** `take` must settle every job itself (resolve or reject its caller) and never reject. */
  constructor(take: (job: Job) => Promise<void>) {
    this.#take = take;
  }

  /** Jobs submitted and not yet taken in. */
  get length(): number {
    return this.#jobs.length;
  }

  /** Resolves once every job submitted so far was taken in. */
  get idle(): Promise<void> {
    return this.#idle;
  }

  /**
   * Queues the job that `create` makes, handing it the callbacks that settle it; what `write` returns:
   * an Observable that completes once the job resolved, or errors with its rejection.
   */
  submit(create: (resolve: () => void, reject: (error: unknown) => void) => Job): Observable<never> {
    const done = new Promise<void>((resolve, reject) => {
      this.#push(create(resolve, reject));
    });
    // The work is under way whether or not anyone subscribes; the Observable only reports it.
    done.catch(() => undefined);
    return from(done).pipe(ignoreElements());
  }

  #push(job: Job): void {
    this.#jobs.push(job);
    if (this.#draining) return;
    this.#draining = true;
    this.#idle = this.#drain();
  }

  async #drain(): Promise<void> {
    // The flag is cleared in the same synchronous step that finds the inbox empty: a `.finally`
    // would run a microtask later, and a job submitted in between would be stranded.
    try {
      for (let job = this.#jobs.shift(); job !== undefined; job = this.#jobs.shift()) await this.#take(job);
    } finally {
      this.#draining = false;
    }
  }
}
