import type { LaredoConfig } from '../../config/types.js';
import { NotImplementedError, type CommandContext } from './context.js';

export interface RunOptions {
  /** Stop (exit 0) once every source has finished its baseline and streamed up to the server's current WAL position. */
  readonly untilCaughtUp: boolean;
}

/**
 * `laredo run`: starts every source of `config` with its tables' targets, serves health and metrics,
 * and runs until `context.signal` aborts (or, with `untilCaughtUp`, until caught up). Resolves to the
 * exit code.
 */
// TODO(lead): build the sources and targets from `config`, start the HTTP server
// (src/observability/http-server.ts) and the logger, and stop gracefully on `context.signal`.
export function runCommand(_config: LaredoConfig, _options: RunOptions, _context: CommandContext): Promise<number> {
  return Promise.reject(new NotImplementedError('laredo run'));
}
