// Process crashes: the source runs in a child process (support/source-process.ts) that is SIGKILLed,
// so nothing of laredo's teardown runs; PostgreSQL only sees the socket close.
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pg } from '../../src/source/index.js';
import { jsonlTarget, readJsonl, rebuildTables } from '../../src/targets/jsonl/index.js';
import { memoryTarget } from '../../src/targets/memory/index.js';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import {
  FAST_RECONNECT,
  runSource,
  slotsOf,
  startWriteLoad,
  stopAll,
  tableRows,
  temporaryStateDir,
  waitUntilTargetEqualsTable,
  type RunningSource,
} from './support/harness.js';
import type { SourceProcessArgs } from './support/source-process.js';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'source-process.ts');

interface SourceProcess {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly stderr: () => string;
  readonly exited: Promise<NodeJS.Signals | null>;
}

function spawnSource(args: SourceProcessArgs): SourceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const complete = pending.split('\n');
    pending = complete.pop()!;
    lines.push(...complete);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  return { child, lines, stderr: () => stderr, exited };
}

let db: TestDatabase;
let state: { dir: string; remove: () => Promise<void> };
const children: ChildProcess[] = [];
const running: RunningSource[] = [];

beforeEach(async () => {
  db = await createTestDatabase('laredo_crash');
  state = await temporaryStateDir();
  await db.query(`CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, body text)`);
  await db.query(`INSERT INTO items SELECT g, 0, 'item ' || g FROM generate_series(1, 1000) g`);
});

afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await stopAll(running);
  await db.drop();
  await state.remove();
});

describe('crashes', () => {
  it('Stateful: SIGKILL mid-load, then start again: the durable target misses no change (resumes from the last ACKed LSN)', async () => {
    const slotName = uniqueName('crash');
    const jsonlPath = path.join(state.dir, 'items.jsonl');
    const args: SourceProcessArgs = { connection: db.connectionString, slotMode: 'stateful', slotName, stateDir: state.dir, jsonlPath, tables: ['public.items'] };
    const crashed = spawnSource(args);
    children.push(crashed.child);
    await waitFor(() => crashed.lines.includes('state STREAMING'), { timeoutMs: 60_000, what: `the child to stream (stderr: ${crashed.stderr()})` });

    const load = startWriteLoad(db, 'items', { firstId: 10_000 });
    try {
      // Killed while transactions arrive and are being confirmed.
      const confirmedBefore = crashed.lines.filter((l) => l.startsWith('confirmed')).length;
      await waitFor(() => crashed.lines.filter((l) => l.startsWith('confirmed')).length > confirmedBefore + 5, { what: 'confirmations under load' });
      crashed.child.kill('SIGKILL');
      expect(await crashed.exited).toBe('SIGKILL');
      const atKill = load.transactions;
      await waitFor(() => load.transactions > atKill + 30, { what: 'writes while the source is dead' });
    } finally {
      await load.stop();
    }

    const restarted = runSource(
      pg.source({ connection: db.connectionString, slotMode: 'stateful', slotName, stateDir: state.dir, publication: { tables: { 'public.items': {} } }, reconnect: FAST_RECONNECT }),
      [jsonlTarget({ path: jsonlPath, source: 'crash', flushIntervalMs: 20 })],
      { untilCaughtUp: true },
    );
    running.push(restarted);
    await waitFor(() => restarted.ended, { timeoutMs: 60_000, what: 'the restarted source to catch up' });
    expect(restarted.error).toBeUndefined();
    expect(restarted.states).not.toContain('BASELINING');

    const rebuilt = rebuildTables(await readJsonl(jsonlPath)).get('public.items')!;
    const rows = [...rebuilt.values()].sort((a, b) => Number(a['id']) - Number(b['id']));
    expect(rows).toEqual(await tableRows(db, 'items'));
  });

  it('Ephemeral: If the process crashes, the slot is gone and the next startup repeats the full cycle', async () => {
    const crashed = spawnSource({
      connection: db.connectionString,
      slotMode: 'ephemeral',
      slotName: uniqueName('ephemeral'),
      stateDir: state.dir,
      jsonlPath: path.join(state.dir, 'ephemeral.jsonl'),
      tables: ['public.items'],
    });
    children.push(crashed.child);
    await waitFor(() => crashed.lines.includes('state STREAMING'), { timeoutMs: 60_000, what: `the child to stream (stderr: ${crashed.stderr()})` });
    expect((await slotsOf(db)).map((s) => s.temporary)).toEqual([true]);
    crashed.child.kill('SIGKILL');
    await crashed.exited;
    await waitFor(async () => (await slotsOf(db)).length === 0, { what: 'the temporary slot gone with its connection' });
    await rm(path.join(state.dir, 'ephemeral.jsonl'), { force: true });

    await db.query(`UPDATE items SET v = 1 WHERE id <= 10`);
    const target = memoryTarget();
    const next = runSource(pg.source({ connection: db.connectionString, publication: { tables: { 'public.items': {} } }, stateDir: state.dir }), [target]);
    running.push(next);
    await waitFor(() => next.source.state === 'STREAMING', { what: 'STREAMING' });
    expect(next.states.slice(0, 4)).toEqual(['CLOSED', 'CONNECTING', 'BASELINING', 'STREAMING']);
    await waitUntilTargetEqualsTable(db, target, 'items');
    expect((await slotsOf(db)).map((s) => s.temporary)).toEqual([true]);
  });
});
