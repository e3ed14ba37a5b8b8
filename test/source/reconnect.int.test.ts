// "Reconnection": the walsender is terminated (pg_terminate_backend) while a write load runs, in both
// slot modes; afterwards the memory target must equal the table.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TargetMessage } from '../../src/model/events.js';
import type { RetryInfo } from '../../src/operators/reconnect.js';
import { pg, type PostgresSourceOptions } from '../../src/source/index.js';
import { memoryTarget } from '../../src/targets/memory/index.js';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import {
  eventsOf,
  FAST_RECONNECT,
  runSource,
  slotsOf,
  startWriteLoad,
  stopAll,
  tap,
  temporaryStateDir,
  terminateWalsender,
  waitUntilTargetEqualsTable,
  type RunningSource,
} from './support/harness.js';

let db: TestDatabase;
let state: { dir: string; remove: () => Promise<void> };
const running: RunningSource[] = [];

beforeEach(async () => {
  db = await createTestDatabase('laredo_reconnect');
  state = await temporaryStateDir();
  await db.query(`CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, body text)`);
  await db.query(`INSERT INTO items SELECT g, 0, 'item ' || g FROM generate_series(1, 1000) g`);
});

afterEach(async () => {
  await stopAll(running);
  await db.drop();
  await state.remove();
});

/** The one slot streaming: an ephemeral source's previous one may take a moment to go with its walsender. */
async function theSlot(): Promise<string> {
  return waitFor(async () => {
    const slots = await slotsOf(db);
    return slots.length === 1 && slots[0]!.active ? slots[0]!.slotName : undefined;
  }, { what: 'one active slot' });
}

/** Runs `options` under a write load, terminates the walsender twice, and returns what the target got. */
async function terminateUnderLoad(options: PostgresSourceOptions): Promise<{ run: RunningSource; messages: TargetMessage[]; retries: RetryInfo[]; slots: string[] }> {
  const memory = memoryTarget();
  const messages: TargetMessage[] = [];
  const source = pg.source(options);
  const retries: RetryInfo[] = [];
  source.retries$.subscribe((info) => retries.push(info));
  const run = runSource(source, [tap(memory, (m) => messages.push(m))]);
  running.push(run);
  await waitFor(() => source.state === 'STREAMING', { what: 'STREAMING' });
  const slots: string[] = [];
  const load = startWriteLoad(db, 'items', { firstId: 10_000 });
  try {
    for (let kill = 1; kill <= 2; kill++) {
      const commits = eventsOf(messages, 'commit').length;
      await waitFor(() => eventsOf(messages, 'commit').length > commits + 10, { what: 'transactions streaming' });
      slots.push(await theSlot());
      await terminateWalsender(db);
      await waitFor(() => retries.filter((r) => r.attempt === 1).length === kill, { what: `reconnect ${kill}` });
      await waitFor(() => source.state === 'STREAMING', { what: `STREAMING after reconnect ${kill}` });
    }
    const commits = eventsOf(messages, 'commit').length;
    await waitFor(() => eventsOf(messages, 'commit').length > commits + 10, { what: 'transactions after the reconnects' });
    slots.push(await theSlot());
  } finally {
    await load.stop();
  }
  await waitUntilTargetEqualsTable(db, memory, 'items');
  expect(run.states.filter((s) => s === 'RECONNECTING')).toHaveLength(retries.length);
  // initialBackoff after the loss; should the old walsender still hold the slot, the next attempts
  // wait twice as long each time (exponential backoff).
  expect(retries.filter((r) => r.attempt === 1)).toHaveLength(2);
  for (const retry of retries) {
    expect(retry.delayMs).toBe(Math.min(FAST_RECONNECT.maxBackoff, FAST_RECONNECT.initialBackoff * 2 ** (retry.attempt - 1)));
  }
  return { run, messages, retries, slots };
}

describe('Reconnection: On connection loss during streaming, the source attempts to reconnect automatically with exponential backoff.', () => {
  it('ephemeral: a lost connection means the slot is gone: reconnect, new temporary slot, reset, full baseline; the target equals the table', async () => {
    const { run, messages, slots } = await terminateUnderLoad({
      connection: db.connectionString,
      slotMode: 'ephemeral',
      publication: { tables: { 'public.items': {} } },
      reconnect: FAST_RECONNECT,
    });
    expect(new Set(slots).size).toBe(3);
    expect(eventsOf(messages, 'reset')).toHaveLength(3);
    expect(eventsOf(messages, 'baseline-complete')).toHaveLength(3);
    expect(run.states.filter((s) => s === 'BASELINING')).toHaveLength(3);
    await run.stop();
  });

  it('stateful: In stateful mode, the slot retains WAL and streaming resumes from the last ACKed LSN (no baseline, no transaction twice); the target equals the table', async () => {
    const slotName = uniqueName('reconnect');
    const { run, messages, slots } = await terminateUnderLoad({
      connection: db.connectionString,
      slotMode: 'stateful',
      slotName,
      stateDir: state.dir,
      publication: { tables: { 'public.items': {} } },
      reconnect: FAST_RECONNECT,
    });
    expect(slots).toEqual([slotName, slotName, slotName]);
    expect(eventsOf(messages, 'reset')).toHaveLength(1);
    expect(eventsOf(messages, 'baseline-complete')).toHaveLength(1);
    expect(run.states.filter((s) => s === 'BASELINING')).toHaveLength(1);
    // Every transaction committed once: commit positions strictly increase across the reconnects.
    const commitEnds = eventsOf(messages, 'commit').map((c) => c.commitEndLsn);
    for (let i = 1; i < commitEnds.length; i++) expect(commitEnds[i]!).toBeGreaterThan(commitEnds[i - 1]!);
    await run.stop();
  });

  it('stop() while waiting to reconnect ends the run at once (CLOSED) instead of reconnecting after the wait', async () => {
    const source = pg.source({
      connection: db.connectionString,
      publication: { tables: { 'public.items': {} } },
      reconnect: { ...FAST_RECONNECT, initialBackoff: 60_000, maxBackoff: 60_000 },
    });
    const run = runSource(source, [memoryTarget()]);
    running.push(run);
    await waitFor(() => source.state === 'STREAMING', { what: 'STREAMING' });
    await terminateWalsender(db);
    await waitFor(() => source.state === 'RECONNECTING', { what: 'RECONNECTING' });
    const stopping = Date.now();
    await run.stop();
    expect(Date.now() - stopping).toBeLessThan(10_000);
    expect(run.completed).toBe(true);
    expect(source.state).toBe('CLOSED');
    expect(run.states.filter((s) => s === 'CONNECTING')).toHaveLength(1);
    expect(await slotsOf(db)).toEqual([]);
  });
});
