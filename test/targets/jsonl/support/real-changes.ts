// Real changes from a real PostgreSQL for the target pipeline tests: a table with a column of every
// type class, a REPLICA IDENTITY FULL table and a truncated one; a workload over them; the events the
// decoder makes of what a pgoutput slot sends (read with pg_logical_slot_get_binary_changes and
// wrapped in XLogData frames as the walsender would send them); and the tables as SELECT sees them,
// converted by the same value parsers and written as JSON by the same rules.
import type pg from 'pg';
import { from, lastValueFrom, toArray } from 'rxjs';
import type { TargetMessage } from '../../../../src/model/events.js';
import { decodePgoutput } from '../../../../src/operators/decode-pgoutput.js';
import type { Row } from '../../../../src/protocol/row.js';
import { SESSION_SETTINGS, textParser } from '../../../../src/protocol/values.js';
import { jsonRow } from '../../../../src/targets/json-values.js';
import { xlogData } from '../../../support/pgoutput-builder.js';
import { uniqueName, type TestDatabase } from '../../../support/postgres.js';

export const SCHEMA_SQL = `
  CREATE TYPE mood AS ENUM ('sad', 'happy');
  CREATE TABLE every_type (
    id int PRIMARY KEY, b bool, i2 int2, i8 int8, f4 float4, f8 float8, n numeric, t text, vc varchar(20),
    u uuid, j json, jb jsonb, raw bytea, d date, ts timestamp, tstz timestamptz, tm time, iv interval,
    arr int4[], arr2 text[], m mood, big text
  );
  -- EXTERNAL: stored out of line uncompressed, so an update that leaves it alone sends it as unchanged.
  ALTER TABLE every_type ALTER COLUMN big SET STORAGE EXTERNAL;
  CREATE TABLE audit (id int, note text);
  ALTER TABLE audit REPLICA IDENTITY FULL;
  CREATE TABLE scratch (id int PRIMARY KEY);
  CREATE PUBLICATION pub FOR TABLE every_type, audit, scratch;
`;

/** Each entry runs as one transaction (a multi-statement query). */
export const WORKLOAD = [
  `INSERT INTO every_type VALUES
     (1, true, -32768, 9223372036854775807, 'NaN', '-Infinity', '12345678901234567890.123456789012345678901',
      E'h\\u00e9llo\\nworld "quoted"', 'short', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.5e300]}',
      '{"b": {"c": null}}', '\\x00ff10', '2024-02-29', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123456+02',
      '12:34:56.789', '1 year 2 mons 3 days 04:05:06.789', '{1,NULL,3}', '{{a,b},{c,NULL}}', 'happy', repeat('x', 5000)),
     (2, false, 0, -9223372036854775808, '-0', 'Infinity', 'NaN', '', NULL, NULL, '[]', '"just a string"', '\\x',
      '0044-03-15 BC', 'infinity', '-infinity', '00:00:00', '-1 days', '{}', '{"x y"}', 'sad', 'small'),
     (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
  `UPDATE every_type SET t = 'changed, big untouched' WHERE id = 1`,
  `UPDATE every_type SET id = 10 WHERE id = 2`,
  `DELETE FROM every_type WHERE id = 3`,
  `BEGIN; INSERT INTO every_type (id, t) VALUES (4, 'kept'); SAVEPOINT s; INSERT INTO every_type (id, t) VALUES (5, 'rolled back to savepoint');
   ROLLBACK TO SAVEPOINT s; INSERT INTO every_type (id, t) VALUES (6, 'kept too'); COMMIT`,
  `BEGIN; INSERT INTO every_type (id, t) VALUES (7, 'rolled back'); ROLLBACK`,
  `INSERT INTO audit VALUES (1, 'a'), (1, 'b'), (2, 'c')`,
  `UPDATE audit SET note = 'a2' WHERE note = 'a'; DELETE FROM audit WHERE note = 'b'`,
  `INSERT INTO scratch VALUES (1), (2)`,
  `TRUNCATE scratch`,
  `INSERT INTO scratch VALUES (3); UPDATE every_type SET big = repeat('y', 3000) WHERE id = 1`,
];

/** A session with laredo's settings (output functions print values according to them). */
export async function laredoSession(db: TestDatabase): Promise<pg.Client> {
  const session = await db.client();
  for (const [name, value] of Object.entries(SESSION_SETTINGS)) await session.query(`SELECT set_config($1, $2, false)`, [name, value]);
  return session;
}

/** Runs the workload after creating a slot, and returns the target messages the decoder makes of it. */
export async function captureWorkload(db: TestDatabase, session: pg.Client): Promise<TargetMessage[]> {
  const slot = uniqueName('slot');
  await session.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  for (const statement of WORKLOAD) await db.query(statement);
  const { rows } = await session.query<{ lsn: string; data: Buffer }>(
    `SELECT lsn::text AS lsn, data FROM pg_logical_slot_get_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', 'pub')`,
    [slot],
  );
  await session.query(`SELECT pg_drop_replication_slot($1)`, [slot]);
  const frames = rows.map((row) => {
    const [high, low] = row.lsn.split('/');
    const lsn = (BigInt(`0x${high!}`) << 32n) | BigInt(`0x${low!}`);
    return xlogData(lsn, lsn, row.data);
  });
  const events = await lastValueFrom(from(frames).pipe(decodePgoutput({ protocolVersion: 1 }), toArray()));
  return events.filter((event): event is TargetMessage => event.kind !== 'progress');
}

/** Every row of `table` as SELECT returns it, parsed and JSON-encoded as the targets do, sorted. */
export async function selectRows(session: pg.Client, table: string): Promise<string[]> {
  const result = await session.query({ text: `SELECT * FROM ${table}`, types: { getTypeParser: () => (text: string) => text } });
  return result.rows
    .map((raw: Record<string, string | null>) => {
      const row: Record<string, Row[string]> = {};
      for (const field of result.fields) {
        const text = raw[field.name] ?? null;
        row[field.name] = text === null ? null : textParser(field.dataTypeID)(text);
      }
      return JSON.stringify(jsonRow(row).values);
    })
    .sort();
}

export const TABLES = ['public.every_type', 'public.audit', 'public.scratch'] as const;
