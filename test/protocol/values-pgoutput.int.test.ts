// The promise the converters exist for: a row from the baseline COPY deep-equals the row pgoutput
// streams for the same data, whether pgoutput sends text or binary columns. Real pgoutput bytes come
// from a logical slot read with pg_logical_slot_peek_binary_changes (the plugin's output, without a
// replication connection); the Relation message's column type OIDs drive the conversion, as in the
// stream. The TupleData parsing here is deliberately minimal: the real decoder is tested elsewhere.
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyTextDecoder } from '../../src/protocol/copy-text.js';
import type { PgValue, Row } from '../../src/protocol/row.js';
import { binaryParser, sessionSettingsOptions, textParser } from '../../src/protocol/values.js';
import { BINARY_STAYS_BUFFER, captureWideTable } from '../fixtures/values/wide-table.js';
import { createTestDatabase, testServer, type TestDatabase } from '../support/postgres.js';

let database: TestDatabase;
let client: pg.Client;

const ID_OFFSET = 100;

beforeAll(async () => {
  database = await createTestDatabase('laredo_values_pgoutput');
  await captureWideTable(database.connectionString);
  client = new pg.Client({ connectionString: database.connectionString, options: sessionSettingsOptions() });
  await client.connect();
  await client.query(`CREATE PUBLICATION values_pub FOR TABLE wide`);
  await client.query(`SELECT pg_create_logical_replication_slot('values_slot', 'pgoutput')`);
  // The same data again, streamed: every row copied with a new id.
  const { rows } = await client.query<{ name: string }>(`SELECT attname AS name FROM pg_attribute WHERE attrelid = 'wide'::regclass AND attnum > 1 AND NOT attisdropped ORDER BY attnum`);
  const others = rows.map((row) => `"${row.name}"`).join(', ');
  await client.query(`INSERT INTO wide SELECT id + ${ID_OFFSET}, ${others} FROM wide ORDER BY id`);
});

afterAll(async () => {
  await client.end();
  await database.drop();
});

interface RelationColumn {
  name: string;
  typeOid: number;
}

type TupleColumn = { kind: 'n' } | { kind: 'u' } | { kind: 't' | 'b'; bytes: Buffer };

/** Reads the Relation and Insert messages of one peek at the slot. */
async function peekInserts(binary: boolean): Promise<{ columns: RelationColumn[]; inserts: TupleColumn[][] }> {
  const { rows } = await client.query<{ data: Buffer }>(
    `SELECT data FROM pg_logical_slot_peek_binary_changes('values_slot', NULL, NULL, 'proto_version', '1', 'publication_names', 'values_pub', 'binary', $1)`,
    [String(binary)],
  );
  let columns: RelationColumn[] = [];
  const inserts: TupleColumn[][] = [];
  for (const { data } of rows) {
    let offset = 1;
    const readString = (): string => {
      const end = data.indexOf(0, offset);
      const text = data.toString('utf8', offset, end);
      offset = end + 1;
      return text;
    };
    if (data[0] === 0x52 /* R */) {
      offset += 4; // relation id
      readString(); // schema
      readString(); // name
      offset += 1; // replica identity
      const count = data.readInt16BE(offset);
      offset += 2;
      columns = [];
      for (let index = 0; index < count; index++) {
        offset += 1; // flags
        const name = readString();
        columns.push({ name, typeOid: data.readUInt32BE(offset) });
        offset += 8; // type oid, type modifier
      }
    } else if (data[0] === 0x49 /* I */) {
      offset += 4 + 1; // relation id, 'N'
      const count = data.readInt16BE(offset);
      offset += 2;
      const tuple: TupleColumn[] = [];
      for (let index = 0; index < count; index++) {
        const kind = String.fromCharCode(data[offset]!) as TupleColumn['kind'];
        offset += 1;
        if (kind === 't' || kind === 'b') {
          const length = data.readInt32BE(offset);
          offset += 4;
          tuple.push({ kind, bytes: data.subarray(offset, offset + length) });
          offset += length;
        } else tuple.push({ kind });
      }
      inserts.push(tuple);
    }
  }
  return { columns, inserts };
}

async function baselineRows(): Promise<Row[]> {
  const { rows } = await client.query<{ name: string; type_oid: number }>(
    `SELECT attname AS name, atttypid::int4 AS type_oid FROM pg_attribute WHERE attrelid = 'wide'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
  );
  const decoder = new CopyTextDecoder(rows.map((row) => ({ name: row.name, typeOid: row.type_oid })));
  const decoded: Row[] = [];
  for await (const chunk of client.query(copyTo(`COPY (SELECT * FROM wide WHERE id < ${ID_OFFSET} ORDER BY id) TO STDOUT`))) decoded.push(...decoder.push(chunk as Buffer));
  decoder.end();
  return decoded;
}

function streamedRow(columns: readonly RelationColumn[], tuple: readonly TupleColumn[]): Record<string, PgValue> {
  return Object.fromEntries(
    columns.map((column, index) => {
      const value = tuple[index]!;
      if (value.kind === 'n') return [column.name, null];
      if (value.kind === 'u') throw new Error('an insert has no unchanged TOAST columns');
      const converted = value.kind === 't' ? textParser(column.typeOid)(value.bytes.toString('utf8')) : binaryParser(column.typeOid)(value.bytes);
      return [column.name, converted];
    }),
  );
}

describe(`baseline rows and pgoutput rows on PostgreSQL ${testServer().major}`, () => {
  it('are deep-equal when pgoutput sends text', async () => {
    const baseline = await baselineRows();
    const { columns, inserts } = await peekInserts(false);
    expect(inserts).toHaveLength(baseline.length);
    expect(inserts.flat().every((column) => column.kind !== 'b')).toBe(true);
    const streamed = inserts.map((tuple) => streamedRow(columns, tuple));
    expect(streamed).toEqual(baseline.map((row) => ({ ...row, id: (row['id'] as number) + ID_OFFSET })));
  });

  it('are deep-equal when pgoutput sends binary, except types kept as Buffers', async () => {
    const baseline = await baselineRows();
    const { columns, inserts } = await peekInserts(true);
    expect(inserts).toHaveLength(baseline.length);
    expect(inserts.flat().some((column) => column.kind === 'b')).toBe(true);
    inserts.forEach((tuple, rowIndex) => {
      const streamed = streamedRow(columns, tuple);
      const expected: Record<string, unknown> = { ...baseline[rowIndex]!, id: (baseline[rowIndex]!['id'] as number) + ID_OFFSET };
      columns.forEach((column, index) => {
        const sent = tuple[index]!;
        if (sent.kind === 'b' && BINARY_STAYS_BUFFER.has(column.name)) {
          expect(streamed[column.name]).toEqual(sent.bytes);
          expected[column.name] = sent.bytes;
        }
      });
      expect(streamed).toEqual(expected);
    });
  });
});
