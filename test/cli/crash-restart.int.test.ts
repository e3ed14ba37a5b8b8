// Acceptance: `laredo run` SIGKILLed under a continuous write load, then started again, leaves a jsonl
// file from which every table rebuilds exactly: stateful resumes (no second baseline), ephemeral starts
// over (reset, full baseline) and the rebuild applies the reset.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SlotMode } from '../../src/source/index.js';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { CLI_FIXTURES, killAllCli, startCli, workingDirectory } from './support/cli.js';
import { expectedRows, readLines, rebuildFile, slotsOf } from './support/database.js';
import { ITEMS_SCHEMA, seedItems, startWriteLoad, type WriteLoad } from './support/writer.js';

const ITEMS = path.join(CLI_FIXTURES, 'items.conf');

let db: TestDatabase;
let work: { dir: string; remove: () => Promise<void> };
let load: WriteLoad | undefined;

beforeEach(async () => {
  db = await createTestDatabase('laredo_cli_crash');
  work = await workingDirectory();
  await db.query(ITEMS_SCHEMA + seedItems(500));
});

afterEach(async () => {
  // A load that failed reports it here; the rest of the cleanup runs regardless.
  const stopping = load?.stop();
  load = undefined;
  killAllCli();
  try {
    await stopping;
  } finally {
    await db.drop();
    await work.remove();
  }
});

async function tablesNow(): Promise<Map<string, unknown>> {
  return new Map<string, unknown>([
    ['public.items', await expectedRows(db, 'SELECT id, name, qty, price, tags FROM items', ['id'])],
    ['public.notes', await expectedRows(db, 'SELECT id, item, body FROM notes', ['id'])],
  ]);
}

async function changesIn(file: string): Promise<number> {
  return (await readLines(file)).filter((line) => line.op === 'insert' || line.op === 'update' || line.op === 'delete').length;
}

describe.each<[SlotMode, string]>([
  ['stateful', 'resumes from the last acknowledged position: no second baseline'],
  ['ephemeral', 'starts over with a reset and a full baseline, which the rebuild applies'],
])('laredo run (%s) SIGKILLed mid-load and started again', (slotMode, behaviour) => {
  it(`${behaviour}; every table rebuilds from the jsonl file exactly`, async () => {
    const slotName = uniqueName('cli_crash');
    const env = { LAREDO_SOURCES_PG_MAIN_CONNECTION: db.connectionString, LAREDO_SOURCES_PG_MAIN_SLOT_NAME: slotName, LAREDO_SOURCES_PG_MAIN_SLOT_MODE: slotMode };
    const file = path.join(work.dir, 'changes.jsonl');

    const crashed = startCli(['run', '--config', ITEMS], { cwd: work.dir, env });
    await crashed.waitForState('STREAMING');
    if (slotMode === 'stateful') {
      // The baseline is durable (and recorded as such) before the crash: the restart must not redo it.
      const stateFile = path.join(work.dir, '.laredo-state', `${slotName}.json`);
      await waitFor(async () => (JSON.parse(await readFile(stateFile, 'utf8')) as { baselineComplete: boolean }).baselineComplete, {
        what: 'the state file to record the completed baseline',
      });
    }
    load = await startWriteLoad(db, { firstId: 10_000, seed: 7 });
    await waitFor(async () => (await changesIn(file)) >= 150, { timeoutMs: 60_000, what: '150 changes in the file' });
    crashed.child.kill('SIGKILL');
    expect(await crashed.exited).toEqual({ code: null, signal: 'SIGKILL' });

    const restarted = startCli(['run', '--config', ITEMS], { cwd: work.dir, env });
    await restarted.waitForState('STREAMING');
    const committedAtRestart = load.committed;
    await waitFor(() => load!.committed >= committedAtRestart + 100, { timeoutMs: 60_000, what: '100 more transactions while the restarted run streams' });
    await load.stop();
    load = undefined;

    const expected = await tablesNow();
    await waitFor(async () => isDeepStrictEqual(await rebuildFile(file), expected), { timeoutMs: 60_000, what: 'the file to catch up with the tables' });
    expect(await restarted.stop('SIGTERM'), restarted.stderr()).toEqual({ code: 0, signal: null });
    expect(await rebuildFile(file)).toEqual(expected);

    const resets = (await readLines(file)).filter((line) => line.op === 'reset').map((line) => line.table);
    const restartBaselined = restarted.logs().some((record) => record['state'] === 'BASELINING');
    if (slotMode === 'stateful') {
      expect(resets.sort()).toEqual(['public.items', 'public.notes']);
      expect(restartBaselined).toBe(false);
      expect((await slotsOf(db)).map((slot) => [slot.slot_name, slot.active])).toEqual([[slotName, false]]);
    } else {
      expect(resets.sort()).toEqual(['public.items', 'public.items', 'public.notes', 'public.notes']);
      expect(restartBaselined).toBe(true);
      expect(await slotsOf(db)).toEqual([]);
    }
  });
});
