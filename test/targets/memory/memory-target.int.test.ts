// The memory target fed by the real pipeline: pgoutput from a slot, decoded, acknowledged. It must end
// up holding exactly what the table holds, whichever way streamed transactions are delivered.
import type pg from 'pg';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acknowledge } from '../../../src/operators/acknowledge.js';
import { decodePgoutput, type StreamedTransactions } from '../../../src/operators/decode-pgoutput.js';
import { rollbackOnInterrupt } from '../../../src/operators/rollback-on-interrupt.js';
import { SESSION_SETTINGS } from '../../../src/protocol/values.js';
import { memoryTarget } from '../../../src/targets/memory/index.js';
import { xlogData } from '../../support/pgoutput-builder.js';
import { createTestDatabase, testServer, uniqueName, type TestDatabase } from '../../support/postgres.js';

let db: TestDatabase;
let session: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase('laredo_memory');
  session = await db.client();
  for (const [name, value] of Object.entries(SESSION_SETTINGS)) await session.query(`SELECT set_config($1, $2, false)`, [name, value]);
  await db.query(`
    CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric, notes text);
    CREATE PUBLICATION pub FOR TABLE accounts;
  `);
});

afterAll(async () => {
  await db.drop();
});

const workload = `
  INSERT INTO accounts SELECT i, 'owner ' || i, i * 10, NULL FROM generate_series(1, 50) i;
  UPDATE accounts SET notes = (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 1500) i) WHERE id = 7;
  UPDATE accounts SET balance = balance + 1 WHERE id = 7;
  BEGIN;
  UPDATE accounts SET balance = balance - 5 WHERE id <= 10;
  DELETE FROM accounts WHERE id BETWEEN 40 AND 45;
  UPDATE accounts SET id = 100 WHERE id = 50;
  COMMIT;
  BEGIN;
  INSERT INTO accounts SELECT i, 'bulk ' || i, 0, NULL FROM generate_series(1000, 2999) i;
  SAVEPOINT s;
  INSERT INTO accounts SELECT i, 'gone ' || i, 0, NULL FROM generate_series(3000, 3499) i;
  UPDATE accounts SET owner = 'gone' WHERE id = 1;
  ROLLBACK TO SAVEPOINT s;
  UPDATE accounts SET owner = 'kept' WHERE id = 2;
  COMMIT;
  BEGIN; INSERT INTO accounts VALUES (9999, 'aborted', 0, NULL); ROLLBACK;
`;

async function slotFrames(): Promise<Buffer[]> {
  const slot = uniqueName('s');
  await session.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  try {
    await db.query(`SET logical_decoding_work_mem = '64kB'; ${workload}`);
    await session.query(`SET logical_decoding_work_mem = '64kB'`);
    const { rows } = await session.query<{ lsn: string; data: Buffer }>(
      `SELECT lsn::text AS lsn, data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL,
         'proto_version', '2', 'publication_names', 'pub', 'streaming', 'on')`,
      [slot],
    );
    return rows.map((row) => {
      const [high, low] = row.lsn.split('/');
      const lsn = (BigInt(`0x${high!}`) << 32n) | BigInt(`0x${low!}`);
      return xlogData(lsn, lsn, row.data);
    });
  } finally {
    await session.query(`RESET logical_decoding_work_mem`);
    await session.query(`SELECT pg_drop_replication_slot($1)`, [slot]);
  }
}

describe(`memoryTarget fed from a real slot on PostgreSQL ${testServer().major}`, () => {
  let frames: Buffer[];
  let expected: Map<number, unknown>;

  beforeAll(async () => {
    frames = await slotFrames();
    const { rows } = await db.query<{ id: number }>(`SELECT id, owner, balance::text AS balance, notes FROM accounts`);
    expected = new Map(rows.map((row) => [row.id, row]));
  });

  it.each<StreamedTransactions>(['assemble', 'passthrough'])('holds exactly the table’s rows with streamed transactions %s', async (streams) => {
    const target = memoryTarget({ tables: { 'public.accounts': { additionalIndexes: [['owner']] } } });
    const positions = await lastValueFrom(
      from(frames).pipe(decodePgoutput({ protocolVersion: 2, streams }), rollbackOnInterrupt(), acknowledge([target]), toArray()),
    );
    const held = new Map(target.rows('public.accounts').map((row) => [row['id'] as number, row]));
    expect(held).toEqual(expected);
    expect(target.lookupAll('public.accounts', 'owner', 'kept').map((r) => r['id'])).toEqual([2]);
    expect(positions.length).toBeGreaterThan(0);
    for (let i = 1; i < positions.length; i++) expect(positions[i]! > positions[i - 1]!).toBe(true);
  });
});
