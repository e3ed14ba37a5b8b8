import type { LaredoConfig } from '../../config/types.js';
import { NotImplementedError, type CommandContext } from './context.js';

/** One line saying what a valid config defines, e.g. `2 sources (pg_main, pg_reports), 3 tables, 5 targets`. */
export function summarizeConfig(config: LaredoConfig): string {
  const ids = Object.keys(config.sources);
  const targets = config.tables.reduce((count, table) => count + table.targets.length, 0);
  const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;
  return `${plural(ids.length, 'source')} (${ids.join(', ')}), ${plural(config.tables.length, 'table')}, ${plural(targets, 'target')}`;
}

/**
 * `laredo check` after the config is valid: connects to each source and checks what only the server
 * knows (wal_level = logical, replication privilege, free slots and senders, the tables exist and have
 * a replica identity, the server is new enough for row filters, column lists and origin). Resolves to
 * the exit code.
 */
// TODO(lead): call the preflight of src/streams for each source and print its findings.
export function preflightCommand(_config: LaredoConfig, _context: CommandContext): Promise<number> {
  return Promise.reject(new NotImplementedError('the server preflight of laredo check'));
}
