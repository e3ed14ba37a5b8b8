import { BehaviorSubject, firstValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRetryable } from '../../src/errors.js';
import { Lsn } from '../../src/protocol/lsn.js';
import { ConnectionError, PostgresServerError, SlotError } from '../../src/streams/errors.js';
import { InFlightBytes } from '../../src/streams/in-flight-bytes.js';
import { ReplicationClient } from '../../src/streams/replication-client.js';
import { replicationFrames } from '../../src/streams/replication-frames.js';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { collectFrames, commits, createSlotAndPublication, waitForWalsender, withoutEmptyTransactions } from './support/stream-helpers.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('laredo_frames');
  await db.query('CREATE TABLE items (id int PRIMARY KEY, label text)');
});

afterAll(async () => {
  await db.drop();
});

async function slotFlush(slotName: string): Promise<Lsn | null> {
  const { rows } = await db.query<{ lsn: string | null }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [slotName]);
  return rows[0]?.lsn == null ? null : Lsn.parse(rows[0].lsn);
}

describe('replicationFrames', () => {
  it('emits every CopyData frame of a committed transaction, decodable in order', async () => {
    const { client, slot, publication } = await createSlotAndPublication(db, 'items');
    const collected = collectFrames({ client, slotName: slot.slotName, startLsn: slot.consistentPoint, publicationNames: [publication] });
    try {
      await db.query(`INSERT INTO items VALUES (1, 'one'), (2, 'two')`);
      await waitFor(() => commits(collected.pgoutput).length === 1, { what: 'the commit' });
      const tags = withoutEmptyTransactions(collected.pgoutput).map((m) => m.tag);
      expect(tags).toEqual(['begin', 'relation', 'insert', 'insert', 'commit']);
      const inserts = collected.pgoutput.filter((m) => m.tag === 'insert');
      expect(inserts.map((m) => m.new)).toEqual([
        { id: 1, label: 'one' },
        { id: 2, label: 'two' },
      ]);
      expect(collected.error).toBeUndefined();
    } finally {
      collected.subscription.unsubscribe();
      await db.query('DELETE FROM items');
    }
  });

  it('hands out frames that are copies: holding them while more arrive never changes them', async () => {
    const { client, slot, publication } = await createSlotAndPublication(db, 'items');
    const collected = collectFrames({ client, slotName: slot.slotName, startLsn: slot.consistentPoint, publicationNames: [publication] });
    try {
      const snapshots: string[] = [];
      const check = setInterval(() => {
        while (snapshots.length < collected.frames.length) snapshots.push(collected.frames[snapshots.length]!.toString('hex'));
      }, 1);
      for (let batch = 0; batch < 20; batch++) {
        await db.query(`INSERT INTO items SELECT g, repeat('x', 50 + g % 200) FROM generate_series(${batch * 100 + 10}, ${batch * 100 + 109}) g`);
      }
      await waitFor(() => commits(collected.pgoutput).length === 20, { what: '20 commits' });
      clearInterval(check);
      while (snapshots.length < collected.frames.length) snapshots.push(collected.frames[snapshots.length]!.toString('hex'));
      expect(collected.frames.map((f) => f.toString('hex'))).toEqual(snapshots);
      // No frame is a view into a socket read buffer (64 kB): small ones live in Node's 8 kB pool, big
      // ones in memory of their own.
      expect(collected.frames.every((f) => f.buffer.byteLength <= Math.max(8192, f.length))).toBe(true);
    } finally {
      collected.subscription.unsubscribe();
      await db.query('DELETE FROM items');
    }
  });

  it('confirms only what confirmed$ says, never what was merely received', async () => {
    const { client, slot, publication } = await createSlotAndPublication(db, 'items', { temporary: false });
    const confirmed$ = new BehaviorSubject<Lsn>(Lsn.ZERO);
    const updates: string[] = [];
    const collected = collectFrames({
      client,
      slotName: slot.slotName,
      startLsn: slot.consistentPoint,
      publicationNames: [publication],
      confirmed$,
      statusIntervalMs: 100,
      onStatusUpdate: (u) => updates.push(`${u.reason}:${Lsn.format(u.lsn)}`),
    });
    try {
      await db.query(`INSERT INTO items VALUES (100, 'a')`);
      await waitFor(() => commits(collected.pgoutput).length === 1, { what: 'the first commit' });
      await db.query(`INSERT INTO items VALUES (101, 'b')`);
      await waitFor(() => commits(collected.pgoutput).length === 2, { what: 'the second commit' });
      // Several timer updates go out while nothing is confirmed; the slot must not move.
      await waitFor(() => updates.filter((u) => u.startsWith('interval')).length >= 3, { what: 'three timer updates' });
      expect(await slotFlush(slot.slotName)).toBe(slot.consistentPoint);
      const [first, second] = commits(collected.pgoutput);
      confirmed$.next(first!.commitEndLsn);
      await waitFor(async () => (await slotFlush(slot.slotName)) === first!.commitEndLsn, { what: 'the first commit to be confirmed' });
      expect(updates).toContain(`confirmed:${Lsn.format(first!.commitEndLsn)}`);
      confirmed$.next(second!.commitEndLsn);
      await waitFor(async () => (await slotFlush(slot.slotName)) === second!.commitEndLsn, { what: 'the second commit to be confirmed' });
    } finally {
      collected.subscription.unsubscribe();
      await db.query('DELETE FROM items');
      await waitFor(async () => (await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slot.slotName])).rowCount === 1);
      await db.query('SELECT pg_drop_replication_slot($1)', [slot.slotName]);
    }
  });

  it('on unsubscribe sends CopyDone and closes: the walsender leaves within 1 s, and its temporary slot with it', async () => {
    const { client, slot, publication } = await createSlotAndPublication(db, 'items');
    const collected = collectFrames({ client, slotName: slot.slotName, startLsn: slot.consistentPoint, publicationNames: [publication] });
    await waitForWalsender(db, client.pid);
    await db.query(`INSERT INTO items VALUES (200, 'x')`);
    await waitFor(() => commits(collected.pgoutput).length === 1, { what: 'a commit' });
    const started = Date.now();
    collected.subscription.unsubscribe();
    await waitFor(
      async () => (await db.query('SELECT 1 FROM pg_stat_replication WHERE pid = $1', [client.pid])).rowCount === 0 &&
        (await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot.slotName])).rowCount === 0,
      { timeoutMs: 1000, intervalMs: 10, what: 'walsender and temporary slot gone' },
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect(client.closed).toBe(true);
    await db.query('DELETE FROM items');
  });

  it('with closeClient: false ends the stream with CopyDone and leaves the connection usable for commands', async () => {
    const { client, slot, publication } = await createSlotAndPublication(db, 'items');
    const collected = collectFrames({ client, slotName: slot.slotName, startLsn: slot.consistentPoint, publicationNames: [publication], closeClient: false });
    try {
      await waitForWalsender(db, client.pid);
      collected.subscription.unsubscribe();
      // node-postgres queues this behind the COPY, which ends when the server answered CopyDone. (A
      // temporary slot stays active for its session, so the slot cannot show the end of streaming.)
      const system = await client.identifySystem();
      expect(system.dbName).toBe(db.name);
      // A walsender does not stream logical changes twice: the server ends a second START_REPLICATION
      // at once, which is a ConnectionError here (never a crash, never a silent hang).
      const again = collectFrames({ client, slotName: slot.slotName, startLsn: slot.consistentPoint, publicationNames: [publication], closeClient: false });
      await waitFor(() => again.error !== undefined, { timeoutMs: 5000, what: 'the second stream to end' });
      expect(again.error).toBeInstanceOf(ConnectionError);
      expect((again.error as ConnectionError).retryable).toBe(true);
      expect((await client.identifySystem()).dbName).toBe(db.name);
    } finally {
      await client.close();
      await db.query('DELETE FROM items');
    }
  });

  it('opens its own connection from a connection string, and closes it on unsubscribe', async () => {
    const publication = uniqueName('pub');
    await db.query(`CREATE PUBLICATION ${publication} FOR TABLE items`);
    const setup = await ReplicationClient.connect(db.connectionString);
    const slotName = uniqueName('slot');
    const slot = await setup.createSlot(slotName, { snapshot: 'nothing' });
    await setup.close();
    const collected = collectFrames({ client: db.connectionString, slotName, startLsn: slot.consistentPoint, publicationNames: [publication] });
    try {
      await waitFor(async () => (await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [slotName])).rowCount === 1, {
        what: 'the slot to be active',
      });
      await db.query(`INSERT INTO items VALUES (300, 'y')`);
      await waitFor(() => commits(collected.pgoutput).length === 1, { what: 'a commit' });
    } finally {
      collected.subscription.unsubscribe();
      await waitFor(async () => (await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slotName])).rowCount === 1, {
        timeoutMs: 1000,
        what: 'the slot to be released',
      });
      await db.query('SELECT pg_drop_replication_slot($1)', [slotName]);
      await db.query('DELETE FROM items');
    }
  });

  it('errors at once with SLOT_ACTIVE (retryable) when another process streams from the slot', async () => {
    const { client, slot, publication } = await createSlotAndPublication(db, 'items', { temporary: false });
    const first = collectFrames({ client, slotName: slot.slotName, startLsn: slot.consistentPoint, publicationNames: [publication] });
    try {
      await waitForWalsender(db, client.pid);
      const started = Date.now();
      const error = await firstValueFrom(
        replicationFrames({ client: db.connectionString, slotName: slot.slotName, startLsn: slot.consistentPoint, publicationNames: [publication], confirmed$: new BehaviorSubject(0n) }),
      ).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(error).toBeInstanceOf(SlotError);
      expect((error as SlotError).code).toBe('SLOT_ACTIVE');
      expect((error as SlotError).retryable).toBe(true);
      expect((error as Error).message).toContain(String(client.pid));
      // Without the check, the server's own refusal (55006) maps to the same error.
      const raced = await firstValueFrom(
        replicationFrames({
          client: db.connectionString,
          slotName: slot.slotName,
          startLsn: slot.consistentPoint,
          publicationNames: [publication],
          confirmed$: new BehaviorSubject(0n),
          checkSlot: false,
        }),
      ).catch((e: unknown) => e);
      expect(raced).toBeInstanceOf(SlotError);
      expect((raced as SlotError).code).toBe('SLOT_ACTIVE');
    } finally {
      first.subscription.unsubscribe();
      await waitFor(async () => (await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slot.slotName])).rowCount === 1);
      await db.query('SELECT pg_drop_replication_slot($1)', [slot.slotName]);
    }
  });

  it('errors with SLOT_WRONG_PLUGIN, SLOT_WRONG_DATABASE and SLOT_MISSING before START_REPLICATION', async () => {
    const publication = uniqueName('pub');
    await db.query(`CREATE PUBLICATION ${publication} FOR TABLE items`);
    const testDecoding = uniqueName('td');
    await db.query(`SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, [testDecoding]);
    const other = await createTestDatabase('laredo_other');
    const foreign = uniqueName('foreign');
    await other.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [foreign]);
    const attempt = (slotName: string) =>
      firstValueFrom(
        replicationFrames({ client: db.connectionString, slotName, startLsn: 0n, publicationNames: [publication], confirmed$: new BehaviorSubject(0n) }),
      ).then(
        () => {
          throw new Error(`slot ${slotName} was accepted`);
        },
        (e: unknown) => e as SlotError,
      );
    try {
      const wrongPlugin = await attempt(testDecoding);
      expect(wrongPlugin.code).toBe('SLOT_WRONG_PLUGIN');
      expect(wrongPlugin.message).toContain('test_decoding');
      expect(wrongPlugin.message).toContain(testDecoding);
      const wrongDatabase = await attempt(foreign);
      expect(wrongDatabase.code).toBe('SLOT_WRONG_DATABASE');
      expect(wrongDatabase.message).toContain(other.name);
      const missing = await attempt('laredo_no_such_slot');
      expect(missing.code).toBe('SLOT_MISSING');
      expect([wrongPlugin, wrongDatabase, missing].every((e) => e instanceof SlotError && !e.retryable)).toBe(true);
    } finally {
      await db.query('SELECT pg_drop_replication_slot($1)', [testDecoding]);
      await other.drop();
    }
  });

  it('errors with a retryable error when the walsender is terminated', async () => {
    const { client, slot, publication } = await createSlotAndPublication(db, 'items');
    const collected = collectFrames({ client, slotName: slot.slotName, startLsn: slot.consistentPoint, publicationNames: [publication] });
    await waitForWalsender(db, client.pid);
    await db.query('SELECT pg_terminate_backend($1)', [client.pid]);
    await waitFor(() => collected.error !== undefined, { timeoutMs: 5000, what: 'the stream to error' });
    expect(isRetryable(collected.error)).toBe(true);
    if (collected.error instanceof PostgresServerError) expect(collected.error.sqlstate).toBe('57P01');
  });

  it('passes pgoutput options through: logical decoding messages arrive with messages = true', async () => {
    const { client, slot, publication } = await createSlotAndPublication(db, 'items');
    const collected = collectFrames({ client, slotName: slot.slotName, startLsn: slot.consistentPoint, publicationNames: [publication], messages: true });
    try {
      await db.query(`SELECT pg_logical_emit_message(false, 'laredo', 'hello')`);
      await waitFor(() => collected.pgoutput.some((m) => m.tag === 'message'), { what: 'the message' });
      const message = collected.pgoutput.find((m) => m.tag === 'message');
      expect(message?.tag === 'message' && message.prefix).toBe('laredo');
    } finally {
      collected.subscription.unsubscribe();
    }
  });

  it('adds every frame to the budget and stops reading while the budget is paused', async () => {
    const { client, slot, publication } = await createSlotAndPublication(db, 'items');
    const budget = new InFlightBytes(64 * 1024, 16 * 1024);
    const collected = collectFrames({ client, slotName: slot.slotName, startLsn: slot.consistentPoint, publicationNames: [publication], budget });
    try {
      await db.query(`INSERT INTO items SELECT g, repeat('z', 500) FROM generate_series(1000, 5999) g`);
      await waitFor(() => budget.paused, { what: 'the budget to pause' });
      const total = () => collected.frames.reduce((sum, f) => sum + f.length, 0);
      expect(budget.bytes).toBe(total());
      // Paused: nothing more is read (what was already parsed from the socket may still trickle out).
      const atPause = collected.frames.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(collected.frames.length - atPause).toBeLessThan(200);
      const heldWhilePaused = collected.frames.length;
      // A downstream that keeps up: everything received is released as soon as it was seen.
      const drain = setInterval(() => budget.release(budget.bytes), 5);
      try {
        await waitFor(() => commits(collected.pgoutput).length === 1, { what: 'the commit after resuming' });
      } finally {
        clearInterval(drain);
      }
      expect(collected.frames.length).toBeGreaterThan(heldWhilePaused);
      expect(collected.pgoutput.filter((m) => m.tag === 'insert')).toHaveLength(5000);
    } finally {
      collected.subscription.unsubscribe();
      await db.query('DELETE FROM items');
    }
  });

  it('emits keepalive frames too and answers those that request a reply', async () => {
    const { client, slot, publication } = await createSlotAndPublication(db, 'items');
    // The timer is slow here, so only the server's requests can produce updates quickly: the server
    // asks when half of wal_sender_timeout passed without a reply, which is 30 s by default, too slow for
    // a test; instead a timer update asks the server to answer, and that answer is a keepalive frame.
    const frames = await firstValueFrom(
      replicationFrames({
        client,
        slotName: slot.slotName,
        startLsn: slot.consistentPoint,
        publicationNames: [publication],
        confirmed$: new BehaviorSubject(0n),
        statusIntervalMs: 50,
      }).pipe(take(2), toArray()),
    );
    expect(frames.map((f) => String.fromCharCode(f[0]!))).toEqual(['k', 'k']);
  });
});
