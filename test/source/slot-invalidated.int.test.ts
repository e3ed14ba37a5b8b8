// A slot PostgreSQL invalidated (its WAL removed past max_slot_wal_keep_size): onSlotInvalidated =
// rebaseline (the default: drop, recreate, reset, full baseline) or error. Invalidating a slot takes
// cluster-wide settings, so these tests run against a server of their own.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedPostgres } from '../../src/embedded/postgres-server.js';
import type { TargetMessage } from '../../src/model/events.js';
import { pg as laredo, type PostgresSourceOptions } from '../../src/source/index.js';
import { SlotError } from '../../src/streams/errors.js';
import { memoryTarget } from '../../src/targets/memory/index.js';
import { testServer, uniqueName } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { eventsOf, FAST_RECONNECT, gated, runSource, stopAll, tap, temporaryStateDir, type RunningSource } from './support/harness.js';

let server: EmbeddedPostgres;
let state: { dir: string; remove: () => Promise<void> };
let slotName: string;
const running: RunningSource[] = [];

async function query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: server.connectionString() });
  await client.connect();
  try {
    return await client.query<R>(sql, params);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  server = new EmbeddedPostgres({ major: testServer().major });
  await server.start();
  await query(`CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, body text)`);
  await query(`CREATE TABLE filler (id bigserial PRIMARY KEY, body text)`);
});

afterAll(async () => {
  await server.stop();
});

beforeEach(async () => {
  state = await temporaryStateDir();
  slotName = uniqueName('invalidated');
  await query(`TRUNCATE items`);
  await query(`INSERT INTO items SELECT g, 0, 'item ' || g FROM generate_series(1, 500) g`);
});

afterEach(async () => {
  await stopAll(running);
  await query(`ALTER SYSTEM RESET max_slot_wal_keep_size`);
  await query(`SELECT pg_reload_conf()`);
  await query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active`);
  await state.remove();
});

function options(extra: Partial<PostgresSourceOptions> = {}): PostgresSourceOptions {
  return {
    connection: server.connectionString(),
    slotMode: 'stateful',
    slotName,
    stateDir: state.dir,
    publication: { tables: { 'public.items': {} } },
    reconnect: FAST_RECONNECT,
    ...extra,
  };
}

async function walStatus(): Promise<string | null | undefined> {
  const { rows } = await query<{ wal_status: string | null }>(`SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1`, [slotName]);
  return rows[0]?.wal_status;
}

/** Lets PostgreSQL remove WAL the slot still needs: small max_slot_wal_keep_size, new segments, checkpoints. */
async function invalidateSlot(): Promise<void> {
  await query(`ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'`);
  await query(`SELECT pg_reload_conf()`);
  await waitFor(
    async () => {
      await query(`INSERT INTO filler (body) SELECT repeat('w', 100) FROM generate_series(1, 1000)`);
      await query(`SELECT pg_switch_wal()`);
      await query(`CHECKPOINT`);
      return (await walStatus()) === 'lost';
    },
    { timeoutMs: 60_000, intervalMs: 10, what: `slot ${slotName} invalidated` },
  );
  await query(`ALTER SYSTEM RESET max_slot_wal_keep_size`);
  await query(`SELECT pg_reload_conf()`);
}

async function startAndStop(): Promise<void> {
  const first = runSource(laredo.source(options()), [memoryTarget()]);
  running.push(first);
  await waitFor(() => first.source.state === 'STREAMING', { what: 'STREAMING' });
  await first.stop();
}

async function itemsEqual(memory: ReturnType<typeof memoryTarget>): Promise<void> {
  await waitFor(
    async () => {
      const { rows } = await query(`SELECT id, v, body FROM items ORDER BY id`);
      const held = [...memory.rows('public.items')].sort((a, b) => Number(a['id']) - Number(b['id']));
      return JSON.stringify(rows) === JSON.stringify(held);
    },
    { what: 'the target to equal the table' },
  );
}

describe('a slot PostgreSQL invalidated (wal_status = lost)', () => {
  it('onSlotInvalidated = rebaseline (the default): drop, recreate, reset, full baseline', async () => {
    await startAndStop();
    await query(`UPDATE items SET v = 1 WHERE id <= 100`);
    await invalidateSlot();

    const memory = memoryTarget();
    const messages: TargetMessage[] = [];
    const run = runSource(laredo.source(options()), [tap(memory, (m) => messages.push(m))]);
    running.push(run);
    await waitFor(() => run.source.state === 'STREAMING', { what: 'STREAMING' });
    expect(await walStatus()).not.toBe('lost');
    expect(eventsOf(messages, 'reset')).toEqual([{ kind: 'reset', tables: ['public.items'], bytes: 0 }]);
    expect(eventsOf(messages, 'baseline').flatMap((b) => b.rows)).toHaveLength(500);
    await query(`INSERT INTO items VALUES (501, 0, 'after')`);
    await itemsEqual(memory);
  });

  it('onSlotInvalidated = error: the start fails with SLOT_INVALIDATED, saying what to do, and leaves the slot alone', async () => {
    await startAndStop();
    await invalidateSlot();

    const run = runSource(laredo.source(options({ onSlotInvalidated: 'error' })), [memoryTarget()]);
    running.push(run);
    const error = await run.failure();
    expect(error).toBeInstanceOf(SlotError);
    expect((error as SlotError).code).toBe('SLOT_INVALIDATED');
    expect((error as SlotError).retryable).toBe(false);
    expect((error as SlotError).message).toContain(slotName);
    expect((error as SlotError).message).toMatch(/pg_drop_replication_slot.*max_slot_wal_keep_size/);
    expect(run.source.state).toBe('ERROR');
    expect(run.states).not.toContain('RECONNECTING');
    expect(await walStatus()).toBe('lost');
  });

  it('invalidated while streaming (the server ends the walsender): reconnect, then rebaseline', async () => {
    const memory = memoryTarget();
    const target = gated(memory, { open: true });
    const messages: TargetMessage[] = [];
    const run = runSource(laredo.source(options()), [tap(target, (m) => messages.push(m))]);
    running.push(run);
    await waitFor(() => run.source.state === 'STREAMING', { what: 'STREAMING' });
    // A transaction the target holds keeps the slot's position, so its WAL must be kept.
    target.shut();
    await query(`UPDATE items SET v = 2 WHERE id <= 10`);
    await waitFor(() => messages.some((m) => m.kind === 'update'), { what: 'the held transaction at the target' });
    await invalidateSlot();
    target.open();

    await waitFor(() => eventsOf(messages, 'reset').length === 2, { what: 'the rebaseline' });
    await waitFor(() => run.source.state === 'STREAMING', { what: 'STREAMING again' });
    expect(run.states).toContain('RECONNECTING');
    expect(await walStatus()).not.toBe('lost');
    await query(`DELETE FROM items WHERE id = 3`);
    await itemsEqual(memory);
  });
});
