import { BehaviorSubject } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lsn } from '../../src/protocol/lsn.js';
import { InFlightBytes } from '../../src/streams/in-flight-bytes.js';
import { startReplicationCommand } from '../../src/streams/replication-frames.js';
import type { StandbyStatusDue } from '../../src/streams/standby-status.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { collectFrames, commits, createSlotAndPublication, waitForWalsender } from './support/stream-helpers.js';

// wal_sender_timeout is set server-wide (ALTER SYSTEM) for this file and reset afterwards. Other test
// files of the run keep working: their walsenders answer the server's keepalive requests.
let db: TestDatabase;

async function walSenderTimeoutOfNewSessions(): Promise<string> {
  const { rows } = await db.query<{ timeout: string }>(`SELECT current_setting('wal_sender_timeout') AS timeout`);
  return rows[0]!.timeout;
}

beforeAll(async () => {
  db = await createTestDatabase('laredo_keepalive');
  await db.query('CREATE TABLE payloads (id int PRIMARY KEY, body text)');
  await db.query(`ALTER SYSTEM SET wal_sender_timeout = '2s'`);
  await db.query('SELECT pg_reload_conf()');
  await waitFor(async () => (await walSenderTimeoutOfNewSessions()) === '2s', { what: 'wal_sender_timeout = 2s' });
});

afterAll(async () => {
  await db.query('ALTER SYSTEM RESET wal_sender_timeout');
  await db.query('SELECT pg_reload_conf()');
  await db.drop();
});

describe('standby status keepalive', () => {
  it('(control) a walsender whose client never answers is ended by wal_sender_timeout', async () => {
    const { client, slot, publication } = await createSlotAndPublication(db, 'payloads');
    expect(client.walSenderTimeoutMs).toBe(2000);
    const stream = client.startCopyBoth(startReplicationCommand(slot.slotName, slot.consistentPoint, { publicationNames: [publication] }, client.serverVersion));
    stream.on('data', () => undefined);
    stream.on('error', () => undefined);
    try {
      await waitForWalsender(db, client.pid);
      const started = Date.now();
      await waitFor(async () => (await db.query('SELECT 1 FROM pg_stat_replication WHERE pid = $1', [client.pid])).rowCount === 0, {
        timeoutMs: 10_000,
        what: 'the silent walsender to time out',
      });
      expect(Date.now() - started).toBeLessThan(6000);
    } finally {
      await client.close();
    }
  });

  it('keeps the connection alive through a 10 s downstream stall with reading paused, by timer status updates', async () => {
    const { client, slot, publication } = await createSlotAndPublication(db, 'payloads');
    const budget = new InFlightBytes(32 * 1024, 8 * 1024);
    const updates: (StandbyStatusDue & { at: number })[] = [];
    const collected = collectFrames({
      client,
      slotName: slot.slotName,
      startLsn: slot.consistentPoint,
      publicationNames: [publication],
      budget,
      confirmed$: new BehaviorSubject<Lsn>(Lsn.ZERO),
      onStatusUpdate: (update) => updates.push({ ...update, at: Date.now() }),
    });
    try {
      await waitForWalsender(db, client.pid);
      // Far more than the budget: the downstream (which releases nothing) stalls the reader.
      await db.query(`INSERT INTO payloads SELECT g, repeat(md5(g::text), 16) FROM generate_series(1, 4000) g`);
      await waitFor(() => budget.paused || collected.error !== undefined, { what: 'reading to pause' });
      expect(collected.error).toBeUndefined();
      const stallStarted = Date.now();
      const replyTimes = new Set<string>();
      while (Date.now() - stallStarted < 10_000) {
        const { rows } = await db.query<{ reply_time: string | null }>('SELECT reply_time::text FROM pg_stat_replication WHERE pid = $1', [client.pid]);
        expect(rows).toHaveLength(1);
        if (rows[0]!.reply_time !== null) replyTimes.add(rows[0]!.reply_time);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(budget.paused).toBe(true);
      expect(collected.error).toBeUndefined();
      // The walsender heard from us every ~2/3 s (timeout / 3) while we read nothing.
      const duringStall = updates.filter((u) => u.at >= stallStarted && u.reason === 'interval');
      expect(duringStall.length).toBeGreaterThanOrEqual(10);
      expect(replyTimes.size).toBeGreaterThanOrEqual(8);
      // The downstream catches up: everything arrives on the same connection.
      const drain = setInterval(() => budget.release(budget.bytes), 5);
      const framesAtRelease = collected.frames.length;
      try {
        await waitFor(() => commits(collected.pgoutput).length === 1 || collected.error !== undefined, { what: 'the commit after the stall' }).catch(async (error: unknown) => {
          const { rows } = await db.query('SELECT state, sent_lsn::text, write_lsn::text, reply_time::text FROM pg_stat_replication WHERE pid = $1', [client.pid]);
          throw new Error(
            `${String(error)}; frames ${framesAtRelease} -> ${collected.frames.length}, budget ${budget.bytes} bytes, paused ${budget.paused}, ` +
              `inserts ${collected.pgoutput.filter((m) => m.tag === 'insert').length}, walsender ${JSON.stringify(rows)}, updates ${updates.length}, ` +
              `tags ${JSON.stringify(collected.messages.reduce<Record<string, number>>((counts, m) => {
                const tag = m.tag === 'w' ? String.fromCharCode(m.data[0]!) : 'k';
                counts[tag] = (counts[tag] ?? 0) + 1;
                return counts;
              }, {}))}, ` +
              `last ${collected.messages.slice(-3).map((m) => (m.tag === 'w' ? `w${String.fromCharCode(m.data[0]!)}@${m.walStart}` : `k@${m.walEnd}`)).join(' ')}, error ${String(collected.error)}`,
          );
        });
      } finally {
        clearInterval(drain);
      }
      expect(collected.error).toBeUndefined();
      expect(collected.pgoutput.filter((m) => m.tag === 'insert')).toHaveLength(4000);
      expect((await db.query('SELECT 1 FROM pg_stat_replication WHERE pid = $1', [client.pid])).rowCount).toBe(1);
    } finally {
      collected.subscription.unsubscribe();
    }
  });

  it('unsubscribing while reading is paused still ends the walsender within 1 s', async () => {
    const { client, slot, publication } = await createSlotAndPublication(db, 'payloads');
    const budget = new InFlightBytes(16 * 1024, 4 * 1024);
    const collected = collectFrames({ client, slotName: slot.slotName, startLsn: slot.consistentPoint, publicationNames: [publication], budget });
    await waitForWalsender(db, client.pid);
    await db.query(`UPDATE payloads SET body = body || 'x'`);
    await waitFor(() => budget.paused, { what: 'reading to pause' });
    const started = Date.now();
    collected.subscription.unsubscribe();
    await waitFor(
      async () =>
        (await db.query('SELECT 1 FROM pg_stat_replication WHERE pid = $1', [client.pid])).rowCount === 0 &&
        (await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot.slotName])).rowCount === 0,
      { timeoutMs: 1000, intervalMs: 10, what: 'walsender and temporary slot gone' },
    );
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
