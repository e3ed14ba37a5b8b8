import type { LaredoConfig } from '../../config/types.js';
import { NotImplementedError, type CommandContext } from './context.js';

export interface StatusOptions {
  /** One JSON document on stdout instead of a table. */
  readonly json: boolean;
}

/**
 * `laredo status`: for each source, its slot (exists, active, confirmed LSN, lag, WAL retained), its
 * publication and the state file. Resolves to the exit code.
 */
// TODO(lead): query pg_replication_slots / pg_publication_tables for each source and read the state files.
export function statusCommand(_config: LaredoConfig, _options: StatusOptions, _context: CommandContext): Promise<number> {
  return Promise.reject(new NotImplementedError('laredo status'));
}
