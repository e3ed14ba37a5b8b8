import type { LaredoConfig } from '../../config/types.js';
import { fileStateStore } from '../../source/state-store.js';
import { quoteIdentifier, quoteLiteral } from '../../streams/identifiers.js';
import { inspectSlot } from '../../streams/slot.js';
import { connectAdmin } from './admin-connection.js';
import type { CommandContext } from './context.js';

export interface ResetSourceOptions {
  /** Id of the source (a key of `config.sources`; the CLI has checked it exists). */
  readonly source: string;
  /** Also drop the publication laredo manages for the source. */
  readonly dropPublication: boolean;
}

/**
 * `laredo reset-source`: drops the source's persistent slot (and optionally its publication) and its
 * state file, so the next `run` starts with a full baseline. Refuses while the slot is active: a
 * running laredo (or anything else) is reading it. Resolves to the exit code.
 */
export async function resetSourceCommand(config: LaredoConfig, options: ResetSourceOptions, context: CommandContext): Promise<number> {
  const sourceOptions = config.sources[options.source]!;
  const admin = await connectAdmin({ ...sourceOptions, stateDir: sourceOptions.stateDir ?? config.stateDir });
  try {
    const o = admin.options;
    if (o.slotMode === 'stateful') {
      const slot = await inspectSlot(admin, o.slotName);
      if (slot?.active === true) {
        context.stderr(
          `laredo: slot ${o.slotName} is active (pid ${String(slot.activePid)}): stop the process reading it before resetting the source\n`,
        );
        return 1;
      }
      if (slot === undefined) context.stdout(`${options.source}: slot ${o.slotName} does not exist\n`);
      else {
        await admin.query(`SELECT pg_drop_replication_slot(${quoteLiteral(o.slotName)})`);
        context.stdout(`${options.source}: dropped slot ${o.slotName}\n`);
      }
      await fileStateStore(o.stateDir).remove(o.slotName);
    } else {
      context.stdout(`${options.source}: ephemeral source: its slot is temporary and already goes with each run\n`);
    }
    if (options.dropPublication) {
      if (!o.publication.create) {
        context.stderr(`laredo: publication ${o.publication.name} is not managed by laredo (publication.create = false); not dropped\n`);
        return 1;
      }
      await admin.query(`DROP PUBLICATION IF EXISTS ${quoteIdentifier(o.publication.name)}`);
      context.stdout(`${options.source}: dropped publication ${o.publication.name}\n`);
    }
    context.stdout(`${options.source}: the next run takes a full baseline\n`);
    return 0;
  } finally {
    await admin.close();
  }
}
