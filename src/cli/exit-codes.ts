/**
 * Process exit codes of the `laredo` command. Scripts and orchestrators tell "fix your config or
 * flags" (2, do not restart) from "it ran and failed" (1, a restart may help).
 */
export const EXIT_CODES = {
  /** Done: the command did what it was asked (for `run`: stopped cleanly). */
  ok: 0,
  /** The command failed at run time: the server refused, a target failed, reconnects were exhausted. */
  failure: 1,
  /** Unusable input: a config error or bad command-line flags. Nothing touched a server. */
  usage: 2,
  /** Stopped by a second SIGINT/SIGTERM without waiting for a graceful stop (128 + SIGINT). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];
