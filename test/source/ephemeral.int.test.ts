// The opening sentences of the specification, Ephemeral mode, and the library API around them: a cold
// change stream, state$, the confirmed position and the lag.
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SourceEvent } from '../../src/model/events.js';
import { pg, SourceBusyError, type SourceLag } from '../../src/source/index.js';
import { memoryTarget } from '../../src/targets/memory/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { runSource, slotsOf, stopAll, temporaryStateDir, waitUntilTargetEqualsTable, type RunningSource } from './support/harness.js';

let db: TestDatabase;
let state: { dir: string; remove: () => Promise<void> };
const running: RunningSource[] = [];

beforeAll(async () => {
  db = await createTestDatabase('laredo_ephemeral');
  state = await temporaryStateDir();
  await db.query(`CREATE TABLE rules (id int PRIMARY KEY, body text, n int8)`);
  await db.query(`INSERT INTO rules SELECT g, 'r' || g, g::int8 * 1000000000 FROM generate_series(1, 500) g`);
  await db.query(`CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, body text)`);
});

afterEach(async () => {
  await stopAll(running);
  await waitFor(async () => (await slotsOf(db)).length === 0, { what: 'the temporary slots gone' });
});

afterAll(async () => {
  await db.drop();
  await state.remove();
});

const rulesSource = () => pg.source({ connection: db.connectionString, publication: { tables: { 'public.rules': {} } }, stateDir: state.dir });

describe('The PostgreSQL source uses logical replication with the built-in pgoutput plugin. No extensions needed.', () => {
  it('streams through a pgoutput slot, in a database with no extension but the built-in plpgsql', async () => {
    const run = runSource(rulesSource(), [memoryTarget()]);
    running.push(run);
    await waitFor(() => run.source.state === 'STREAMING', { what: 'STREAMING' });
    expect((await slotsOf(db)).map((s) => s.plugin)).toEqual(['pgoutput']);
    const extensions = await db.query(`SELECT extname FROM pg_extension ORDER BY 1`);
    expect(extensions.rows).toEqual([{ extname: 'plpgsql' }]);
  });
});

describe('Ephemeral mode: On every startup: create a temporary replication slot, full baseline, stream changes.', () => {
  it('on startup creates a temporary slot, runs a full baseline, then streams changes (insert, update, delete, truncate)', async () => {
    const target = memoryTarget();
    const run = runSource(rulesSource(), [target]);
    running.push(run);
    await waitFor(() => run.source.state === 'STREAMING', { what: 'STREAMING' });
    expect(run.states).toEqual(['CLOSED', 'CONNECTING', 'BASELINING', 'STREAMING']);
    const slots = await slotsOf(db);
    expect(slots.map((s) => ({ temporary: s.temporary, plugin: s.plugin }))).toEqual([{ temporary: true, plugin: 'pgoutput' }]);
    expect(target.size('public.rules')).toBe(500);
    await db.query(`INSERT INTO rules VALUES (1001, 'new', 1)`);
    await db.query(`UPDATE rules SET body = 'changed' WHERE id = 1`);
    await db.query(`DELETE FROM rules WHERE id = 2`);
    await waitFor(() => target.size('public.rules') === 500 && target.get('public.rules', 1)?.['body'] === 'changed', { what: 'changes' });
    expect(target.get('public.rules', 1001)).toEqual({ id: 1001, body: 'new', n: '1' });
    expect(target.get('public.rules', 2)).toBeUndefined();
    await run.stop();
    expect(run.source.state).toBe('CLOSED');
    await waitFor(async () => (await slotsOf(db)).length === 0, { what: 'temporary slot dropped' });
  });

  // "Best for: development, testing, or small datasets where full reload on restart is acceptable":
  // advice, not behaviour; what it rests on is that every start reloads everything, shown here.
  it('every startup repeats the full cycle: a new temporary slot and a full baseline again', async () => {
    await db.query(`TRUNCATE items`);
    await db.query(`INSERT INTO items SELECT g, 0, 'item ' || g FROM generate_series(1, 100) g`);
    const source = pg.source({ connection: db.connectionString, publication: { tables: { 'public.items': {} } }, stateDir: state.dir });
    const slotNames: string[] = [];
    for (let start = 0; start < 2; start++) {
      const target = memoryTarget();
      const run = runSource(source, [target]);
      running.push(run);
      await waitFor(() => source.state === 'STREAMING', { what: 'STREAMING' });
      slotNames.push((await slotsOf(db))[0]!.slotName);
      expect(run.states).toContain('BASELINING');
      await waitUntilTargetEqualsTable(db, target, 'items');
      await db.query(`UPDATE items SET v = v + 1 WHERE id = 1`);
      await waitUntilTargetEqualsTable(db, target, 'items');
      await run.stop();
    }
    expect(new Set(slotNames).size).toBe(2);
  });

  it('TRUNCATE empties the table in the target', async () => {
    await db.query(`TRUNCATE items`);
    await db.query(`INSERT INTO items SELECT g, 0, 'item ' || g FROM generate_series(1, 10) g`);
    const target = memoryTarget();
    const run = runSource(pg.source({ connection: db.connectionString, publication: { tables: { 'public.items': {} } }, stateDir: state.dir }), [target]);
    running.push(run);
    await waitFor(() => run.source.state === 'STREAMING', { what: 'STREAMING' });
    expect(target.size('public.items')).toBe(10);
    await db.query(`TRUNCATE items`);
    await db.query(`INSERT INTO items VALUES (77, 1, 'after the truncate')`);
    await waitUntilTargetEqualsTable(db, target, 'items');
  });
});

describe('library API: a cold change stream, state$, the confirmed position and the lag', () => {
  it('changes() is cold: nothing connects before a subscription, each subscription streams on its own, unsubscribing closes', async () => {
    const source = rulesSource();
    expect(source.state).toBe('CLOSED');
    expect(await slotsOf(db)).toEqual([]);

    // reset, the 500 rows in one batch (batches hold up to 1000), baseline-complete; then unsubscribe.
    const received = await firstValueFrom(source.changes().pipe(take(3), toArray()));
    expect(received.map((e: SourceEvent) => e.kind)).toEqual(['reset', 'baseline', 'baseline-complete']);
    expect(received[1]).toMatchObject({ kind: 'baseline', table: { key: 'public.rules' } });
    expect((received[1] as Extract<SourceEvent, { kind: 'baseline' }>).rows).toHaveLength(500);
    await waitFor(() => source.state === 'CLOSED', { what: 'CLOSED after unsubscribing' });
    await waitFor(async () => (await slotsOf(db)).length === 0, { what: 'the slot gone' });
  });

  it('a second run of the same source while one is active fails with SOURCE_BUSY', async () => {
    const source = rulesSource();
    const run = runSource(source, [memoryTarget()]);
    running.push(run);
    await waitFor(() => source.state === 'STREAMING', { what: 'STREAMING' });
    const second = runSource(source, [memoryTarget()]);
    expect(await second.failure()).toBeInstanceOf(SourceBusyError);
    expect(source.state).toBe('STREAMING');
  });

  it('state$ replays the state, confirmed$ and confirmed follow pg_replication_slots, lag$ reports bytes behind the server', async () => {
    const source = rulesSource();
    expect(await firstValueFrom(source.state$)).toBe('CLOSED');
    const lags: SourceLag[] = [];
    source.lag$.subscribe((lag) => lags.push(lag));
    const run = runSource(source, [memoryTarget()]);
    running.push(run);
    await waitFor(() => source.state === 'STREAMING', { what: 'STREAMING' });
    await db.query(`UPDATE rules SET body = 'lag' WHERE id = 3`);
    const confirmed = await firstValueFrom(source.confirmed$.pipe(filter((lsn) => lsn > 0n)));
    expect(confirmed).toBeGreaterThan(0n);
    await waitFor(async () => (await slotsOf(db))[0]?.confirmedFlushLsn === source.confirmed, { what: 'the slot at the confirmed position' });
    await waitFor(() => lags.length > 0, { what: 'a lag report' });
    const lag = lags.at(-1)!;
    expect(lag.bytes).toBe(lag.serverWalEnd > lag.confirmed ? lag.serverWalEnd - lag.confirmed : 0n);
    expect(lag.serverWalEnd).toBeGreaterThan(0n);
  });
});
