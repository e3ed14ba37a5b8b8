/** Slots a queue starts with; also the size below which it never shrinks. */
const MINIMUM_CAPACITY = 16;

/**
 * A first-in first-out queue with O(1) push and shift. `Array.prototype.shift` is O(n), which turns a
 * mailbox of a million baseline batches into seconds of copying. A ring buffer: the acknowledge
 * operator and every target actor push and shift once per event, so a queue that keeps emptying
 * must not allocate (a moving head over a plain array grows it until a compaction copies it). Its
 * capacity doubles when full and halves when three quarters are unused, so a burst is given back.
 */
export class FifoQueue<T> {
  #items: (T | undefined)[] = new Array<T | undefined>(MINIMUM_CAPACITY).fill(undefined);
  /** capacity - 1; the capacity is a power of two, so `& #mask` wraps an index. */
  #mask = MINIMUM_CAPACITY - 1;
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    if (this.#size > this.#mask) this.#resize((this.#mask + 1) * 2);
    this.#items[(this.#head + this.#size) & this.#mask] = item;
    this.#size++;
  }

  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined; // let the garbage collector have it
    this.#head = (this.#head + 1) & this.#mask;
    this.#size--;
    this.#shrinkIfSparse();
    return item;
  }

  /** Removes and returns up to `count` items from the front. */
  take(count: number): T[] {
    const taken: T[] = [];
    const n = Math.min(Math.max(0, count), this.#size);
    for (let i = 0; i < n; i++) {
      const at = (this.#head + i) & this.#mask;
      taken.push(this.#items[at] as T);
      this.#items[at] = undefined;
    }
    this.#head = (this.#head + n) & this.#mask;
    this.#size -= n;
    this.#shrinkIfSparse();
    return taken;
  }

  /** Removes up to `count` items from the front and returns the last of them (undefined when none). */
  skip(count: number): T | undefined {
    const n = Math.min(Math.max(0, count), this.#size);
    let last: T | undefined;
    for (let i = 0; i < n; i++) {
      const at = (this.#head + i) & this.#mask;
      last = this.#items[at];
      this.#items[at] = undefined;
    }
    this.#head = (this.#head + n) & this.#mask;
    this.#size -= n;
    this.#shrinkIfSparse();
    return last;
  }

  clear(): T[] {
    const rest = this.take(this.#size);
    this.#head = 0;
    return rest;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#size; i++) yield this.#items[(this.#head + i) & this.#mask] as T;
  }

  #shrinkIfSparse(): void {
    const capacity = this.#mask + 1;
    if (capacity > MINIMUM_CAPACITY && this.#size * 4 < capacity) this.#resize(capacity / 2);
  }

  /** Copies the items, in order, to the front of a new array of `capacity` slots. */
  #resize(capacity: number): void {
    const items = new Array<T | undefined>(capacity).fill(undefined);
    for (let i = 0; i < this.#size; i++) items[i] = this.#items[(this.#head + i) & this.#mask];
    this.#items = items;
    this.#mask = capacity - 1;
    this.#head = 0;
  }
}
