import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lsn } from '../../src/protocol/lsn.js';
import { ReplicationClient } from '../../src/streams/replication-client.js';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/postgres.js';

// Memory is measured in a child process of its own (RSS after gc, and raw RSS), so the test runner's
// own allocations do not blur the figure.

const PENDING_CHANGES = 1_000_000;
const MB = 1024 * 1024;
let db: TestDatabase;
let publication: string;

interface ChildReport {
  idle: number;
  maxRss: number;
  maxRssAfterGc: number;
  received: number;
  processed: number;
  maxQueued: number;
  pauses: number;
  exceeded: boolean;
  elapsedMs: number;
  failure: string | null;
}

beforeAll(async () => {
  db = await createTestDatabase('laredo_backpressure');
  await db.query('CREATE TABLE events (id int PRIMARY KEY, payload text)');
  publication = uniqueName('pub');
  await db.query(`CREATE PUBLICATION ${publication} FOR TABLE events`);
  slots = await slotsWithPendingChanges(2, PENDING_CHANGES);
});

afterAll(async () => {
  await db.drop();
});

interface PendingSlot {
  readonly slotName: string;
  readonly startLsn: Lsn;
}

/** Persistent slots, each with the same `changes` row changes waiting in it. */
async function slotsWithPendingChanges(count: number, changes: number): Promise<PendingSlot[]> {
  const client = await ReplicationClient.connect(db.connectionString);
  const slots: PendingSlot[] = [];
  for (let index = 0; index < count; index++) {
    const slotName = uniqueName('bp');
    const slot = await client.createSlot(slotName, { snapshot: 'nothing' });
    slots.push({ slotName, startLsn: slot.consistentPoint });
  }
  await client.close();
  // Many transactions of 10,000 rows, as a busy application would write them.
  for (let from = 1; from <= changes; from += 10_000) {
    await db.query(`INSERT INTO events SELECT g, repeat(md5(g::text), 3) FROM generate_series(${from}, ${from + 9_999}) g`);
  }
  return slots;
}

let slots: PendingSlot[];

function runChild(slotName: string, startLsn: Lsn, durationMs: number, mode: 'budget' | 'none'): Promise<ChildReport> {
  const script = fileURLToPath(new URL('./fixtures/backpressure-child.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', script, db.connectionString, slotName, publication, Lsn.format(startLsn), String(durationMs), mode],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = stdout.trim().split('\n').at(-1);
      if (code !== 0 || line === undefined || line.length === 0) {
        reject(new Error(`child exited with ${code}: ${stderr}`));
        return;
      }
      resolve(JSON.parse(line) as ChildReport);
    });
  });
}

async function dropSlot(slotName: string) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const { rowCount } = await db.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slotName]);
    if (rowCount === 1) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('backpressure', () => {
  it('keeps RSS within 150 MB of idle with 1,000,000 pending changes and a downstream taking 1 ms per frame', async () => {
    const { slotName, startLsn } = slots[0]!;
    try {
      const report = await runChild(slotName, startLsn, 20_000, 'budget');
      console.log(
        `backpressure: idle ${Math.round(report.idle / MB)} MB, max RSS ${Math.round(report.maxRss / MB)} MB (+${Math.round((report.maxRss - report.idle) / MB)}), ` +
          `max RSS after gc ${Math.round(report.maxRssAfterGc / MB)} MB (+${Math.round((report.maxRssAfterGc - report.idle) / MB)}); ` +
          `${report.received} frames received, ${report.processed} processed, at most ${report.maxQueued} queued, ${report.pauses} pauses in ${report.elapsedMs} ms`,
      );
      expect(report.failure).toBeNull();
      expect(report.pauses).toBeGreaterThan(0);
      expect(report.processed).toBeGreaterThan(5000);
      // The server had a million changes to send; the reader took only what the budget allows (the
      // default 64 MiB, counting each frame's object overhead).
      expect(report.received).toBeLessThan(PENDING_CHANGES / 2);
      expect(report.maxRssAfterGc - report.idle).toBeLessThan(150 * MB);
      expect(report.maxRss - report.idle).toBeLessThan(150 * MB);
    } finally {
      await dropSlot(slotName);
    }
  }, 120_000);

  it('(control) without a budget the same downstream lets memory grow past that bound', async () => {
    const { slotName, startLsn } = slots[1]!;
    try {
      const report = await runChild(slotName, startLsn, 20_000, 'none');
      console.log(`backpressure control: max RSS +${Math.round((report.maxRss - report.idle) / MB)} MB after ${report.elapsedMs} ms, ${report.received} frames received`);
      expect(report.exceeded).toBe(true);
    } finally {
      await dropSlot(slotName);
    }
  }, 120_000);
});
