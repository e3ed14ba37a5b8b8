import { BehaviorSubject, distinctUntilChanged, map, type Observable } from 'rxjs';

/**
 * Bytes received from PostgreSQL (replication frames, COPY data) that are not yet durable in every
 * target. Readers add what they receive and pause their socket while `paused$` is true; the
 * acknowledgement side releases bytes as events become durable. Hysteresis (pause above the high
 * water mark, resume below the low one) keeps the socket from flapping.
 */
export class InFlightBytes {
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  #bytes = 0;
  #paused = false;
  readonly #state = new BehaviorSubject<boolean>(false);

  constructor(highWaterMark = 64 * 1024 * 1024, lowWaterMark = Math.floor(highWaterMark / 2)) {
    if (!(highWaterMark > 0) || !(lowWaterMark >= 0) || lowWaterMark > highWaterMark) {
      throw new RangeError(`in-flight limits must satisfy 0 <= low (${lowWaterMark}) <= high (${highWaterMark})`);
    }
    this.highWaterMark = highWaterMark;
    this.lowWaterMark = lowWaterMark;
  }

  /** Bytes currently held. */
  get bytes(): number {
    return this.#bytes;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Emits true when readers must stop reading, false when they may go on. */
  get paused$(): Observable<boolean> {
    return this.#state.pipe(
      map((paused) => paused),
      distinctUntilChanged(),
    );
  }

  add(bytes: number): void {
    this.#bytes += bytes;
    if (!this.#paused && this.#bytes > this.highWaterMark) {
      this.#paused = true;
      this.#state.next(true);
    }
  }

  release(bytes: number): void {
    this.#bytes = Math.max(0, this.#bytes - bytes);
    if (this.#paused && this.#bytes <= this.lowWaterMark) {
      this.#paused = false;
      this.#state.next(false);
    }
  }

  /** Forget everything held (the events were dropped, e.g. on reconnect). */
  clear(): void {
    this.release(this.#bytes);
  }
}
