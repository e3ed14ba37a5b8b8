import { createHash } from 'node:crypto';
import pg from 'pg';
import { BehaviorSubject } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lsn } from '../../src/protocol/lsn.js';
import { PgoutputDecoder } from '../../src/protocol/pgoutput.js';
import { parseReplicationMessage } from '../../src/protocol/replication-messages.js';
import type { Row } from '../../src/protocol/row.js';
import { baselineRows, describeTables } from '../../src/streams/baseline.js';
import { ReplicationClient, type CreatedSlot } from '../../src/streams/replication-client.js';
import { maxProtoVersion, replicationFrames } from '../../src/streams/replication-frames.js';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';

// The baseline (COPY at the slot's exported snapshot) plus the stream from the slot's consistent point
// must rebuild the table exactly while a writer changes it at full speed the whole time: before the
// slot exists, while it is created, during the baseline and after. Every insert must find its id
// absent and every update/delete present, so a change missing or applied twice fails at once.

const ROWS = 1_000_000;
let db: TestDatabase;
let serverVersion: number;

beforeAll(async () => {
  db = await createTestDatabase('laredo_consistency');
  const { rows } = await db.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  serverVersion = Number(rows[0]!.v);
  await db.query('CREATE TABLE ledger (id int PRIMARY KEY, v int NOT NULL, t text NOT NULL)');
  await db.query(`INSERT INTO ledger SELECT g, g, md5(g::text) FROM generate_series(1, ${ROWS}) g`);
  await db.query('CREATE TABLE marker (id int PRIMARY KEY)');
  await db.query('CREATE TABLE writer_stop (stop boolean PRIMARY KEY)');
  await db.query('CREATE SEQUENCE writer_steps');
  await db.query(WRITER_PROCEDURE);
});

afterAll(async () => {
  await db.drop();
});

interface Writer {
  stop(): Promise<void>;
}

// The writers run inside PostgreSQL (a procedure committing after every step), so they keep full speed
// while this process is busy decoding the baseline. Each step is one of: insert, update, delete, a
// multi-row transaction with a subtransaction, or a primary key change (pgoutput sends the old key).
const WRITER_PROCEDURE = `
CREATE PROCEDURE writer_loop(writer int) LANGUAGE plpgsql AS $$
DECLARE
  next_id int := ${ROWS} + 1 + writer;
  step int := 0;
  pick int;
  other int;
BEGIN
  PERFORM setseed(writer / 10.0);
  WHILE NOT EXISTS (SELECT 1 FROM writer_stop) LOOP
    -- Into variables first: random() inside a WHERE clause would be evaluated per row (a full scan).
    pick := 1 + floor(random() * next_id)::int;
    other := 1 + floor(random() * next_id)::int;
    BEGIN
      CASE step % 5
        WHEN 0 THEN INSERT INTO ledger VALUES (next_id, 0, 'new ' || next_id);
        WHEN 1 THEN UPDATE ledger SET v = v + 1, t = t || 'u' WHERE id = pick;
        WHEN 2 THEN DELETE FROM ledger WHERE id = pick;
        WHEN 3 THEN
          INSERT INTO ledger VALUES (next_id, 1, 'tx');
          UPDATE ledger SET v = v * 2 WHERE id = next_id;
          UPDATE ledger SET t = 'batch ' || step WHERE id BETWEEN pick AND pick + 3;
          DELETE FROM ledger WHERE id = other;
        ELSE UPDATE ledger SET id = next_id WHERE id = pick;
      END CASE;
    EXCEPTION WHEN deadlock_detected OR unique_violation THEN
      NULL; -- the step's subtransaction is rolled back; nothing of it is published
    END;
    PERFORM nextval('writer_steps');
    COMMIT;
    next_id := next_id + 2;
    step := step + 1;
  END LOOP;
END $$`;

async function startWriter(index: number): Promise<Writer> {
  // synchronous_commit off: commits do not wait for their WAL flush, so the writer is limited by CPU,
  // not by fsync; walsenders still only send flushed WAL.
  const client = new pg.Client({ connectionString: db.connectionString, application_name: `writer_${index}`, options: '-c synchronous_commit=off' });
  await client.connect();
  const running = client.query('CALL writer_loop($1)', [index]);
  let stopped = false;
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      await db.query('INSERT INTO writer_stop VALUES (true) ON CONFLICT DO NOTHING');
      await running;
      await client.end();
    },
  };
}

async function writerSteps(): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT last_value::text AS n FROM writer_steps');
  return Number(rows[0]!.n);
}

/**
 * Creating a logical slot waits until every transaction running when it started has ended and the
 * server has logged its running transactions twice more; under constant writes that takes the
 * background writer's 15 s interval unless someone asks for the record sooner.
 */
async function createSlotUnderLoad(client: ReplicationClient): Promise<CreatedSlot> {
  let done = false;
  const creating = client.createSlot(uniqueName('consistency'), { temporary: true, snapshot: 'export' }).finally(() => {
    done = true;
  });
  const nudger = await db.client();
  while (!done) {
    await nudger.query(serverVersion >= 160000 ? 'SELECT pg_log_standby_snapshot()' : 'CHECKPOINT');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return creating;
}

function digest(entries: Iterable<[number, string]>): { count: number; md5: string } {
  const sorted = [...entries].sort((a, b) => a[0] - b[0]);
  const hash = createHash('md5');
  sorted.forEach(([id, value], index) => hash.update(`${index === 0 ? '' : ','}${id}:${value}`));
  return { count: sorted.length, md5: hash.digest('hex') };
}

describe('baseline plus stream', () => {
  it('rebuilds a 1,000,000-row table exactly while a writer changes it at full speed', async () => {
    const started = Date.now();
    // One writer at full speed: a second one would mostly contend for the same two cores.
    const writers = [await startWriter(0)];
    const publication = uniqueName('pub');
    await db.query(`CREATE PUBLICATION ${publication} FOR TABLE ledger, marker`);
    const client = await ReplicationClient.connect(db.connectionString);
    const table = new Map<number, string>();
    const value = (row: Row) => `${row['v'] as number}:${row['t'] as string}`;
    const problems: string[] = [];
    let changes = 0;
    let markerSeen = false;
    let subscription: { unsubscribe(): void } | undefined;
    try {
      const slot = await createSlotUnderLoad(client);
      const slotMs = Date.now() - started;
      const [ledger] = await describeTables(await db.client(), [{ schema: 'public', name: 'ledger' }], publication);
      const baselineStarted = Date.now();
      const writesBefore = await writerSteps();
      const baseline = baselineRows({ connection: db.connectionString, snapshotName: slot.snapshotName, tables: [{ table: ledger! }], parallelism: 4, splitPages: 1000 });
      await new Promise<void>((resolve, reject) => {
        baseline.subscribe({
          next: (event) => {
            if (event.kind !== 'baseline') return;
            for (const row of event.rows) {
              const id = row['id'] as number;
              if (table.has(id)) problems.push(`baseline row ${id} twice`);
              table.set(id, value(row));
            }
          },
          error: reject,
          complete: resolve,
        });
      });
      const baselineMs = Date.now() - baselineStarted;
      const baselineRowCount = table.size;
      const writesDuringBaseline = (await writerSteps()) - writesBefore;

      // Streaming starts only now, on the connection that made the slot, from its consistent point.
      const protocolVersion = maxProtoVersion(client.serverVersion) as 1 | 2 | 3 | 4;
      const decoder = new PgoutputDecoder({ protocolVersion });
      const confirmed$ = new BehaviorSubject<Lsn>(Lsn.ZERO);
      let failure: unknown;
      subscription = replicationFrames({ client, slotName: slot.slotName, startLsn: slot.consistentPoint, publicationNames: [publication], confirmed$ }).subscribe({
        next: (frame) => {
          const message = parseReplicationMessage(frame);
          if (message.tag !== 'w') return;
          const change = decoder.decode(message.data);
          const relation = 'relationId' in change ? decoder.relation(change.relationId) : undefined;
          if (relation?.name === 'marker') {
            markerSeen = true;
            return;
          }
          if (change.tag === 'insert') {
            const id = change.new['id'] as number;
            if (table.has(id)) problems.push(`insert of existing id ${id} at ${Lsn.format(message.walStart)}`);
            table.set(id, value(change.new));
            changes++;
          } else if (change.tag === 'update') {
            const id = change.new['id'] as number;
            const oldId = (change.key?.['id'] as number | undefined) ?? id;
            if (!table.has(oldId)) problems.push(`update of missing id ${oldId} at ${Lsn.format(message.walStart)}`);
            table.delete(oldId);
            table.set(id, value(change.new));
            changes++;
          } else if (change.tag === 'delete') {
            const id = change.key!['id'] as number;
            if (!table.delete(id)) problems.push(`delete of missing id ${id} at ${Lsn.format(message.walStart)}`);
            changes++;
          } else if (change.tag === 'commit') {
            confirmed$.next(change.commitEndLsn);
          }
        },
        error: (error: unknown) => {
          failure = error;
        },
      });
      // Let the writers go on while the stream catches up, then stop them and mark the end.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await Promise.all(writers.map((w) => w.stop()));
      await db.query('INSERT INTO marker VALUES (1)');
      await waitFor(() => markerSeen || failure !== undefined, { timeoutMs: 60_000, intervalMs: 50, what: 'the marker to be streamed' });
      expect(failure).toBeUndefined();

      const { rows } = await db.query<{ id: number; v: number; t: string }>('SELECT id, v, t FROM ledger');
      const expected = digest(rows.map((r) => [r.id, `${r.v}:${r.t}`] as [number, string]));
      const rebuilt = digest(table.entries());
      console.log(
        `consistency (PostgreSQL ${Math.floor(serverVersion / 10000)}): slot after ${slotMs} ms, baseline ${baselineRowCount} rows in ${baselineMs} ms ` +
          `with ${writesDuringBaseline} writer transactions meanwhile, ${changes} streamed changes, total ${Date.now() - started} ms`,
      );
      expect(problems.slice(0, 10)).toEqual([]);
      expect(writesDuringBaseline).toBeGreaterThan(100);
      expect(rebuilt).toEqual(expected);
    } finally {
      subscription?.unsubscribe();
      await Promise.all(writers.map((w) => w.stop()));
      await client.close();
    }
  });
});
