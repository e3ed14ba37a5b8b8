import { BehaviorSubject, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RelationMessage } from '../../src/protocol/pgoutput-messages.js';
import { baselineRows, describeTables } from '../../src/streams/baseline.js';
import { formatTableName, parseTableName, quoteIdentifier, quoteQualifiedName } from '../../src/streams/identifiers.js';
import { preflight } from '../../src/streams/preflight.js';
import { ensurePublication, readPublication } from '../../src/streams/publication.js';
import { ReplicationClient } from '../../src/streams/replication-client.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { collectFrames, commits } from './support/stream-helpers.js';

// Names with everything SQL makes hard: mixed case, double and single quotes, spaces, dots, unicode.
const table = { schema: `Sch.ema "Ü" it's`, name: `My "Tab" x.y ünï` };
const columns = { id: 'Id', mixed: 'Mixed Case', quote: `quo"te'`, dot: 'dot.ted', unicode: 'ünï €' };
const publicationName = `Pub "Mixed".ü`;

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('laredo_names');
  await db.query(`CREATE SCHEMA ${quoteIdentifier(table.schema)}`);
  await db.query(
    `CREATE TABLE ${quoteQualifiedName(table)} (${quoteIdentifier(columns.id)} int PRIMARY KEY, ${quoteIdentifier(columns.mixed)} text, ` +
      `${quoteIdentifier(columns.quote)} text, ${quoteIdentifier(columns.dot)} int, ${quoteIdentifier(columns.unicode)} text)`,
  );
  await db.query(`INSERT INTO ${quoteQualifiedName(table)} VALUES (1, 'a', 'b', 1, 'c'), (2, 'd', 'e', 2, 'f')`);
});

afterAll(async () => {
  await db.drop();
});

describe('identifiers end to end', () => {
  it('publishes, describes, baselines and streams a table whose names need every kind of quoting', async () => {
    const key = formatTableName(table);
    expect(parseTableName(key)).toEqual(table);
    const admin = await db.client();
    const { rows } = await admin.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
    const serverVersion = Number(rows[0]!.v);
    const ensured = await ensurePublication(admin, { name: publicationName, create: true, tables: { [key]: {} } }, serverVersion);
    expect(ensured.state.publishedTables).toEqual([`${table.schema}.${table.name}`]);
    expect((await readPublication(admin, publicationName))?.tables.map((t) => [t.schema, t.name])).toEqual([[table.schema, table.name]]);
    expect((await preflight(admin, { tables: [key], publication: publicationName })).warnings).toEqual([]);

    const [schema] = await describeTables(admin, [table], publicationName);
    expect(schema!.columns.map((c) => c.name)).toEqual(Object.values(columns));
    expect(schema!.keyColumns).toEqual([columns.id]);

    const client = await ReplicationClient.connect(db.connectionString);
    const slot = await client.createSlot('laredo_names_slot', { temporary: true });
    const events = await lastValueFrom(baselineRows({ connection: db.connectionString, snapshotName: slot.snapshotName, tables: [{ table: schema! }] }).pipe(toArray()));
    const baseline = events.flatMap((e) => (e.kind === 'baseline' ? e.rows : []));
    expect(baseline).toEqual([
      { [columns.id]: 1, [columns.mixed]: 'a', [columns.quote]: 'b', [columns.dot]: 1, [columns.unicode]: 'c' },
      { [columns.id]: 2, [columns.mixed]: 'd', [columns.quote]: 'e', [columns.dot]: 2, [columns.unicode]: 'f' },
    ]);

    const collected = collectFrames({
      client,
      slotName: slot.slotName,
      startLsn: slot.consistentPoint,
      publicationNames: [publicationName],
      confirmed$: new BehaviorSubject(0n),
    });
    try {
      const quoted = quoteQualifiedName(table);
      await db.query(`INSERT INTO ${quoted} VALUES (3, 'g', 'h', 3, 'i')`);
      await db.query(`UPDATE ${quoted} SET ${quoteIdentifier(columns.mixed)} = 'changed' WHERE ${quoteIdentifier(columns.id)} = 1`);
      await db.query(`DELETE FROM ${quoted} WHERE ${quoteIdentifier(columns.id)} = 2`);
      await waitFor(() => commits(collected.pgoutput).length === 3, { what: 'three commits' });
      const relation = collected.pgoutput.find((m): m is RelationMessage => m.tag === 'relation')!;
      expect([relation.schema, relation.name]).toEqual([table.schema, table.name]);
      expect(relation.columns).toEqual(schema!.columns);
      const changes = collected.pgoutput.filter((m) => m.tag === 'insert' || m.tag === 'update' || m.tag === 'delete');
      expect(changes.map((m) => (m.tag === 'delete' ? m.key : m.new))).toEqual([
        { [columns.id]: 3, [columns.mixed]: 'g', [columns.quote]: 'h', [columns.dot]: 3, [columns.unicode]: 'i' },
        { [columns.id]: 1, [columns.mixed]: 'changed', [columns.quote]: 'b', [columns.dot]: 1, [columns.unicode]: 'c' },
        { [columns.id]: 2, [columns.mixed]: null, [columns.quote]: null, [columns.dot]: null, [columns.unicode]: null },
      ]);
    } finally {
      collected.subscription.unsubscribe();
    }
  });

  it('applies column lists and row filters naming such columns (15+)', async () => {
    const admin = await db.client();
    const { rows } = await admin.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
    const serverVersion = Number(rows[0]!.v);
    if (serverVersion < 150000) return;
    const key = formatTableName(table);
    const name = `${publicationName} cols`;
    const where = `${quoteIdentifier(columns.dot)} > 1 AND ${quoteIdentifier(columns.quote)} <> 'it''s'`;
    const first = await ensurePublication(admin, { name, create: true, tables: { [key]: { columns: [columns.id, columns.quote, columns.dot], where } } }, serverVersion);
    expect(first.statements).toHaveLength(1);
    const again = await ensurePublication(admin, { name, create: true, tables: { [key]: { columns: [columns.dot, columns.id, columns.quote], where } } }, serverVersion);
    expect(again.statements).toEqual([]);
    const [schema] = await describeTables(admin, [table], name);
    expect(schema!.columns.map((c) => c.name)).toEqual([columns.id, columns.quote, columns.dot]);
  });
});
