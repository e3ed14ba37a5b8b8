import { BehaviorSubject, distinctUntilChanged, map, type Observable } from 'rxjs';

export interface InFlightBytesOptions {
  /**
   * Memory a held item costs beyond its bytes (a Buffer or an event object, its queue slot), so the
   * limits bound memory rather than payload: with it, pausing goes by `estimatedMemory`, which charges
   * this much per item of the average size added so far. Small replication frames (~100-200 bytes)
   * cost about as much again in JS objects, so 64 MiB of frame bytes is ~150 MB of memory without it.
   * Default 0: the limits count bytes only.
   */
  readonly perItemOverhead?: number;
}

/**
 * Measured memory of a held replication frame beyond its bytes (a pooled Buffer view, its slot in a
 * queue, V8 heap headroom): about 190 bytes per frame with frames of ~140 bytes (backpressure test).
 * A starting point for `perItemOverhead`; decoded events cost more than the frames they came from.
 */
export const FRAME_OVERHEAD_ESTIMATE = 192;

// The running average of item sizes follows the last few hundred adds (baseline COPY chunks and
// replication frames differ by orders of magnitude, and a source moves from one to the other).
const AVERAGE_WEIGHT = 1 / 256;

/**
 * Bytes received from PostgreSQL (replication frames, COPY data) that are not yet durable in every
 * target. Readers add what they receive and pause their socket while `paused$` is true; the
 * acknowledgement side releases bytes as events become durable. Hysteresis (pause above the high
 * water mark, resume below the low one) keeps the socket from flapping.
 */
export class InFlightBytes {
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  readonly perItemOverhead: number;
  #bytes = 0;
  #averageItem = 0;
  #paused = false;
  readonly #state = new BehaviorSubject<boolean>(false);

  constructor(highWaterMark = 64 * 1024 * 1024, lowWaterMark = Math.floor(highWaterMark / 2), options: InFlightBytesOptions = {}) {
    if (!(highWaterMark > 0) || !(lowWaterMark >= 0) || lowWaterMark > highWaterMark) {
      throw new RangeError(`in-flight limits must satisfy 0 <= low (${lowWaterMark}) <= high (${highWaterMark})`);
    }
    const overhead = options.perItemOverhead ?? 0;
    if (!(overhead >= 0)) throw new RangeError(`perItemOverhead must be >= 0, got ${overhead}`);
    this.highWaterMark = highWaterMark;
    this.lowWaterMark = lowWaterMark;
    this.perItemOverhead = overhead;
  }

  /** Bytes plus the per-item overhead of the items they are estimated to be in; equals `bytes` without an overhead. */
  get estimatedMemory(): number {
    if (this.perItemOverhead === 0 || this.#bytes === 0) return this.#bytes;
    return this.#bytes * (1 + this.perItemOverhead / Math.max(1, this.#averageItem));
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
    this.#averageItem = this.#averageItem === 0 ? bytes : this.#averageItem + (bytes - this.#averageItem) * AVERAGE_WEIGHT;
    if (!this.#paused && this.estimatedMemory > this.highWaterMark) {
      this.#paused = true;
      this.#state.next(true);
    }
  }

  release(bytes: number): void {
    this.#bytes = Math.max(0, this.#bytes - bytes);
    if (this.#paused && this.estimatedMemory <= this.lowWaterMark) {
      this.#paused = false;
      this.#state.next(false);
    }
  }

  /** Forget everything held (the events were dropped, e.g. on reconnect). */
  clear(): void {
    this.release(this.#bytes);
  }
}
