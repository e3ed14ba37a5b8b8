// "ACK only after targets confirm durability", as pg_replication_slots shows it; what a slow and a
// failing target do to the source; and the graceful stop.
import { EMPTY, throwError } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LaredoError } from '../../src/errors.js';
import type { CommitEvent, TargetMessage } from '../../src/model/events.js';
import { TargetFailedError } from '../../src/operators/errors.js';
import type { Lsn } from '../../src/protocol/lsn.js';
import { pg, type PostgresSourceOptions } from '../../src/source/index.js';
import { memoryTarget } from '../../src/targets/memory/index.js';
import { recordingTarget } from '../../src/targets/recording/index.js';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import {
  currentLsn,
  eventsOf,
  FAST_RECONNECT,
  gated,
  runSource,
  slotOf,
  slotsOf,
  stopAll,
  temporaryStateDir,
  waitUntilTargetEqualsTable,
  type RunningSource,
} from './support/harness.js';

let db: TestDatabase;
let state: { dir: string; remove: () => Promise<void> };
let slotName: string;
const running: RunningSource[] = [];

beforeEach(async () => {
  db = await createTestDatabase('laredo_ack');
  state = await temporaryStateDir();
  slotName = uniqueName('ack');
  await db.query(`CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, body text)`);
  await db.query(`CREATE TABLE unpublished (id int PRIMARY KEY, body text)`);
  await db.query(`INSERT INTO items SELECT g, 0, 'item ' || g FROM generate_series(1, 500) g`);
});

afterEach(async () => {
  await stopAll(running);
  await db.drop();
  await state.remove();
});

function options(extra: Partial<PostgresSourceOptions> = {}): PostgresSourceOptions {
  return {
    connection: db.connectionString,
    slotMode: 'stateful',
    slotName,
    stateDir: state.dir,
    publication: { tables: { 'public.items': {} } },
    reconnect: FAST_RECONNECT,
    // Frequent status updates, so "the position did not move" is shown by updates that carried it.
    statusInterval: 200,
    ...extra,
  };
}

async function confirmedFlush(): Promise<Lsn> {
  return (await slotOf(db, slotName))!.confirmedFlushLsn!;
}

/** Waits until the server processed `count` more standby status updates from the slot's walsender. */
async function statusUpdatesProcessed(count: number): Promise<void> {
  const replyTime = async (): Promise<string | null> =>
    (
      await db.query<{ reply_time: string | null }>(
        `SELECT r.reply_time::text FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = $1`,
        [slotName],
      )
    ).rows[0]?.reply_time ?? null;
  let seen = await replyTime();
  for (let i = 0; i < count; i++) {
    const before = seen;
    seen = await waitFor(async () => {
      const now = await replyTime();
      return now !== null && now !== before ? now : undefined;
    }, { what: 'a standby status update' });
  }
}

function commitOf(messages: readonly TargetMessage[], predicate: (m: TargetMessage) => boolean): CommitEvent | undefined {
  const index = messages.findIndex(predicate);
  if (index < 0) return undefined;
  return messages.slice(index).find((m): m is CommitEvent => m.kind === 'commit');
}

describe('ACK only after targets confirm durability', () => {
  it('while a target holds a transaction, confirmed_flush_lsn stays before it; once the target completes, it moves past', async () => {
    const target = recordingTarget();
    const run = runSource(pg.source(options()), [target]);
    running.push(run);
    await waitFor(() => run.source.state === 'STREAMING' && run.confirmed.length > 0, { what: 'STREAMING and a first confirmation' });

    target.setDurability('held');
    await db.query(`INSERT INTO items VALUES (1001, 1, 'held')`);
    const commit = await waitFor(() => commitOf(target.messages, (m) => m.kind === 'insert' && m.row['id'] === 1001), { what: 'the transaction at the target' });
    // Status updates keep going out while the target holds it, and none of them confirms it.
    await statusUpdatesProcessed(3);
    expect(await confirmedFlush()).toBeLessThan(commit.commitEndLsn);
    expect(run.source.confirmed).toBeLessThan(commit.commitEndLsn);

    target.setDurability('auto');
    target.release();
    await waitFor(async () => (await confirmedFlush()) >= commit.commitEndLsn, { what: 'confirmed_flush_lsn past the transaction' });
  });

  it('writes only to an unpublished table still move confirmed_flush_lsn forward', async () => {
    const target = recordingTarget();
    const run = runSource(pg.source(options()), [target]);
    running.push(run);
    await waitFor(() => run.source.state === 'STREAMING' && run.confirmed.length > 0, { what: 'STREAMING and a first confirmation' });
    const before = await confirmedFlush();
    for (let i = 0; i < 20; i++) await db.query(`INSERT INTO unpublished VALUES ($1, 'not published')`, [i]);
    const written = await currentLsn(db);
    await waitFor(async () => (await confirmedFlush()) >= written, { what: 'confirmed_flush_lsn past the unpublished writes' });
    expect(written).toBeGreaterThan(before);
    expect(target.messages.filter((m) => m.kind === 'insert')).toEqual([]);
  });

  it('a failing target fails the pipeline (ERROR) and nothing after its last durable position is confirmed; a restart delivers it again', async () => {
    const failure = new LaredoError('TARGET_WRITE_FAILED', 'disk full');
    const target = recordingTarget({
      durability: (batch) => (batch.some((m) => m.kind === 'insert' && m.row['id'] === 2002) ? throwError(() => failure) : EMPTY),
    });
    const run = runSource(pg.source(options()), [target]);
    running.push(run);
    await waitFor(() => run.source.state === 'STREAMING', { what: 'STREAMING' });
    await db.query(`INSERT INTO items VALUES (2001, 1, 'durable')`);
    const durable = await waitFor(() => commitOf(target.messages, (m) => m.kind === 'insert' && m.row['id'] === 2001), { what: 'the first transaction' });
    await waitFor(async () => (await confirmedFlush()) >= durable.commitEndLsn, { what: 'the first transaction confirmed' });

    await db.query(`INSERT INTO items VALUES (2002, 1, 'fails')`);
    const error = await run.failure();
    expect(error).toBeInstanceOf(TargetFailedError);
    expect((error as TargetFailedError).cause).toBe(failure);
    expect(run.source.state).toBe('ERROR');
    // The failed batch may end before the transaction's commit: its begin names the commit record.
    const failedAt = target.messages.findIndex((m) => m.kind === 'insert' && m.row['id'] === 2002);
    const begin = eventsOf(target.messages.slice(0, failedAt), 'begin').at(-1)!;
    expect(await confirmedFlush()).toBeLessThanOrEqual(begin.transaction.commitLsn);
    expect(run.confirmed.every((lsn) => lsn <= begin.transaction.commitLsn)).toBe(true);
    // The connection is gone: the slot is free for the next start.
    await waitFor(async () => (await slotOf(db, slotName))?.active === false, { what: 'the slot released' });

    const again = recordingTarget();
    const restarted = runSource(pg.source(options()), [again]);
    running.push(restarted);
    await waitFor(() => again.messages.some((m) => m.kind === 'insert' && m.row['id'] === 2002), { what: 'the failed transaction delivered again' });
    expect(again.messages.some((m) => m.kind === 'insert' && m.row['id'] === 2001)).toBe(false);
  });
});

describe('Targets', () => {
  it('a slow target slows the source down to the socket (the walsender waits to write) and in-flight bytes stay bounded', async () => {
    const maxInFlightBytes = 256 * 1024;
    const memory = memoryTarget();
    const target = gated(memory, { open: true });
    const run = runSource(pg.source(options({ slotMode: 'ephemeral', maxInFlightBytes })), [target]);
    running.push(run);
    await waitFor(() => run.source.state === 'STREAMING', { what: 'STREAMING' });

    target.shut();
    // ~24 MB of changes: more than the budget and every socket buffer between the walsender and us.
    for (let batch = 0; batch < 40; batch++) {
      const from = 10_000 + batch * 2000;
      await db.query(`INSERT INTO items SELECT g, 0, repeat('x', 300) FROM generate_series(${from}, ${from + 1999}) g`);
    }
    let highest = 0;
    await waitFor(
      async () => {
        highest = Math.max(highest, run.source.inFlightBytes);
        const { rows } = await db.query<{ wait_event: string | null }>(
          `SELECT a.wait_event FROM pg_stat_activity a JOIN pg_replication_slots s ON s.active_pid = a.pid WHERE s.database = current_database()`,
        );
        return rows[0]?.wait_event === 'WalSenderWriteData';
      },
      { what: 'the walsender blocked writing to laredo' },
    );
    highest = Math.max(highest, run.source.inFlightBytes);
    // The budget, plus what was already read when reading paused (a socket read and the frame buffer).
    expect(highest).toBeLessThanOrEqual(maxInFlightBytes + 256 * 1024);
    expect(highest).toBeGreaterThan(maxInFlightBytes / 2);

    target.open();
    await waitUntilTargetEqualsTable(db, memory, 'items', 'public.items', 90_000);
  });
});

describe('Graceful stop', () => {
  it('in-flight target work is given a bounded time to finish (stopTimeout), the connection is closed, and what did not finish is not confirmed', async () => {
    const target = recordingTarget();
    const run = runSource(pg.source(options({ stopTimeout: 300 })), [target]);
    running.push(run);
    await waitFor(() => run.source.state === 'STREAMING' && run.confirmed.length > 0, { what: 'STREAMING' });
    target.setDurability('held');
    await db.query(`INSERT INTO items VALUES (3001, 1, 'never durable')`);
    const commit = await waitFor(() => commitOf(target.messages, (m) => m.kind === 'insert' && m.row['id'] === 3001), { what: 'the transaction at the target' });

    const stopping = Date.now();
    await run.stop();
    const took = Date.now() - stopping;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(10_000);
    expect(run.source.state).toBe('CLOSED');
    expect(target.closeCalls).toBe(1);
    await waitFor(async () => (await slotOf(db, slotName))?.active === false, { what: 'the connection closed' });
    expect(await confirmedFlush()).toBeLessThan(commit.commitEndLsn);
  });

  // A confirmation coalesced behind an earlier one (standby-status) must still reach the server: the
  // connection's teardown sends the final status update before CopyDone.
  it('work that finishes within the stop timeout is confirmed, and the final status update reaches PostgreSQL before the connection closes', async () => {
    const target = recordingTarget();
    const run = runSource(pg.source(options({ stopTimeout: 10_000 })), [target]);
    running.push(run);
    await waitFor(() => run.source.state === 'STREAMING' && run.confirmed.length > 0, { what: 'STREAMING' });
    target.setDurability('held');
    await db.query(`INSERT INTO items VALUES (4001, 1, 'first')`);
    const first = await waitFor(() => commitOf(target.messages, (m) => m.kind === 'insert' && m.row['id'] === 4001), { what: 'the first transaction' });
    const firstBatches = target.heldBatches;
    await db.query(`INSERT INTO items VALUES (4002, 1, 'second')`);
    const second = await waitFor(() => commitOf(target.messages, (m) => m.kind === 'insert' && m.row['id'] === 4002), { what: 'the second transaction' });

    run.source.stop();
    // Both finish while the source stops, in two confirmations a moment apart.
    target.release(...firstBatches);
    target.release();
    await run.stop();
    expect(run.confirmed.at(-1)!).toBeGreaterThanOrEqual(second.commitEndLsn);
    expect(second.commitEndLsn).toBeGreaterThan(first.commitEndLsn);
    expect(await confirmedFlush()).toBe(run.confirmed.at(-1));
  });

  it('a temporary slot is dropped with its connection (ephemeral)', async () => {
    const run = runSource(pg.source(options({ slotMode: 'ephemeral' })), [memoryTarget()]);
    running.push(run);
    await waitFor(() => run.source.state === 'STREAMING', { what: 'STREAMING' });
    expect((await slotsOf(db)).map((s) => s.temporary)).toEqual([true]);
    await run.stop();
    expect(run.source.state).toBe('CLOSED');
    await waitFor(async () => (await slotsOf(db)).length === 0, { what: 'the temporary slot dropped' });
  });
});
