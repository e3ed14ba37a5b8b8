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
