// Stateful mode, sentence by sentence (/work/shared/spec/postgresql-source.txt, "Stateful mode",
// "First startup", "Subsequent startups"), plus what the issue adds: a crash before the first
// baseline completed, tables added to (and removed from) the config, and alwaysBaseline.
import { EMPTY, NEVER } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TargetMessage } from '../../src/model/events.js';
import { Lsn } from '../../src/protocol/lsn.js';
import { pg, type PostgresSourceOptions } from '../../src/source/index.js';
import type { Target } from '../../src/model/target.js';
import { memoryTarget } from '../../src/targets/memory/index.js';
import { recordingTarget } from '../../src/targets/recording/index.js';
import { SlotError } from '../../src/streams/errors.js';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import {
  baselineRowsOf,
  eventsOf,
  FAST_RECONNECT,
  gated,
  runSource,
  slotOf,
  slotsOf,
  startWriteLoad,
  stopAll,
  tap,
  temporaryStateDir,
  waitUntilTargetEqualsTable,
  type RunningSource,
} from './support/harness.js';

let db: TestDatabase;
let state: { dir: string; remove: () => Promise<void> };
let slotName: string;
const running: RunningSource[] = [];

beforeEach(async () => {
  db = await createTestDatabase('laredo_stateful');
  state = await temporaryStateDir();
  slotName = uniqueName('stateful');
  await db.query(`CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, body text)`);
  await db.query(`CREATE TABLE extra (id int PRIMARY KEY, v int NOT NULL, body text)`);
  await db.query(`INSERT INTO items SELECT g, 0, 'item ' || g FROM generate_series(1, 2000) g`);
  await db.query(`INSERT INTO extra SELECT g, 0, 'extra ' || g FROM generate_series(1, 300) g`);
});

afterEach(async () => {
  await stopAll(running);
  await db.drop();
  await state.remove();
});

function statefulOptions(tables: readonly string[], extra: Partial<PostgresSourceOptions> = {}): PostgresSourceOptions {
  return {
    connection: db.connectionString,
    slotMode: 'stateful',
    slotName,
    stateDir: state.dir,
    publication: { tables: Object.fromEntries(tables.map((t) => [t, {}])) },
    reconnect: FAST_RECONNECT,
    statusInterval: 500,
    ...extra,
  };
}

/** Starts a stateful source into a memory target, recording every message it receives. */
function start(tables: readonly string[], target: Target, extra: Partial<PostgresSourceOptions> = {}, runOptions = {}): { run: RunningSource; messages: TargetMessage[] } {
  const messages: TargetMessage[] = [];
  const run = runSource(pg.source(statefulOptions(tables, extra)), [tap(target, (m) => messages.push(m))], runOptions);
  running.push(run);
  return { run, messages };
}

function insertedIds(messages: readonly TargetMessage[], table: string): number[] {
  return eventsOf(messages, 'insert')
    .filter((m) => m.table.key === table)
    .map((m) => Number(m.row['id']));
}

describe('Stateful mode: Uses a persistent named replication slot that survives restarts.', () => {
  it('First startup: Create a named persistent replication slot; Full baseline using the exported snapshot; Begin streaming changes', async () => {
    // Writes run while the slot is created and the baseline copies, so the snapshot boundary is crossed.
    const load = startWriteLoad(db, 'items', { firstId: 10_000 });
    const target = memoryTarget();
    const { run, messages } = start(['public.items'], target);
    await waitFor(() => run.source.state === 'STREAMING', { what: 'STREAMING' });
    await waitFor(() => load.transactions > 20, { what: 'writes after the baseline' });
    await load.stop();
    await waitUntilTargetEqualsTable(db, target, 'items');

    const [slot] = await slotsOf(db);
    expect(slot).toMatchObject({ slotName, temporary: false, plugin: 'pgoutput' });
    expect(run.states.slice(0, 4)).toEqual(['CLOSED', 'CONNECTING', 'BASELINING', 'STREAMING']);
    expect(messages[0]).toMatchObject({ kind: 'reset', tables: ['public.items'] });
    // The baseline at the exported snapshot and the stream from the slot's consistent point meet
    // exactly: no row of the snapshot is inserted again by the stream.
    const baselined = new Set(baselineRowsOf(messages, 'public.items').map((row) => Number(row['id'])));
    const streamed = insertedIds(messages, 'public.items');
    expect(streamed.length).toBeGreaterThan(0);
    expect(streamed.filter((id) => baselined.has(id))).toEqual([]);
    const lastBaseline = messages.findLastIndex((m) => m.kind === 'baseline' || m.kind === 'baseline-complete');
    const firstBegin = messages.findIndex((m) => m.kind === 'begin');
    expect(lastBaseline).toBeLessThan(firstBegin);

    await run.stop();
    // Survives the stop (the walsender exits just after the run completes).
    await waitFor(async () => (await slotOf(db, slotName))?.active === false, { what: 'the slot released' });
    expect(await slotOf(db, slotName)).toMatchObject({ temporary: false, active: false });
  });

  it('Subsequent startups: Connect to the existing slot; Resume streaming from the last ACKed LSN; No baseline needed (stop, 10,000 changes, start)', async () => {
    const target = memoryTarget();
    const first = start(['public.items'], target);
    await waitFor(() => first.run.source.state === 'STREAMING', { what: 'STREAMING' });
    await first.run.stop();
    const acked = (await slotOf(db, slotName))!.confirmedFlushLsn!;
    expect(acked).toBeGreaterThan(0n);

    // 10,000 row changes while the source is down: 5000 inserts, 3000 updates, 2000 deletes.
    for (let batch = 0; batch < 10; batch++) {
      const from = 100_000 + batch * 500;
      await db.query(`INSERT INTO items SELECT g, 1, 'offline ' || g FROM generate_series(${from}, ${from + 499}) g`);
      await db.query(`UPDATE items SET v = v + 1 WHERE id BETWEEN ${batch * 170 + 1} AND ${batch * 170 + 300}`);
      await db.query(`DELETE FROM items WHERE id BETWEEN ${from} AND ${from + 199}`);
    }

    const second = start(['public.items'], target, {}, { untilCaughtUp: true });
    await waitFor(() => second.run.ended, { timeoutMs: 90_000, what: 'the second run to catch up' });
    expect(second.run.error).toBeUndefined();
    expect(second.run.states).not.toContain('BASELINING');
    expect(second.messages.filter((m) => m.kind === 'reset' || m.kind === 'baseline' || m.kind === 'baseline-complete')).toEqual([]);
    const changes = second.messages.filter((m) => m.kind === 'insert' || m.kind === 'update' || m.kind === 'delete');
    expect(changes).toHaveLength(10_000);
    // Resumed after the last ACKed position: nothing confirmed before is delivered again.
    for (const begin of eventsOf(second.messages, 'begin')) expect(begin.transaction.commitLsn).toBeGreaterThanOrEqual(acked);
    await waitUntilTargetEqualsTable(db, target, 'items');
    expect(await slotsOf(db)).toHaveLength(1);
  });

  it('a crash before the first baseline completed leads to a full baseline on the next start, not a resume into empty targets', async () => {
    // The first run's target never makes the end of the baseline durable; the run then dies without a stop.
    const held = recordingTarget({ durability: (batch) => (batch.some((m) => m.kind === 'baseline-complete') ? NEVER : EMPTY) });
    const first = runSource(pg.source(statefulOptions(['public.items'], { baselineBatchSize: 100 })), [held]);
    running.push(first);
    await waitFor(() => held.messages.some((m) => m.kind === 'baseline-complete'), { what: 'the baseline delivered (not durable)' });
    first.kill();
    await waitFor(async () => (await slotOf(db, slotName))?.active === false, { what: 'the slot released' });
    await db.query(`INSERT INTO items VALUES (5000, 0, 'after the crash')`);
    await db.query(`DELETE FROM items WHERE id = 1`);

    const target = memoryTarget();
    const second = start(['public.items'], target);
    await waitFor(() => second.run.source.state === 'STREAMING', { what: 'STREAMING' });
    await waitUntilTargetEqualsTable(db, target, 'items');
    expect(baselineRowsOf(second.messages, 'public.items')).toHaveLength(2000);
    expect(second.run.states).toContain('BASELINING');
  });

  it('a table added to the config since the last run is baselined on its own, and its changes during that baseline are not applied twice', async () => {
    const target = memoryTarget();
    const first = start(['public.items'], target);
    await waitFor(() => first.run.source.state === 'STREAMING', { what: 'STREAMING' });
    await first.run.stop();
    await db.query(`UPDATE items SET v = 7 WHERE id <= 10`);

    // Writes to the new table continue while it is added to the publication and baselined.
    const load = startWriteLoad(db, 'extra', { firstId: 50_000 });
    const second = start(['public.items', 'public.extra'], target);
    try {
      await waitFor(() => second.run.source.state === 'STREAMING', { what: 'STREAMING' });
      await waitFor(() => load.transactions > 50, { what: 'writes after the baseline' });
    } finally {
      await load.stop();
    }
    await waitUntilTargetEqualsTable(db, target, 'extra');
    await waitUntilTargetEqualsTable(db, target, 'items');

    expect(eventsOf(second.messages, 'reset')).toEqual([{ kind: 'reset', tables: ['public.extra'], bytes: 0 }]);
    expect(baselineRowsOf(second.messages, 'public.items')).toEqual([]);
    const baselined = new Set(baselineRowsOf(second.messages, 'public.extra').map((row) => Number(row['id'])));
    expect(baselined.size).toBeGreaterThanOrEqual(300);
    expect(insertedIds(second.messages, 'public.extra').filter((id) => baselined.has(id))).toEqual([]);
    // Only the persistent slot is left: the baseline's temporary slot went with its connection.
    await waitFor(async () => (await slotsOf(db)).length === 1, { what: 'the temporary baseline slot dropped' });
  });

  it('a table removed from the config and added back later is baselined again (its changes in between were not streamed)', async () => {
    const target = memoryTarget();
    const both = start(['public.items', 'public.extra'], target);
    await waitFor(() => both.run.source.state === 'STREAMING', { what: 'STREAMING' });
    await both.run.stop();

    const itemsOnly = start(['public.items'], target);
    await waitFor(() => itemsOnly.run.source.state === 'STREAMING', { what: 'STREAMING' });
    await itemsOnly.run.stop();
    const published = await db.query(`SELECT tablename FROM pg_publication_tables WHERE pubname = $1`, [`${slotName}_pub`]);
    expect(published.rows).toEqual([{ tablename: 'items' }]);

    await db.query(`UPDATE extra SET v = 99 WHERE id <= 50`);
    await db.query(`DELETE FROM extra WHERE id > 250`);

    const again = start(['public.items', 'public.extra'], target);
    await waitFor(() => again.run.source.state === 'STREAMING', { what: 'STREAMING' });
    await waitUntilTargetEqualsTable(db, target, 'extra');
    expect(eventsOf(again.messages, 'reset')).toEqual([{ kind: 'reset', tables: ['public.extra'], bytes: 0 }]);
  });

  it('alwaysBaseline: the persistent slot is kept, every start resets and copies every table, and the overlap with the stream is delivered once, never lost', async () => {
    const target = memoryTarget();
    const first = start(['public.items'], target, { alwaysBaseline: true });
    await waitFor(() => first.run.source.state === 'STREAMING', { what: 'STREAMING' });
    await first.run.stop();
    const slotBefore = await slotOf(db, slotName);

    // Changes between the slot's position and the new baseline's snapshot are in both the slot's
    // stream and the snapshot; the load crosses the boundary during the start.
    await db.query(`UPDATE items SET v = 5 WHERE id <= 100`);
    const load = startWriteLoad(db, 'items', { firstId: 20_000 });
    const second = start(['public.items'], target, { alwaysBaseline: true });
    try {
      await waitFor(() => second.run.source.state === 'STREAMING', { what: 'STREAMING' });
      await waitFor(() => load.transactions > 50, { what: 'writes after the baseline' });
    } finally {
      await load.stop();
    }
    await waitUntilTargetEqualsTable(db, target, 'items');

    expect(second.messages[0]).toEqual({ kind: 'reset', tables: ['public.items'], bytes: 0 });
    const baselined = new Set(baselineRowsOf(second.messages, 'public.items').map((row) => Number(row['id'])));
    expect(baselined.size).toBeGreaterThanOrEqual(2000);
    expect(insertedIds(second.messages, 'public.items').filter((id) => baselined.has(id))).toEqual([]);
    await second.run.stop();
    const slots = await slotsOf(db);
    expect(slots.map((s) => s.slotName)).toEqual([slotName]);
    expect(slots[0]!.temporary).toBe(false);
    expect(slots[0]!.confirmedFlushLsn!).toBeGreaterThan(slotBefore!.confirmedFlushLsn!);
    expect(Lsn.format(slots[0]!.confirmedFlushLsn!)).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  });

  it('alwaysBaseline: a baseline interrupted by a lost connection is taken again after the reconnect, so the reset targets lose no row', async () => {
    const first = start(['public.items'], memoryTarget(), { alwaysBaseline: true });
    await waitFor(() => first.run.source.state === 'STREAMING', { what: 'STREAMING' });
    await first.run.stop();
    await db.query(`INSERT INTO items SELECT g, 0, repeat('x', 300) FROM generate_series(10001, 70000) g`);

    // A target that makes nothing durable plus a small budget: the COPY pauses part way through.
    const memory = memoryTarget();
    const target = gated(memory);
    const second = start(['public.items'], target, { alwaysBaseline: true, maxInFlightBytes: 64 * 1024, baselineParallelism: 1, baselineBatchSize: 50 });
    // The COPY's backend waits on a full socket: the baseline is stuck part way, as a slow target makes it.
    await waitFor(
      async () =>
        (await db.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY%' AND wait_event = 'ClientWrite'`)).rowCount === 1,
      { what: 'the baseline COPY blocked on the socket' },
    );
    const copies = await db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY%' AND pid <> pg_backend_pid()`,
    );
    expect(copies.rowCount).toBe(1);
    target.open();
    await waitFor(() => second.run.states.includes('RECONNECTING'), { what: 'a reconnect' });
    await waitFor(() => second.run.source.state === 'STREAMING', { what: 'STREAMING again' });
    await waitUntilTargetEqualsTable(db, memory, 'items');
  });

  it('a slot of that name that is not laredo’s kind (a physical slot) is never dropped: the start fails saying to pick another slot_name', async () => {
    await db.query(`SELECT pg_create_physical_replication_slot($1)`, [slotName]);
    const run = runSource(pg.source(statefulOptions(['public.items'])), [memoryTarget()]);
    running.push(run);
    const error = await run.failure();
    expect(error).toBeInstanceOf(SlotError);
    expect((error as SlotError).code).toBe('SLOT_WRONG_TYPE');
    expect((error as SlotError).message).toMatch(/choose another slot_name/);
    const { rows } = await db.query(`SELECT slot_type FROM pg_replication_slots WHERE slot_name = $1`, [slotName]);
    expect(rows).toEqual([{ slot_type: 'physical' }]);
    await db.query(`SELECT pg_drop_replication_slot($1)`, [slotName]);
  });
});
