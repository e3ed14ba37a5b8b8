import { LaredoError } from '../../errors.js';

/** What a command may use of its process; injected so commands run in tests without one. */
export interface CommandContext {
  /** Writes to standard output (data and results). */
  readonly stdout: (text: string) => void;
  /** Writes to standard error (messages for the user). */
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on the first SIGINT/SIGTERM: a long-running command stops gracefully when it fires. */
  readonly signal: AbortSignal;
}

/** A command whose body the CLI skeleton does not provide yet. */
export class NotImplementedError extends LaredoError {
  declare readonly code: 'NOT_IMPLEMENTED';

  constructor(what: string) {
    super('NOT_IMPLEMENTED', `${what} is not implemented yet`, { retryable: false });
  }
}
