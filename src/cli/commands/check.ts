import type { LaredoConfig } from '../../config/types.js';
import { LaredoError } from '../../errors.js';
import { PreflightError } from '../../streams/errors.js';
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
 * have a replica identity; an existing publication or slot fits). Changes nothing. What is fine goes
 * to stdout, each problem to stderr (`laredo: <source>: <what is wrong and what to do>`). Resolves to
 * the exit code: 0 when every source passed (warnings allowed), 1 otherwise.
 */
export async function preflightCommand(config: LaredoConfig, context: CommandContext): Promise<number> {
  let failed = 0;
  for (const [id, options] of Object.entries(config.sources)) {
    const problem = (message: string): void => {
      context.stderr(`laredo: ${id}: ${message}\n`);
    };
    try {
      const admin = await connectAdmin(options);
      try {
        const o = admin.options;
        const result = await preflight(admin, {
          tables: Object.keys(o.publication.tables),
          publication: o.publication.name,
          ...(o.slotMode === 'stateful' ? { slotName: o.slotName } : {}),
        });
        // A publication laredo is about to create is no warning here: the line below says so.
        for (const warning of result.warnings) if (warning.code !== 'PUBLICATION_MISSING') context.stdout(`${id}: warning: ${warning.message}\n`);
        let sourceFailed = false;
        const publication = await readPublication(admin, o.publication.name);
        if (publication === undefined) {
          if (o.publication.create) context.stdout(`${id}: publication ${o.publication.name} does not exist yet; laredo run creates it\n`);
          else {
            problem(`publication ${o.publication.name} does not exist and publication.create = false: create it, or set create = true`);
            sourceFailed = true;
          }
        } else if (!o.publication.create) {
          for (const table of Object.keys(o.publication.tables).filter((key) => !publication.publishedTables.includes(key))) {
            problem(`publication ${o.publication.name} does not publish ${table} (publication.create = false): add it to the publication`);
            sourceFailed = true;
          }
        }
        if (o.slotMode === 'stateful') {
          const slot = await inspectSlot(admin, o.slotName);
          context.stdout(
            slot === undefined
              ? `${id}: slot ${o.slotName} does not exist yet; the first run creates it and takes a full baseline\n`
              : `${id}: slot ${o.slotName} exists (${slot.active ? 'active' : 'inactive'}, wal_status ${slot.walStatus ?? '?'})\n`,
          );
        }
        if (sourceFailed) failed += 1;
        else context.stdout(`${id}: ok (PostgreSQL ${Math.floor(admin.serverVersion / 10000)})\n`);
      } finally {
        await admin.close();
      }
    } catch (error) {
      failed += 1;
      if (error instanceof PreflightError) for (const each of error.problems) problem(each.message);
      else problem(error instanceof LaredoError ? error.message : String(error));
    }
  }
  return failed === 0 ? 0 : 1;
}
