import type { LaredoConfig } from '../../config/types.js';
import { LaredoError } from '../../errors.js';
import { readPublication } from '../../streams/publication.js';
import { preflight } from '../../streams/preflight.js';
import { inspectSlot } from '../../streams/slot.js';
import { connectAdmin } from './admin-connection.js';
import type { CommandContext } from './context.js';

/** One line saying what a valid config defines, e.g. `2 sources (pg_main, pg_reports), 3 tables, 5 targets`. */
export function summarizeConfig(config: LaredoConfig): string {
  const ids = Object.keys(config.sources);
  const targets = config.tables.reduce((count, table) => count + table.targets.length, 0);
  const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;
  return `${plural(ids.length, 'source')} (${ids.join(', ')}), ${plural(config.tables.length, 'table')}, ${plural(targets, 'target')}`;
}

/**
 * `laredo check` after the config is valid: connects to each source and checks what only the server
 * knows (wal_level = logical, replication privilege, free slots, the tables exist, are readable and
 * have a replica identity; an existing publication or slot fits). Changes nothing. Resolves to the
 * exit code: 0 when every source passed (warnings allowed), 1 otherwise.
 */
export async function preflightCommand(config: LaredoConfig, context: CommandContext): Promise<number> {
  let failed = 0;
  for (const [id, options] of Object.entries(config.sources)) {
    try {
      const admin = await connectAdmin(options);
      try {
        const o = admin.options;
        const result = await preflight(admin, {
          tables: Object.keys(o.publication.tables),
          publication: o.publication.name,
          ...(o.slotMode === 'stateful' ? { slotName: o.slotName } : {}),
        });
        for (const warning of result.warnings) context.stdout(`${id}: warning: ${warning.message}\n`);
        const publication = await readPublication(admin, o.publication.name);
        if (publication === undefined) {
          context.stdout(
            o.publication.create
              ? `${id}: publication ${o.publication.name} does not exist yet; laredo run creates it\n`
              : `${id}: error: publication ${o.publication.name} does not exist and publication.create = false: create it, or set create = true\n`,
          );
          if (!o.publication.create) failed += 1;
        } else if (!o.publication.create) {
          const missing = Object.keys(o.publication.tables).filter((table) => !publication.publishedTables.includes(table));
          for (const table of missing) context.stdout(`${id}: error: publication ${o.publication.name} does not publish ${table} (create = false): add it\n`);
          failed += missing.length > 0 ? 1 : 0;
        }
        if (o.slotMode === 'stateful') {
          const slot = await inspectSlot(admin, o.slotName);
          context.stdout(
            slot === undefined
              ? `${id}: slot ${o.slotName} does not exist yet; the first run creates it and takes a full baseline\n`
              : `${id}: slot ${o.slotName} exists (${slot.active ? 'active' : 'inactive'}, wal_status ${slot.walStatus ?? '?'})\n`,
          );
        }
        context.stdout(`${id}: ok (PostgreSQL ${Math.floor(admin.serverVersion / 10000)})\n`);
      } finally {
        await admin.close();
      }
    } catch (error) {
      failed += 1;
      context.stdout(`${id}: error: ${error instanceof LaredoError ? error.message : String(error)}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}
