import { lastValueFrom, tap, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BaselineCompleteEvent, BaselineRowsEvent } from '../../src/model/events.js';
import type { Row } from '../../src/protocol/row.js';
import type { RelationMessage } from '../../src/protocol/pgoutput-messages.js';
import { baselineRows, describeTables, type BaselineProgress } from '../../src/streams/baseline.js';
import { PostgresServerError, TableError } from '../../src/streams/errors.js';
import { InFlightBytes } from '../../src/streams/in-flight-bytes.js';
import { ReplicationClient } from '../../src/streams/replication-client.js';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { collectFrames, commits } from './support/stream-helpers.js';

let db: TestDatabase;
let serverVersion: number;

type Event = BaselineRowsEvent | BaselineCompleteEvent;

beforeAll(async () => {
  db = await createTestDatabase('laredo_baseline');
  const { rows } = await db.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  serverVersion = Number(rows[0]!.v);
  await db.query(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`);
  await db.query(`CREATE TABLE wide (
    id bigint PRIMARY KEY, gone int, flag boolean, small smallint, num numeric(12,2), big numeric, ratio float8, label text,
    raw bytea, doc jsonb, at timestamptz, day date, span interval, tags text[], feeling mood,
    doubled bigint GENERATED ALWAYS AS (id * 2) STORED)`);
  await db.query('ALTER TABLE wide DROP COLUMN gone');
  await db.query(`CREATE TABLE big (id int PRIMARY KEY, payload text)`);
  await db.query(`INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g`);
});

afterAll(async () => {
  await db.drop();
});

const wideRows = `INSERT INTO wide (id, flag, small, num, big, ratio, label, raw, doc, at, day, span, tags, feeling) VALUES
  (1, true, 7, 1234.5, 123456789012345678901234567890.123456789, 0.1, 'tab\there "quoted" \\ back', '\\x00ff10', '{"a":[1,2,{"b":null}]}',
   '2024-02-29 23:59:59.123456+02', '2024-01-02', '1 year 2 mons 3 days 04:05:06.789', '{"x,y","z",NULL}', 'happy'),
  (2, NULL, NULL, NULL, NULL, 'NaN', E'line\\nbreak ü €', NULL, 'null', '-infinity', 'infinity', NULL, '{}', NULL),
  (3, false, -32768, -0.01, -1e-20, '-Infinity', '', '\\x', '"text"', '1999-12-31 23:59:59+00', '0001-01-01 BC', '-1 days', '{{"a","b"},{"c","d"}}', 'sad')`;

function rowsOf(events: readonly Event[], table?: string): Row[] {
  return events.flatMap((e) => (e.kind === 'baseline' && (table === undefined || e.table.key === table) ? e.rows : []));
}

describe('describeTables', () => {
  it('describes a table exactly as pgoutput does in its Relation message (dropped and generated columns left out)', async () => {
    const publication = uniqueName('pub');
    await db.query(`CREATE PUBLICATION ${publication} FOR TABLE wide`);
    const client = await ReplicationClient.connect(db.connectionString);
    const slot = await client.createSlot(uniqueName('slot'), { temporary: true, snapshot: 'nothing' });
    const collected = collectFrames({ client, slotName: slot.slotName, startLsn: slot.consistentPoint, publicationNames: [publication] });
    try {
      await db.query(wideRows);
      await waitFor(() => commits(collected.pgoutput).length === 1, { what: 'the commit' });
      const relation = collected.pgoutput.find((m): m is RelationMessage => m.tag === 'relation')!;
      const [schema] = await describeTables(await db.client(), [{ schema: 'public', name: 'wide' }], publication);
      expect(schema!.relationId).toBe(relation.relationId);
      expect(schema!.replicaIdentity).toBe(relation.replicaIdentity);
      expect(schema!.columns).toEqual(relation.columns);
      expect(schema!.columns.map((c) => c.name)).not.toContain('gone');
      expect(schema!.columns.map((c) => c.name)).not.toContain('doubled');
      expect(schema!.keyColumns).toEqual(['id']);
      expect(schema!.key).toBe('public.wide');
    } finally {
      collected.subscription.unsubscribe();
      await db.query('DELETE FROM wide');
    }
  });

  it('follows the replica identity: FULL flags every column, USING INDEX flags the index columns, NOTHING none', async () => {
    await db.query(`CREATE TABLE ident (a int NOT NULL, b int NOT NULL, c text, PRIMARY KEY (a))`);
    await db.query(`CREATE UNIQUE INDEX ident_bc ON ident (b)`);
    const client = await db.client();
    const describe1 = async () => (await describeTables(client, [{ schema: 'public', name: 'ident' }]))[0]!;
    let schema = await describe1();
    expect(schema.replicaIdentity).toBe('default');
    expect(schema.columns.map((c) => c.isKey)).toEqual([true, false, false]);
    await db.query('ALTER TABLE ident REPLICA IDENTITY USING INDEX ident_bc');
    schema = await describe1();
    expect(schema.replicaIdentity).toBe('index');
    expect(schema.columns.map((c) => c.isKey)).toEqual([false, true, false]);
    expect(schema.keyColumns).toEqual(['b']);
    await db.query('ALTER TABLE ident REPLICA IDENTITY FULL');
    schema = await describe1();
    expect(schema.replicaIdentity).toBe('full');
    expect(schema.columns.map((c) => c.isKey)).toEqual([true, true, true]);
    expect(schema.keyColumns).toEqual(['a']);
    await db.query('ALTER TABLE ident REPLICA IDENTITY NOTHING');
    schema = await describe1();
    expect(schema.replicaIdentity).toBe('nothing');
    expect(schema.columns.map((c) => c.isKey)).toEqual([false, false, false]);
    expect(schema.keyColumns).toEqual(['a']);
  });

  it('applies the publication column list on 15+', async () => {
    if (serverVersion < 150000) return;
    const publication = uniqueName('pub');
    await db.query(`CREATE PUBLICATION ${publication} FOR TABLE wide (id, label, doc)`);
    const [schema] = await describeTables(await db.client(), [{ schema: 'public', name: 'wide' }], publication);
    expect(schema!.columns.map((c) => c.name)).toEqual(['id', 'label', 'doc']);
  });

  it('names a missing table in a TableError', async () => {
    const error = await describeTables(await db.client(), [{ schema: 'public', name: 'No Such' }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TableError);
    expect((error as TableError).message).toContain('"public"."No Such"');
  });
});

describe('baselineRows', () => {
  it('gives rows deep-equal to the rows pgoutput streams for the same data', async () => {
    const publication = uniqueName('pub');
    await db.query(`CREATE PUBLICATION ${publication} FOR TABLE wide`);
    const streamClient = await ReplicationClient.connect(db.connectionString);
    const streamSlot = await streamClient.createSlot(uniqueName('slot'), { temporary: true, snapshot: 'nothing' });
    const collected = collectFrames({ client: streamClient, slotName: streamSlot.slotName, startLsn: streamSlot.consistentPoint, publicationNames: [publication] });
    const snapshotClient = await ReplicationClient.connect(db.connectionString);
    try {
      await db.query(wideRows);
      await waitFor(() => commits(collected.pgoutput).length === 1, { what: 'the commit' });
      const streamed = collected.pgoutput.flatMap((m) => (m.tag === 'insert' ? [m.new] : []));
      const slot = await snapshotClient.createSlot(uniqueName('slot'), { temporary: true });
      const [table] = await describeTables(await db.client(), [{ schema: 'public', name: 'wide' }], publication);
      const events = await lastValueFrom(baselineRows({ connection: db.connectionString, snapshotName: slot.snapshotName, tables: [{ table: table! }] }).pipe(toArray()));
      const baseline = rowsOf(events).sort((a, b) => Number(a['id']) - Number(b['id']));
      expect(baseline).toHaveLength(3);
      expect(baseline).toEqual(streamed);
      expect(events.at(-1)).toMatchObject({ kind: 'baseline-complete', rows: 3 });
    } finally {
      collected.subscription.unsubscribe();
      await snapshotClient.close();
      await db.query('DELETE FROM wide');
    }
  });

  it('reads exactly the slot snapshot: later inserts are absent, later deletes still present', async () => {
    const client = await ReplicationClient.connect(db.connectionString);
    try {
      const slot = await client.createSlot(uniqueName('slot'), { temporary: true });
      await db.query('INSERT INTO big VALUES (100001, $1)', ['after the snapshot']);
      await db.query('DELETE FROM big WHERE id <= 100');
      const [table] = await describeTables(await db.client(), [{ schema: 'public', name: 'big' }]);
      const events = await lastValueFrom(
        baselineRows({ connection: db.connectionString, snapshotName: slot.snapshotName, tables: [{ table: table! }], splitPages: 20, parallelism: 3 }).pipe(toArray()),
      );
      const ids = rowsOf(events).map((r) => r['id'] as number);
      expect(ids).toHaveLength(20000);
      expect(new Set(ids).size).toBe(20000);
      expect(Math.min(...ids)).toBe(1);
      expect(ids).not.toContain(100001);
    } finally {
      await client.close();
      await db.query('DELETE FROM big WHERE id > 20000');
      await db.query(`INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 100) g ON CONFLICT DO NOTHING`);
    }
  });

  it('splits a big table into ctid ranges copied in parallel: every row exactly once, complete after the last range', async () => {
    const [table] = await describeTables(await db.client(), [{ schema: 'public', name: 'big' }]);
    const progress: BaselineProgress[] = [];
    const events = await lastValueFrom(
      baselineRows({
        connection: db.connectionString,
        snapshotName: null,
        tables: [{ table: table! }],
        splitPages: 7,
        parallelism: 4,
        batchSize: 333,
        onProgress: (p) => progress.push(p),
      }).pipe(toArray()),
    );
    const ids = rowsOf(events).map((r) => r['id'] as number);
    expect(ids).toHaveLength(20000);
    expect(new Set(ids).size).toBe(20000);
    expect(events.filter((e) => e.kind === 'baseline-complete')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ kind: 'baseline-complete', rows: 20000 });
    expect(events.every((e) => e.kind !== 'baseline' || e.rows.length <= 333)).toBe(true);
    const last = progress.at(-1)!;
    expect(last).toMatchObject({ table: 'public.big', rowsCopied: 20000, done: true });
    expect(last.parts).toBeGreaterThan(4);
    expect(last.partsDone).toBe(last.parts);
  });

  it('copies several tables at once, each completing after its own rows, and applies a row filter', async () => {
    const client = await db.client();
    const tables = await describeTables(client, [
      { schema: 'public', name: 'big' },
      { schema: 'public', name: 'ident' },
    ]);
    await db.query(`INSERT INTO ident VALUES (1, 1, 'one'), (2, 2, 'two')`);
    const events = await lastValueFrom(
      baselineRows({
        connection: db.connectionString,
        snapshotName: null,
        tables: [{ table: tables[0]!, where: 'id % 1000 = 0' }, { table: tables[1]! }],
      }).pipe(toArray()),
    );
    expect(rowsOf(events, 'public.big').map((r) => r['id'])).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) * 1000));
    expect(rowsOf(events, 'public.ident')).toEqual([
      { a: 1, b: 1, c: 'one' },
      { a: 2, b: 2, c: 'two' },
    ]);
    for (const key of ['public.big', 'public.ident']) {
      const index = events.findIndex((e) => e.kind === 'baseline-complete' && e.table.key === key);
      expect(index).toBeGreaterThanOrEqual(0);
      expect(events.slice(index + 1).some((e) => e.kind === 'baseline' && e.table.key === key)).toBe(false);
    }
  });

  it('adds every COPY byte to the budget, carries them on the events, and pauses while the budget is paused', async () => {
    const [table] = await describeTables(await db.client(), [{ schema: 'public', name: 'big' }]);
    const budget = new InFlightBytes(256 * 1024, 64 * 1024);
    const events: Event[] = [];
    let completed = false;
    const subscription = baselineRows({ connection: db.connectionString, snapshotName: null, tables: [{ table: table! }], budget, parallelism: 2, splitPages: 10 }).subscribe({
      next: (event) => events.push(event),
      complete: () => {
        completed = true;
      },
    });
    try {
      await waitFor(() => budget.paused, { what: 'the budget to pause' });
      const rowsAtPause = rowsOf(events).length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Paused streams deliver at most what was already read from their sockets.
      expect(rowsOf(events).length - rowsAtPause).toBeLessThan(3000);
      expect(completed).toBe(false);
      const drain = setInterval(() => budget.release(budget.bytes), 2);
      await waitFor(() => completed, { what: 'the baseline to complete' });
      clearInterval(drain);
      expect(rowsOf(events)).toHaveLength(20000);
      const { rows } = await db.query<{ bytes: string }>(
        `SELECT sum(octet_length(id::text) + 1 + octet_length(payload) + 1)::text AS bytes FROM big`,
      );
      expect(events.reduce((sum, e) => sum + e.bytes, 0)).toBe(Number(rows[0]!.bytes));
    } finally {
      subscription.unsubscribe();
    }
  });

  it('completes when one batch of rows is bigger than the budget: batches are cut by bytes too (no deadlock)', async () => {
    await db.query(`CREATE TABLE fat (id int PRIMARY KEY, payload text)`);
    await db.query(`INSERT INTO fat SELECT g, repeat(md5(g::text), 32) FROM generate_series(1, 3000) g`);
    const [table] = await describeTables(await db.client(), [{ schema: 'public', name: 'fat' }]);
    // 1000 rows of ~1 kB are ~1 MB, four times the budget: a batch cut by row count alone never fills.
    const budget = new InFlightBytes(256 * 1024, 64 * 1024);
    const events = await lastValueFrom(
      baselineRows({ connection: db.connectionString, snapshotName: null, tables: [{ table: table! }], budget, batchSize: 1000 }).pipe(
        tap((event) => budget.release(event.bytes)),
        toArray(),
      ),
    );
    expect(rowsOf(events, 'public.fat')).toHaveLength(3000);
    expect(budget.bytes).toBe(0);
  });

  it('releases the bytes it added when unsubscribed in the middle of a batch', async () => {
    const [table] = await describeTables(await db.client(), [{ schema: 'public', name: 'big' }]);
    const budget = new InFlightBytes(64 * 1024 * 1024);
    let handedOn = 0;
    const subscription = baselineRows({ connection: db.connectionString, snapshotName: null, tables: [{ table: table! }], budget, batchSize: 100_000 }).subscribe(
      (event) => {
        handedOn += event.bytes;
      },
    );
    await waitFor(() => budget.bytes > 0, { what: 'COPY data to arrive' });
    subscription.unsubscribe();
    await waitFor(() => budget.bytes === handedOn, { what: 'the held bytes to be released' });
  });

  it('closes every connection when unsubscribed in the middle of a COPY', async () => {
    const [table] = await describeTables(await db.client(), [{ schema: 'public', name: 'big' }]);
    const budget = new InFlightBytes(64 * 1024, 16 * 1024);
    const applicationName = uniqueName('baseline_abort');
    const subscription = baselineRows({ connection: db.connectionString, snapshotName: null, tables: [{ table: table! }], budget, applicationName, splitPages: 5 }).subscribe();
    const count = async () => (await db.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [applicationName])).rowCount;
    await waitFor(async () => budget.paused && (await count()) === 4, { what: 'four COPYs in flight' });
    subscription.unsubscribe();
    await waitFor(async () => (await count()) === 0, { timeoutMs: 5000, what: 'the baseline connections to close' });
  });

  it('fails with PostgresServerError when the snapshot is gone', async () => {
    const client = await ReplicationClient.connect(db.connectionString);
    const slot = await client.createSlot(uniqueName('slot'), { temporary: true });
    // The exported snapshot ends with the next command on the exporting connection.
    await client.identifySystem();
    const [table] = await describeTables(await db.client(), [{ schema: 'public', name: 'big' }]);
    const error = await lastValueFrom(baselineRows({ connection: db.connectionString, snapshotName: slot.snapshotName, tables: [{ table: table! }] })).catch((e: unknown) => e);
    await client.close();
    expect(error).toBeInstanceOf(PostgresServerError);
    // 14 says invalid_parameter_value, later majors undefined_object.
    expect(['22023', '42704']).toContain((error as PostgresServerError).sqlstate);
    expect((error as Error).message).toContain('no longer exists');
    expect((error as Error).message).toContain(slot.snapshotName!);
  });

  it('completes at once for no tables', async () => {
    const events = await lastValueFrom(baselineRows({ connection: db.connectionString, snapshotName: null, tables: [] }).pipe(toArray()));
    expect(events).toEqual([]);
  });
});
