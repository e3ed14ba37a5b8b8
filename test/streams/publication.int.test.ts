import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PublishOperation } from '../../src/source/options.js';
import { PublicationError } from '../../src/streams/errors.js';
import { ensurePublication, readPublication, type PublicationConfig } from '../../src/streams/publication.js';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/postgres.js';

let db: TestDatabase;
let serverVersion: number;
const modern = () => serverVersion >= 150000;

beforeAll(async () => {
  db = await createTestDatabase('laredo_pub');
  const { rows } = await db.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  serverVersion = Number(rows[0]!.v);
  await db.query('CREATE TABLE docs (id int PRIMARY KEY, status text, body text)');
  await db.query('CREATE TABLE rules (instance_id int, key text, data jsonb, secret text, PRIMARY KEY (instance_id, key))');
  await db.query('CREATE TABLE extra (id int PRIMARY KEY, note text)');
});

afterAll(async () => {
  await db.drop();
});

interface Observed {
  publish: PublishOperation[];
  tables: Record<string, { where: string | null; columns: string[] | null }>;
}

/** What the server reports, straight from pg_publication and pg_publication_tables. */
async function observe(name: string): Promise<Observed> {
  const { rows: [flags] } = await db.query<{ pubinsert: boolean; pubupdate: boolean; pubdelete: boolean; pubtruncate: boolean }>(
    'SELECT pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname = $1',
    [name],
  );
  const publish = (['insert', 'update', 'delete', 'truncate'] as const).filter((op) => flags![`pub${op}`]);
  const { rows } = await db.query<{ schemaname: string; tablename: string; rowfilter?: string | null; attnames?: string[] | null }>(
    modern()
      ? 'SELECT schemaname, tablename, rowfilter, attnames::text[] AS attnames FROM pg_publication_tables WHERE pubname = $1'
      : 'SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1',
    [name],
  );
  const { rows: all } = await db.query<{ relname: string; attnames: string[] }>(
    `SELECT c.relname, array_agg(a.attname::text ORDER BY a.attnum) AS attnames FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
      WHERE c.relname IN ('docs', 'rules', 'extra') AND a.attnum > 0 AND NOT a.attisdropped GROUP BY c.relname`,
  );
  const everyColumn = new Map(all.map((r) => [r.relname, r.attnames]));
  const tables: Observed['tables'] = {};
  for (const row of rows) {
    const columns = row.attnames ?? null;
    tables[`${row.schemaname}.${row.tablename}`] = {
      where: row.rowfilter ?? null,
      // pg_publication_tables lists every column when there is no column list.
      columns: columns !== null && columns.join() === everyColumn.get(row.tablename)?.join() ? null : columns,
    };
  }
  return { publish, tables };
}

async function ensure(config: Omit<PublicationConfig, 'create'> & { create?: boolean }) {
  const client = await db.client();
  return ensurePublication(client, { create: true, ...config }, serverVersion);
}

describe('ensurePublication (create = true)', () => {
  it('creates, then adds and drops tables, changes filters, column lists and publish, matching the config each time', async () => {
    const name = uniqueName('pub');
    // Create.
    let result = await ensure({ name, publish: ['insert', 'update'], tables: { 'public.docs': {} } });
    expect(result.statements).toHaveLength(1);
    expect(await observe(name)).toEqual({ publish: ['insert', 'update'], tables: { 'public.docs': { where: null, columns: null } } });
    // Unchanged config: nothing runs.
    result = await ensure({ name, publish: ['insert', 'update'], tables: { 'public.docs': {} } });
    expect(result.statements).toEqual([]);
    // Add a table.
    await ensure({ name, publish: ['insert', 'update'], tables: { 'public.docs': {}, 'public.rules': {} } });
    expect(Object.keys((await observe(name)).tables).sort()).toEqual(['public.docs', 'public.rules']);
    // Drop a table.
    await ensure({ name, publish: ['insert', 'update'], tables: { 'public.rules': {} } });
    expect(Object.keys((await observe(name)).tables)).toEqual(['public.rules']);
    // Change publish.
    await ensure({ name, publish: ['insert', 'update', 'delete', 'truncate'], tables: { 'public.rules': {} } });
    expect((await observe(name)).publish).toEqual(['insert', 'update', 'delete', 'truncate']);
    expect((await readPublication(await db.client(), name))?.publish).toEqual(['insert', 'update', 'delete', 'truncate']);

    if (!modern()) return;
    // A row filter.
    await ensure({ name, tables: { 'public.rules': {}, 'public.docs': { where: "status = 'active'" } } });
    expect((await observe(name)).tables['public.docs']!.where).toBe("(status = 'active'::text)");
    // The same filter, written as the config has it, compares equal to the server's deparsed form.
    result = await ensure({ name, tables: { 'public.rules': {}, 'public.docs': { where: "status = 'active'" } } });
    expect(result.statements).toEqual([]);
    // Change the filter.
    await ensure({ name, tables: { 'public.rules': {}, 'public.docs': { where: "status IN ('active', 'draft')" } } });
    expect((await observe(name)).tables['public.docs']!.where).toContain('draft');
    // A column list, then a different one, then none.
    await ensure({ name, tables: { 'public.rules': { columns: ['instance_id', 'key', 'data'] }, 'public.docs': {} } });
    expect(await observe(name)).toEqual({
      publish: ['insert', 'update', 'delete', 'truncate'],
      tables: { 'public.rules': { where: null, columns: ['instance_id', 'key', 'data'] }, 'public.docs': { where: null, columns: null } },
    });
    result = await ensure({ name, tables: { 'public.rules': { columns: ['key', 'data', 'instance_id'] }, 'public.docs': {} } });
    expect(result.statements).toEqual([]);
    await ensure({ name, tables: { 'public.rules': { columns: ['instance_id', 'key'] }, 'public.docs': {} } });
    expect((await observe(name)).tables['public.rules']!.columns).toEqual(['instance_id', 'key']);
    await ensure({ name, tables: { 'public.rules': {}, 'public.docs': {} } });
    expect((await observe(name)).tables['public.rules']!.columns).toBeNull();
    // No tables at all.
    await ensure({ name, tables: {} });
    expect((await observe(name)).tables).toEqual({});
  });

  it('refuses row filters and column lists before 15 with PUBLICATION_UNSUPPORTED naming the table and version', async () => {
    if (modern()) {
      // On 15+ the same config is accepted.
      await ensure({ name: uniqueName('pub'), tables: { 'public.docs': { where: 'id > 0' }, 'public.rules': { columns: ['instance_id', 'key'] } } });
      return;
    }
    const name = uniqueName('pub');
    for (const options of [{ where: 'id > 0' }, { columns: ['id'] }]) {
      const error = await ensure({ name, tables: { 'public.docs': options } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PublicationError);
      expect((error as PublicationError).code).toBe('PUBLICATION_UNSUPPORTED');
      expect((error as Error).message).toContain('public.docs');
      expect((error as Error).message).toContain('PostgreSQL 15');
      expect((error as Error).message).toContain('is 14');
    }
    expect(await readPublication(await db.client(), name)).toBeUndefined();
  });

  it('names a table that does not exist', async () => {
    const error = await ensure({ name: uniqueName('pub'), tables: { 'public.Docs': {} } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublicationError);
    expect((error as PublicationError).code).toBe('PUBLICATION_NO_SUCH_TABLE');
    expect((error as PublicationError).table).toBe('public.Docs');
  });

  it('refuses to manage a FOR ALL TABLES publication', async () => {
    const name = uniqueName('pub');
    await db.query(`CREATE PUBLICATION ${name} FOR ALL TABLES`);
    const error = await ensure({ name, tables: { 'public.docs': {} } }).catch((e: unknown) => e);
    expect((error as PublicationError).code).toBe('PUBLICATION_ALL_TABLES');
    await db.query(`DROP PUBLICATION ${name}`);
  });
});

describe('ensurePublication (create = false)', () => {
  it('requires the publication to exist', async () => {
    const error = await ensure({ name: 'laredo_missing_pub', create: false, tables: { 'public.docs': {} } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublicationError);
    expect((error as PublicationError).code).toBe('PUBLICATION_MISSING');
    expect((error as Error).message).toContain('laredo_missing_pub');
  });

  it('requires every configured table to be published, naming the one that is not, and changes nothing', async () => {
    const name = uniqueName('pub');
    await db.query(`CREATE PUBLICATION ${name} FOR TABLE docs`);
    const ok = await ensure({ name, create: false, tables: { 'public.docs': {} } });
    expect(ok.statements).toEqual([]);
    expect(ok.state.publishedTables).toEqual(['public.docs']);
    const error = await ensure({ name, create: false, tables: { 'public.docs': {}, 'public.extra': {} } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublicationError);
    expect((error as PublicationError).code).toBe('PUBLICATION_TABLE_MISSING');
    expect((error as PublicationError).table).toBe('public.extra');
    expect((error as Error).message).toContain('public.extra');
    expect(Object.keys((await observe(name)).tables)).toEqual(['public.docs']);
  });
});

describe('readPublication', () => {
  it('reports tables, filters, column lists and publish flags', async () => {
    const name = uniqueName('pub');
    await db.query(modern() ? `CREATE PUBLICATION ${name} FOR TABLE docs WHERE (id > 5), rules (instance_id, key) WITH (publish = 'insert')` : `CREATE PUBLICATION ${name} FOR TABLE docs, rules WITH (publish = 'insert')`);
    const state = await readPublication(await db.client(), name);
    expect(state).toMatchObject({ name, allTables: false, publish: ['insert'], schemas: [] });
    expect(state!.tables).toEqual([
      { schema: 'public', name: 'docs', key: 'public.docs', rowFilter: modern() ? '(id > 5)' : null, columns: null },
      { schema: 'public', name: 'rules', key: 'public.rules', rowFilter: null, columns: modern() ? ['instance_id', 'key'] : null },
    ]);
    expect(await readPublication(await db.client(), 'laredo_nope')).toBeUndefined();
  });
});
