// The COPY text decoder on what the server of this run sends, chunked as the socket delivers it: every
// row equals the row built from each column's output text, the way pgoutput sends it.
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyTextDecoder, type CopyColumn } from '../../src/protocol/copy-text.js';
import type { Row } from '../../src/protocol/row.js';
import { sessionSettingsOptions, textParser, type ValueOptions } from '../../src/protocol/values.js';
import { captureWideTable, expectedRow } from '../fixtures/values/wide-table.js';
import { createTestDatabase, testServer, type TestDatabase } from '../support/postgres.js';

let database: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase('laredo_copy');
  await captureWideTable(database.connectionString); // creates and fills the wide table
  client = new pg.Client({ connectionString: database.connectionString, options: sessionSettingsOptions() });
  await client.connect();
  await client.query(`
    CREATE TABLE ev (id bigserial PRIMARY KEY, account int, kind text, amount numeric(12,2), payload jsonb, created_at timestamptz);
    INSERT INTO ev (account, kind, amount, payload, created_at)
    SELECT
      CASE WHEN i % 97 = 0 THEN NULL ELSE (i * 7919) % 100000 - 50000 END,
      (ARRAY['deposit', 'withdrawal', E'tab\\there', E'new\\nline', E'back\\\\slash', 'ünïcödé ✓', '', '\\N', NULL])[1 + i % 9],
      CASE WHEN i % 89 = 0 THEN NULL ELSE round(((i * 104729) % 2000000000 - 1000000000) / 100.0, 2) END,
      CASE WHEN i % 83 = 0 THEN NULL
           ELSE jsonb_build_object('n', i, 'big', 12345678901234567890 + i, 'tag', 't' || (i % 7), 'text', E'q"\\\\\\t' || i, 'list', jsonb_build_array(i, i * 0.5, NULL, true))
      END,
      CASE WHEN i % 79 = 0 THEN NULL
           ELSE timestamptz '2024-01-01 00:00:00+00' + (i * 7919 % 86400000000) * interval '1 microsecond' - (i % 400000) * interval '1 day'
      END
    FROM generate_series(1, 20000) i;
  `);
});

afterAll(async () => {
  await client.end();
  await database.drop();
});

async function tableColumns(table: string): Promise<CopyColumn[]> {
  // pg_attribute.atttypid: the type OIDs pgoutput's Relation message carries for the same columns.
  const { rows } = await client.query<{ name: string; type_oid: number }>(
    `SELECT attname AS name, atttypid::int4 AS type_oid FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [table],
  );
  return rows.map((row) => ({ name: row.name, typeOid: row.type_oid }));
}

/** COPY ... TO STDOUT through the decoder, chunk by chunk as the socket delivers them. */
async function copyRows(sql: string, columns: readonly CopyColumn[], options: ValueOptions = {}): Promise<{ rows: Row[]; chunks: number }> {
  const decoder = new CopyTextDecoder(columns, options);
  const rows: Row[] = [];
  let chunks = 0;
  for await (const chunk of client.query(copyTo(sql))) {
    chunks++;
    for (const row of decoder.push(chunk as Buffer)) rows.push(row);
  }
  decoder.end();
  return { rows, chunks };
}

/** The same rows built from each column's output text: what a streamed (pgoutput `t`) row holds. */
async function rowsFromOutputs(sql: string, columns: readonly CopyColumn[], options: ValueOptions = {}): Promise<Row[]> {
  const result = await client.query<(string | null)[]>({ text: sql, rowMode: 'array', types: { getTypeParser: () => (text: string) => text } });
  const parsers = columns.map((column) => textParser(column.typeOid, options));
  return result.rows.map((outputs) => Object.fromEntries(columns.map((column, index) => [column.name, outputs[index] === null ? null : parsers[index]!(outputs[index]!)])));
}

describe(`COPY text decoding on PostgreSQL ${testServer().major}`, () => {
  it('decodes the wide table to the documented values', async () => {
    const columns = await tableColumns('wide');
    const { rows } = await copyRows('COPY (SELECT * FROM wide ORDER BY id) TO STDOUT', columns);
    expect(rows).toEqual(await rowsFromOutputs('SELECT * FROM wide ORDER BY id', columns));
    for (const row of rows) expect(row).toEqual(expectedRow(columns, row['id'] as number));
  });

  it('decodes 20,000 ev rows across socket chunks to exactly the rows the column outputs give', async () => {
    const columns = await tableColumns('ev');
    const { rows, chunks } = await copyRows('COPY (SELECT * FROM ev ORDER BY id) TO STDOUT', columns);
    expect(chunks).toBeGreaterThan(1);
    expect(rows).toHaveLength(20_000);
    expect(rows).toEqual(await rowsFromOutputs('SELECT * FROM ev ORDER BY id', columns));
    expect(rows[7]).toMatchObject({ id: '8', kind: null });
    expect(rows.filter((row) => row['kind'] === '\\N')).toHaveLength(2222);
  });

  it('applies the value options the same way to COPY and to column outputs', async () => {
    const columns = await tableColumns('ev');
    const options: ValueOptions = { int8: 'bigint', json: 'text' };
    const { rows } = await copyRows('COPY (SELECT * FROM ev WHERE id <= 500 ORDER BY id) TO STDOUT', columns, options);
    expect(rows).toEqual(await rowsFromOutputs('SELECT * FROM ev WHERE id <= 500 ORDER BY id', columns, options));
    expect(typeof rows[0]!['id']).toBe('bigint');
    expect(rows[0]!['payload']).toMatch(/"big": 12345678901234567891/);
  });
});
