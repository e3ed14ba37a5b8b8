import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { JsonlTargetError, errorText } from './errors.js';

/** Where the jsonl target's bytes go: a file (made durable with fsync) or a stream such as stdout. */
export interface JsonlOutput {
  /** Writes all of `text`; resolves once the bytes are handed to the kernel. */
  write(text: string): Promise<void>;
  /** Makes everything written so far durable (fsync); nothing to do for a stream. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** How the file is made durable. Default `handle.datasync()`; tests replace it to observe or stall it. */
export type FsyncFunction = (file: FileHandle) => Promise<void>;

const TAIL_SCAN_BYTES = 64 * 1024;

/**
 * Opens `path` for appending. A file left by a crash may end in a torn line (the process died inside a
 * write, so that line was never fsynced and never acknowledged); it is cut back to its last complete
 * line, or the next line would be glued to it. A file that did not exist is created and its directory
 * fsynced, so the file itself survives a crash, not just its contents.
 */
export async function openFileOutput(path: string, fsync: FsyncFunction): Promise<JsonlOutput> {
  let handle: FileHandle;
  let regularFile: boolean;
  try {
    const created = await repairTornTail(path);
    handle = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o644);
    regularFile = (await handle.stat()).isFile();
    if (created && regularFile) await syncDirectory(dirname(path));
  } catch (error) {
    if (error instanceof JsonlTargetError) throw error;
    throw new JsonlTargetError('JSONL_OPEN_FAILED', path, `cannot open the file for appending (${errorText(error)}); check the path and its permissions`, error);
  }
  return {
    async write(text) {
      const bytes = Buffer.from(text);
      try {
        for (let offset = 0; offset < bytes.length; ) {
          const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
          offset += bytesWritten;
        }
      } catch (error) {
        throw new JsonlTargetError('JSONL_WRITE_FAILED', path, `write failed (${errorText(error)}); check free space on its disk`, error);
      }
    },
    async sync() {
      // A pipe or a character device (e.g. /dev/null) cannot be fsynced, and has nothing to keep.
      if (!regularFile) return;
      try {
        await fsync(handle);
      } catch (error) {
        throw new JsonlTargetError(
          'JSONL_SYNC_FAILED',
          path,
          `fsync failed (${errorText(error)}); what was written since the last fsync may be lost, so nothing after it was acknowledged. Check the disk, then restart`,
          error,
        );
      }
    },
    async close() {
      await handle.close();
    },
  };
}

/** Cuts a torn last line; true when the file does not exist yet. */
async function repairTornTail(path: string): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size === 0) return false;
    const buffer = Buffer.allocUnsafe(TAIL_SCAN_BYTES);
    let end = stat.size;
    const { bytesRead } = await handle.read(buffer, 0, 1, end - 1);
    if (bytesRead === 1 && buffer[0] === 0x0a) return false;
    let keep = 0;
    while (end > 0) {
      const start = Math.max(0, end - TAIL_SCAN_BYTES);
      const { bytesRead: read } = await handle.read(buffer, 0, end - start, start);
      const newline = buffer.subarray(0, read).lastIndexOf(0x0a);
      if (newline >= 0) {
        keep = start + newline + 1;
        break;
      }
      end = start;
    }
    await handle.truncate(keep);
    await handle.datasync();
    return false;
  } finally {
    await handle.close();
  }
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A stream output (stdout): durable means written, i.e. the stream's write callback ran (the bytes
 * reached the file descriptor). The stream is not ended on close: the caller owns it.
 */
export function streamOutput(stream: Writable, path = '-'): JsonlOutput {
  let failure: JsonlTargetError | undefined;
  // An EPIPE on stdout arrives as an 'error' event; without a listener Node would crash the process.
  const onError = (error: Error): void => {
    failure ??= new JsonlTargetError('JSONL_WRITE_FAILED', path, `the stream failed (${error.message}); is the reader still there?`, error);
  };
  stream.on('error', onError);
  return {
    write(text) {
      if (failure !== undefined) return Promise.reject(failure);
      return new Promise<void>((resolve, reject) => {
        stream.write(text, (error) => {
          if (error === undefined || error === null) resolve();
          else {
            onError(error);
            reject(failure ?? error);
          }
        });
      });
    },
    sync() {
      return failure === undefined ? Promise.resolve() : Promise.reject(failure);
    },
    close() {
      stream.off('error', onError);
      return Promise.resolve();
    },
  };
}
