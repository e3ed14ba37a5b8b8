import type { LaredoConfig } from '../../config/types.js';
import { NotImplementedError, type CommandContext } from './context.js';

export interface ResetSourceOptions {
  /** Id of the source (a key of `config.sources`; the CLI has checked it exists). */
  readonly source: string;
  /** Also drop the publication laredo manages for the source. */
  readonly dropPublication: boolean;
}

/**
 * `laredo reset-source`: drops the source's persistent slot (and optionally its publication) and its
 * state file, so the next `run` starts with a full baseline. Resolves to the exit code.
 */
// TODO(lead): drop the slot (refusing while it is active), the publication when asked, and the state file.
export function resetSourceCommand(_config: LaredoConfig, _options: ResetSourceOptions, _context: CommandContext): Promise<number> {
  return Promise.reject(new NotImplementedError('laredo reset-source'));
}
