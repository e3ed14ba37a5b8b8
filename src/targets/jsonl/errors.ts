import { LaredoError } from '../../errors.js';

export type JsonlTargetErrorCode =
  | 'JSONL_INVALID_OPTION' // an option the target cannot work with
  | 'JSONL_OPEN_FAILED' // the file could not be opened, created or repaired
  | 'JSONL_WRITE_FAILED' // write(2) failed (disk full, EPIPE on stdout...)
  | 'JSONL_SYNC_FAILED' // fsync failed: what the kernel held may be gone
  | 'JSONL_CLOSED'; // write after close

/**
 * The jsonl target cannot make changes durable. Never retryable: the target instance is failed for good
 * (after a failed fsync the kernel may have dropped the pages, so a later fsync proves nothing); fix
 * the cause and restart, and every change not acknowledged is delivered again.
 */
export class JsonlTargetError extends LaredoError {
  declare readonly code: JsonlTargetErrorCode;
  readonly path: string;

  constructor(code: JsonlTargetErrorCode, path: string, message: string, cause?: unknown) {
    super(code, `laredo: jsonl target ${path === '-' ? 'on stdout' : path}: ${message}`, {
      retryable: false,
      ...(cause === undefined ? {} : { cause }),
    });
    this.path = path;
  }
}

/** A line of a jsonl file is not what the jsonl target writes. */
export class JsonlFormatError extends LaredoError {
  declare readonly code: 'JSONL_MALFORMED';
  /** 1-based line number. */
  readonly line: number;

  constructor(file: string, line: number, problem: string) {
    super('JSONL_MALFORMED', `laredo: ${file} line ${line}: ${problem}. Was the file written by the laredo jsonl target?`, {
      retryable: false,
    });
    this.line = line;
  }
}

/** Replaying a jsonl file met a line that cannot be applied to the tables rebuilt so far. */
export class JsonlReplayError extends LaredoError {
  declare readonly code: 'JSONL_REPLAY_FAILED';
  readonly table: string;
  /** Index of the line in the sequence given to `rebuildTables` (0-based). */
  readonly index: number;

  constructor(table: string, index: number, problem: string) {
    super(
      'JSONL_REPLAY_FAILED',
      `laredo: cannot replay line ${index + 1} (table ${table}): ${problem}. The file does not hold this ` +
        `table's baseline; replay a file that starts with it.`,
      { retryable: false },
    );
    this.table = table;
    this.index = index;
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
