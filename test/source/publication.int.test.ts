// "Publication management", sentence by sentence, and the specification's config examples run as
// written (only the connection, slot and publication names are the test's own).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { pg, type PostgresSourceOptions } from '../../src/source/index.js';
import { PublicationError } from '../../src/streams/errors.js';
import { memoryTarget, type MemoryTarget } from '../../src/targets/memory/index.js';
import { createTestDatabase, testServer, uniqueName, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { byId, runSource, slotOf, stopAll, temporaryStateDir, type RunningSource } from './support/harness.js';

const major = testServer().major;
let db: TestDatabase;
let state: { dir: string; remove: () => Promise<void> };
const running: RunningSource[] = [];

beforeEach(async () => {
  db = await createTestDatabase('laredo_publication');
  state = await temporaryStateDir();
  await db.query(`CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, body text)`);
  await db.query(`CREATE TABLE extra (id int PRIMARY KEY, v int NOT NULL, body text)`);
  await db.query(`INSERT INTO items SELECT g, 0, 'item ' || g FROM generate_series(1, 50) g`);
  await db.query(`INSERT INTO extra SELECT g, 0, 'extra ' || g FROM generate_series(1, 50) g`);
  // The specification's example tables.
  await db.query(`CREATE TABLE config_document (id int PRIMARY KEY, status text NOT NULL, body text)`);
  // A row filter on a column outside the key needs the whole old row for updates and deletes.
  await db.query(`ALTER TABLE config_document REPLICA IDENTITY FULL`);
  await db.query(`CREATE TABLE rules (instance_id int, key text, data jsonb, secret text, PRIMARY KEY (instance_id, key))`);
  await db.query(`INSERT INTO config_document SELECT g, CASE WHEN g % 2 = 0 THEN 'active' ELSE 'draft' END, 'doc ' || g FROM generate_series(1, 20) g`);
  await db.query(`INSERT INTO rules SELECT g % 3, 'k' || g, jsonb_build_object('n', g), 'hidden ' || g FROM generate_series(1, 12) g`);
});

afterEach(async () => {
  await stopAll(running);
  await db.drop();
  await state.remove();
});

async function publishedTables(publication: string): Promise<string[]> {
  const { rows } = await db.query<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`, [publication]);
  return rows.map((r) => r.t);
}

async function streamOnce(options: PostgresSourceOptions, target: MemoryTarget = memoryTarget()): Promise<RunningSource> {
  const run = runSource(pg.source(options), [target]);
  running.push(run);
  await waitFor(() => run.source.state === 'STREAMING', { what: 'STREAMING' });
  return run;
}

describe('Publication management: When create = true, Laredo auto-creates and manages a publication', () => {
  it('Creates the publication on first startup (named <slot_name>_pub, publishing insert, update, delete, truncate)', async () => {
    const slotName = uniqueName('pub');
    expect((await db.query(`SELECT 1 FROM pg_publication`)).rowCount).toBe(0);
    const run = await streamOnce({ connection: db.connectionString, slotMode: 'stateful', slotName, stateDir: state.dir, publication: { create: true, tables: { 'public.items': {} } } });
    const { rows } = await db.query(`SELECT pubname, pubinsert, pubupdate, pubdelete, pubtruncate, puballtables FROM pg_publication`);
    expect(rows).toEqual([{ pubname: `${slotName}_pub`, pubinsert: true, pubupdate: true, pubdelete: true, pubtruncate: true, puballtables: false }]);
    expect(await publishedTables(`${slotName}_pub`)).toEqual(['public.items']);
    await run.stop();
  });

  it('Adds/removes tables when the config changes', async () => {
    const base = { connection: db.connectionString, slotMode: 'stateful' as const, slotName: uniqueName('pub'), stateDir: state.dir };
    const publication = `${base.slotName}_pub`;
    const target = memoryTarget();
    await (await streamOnce({ ...base, publication: { tables: { 'public.items': {} } } }, target)).stop();
    expect(await publishedTables(publication)).toEqual(['public.items']);
    await (await streamOnce({ ...base, publication: { tables: { 'public.items': {}, 'public.extra': {} } } }, target)).stop();
    expect(await publishedTables(publication)).toEqual(['public.extra', 'public.items']);
    const run = await streamOnce({ ...base, publication: { tables: { 'public.extra': {} } } }, target);
    expect(await publishedTables(publication)).toEqual(['public.extra']);
    // What the publication no longer covers is no longer streamed.
    await db.query(`INSERT INTO items VALUES (1000, 1, 'not published any more')`);
    await db.query(`INSERT INTO extra VALUES (1000, 1, 'published')`);
    await waitFor(() => target.get('public.extra', 1000) !== undefined, { what: 'the insert into extra' });
    expect(target.get('public.items', 1000)).toBeUndefined();
    await run.stop();
  });

  it('two ephemeral sources without slot names and with different tables in one database each keep their own publication', async () => {
    const itemsTarget = memoryTarget();
    const extraTarget = memoryTarget();
    const items = await streamOnce({ connection: db.connectionString, publication: { tables: { 'public.items': {} } } }, itemsTarget);
    const extra = await streamOnce({ connection: db.connectionString, publication: { tables: { 'public.extra': {} } } }, extraTarget);
    expect(items.source.options.publication.name).not.toBe(extra.source.options.publication.name);
    await db.query(`INSERT INTO items VALUES (2000, 1, 'for the first')`);
    await db.query(`INSERT INTO extra VALUES (2000, 1, 'for the second')`);
    await waitFor(() => itemsTarget.get('public.items', 2000) !== undefined && extraTarget.get('public.extra', 2000) !== undefined, {
      what: 'each source streaming its own table',
    });
    await items.stop();
    await extra.stop();
  });

  it('publish limits the operations streamed (publish = insert)', async () => {
    const target = memoryTarget();
    const run = await streamOnce({ connection: db.connectionString, publication: { publish: ['insert'], tables: { 'public.items': {} } } }, target);
    await db.query(`UPDATE items SET v = 9 WHERE id = 1`);
    await db.query(`INSERT INTO items VALUES (1001, 1, 'inserted')`);
    await waitFor(() => target.get('public.items', 1001) !== undefined, { what: 'the insert' });
    expect(target.get('public.items', 1)).toMatchObject({ v: 0 });
    await run.stop();
  });

  it('create = false: the publication must exist (PUBLICATION_MISSING, at once) and is used as it is', async () => {
    const options: PostgresSourceOptions = {
      connection: db.connectionString,
      publication: { name: 'dba_owned', create: false, tables: { 'public.items': {} } },
      reconnect: { initialBackoff: 10, jitter: false },
    };
    const missing = runSource(pg.source(options), [memoryTarget()]);
    running.push(missing);
    const error = await missing.failure();
    expect(error).toBeInstanceOf(PublicationError);
    expect((error as PublicationError).code).toBe('PUBLICATION_MISSING');
    expect((error as PublicationError).message).toMatch(/CREATE PUBLICATION "?dba_owned"? FOR TABLE/);

    await db.query(`CREATE PUBLICATION dba_owned FOR TABLE items, extra`);
    const run = await streamOnce(options);
    expect(await publishedTables('dba_owned')).toEqual(['public.extra', 'public.items']);
    await run.stop();
  });
});

describe('Supports row filters and column lists (PostgreSQL 15+)', () => {
  const filtered = {
    'public.config_document': { where: "status = 'active'" },
    'public.rules': { columns: ['instance_id', 'key', 'data'] },
  };

  it.skipIf(major < 15)('a row filter and a column list shape both the baseline and the stream', async () => {
    const target = memoryTarget();
    const run = await streamOnce({ connection: db.connectionString, publication: { tables: filtered } }, target);
    const activeDocuments = async () => (await db.query(`SELECT id, status, body FROM config_document WHERE status = 'active' ORDER BY id`)).rows;
    const publishedRules = async () => (await db.query(`SELECT instance_id, key, data FROM rules ORDER BY instance_id, key`)).rows;
    const sortRules = (rows: readonly Record<string, unknown>[]) =>
      [...rows].sort((a, b) => Number(a['instance_id']) - Number(b['instance_id']) || String(a['key']).localeCompare(String(b['key'])));

    expect(byId(target.rows('public.config_document'))).toEqual(await activeDocuments());
    expect(sortRules(target.rows('public.rules'))).toEqual(await publishedRules());

    // Into the filter, out of it, and never in it; pgoutput turns the crossings into insert and delete.
    await db.query(`UPDATE config_document SET status = 'active' WHERE id = 1`);
    await db.query(`UPDATE config_document SET status = 'archived' WHERE id = 2`);
    await db.query(`INSERT INTO config_document VALUES (100, 'draft', 'never active'), (101, 'active', 'new')`);
    await db.query(`UPDATE rules SET data = '{"n": -1}', secret = 'still hidden' WHERE key = 'k1'`);
    await db.query(`INSERT INTO rules VALUES (9, 'k99', '{}', 'hidden')`);
    await waitFor(async () => JSON.stringify(byId(target.rows('public.config_document'))) === JSON.stringify(await activeDocuments()), {
      what: 'the filtered table',
    });
    await waitFor(async () => JSON.stringify(sortRules(target.rows('public.rules'))) === JSON.stringify(await publishedRules()), {
      what: 'the column-listed table',
    });
    expect(target.rows('public.rules').every((row) => !('secret' in row))).toBe(true);
    await run.stop();
  });

  it.skipIf(major >= 15)('on PostgreSQL 14, a row filter or column list fails at once with PUBLICATION_UNSUPPORTED naming the table', async () => {
    const run = runSource(pg.source({ connection: db.connectionString, publication: { tables: filtered }, reconnect: { initialBackoff: 10, jitter: false } }), [memoryTarget()]);
    running.push(run);
    const error = await run.failure();
    expect(error).toBeInstanceOf(PublicationError);
    expect((error as PublicationError).code).toBe('PUBLICATION_UNSUPPORTED');
    expect((error as PublicationError).message).toMatch(/public\.config_document.*PostgreSQL 15/);
    expect(run.states).not.toContain('RECONNECTING');
  });
});

describe("the specification's config examples, loaded from HOCON and run", () => {
  async function configFile(text: string): Promise<string> {
    const file = path.join(state.dir, 'laredo.conf');
    await writeFile(file, text);
    return file;
  }

  it('Ephemeral mode example (slot_mode = ephemeral): temporary slot, full baseline, stream', async () => {
    const file = await configFile(`sources {
pg_main {
type = postgresql
connection = "${db.connectionString}"
slot_mode = ephemeral
publication { tables { "public.items" {} } }
}
}
`);
    const config = await loadConfig(file, {});
    const target = memoryTarget();
    const run = await streamOnce({ ...config.sources['pg_main']!, stateDir: state.dir }, target);
    expect(target.size('public.items')).toBe(50);
    const [slot] = (await db.query(`SELECT temporary FROM pg_replication_slots WHERE database = current_database()`)).rows;
    expect(slot).toEqual({ temporary: true });
    await run.stop();
  });

  it('Stateful mode example: the named slot, the named publication, the reconnect block', async () => {
    const slotName = uniqueName('laredo_warden');
    const file = await configFile(`sources {
pg_main {
type = postgresql
connection = "${db.connectionString}"
slot_mode = stateful
slot_name = ${slotName}
publication {
name = ${slotName}_pub
create = true
publish = "insert, update, delete, truncate"
tables { "public.items" {} }
}
reconnect {
max_attempts = 10
initial_backoff = 1s
max_backoff = 60s
backoff_multiplier = 2.0
}
}
}
`);
    const config = await loadConfig(file, {});
    const source = pg.source({ ...config.sources['pg_main']!, stateDir: state.dir });
    expect(source.options.reconnect).toMatchObject({ maxAttempts: 10, initialBackoff: 1000, maxBackoff: 60_000, multiplier: 2 });
    const run = runSource(source, [memoryTarget()]);
    running.push(run);
    await waitFor(() => source.state === 'STREAMING', { what: 'STREAMING' });
    expect(await slotOf(db, slotName)).toMatchObject({ temporary: false, plugin: 'pgoutput' });
    expect(await publishedTables(`${slotName}_pub`)).toEqual(['public.items']);
    await run.stop();
  });

  it('Publication management example: the row filter and the column list reach the publication (PostgreSQL 15+)', async () => {
    const file = await configFile(`sources {
pg_main {
type = postgresql
connection = "${db.connectionString}"
publication {
create = true
tables {
"public.config_document" {
where = "status = 'active'" # row filter (PG 15+)
}
"public.rules" {
columns = [instance_id, key, data] # column list (PG 15+)
}
}
}
}
}
`);
    const options = (await loadConfig(file, {})).sources['pg_main']!;
    expect(options.publication?.tables).toEqual({
      'public.config_document': { where: "status = 'active'" },
      'public.rules': { columns: ['instance_id', 'key', 'data'] },
    });
    const run = runSource(pg.source({ ...options, stateDir: state.dir, reconnect: { initialBackoff: 10, jitter: false } }), [memoryTarget()]);
    running.push(run);
    if (major < 15) {
      expect(await run.failure()).toMatchObject({ code: 'PUBLICATION_UNSUPPORTED' });
      return;
    }
    await waitFor(() => run.source.state === 'STREAMING', { what: 'STREAMING' });
    const { rows } = await db.query(
      `SELECT tablename, rowfilter, to_json(attnames) AS attnames FROM pg_publication_tables WHERE pubname = $1 ORDER BY tablename`,
      [run.source.options.publication.name],
    );
    expect(rows).toEqual([
      { tablename: 'config_document', rowfilter: "(status = 'active'::text)", attnames: ['id', 'status', 'body'] },
      { tablename: 'rules', rowfilter: null, attnames: ['instance_id', 'key', 'data'] },
    ]);
    await run.stop();
  });
});
