import { randomBytes } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { LaredoError } from '../errors.js';

export interface LineSpoolOptions {
  /** Characters held in memory before the lines move to a temporary file. */
  readonly memoryLimitChars: number;
  /** Where the temporary file goes. Default the OS temp directory. */
  readonly directory?: string;
}

/** The temporary file of a large open transaction could not be written or read back. */
export class SpoolError extends LaredoError {
  declare readonly code: 'SPOOL_FAILED';
  readonly path: string;

  constructor(path: string, action: string, cause: unknown) {
    super(
      'SPOOL_FAILED',
      `laredo: could not ${action} the temporary file ${path} that holds a large open transaction: ` +
        `${cause instanceof Error ? cause.message : String(cause)}. Check free space and permissions there ` +
        `(option spillDirectory).`,
      { retryable: false, cause },
    );
    this.path = path;
  }
}

const READ_CHUNK_BYTES = 1 << 20;

/**
 * The lines of one open transaction, held until its commit (then read back in order) or its rollback
 * (then dropped). A transaction of millions of rows must not hold memory without bound: past
 * `memoryLimitChars` the lines go to a temporary file, which is unlinked as soon as it is open so a
 * crash cannot leave it behind. Lines must not contain a line feed (JSON text never does).
 */
export class LineSpool {
  readonly #memoryLimitChars: number;
  readonly #directory: string;
  #lines: string[] = [];
  #memoryChars = 0;
  #path: string | undefined;
  #file: Promise<FileHandle> | undefined;
  #fileBytes = 0;
  /** Lines handed to the file (written, or on their way). */
  #fileLines = 0;
  /** Characters handed to the file but not yet written. */
  #spillingChars = 0;
  #writes: Promise<void> = Promise.resolve();
  #failure: SpoolError | undefined;
  #discarded = false;

  constructor(options: LineSpoolOptions) {
    this.#memoryLimitChars = options.memoryLimitChars;
    this.#directory = options.directory ?? tmpdir();
  }

  /** Characters held in memory now (the part not yet in the file). */
  get memoryChars(): number {
    return this.#memoryChars + this.#spillingChars;
  }

  /** Lines held now: a position `truncate` can go back to. */
  get lineCount(): number {
    return this.#fileLines + this.#lines.length;
  }

  /** True when no line was appended. */
  get empty(): boolean {
    return this.#lines.length === 0 && this.#file === undefined;
  }

  /** True once lines went to the temporary file. */
  get spilled(): boolean {
    return this.#file !== undefined;
  }

  /** True when the caller should `await drain()` before appending more: the file lags behind. */
  get needsDrain(): boolean {
    return this.#spillingChars > this.#memoryLimitChars;
  }

  append(line: string): void {
    this.#lines.push(line);
    this.#memoryChars += line.length + 1;
    if (this.#memoryChars >= this.#memoryLimitChars) this.#spill();
  }

  /** Waits until the lines handed to the temporary file are written; rethrows a write failure. */
  async drain(): Promise<void> {
    await this.#writes;
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * Every line in order, as text in which each line ends with a line feed. Chunks may end inside a
   * line; use `lines()` for whole lines.
   */
  async *chunks(): AsyncGenerator<string> {
    await this.drain();
    if (this.#file !== undefined) {
      const file = await this.#file;
      const decoder = new StringDecoder('utf8');
      const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, Math.max(1, this.#fileBytes)));
      for (let position = 0; position < this.#fileBytes; ) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, this.#fileBytes - position), position));
        } catch (error) {
          throw new SpoolError(this.#path!, 'read', error);
        }
        if (bytesRead === 0) throw new SpoolError(this.#path!, 'read', new Error('the file is shorter than what was written to it'));
        position += bytesRead;
        yield decoder.write(buffer.subarray(0, bytesRead));
      }
      const rest = decoder.end();
      if (rest !== '') yield rest;
    }
    if (this.#lines.length > 0) yield `${this.#lines.join('\n')}\n`;
  }

  /** Every line in order, in arrays of whole lines. */
  async *lines(): AsyncGenerator<readonly string[]> {
    let carry = '';
    for await (const chunk of this.chunks()) {
      const text = carry + chunk;
      const end = text.lastIndexOf('\n');
      if (end < 0) {
        carry = text;
        continue;
      }
      carry = text.slice(end + 1);
      yield text.slice(0, end).split('\n');
    }
    if (carry !== '') yield [carry];
  }

  /**
   * Drops every line after the first `lineCount` (an aborted subtransaction's changes). Cheap while
   * the cut is in memory; a cut inside the temporary file scans it for the line's offset (rare: an
   * aborted subtransaction of a transaction too large for memory).
   */
  async truncate(lineCount: number): Promise<void> {
    if (lineCount >= this.lineCount) return;
    if (lineCount >= this.#fileLines) {
      this.#lines.length = lineCount - this.#fileLines;
      this.#memoryChars = this.#lines.reduce((chars, line) => chars + line.length + 1, 0);
      return;
    }
    await this.drain();
    const file = await this.#file!;
    let offset = 0;
    if (lineCount > 0) {
      const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, this.#fileBytes));
      let seen = 0;
      scan: for (let position = 0; position < this.#fileBytes; ) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, this.#fileBytes - position), position));
        } catch (error) {
          throw new SpoolError(this.#path!, 'read', error);
        }
        const read = buffer.subarray(0, bytesRead);
        for (let index = read.indexOf(0x0a); index >= 0; index = read.indexOf(0x0a, index + 1)) {
          if (++seen === lineCount) {
            offset = position + index + 1;
            break scan;
          }
        }
        position += bytesRead;
      }
    }
    try {
      await file.truncate(offset);
    } catch (error) {
      throw new SpoolError(this.#path!, 'truncate', error);
    }
    this.#fileBytes = offset;
    this.#fileLines = lineCount;
    this.#lines = [];
    this.#memoryChars = 0;
  }

  /** Drops every line and closes the temporary file. Idempotent; never throws. */
  async discard(): Promise<void> {
    if (this.#discarded) return;
    this.#discarded = true;
    this.#lines = [];
    this.#memoryChars = 0;
    await this.#writes;
    if (this.#file !== undefined) {
      const file = await this.#file.catch(() => undefined);
      await file?.close().catch(() => undefined);
    }
  }

  #spill(): void {
    const text = `${this.#lines.join('\n')}\n`;
    this.#fileLines += this.#lines.length;
    this.#lines = [];
    this.#spillingChars += this.#memoryChars;
    const chars = this.#memoryChars;
    this.#memoryChars = 0;
    this.#file ??= this.#openFile();
    const file = this.#file;
    this.#writes = this.#writes.then(async () => {
      try {
        if (this.#failure !== undefined || this.#discarded) return;
        const handle = await file;
        const bytes = Buffer.from(text);
        for (let offset = 0; offset < bytes.length; ) {
          const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, this.#fileBytes + offset);
          offset += bytesWritten;
        }
        this.#fileBytes += bytes.length;
      } catch (error) {
        this.#failure ??= error instanceof SpoolError ? error : new SpoolError(this.#path!, 'write', error);
      } finally {
        this.#spillingChars -= chars;
      }
    });
  }

  async #openFile(): Promise<FileHandle> {
    const path = join(this.#directory, `laredo-spool-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
    this.#path = path;
    let handle: FileHandle;
    try {
      handle = await open(path, 'wx+', 0o600);
    } catch (error) {
      throw new SpoolError(path, 'create', error);
    }
    // Unlinked while open: the data stays reachable through the descriptor and the space is freed when
    // it closes, even if the process is killed.
    await unlink(path).catch(() => undefined);
    return handle;
  }
}
