import { NotImplementedError, type CommandContext } from './context.js';

/**
 * `laredo demo`: starts an embedded PostgreSQL (src/embedded), creates a small schema under a steady
 * write load, and prints the baseline and then live changes to stdout until interrupted.
 */
// TODO(lead): embedded server + schema + writer + an ephemeral source printing JSON lines.
export function demoCommand(_context: CommandContext): Promise<number> {
  return Promise.reject(new NotImplementedError('laredo demo'));
}
