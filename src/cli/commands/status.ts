import type { LaredoConfig } from '../../config/types.js';
import { LaredoError } from '../../errors.js';
import { Lsn } from '../../protocol/lsn.js';
import { fileStateStore } from '../../source/state-store.js';
import { readPublication } from '../../streams/publication.js';
import { inspectSlot } from '../../streams/slot.js';
import { connectAdmin } from './admin-connection.js';
import type { CommandContext } from './context.js';

export interface StatusOptions {
  /** One JSON document on stdout instead of a table. */
  readonly json: boolean;
}

interface SourceStatus {
  readonly source: string;
  readonly mode: string;
  readonly error?: string;
  readonly slot?: {
    readonly name: string;
    readonly exists: boolean;
    readonly active?: boolean;
    readonly confirmedLsn?: string | null;
    readonly lagBytes?: number | null;
    readonly walStatus?: string | null;
    readonly safeWalSize?: number | null;
  };
  readonly publication?: {
    readonly name: string;
    readonly exists: boolean;
    readonly publish?: readonly string[];
    readonly tables?: readonly { table: string; where: string | null; columns: readonly string[] | null }[];
  };
  readonly state?: { readonly baselineComplete: boolean; readonly tables: readonly string[]; readonly updatedAt: string } | null;
}

/**
 * `laredo status`: for each source, its slot (exists, active, confirmed LSN, lag bytes, wal_status,
 * safe_wal_size), its publication (tables, filters, columns, publish) and the state file; as a table
 * or `--json`. Resolves to the exit code (1 when a source could not be inspected).
 */
export async function statusCommand(config: LaredoConfig, options: StatusOptions, context: CommandContext): Promise<number> {
  const statuses: SourceStatus[] = [];
  for (const [id, sourceOptions] of Object.entries(config.sources)) {
    statuses.push(await inspect(id, { ...sourceOptions, stateDir: sourceOptions.stateDir ?? config.stateDir }));
  }
  if (options.json) {
    context.stdout(`${JSON.stringify({ sources: statuses }, null, 2)}\n`);
  } else {
    for (const status of statuses) context.stdout(render(status));
  }
  return statuses.some((s) => s.error !== undefined) ? 1 : 0;
}

async function inspect(id: string, options: LaredoConfig['sources'][string]): Promise<SourceStatus> {
  let admin;
  try {
    admin = await connectAdmin(options);
  } catch (error) {
    return { source: id, mode: options.slotMode ?? 'ephemeral', error: error instanceof LaredoError ? error.message : String(error) };
  }
  try {
    const o = admin.options;
    const [walRow] = (await admin.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows as { lsn: string }[];
    const current = Lsn.parse(walRow!.lsn);
    const publication = await readPublication(admin, o.publication.name);
    let slot: SourceStatus['slot'];
    let state: SourceStatus['state'];
    if (o.slotMode === 'stateful') {
      const info = await inspectSlot(admin, o.slotName);
      slot =
        info === undefined
          ? { name: o.slotName, exists: false }
          : {
              name: o.slotName,
              exists: true,
              active: info.active,
              confirmedLsn: info.confirmedFlushLsn === null ? null : Lsn.format(info.confirmedFlushLsn),
              lagBytes: info.confirmedFlushLsn === null ? null : Number(current - info.confirmedFlushLsn),
              walStatus: info.walStatus,
              safeWalSize: info.safeWalSize,
            };
      const saved = await fileStateStore(o.stateDir).load(o.slotName);
      state = saved === undefined ? null : { baselineComplete: saved.baselineComplete, tables: saved.tables, updatedAt: saved.updatedAt };
    }
    return {
      source: id,
      mode: o.slotMode,
      ...(slot === undefined ? {} : { slot }),
      publication:
        publication === undefined
          ? { name: o.publication.name, exists: false }
          : {
              name: publication.name,
              exists: true,
              publish: publication.publish,
              tables: publication.tables.map((t) => ({ table: t.key, where: t.rowFilter, columns: t.columns })),
            },
      ...(state === undefined ? {} : { state }),
    };
  } catch (error) {
    return { source: id, mode: options.slotMode ?? 'ephemeral', error: error instanceof LaredoError ? error.message : String(error) };
  } finally {
    await admin.close();
  }
}

function render(status: SourceStatus): string {
  const lines = [`source ${status.source} (${status.mode})`];
  if (status.error !== undefined) return `${lines[0]!}\n  error: ${status.error}\n`;
  const slot = status.slot;
  if (slot === undefined) lines.push('  slot         temporary (ephemeral mode)');
  else if (!slot.exists) lines.push(`  slot         ${slot.name}: does not exist (next run takes a full baseline)`);
  else {
    lines.push(`  slot         ${slot.name}: ${slot.active === true ? 'active' : 'inactive'}`);
    lines.push(`  confirmed    ${slot.confirmedLsn ?? '-'}   lag ${slot.lagBytes === null || slot.lagBytes === undefined ? '-' : `${slot.lagBytes.toLocaleString('en-US')} bytes`}`);
    lines.push(`  wal_status   ${slot.walStatus ?? '-'}   safe_wal_size ${slot.safeWalSize === null || slot.safeWalSize === undefined ? 'unlimited' : slot.safeWalSize.toLocaleString('en-US')}`);
  }
  const publication = status.publication;
  if (publication !== undefined) {
    if (!publication.exists) lines.push(`  publication  ${publication.name}: does not exist`);
    else {
      lines.push(`  publication  ${publication.name}: publish ${(publication.publish ?? []).join(', ')}`);
      for (const table of publication.tables ?? []) {
        const extras = [table.where === null ? '' : `where ${table.where}`, table.columns === null ? '' : `columns ${table.columns.join(', ')}`].filter((x) => x !== '');
        lines.push(`    ${table.table}${extras.length > 0 ? `  (${extras.join('; ')})` : ''}`);
      }
    }
  }
  if (status.state !== undefined) {
    lines.push(
      status.state === null
        ? '  state        no state file'
        : `  state        baseline ${status.state.baselineComplete ? 'complete' : 'incomplete'} (${status.state.tables.length} tables), updated ${status.state.updatedAt}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
