// Acceptance: the specification's configuration blocks run as written with `laredo run`.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, testServer, type TestDatabase } from '../support/postgres.js';
import { CLI_FIXTURES, killAllCli, runCli, workingDirectory } from './support/cli.js';
import { expectedRows, lsnValue, publicationsOf, readLines, rebuildFile, slotsOf } from './support/database.js';

const SPEC_STATEFUL = path.join(CLI_FIXTURES, 'spec-stateful.conf');
const major = testServer().major;

let db: TestDatabase;
let work: { dir: string; remove: () => Promise<void> };

beforeEach(async () => {
  db = await createTestDatabase('laredo_cli_spec');
  work = await workingDirectory();
  await db.query(`
    CREATE TABLE config_document (id int PRIMARY KEY, instance_id int NOT NULL, status text NOT NULL, body jsonb);
    CREATE TABLE rules (instance_id int, key text, data jsonb, internal_note text, PRIMARY KEY (instance_id, key));
    INSERT INTO config_document SELECT g, g % 3, CASE WHEN g % 2 = 0 THEN 'active' ELSE 'draft' END, jsonb_build_object('g', g) FROM generate_series(1, 40) g;
    INSERT INTO rules SELECT g % 4, 'key' || g, jsonb_build_object('g', g), 'not published ' || g FROM generate_series(1, 30) g;
  `);
});

afterEach(async () => {
  killAllCli();
  await db.drop();
  await work.remove();
});

/** The spec's connection line stays as written; the real one (with its password) comes from the environment. */
const env = (): Record<string, string> => ({ LAREDO_SOURCES_PG_MAIN_CONNECTION: db.connectionString });

/** What the publication sends of each table: the active documents, and the rules' published columns. */
async function expectedTables(): Promise<Record<string, unknown>> {
  return {
    'public.config_document': await expectedRows(db, `SELECT id, instance_id, status, body FROM config_document WHERE status = 'active'`, ['id']),
    'public.rules': await expectedRows(db, `SELECT instance_id, key, data FROM rules`, ['instance_id', 'key']),
  };
}

async function rebuiltTables(): Promise<Record<string, unknown>> {
  return {
    'public.config_document': (await rebuildFile(path.join(work.dir, 'config_document.jsonl'))).get('public.config_document'),
    'public.rules': (await rebuildFile(path.join(work.dir, 'rules.jsonl'))).get('public.rules'),
  };
}

describe.runIf(major >= 15)('the specification\'s stateful source with a row filter and a column list', () => {
  it('runs as written: a baseline of the filtered rows and listed columns, then (next run, no new baseline) every change', async () => {
    // A row filter on a non-key column: PostgreSQL refuses UPDATE and DELETE on the table unless the
    // column is part of the replica identity.
    await db.query('ALTER TABLE config_document REPLICA IDENTITY FULL');

    const first = await runCli(['run', '--config', SPEC_STATEFUL, '--until-caught-up'], { cwd: work.dir, env: env() });
    expect(first.code, first.stderr).toBe(0);
    const baseline = await readLines(path.join(work.dir, 'config_document.jsonl'));
    const baselineRows = baseline.flatMap((line) => (line.op === 'baseline' ? [line.row] : []));
    expect(baselineRows).toHaveLength(20);
    expect(baselineRows.every((row) => row['status'] === 'active')).toBe(true);
    const rules = await readLines(path.join(work.dir, 'rules.jsonl'));
    const ruleRow = rules.find((line) => line.op === 'baseline');
    expect(ruleRow?.op === 'baseline' && Object.keys(ruleRow.row).sort()).toEqual(['data', 'instance_id', 'key']);
    expect(await rebuiltTables()).toEqual(await expectedTables());

    await db.query(`
      INSERT INTO config_document VALUES (100, 1, 'active', '{"new": true}'), (101, 1, 'draft', '{}');
      UPDATE config_document SET status = 'active' WHERE id = 1;
      UPDATE config_document SET status = 'archived' WHERE id = 2;
      UPDATE config_document SET body = '{"edited": true}' WHERE id = 4;
      DELETE FROM config_document WHERE id IN (6, 7);
      INSERT INTO rules VALUES (9, 'fresh', '{"x": 1}', 'hidden');
      UPDATE rules SET data = '{"changed": true}', internal_note = 'still hidden' WHERE key = 'key1';
      DELETE FROM rules WHERE key = 'key2';
    `);
    const second = await runCli(['run', '--config', SPEC_STATEFUL, '--until-caught-up'], { cwd: work.dir, env: env() });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('"state":"BASELINING"');
    const lines = await readLines(path.join(work.dir, 'config_document.jsonl'));
    expect(lines.filter((line) => line.op === 'reset')).toHaveLength(1);
    expect(lines.filter((line) => line.op === 'insert' || line.op === 'update' || line.op === 'delete').length).toBeGreaterThan(0);
    expect(await rebuiltTables()).toEqual(await expectedTables());
    // --until-caught-up confirmed what it delivered before exiting: the next run has nothing to repeat.
    const changes = [...lines, ...(await readLines(path.join(work.dir, 'rules.jsonl')))].flatMap((line) =>
      line.op === 'insert' || line.op === 'update' || line.op === 'delete' ? [lsnValue(line.commit_lsn)] : [],
    );
    const [slot] = await slotsOf(db);
    expect(slot).toMatchObject({ slot_name: 'laredo_warden_01', active: false });
    expect(lsnValue(slot!.confirmed_flush_lsn!)).toBeGreaterThan(changes.reduce((a, b) => (a > b ? a : b)));

    // status shows the publication laredo made from the spec's block.
    const status = await runCli(['status', '--json', '--config', SPEC_STATEFUL], { cwd: work.dir, env: env() });
    expect(status.code, status.stderr).toBe(0);
    const [source] = (JSON.parse(status.stdout) as { sources: { publication: unknown; slot: unknown }[] }).sources;
    expect(source?.publication).toEqual({
      name: 'laredo_warden_01_pub',
      exists: true,
      publish: ['insert', 'update', 'delete', 'truncate'],
      tables: [
        { table: 'public.config_document', where: "(status = 'active'::text)", columns: null },
        { table: 'public.rules', where: null, columns: ['instance_id', 'key', 'data'] },
      ],
    });
    expect(source?.slot).toMatchObject({ name: 'laredo_warden_01', exists: true, active: false, walStatus: 'reserved' });
  });
});

describe.runIf(major < 15)('the specification\'s stateful source on PostgreSQL 14', () => {
  it('fails with the typed error naming the table and the version, and creates nothing', async () => {
    const run = await runCli(['run', '--config', SPEC_STATEFUL, '--until-caught-up'], { cwd: work.dir, env: env() });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('"code":"PUBLICATION_UNSUPPORTED"');
    expect(run.stderr).toContain('table public.config_document: row filters (where) need PostgreSQL 15 or later, the server is 14');
    expect(run.stderr).not.toContain(testServer().password);
    expect(await slotsOf(db)).toEqual([]);
    expect(await publicationsOf(db)).toEqual([]);
    expect(await readdir(work.dir)).toEqual([]);
    expect(existsSync(path.join(work.dir, '.laredo-state'))).toBe(false);
  });
});
