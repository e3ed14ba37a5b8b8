// Acceptance: `laredo check`, `laredo status` and `laredo reset-source` against a real server.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, testServer, uniqueName, type TestDatabase } from '../support/postgres.js';
import { CLI_FIXTURES, killAllCli, runCli, startCli, workingDirectory } from './support/cli.js';
import { lsnValue, publicationsOf, slotsOf } from './support/database.js';

const ITEMS = path.join(CLI_FIXTURES, 'items.conf');

let db: TestDatabase;
let work: { dir: string; remove: () => Promise<void> };
let env: Record<string, string>;
let slotName: string;

beforeEach(async () => {
  db = await createTestDatabase('laredo_cli_admin');
  work = await workingDirectory();
  slotName = uniqueName('cli_admin');
  env = { LAREDO_SOURCES_PG_MAIN_CONNECTION: db.connectionString, LAREDO_SOURCES_PG_MAIN_SLOT_NAME: slotName };
  await db.query(`
    CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE notes (id int PRIMARY KEY, body text);
    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 20) g;
  `);
});

afterEach(async () => {
  killAllCli();
  await db.drop();
  await work.remove();
});

const laredo = (args: string[], extraEnv: Record<string, string> = {}) => runCli(args, { cwd: work.dir, env: { ...env, ...extraEnv } });

interface StatusDocument {
  sources: {
    source: string;
    mode: string;
    error?: string;
    slot?: { name: string; exists: boolean; active?: boolean; confirmedLsn?: string | null; lagBytes?: number | null; walStatus?: string | null; safeWalSize?: number | null };
    publication?: { name: string; exists: boolean; publish?: string[]; tables?: { table: string; where: string | null; columns: string[] | null }[] };
    state?: { baselineComplete: boolean; tables: string[] } | null;
  }[];
}

async function status(): Promise<StatusDocument['sources'][number]> {
  const run = await laredo(['status', '--json', '--config', ITEMS]);
  expect(run.code, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as StatusDocument).sources[0]!;
}

describe('laredo check', () => {
  it('exits 0 on a server that can replicate the config, saying what the first run will do', async () => {
    const run = await laredo(['check', '--config', ITEMS]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`pg_main: publication ${slotName}_pub does not exist yet; laredo run creates it`);
    expect(run.stdout).toContain(`pg_main: slot ${slotName} does not exist yet; the first run creates it and takes a full baseline`);
    expect(run.stdout).toContain(`pg_main: ok (PostgreSQL ${testServer().major})`);
    expect(await slotsOf(db)).toEqual([]);
    expect(await publicationsOf(db)).toEqual([]);
  });

  it('exits 1 naming a table the server does not have, and what to do', async () => {
    await db.query('DROP TABLE notes');
    const run = await laredo(['check', '--config', ITEMS]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('laredo: pg_main: table "public"."notes" does not exist: create it or fix its name');
    expect(run.stdout).not.toContain('ok (PostgreSQL');
  });

  it('exits 1 when the server refuses the login, without printing the password', async () => {
    const wrong = db.connectionString.replace(encodeURIComponent(testServer().password), 'not-the-password-7c1');
    const run = await laredo(['check', '--config', ITEMS], { LAREDO_SOURCES_PG_MAIN_CONNECTION: wrong });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('PostgreSQL error 28P01');
    expect(run.stderr).toContain('check the user name and password');
    expect(run.stderr + run.stdout).not.toContain('not-the-password-7c1');
  });
});

describe('laredo status and reset-source', () => {
  it('show the slot, publication and state; reset-source refuses while the slot is active, then drops slot, state and publication', async () => {
    const before = await status();
    expect(before).toEqual({
      source: 'pg_main',
      mode: 'stateful',
      slot: { name: slotName, exists: false },
      publication: { name: `${slotName}_pub`, exists: false },
      state: null,
    });

    const first = await laredo(['run', '--config', ITEMS, '--until-caught-up']);
    expect(first.code, first.stderr).toBe(0);
    await db.query(`INSERT INTO items VALUES (100, 'after the run')`);
    const after = await status();
    expect(after.slot).toMatchObject({ name: slotName, exists: true, active: false, walStatus: 'reserved', safeWalSize: null });
    expect(after.slot?.lagBytes).toBeGreaterThan(0);
    const [slot] = await slotsOf(db);
    expect(after.slot?.confirmedLsn).toBe(slot!.confirmed_flush_lsn);
    expect(after.publication).toEqual({
      name: `${slotName}_pub`,
      exists: true,
      publish: ['insert', 'update', 'delete', 'truncate'],
      tables: [
        { table: 'public.items', where: null, columns: null },
        { table: 'public.notes', where: null, columns: null },
      ],
    });
    expect(after.state).toMatchObject({ baselineComplete: true, tables: ['public.items', 'public.notes'] });

    const table = await laredo(['status', '--config', ITEMS]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain(`source pg_main (stateful)`);
    expect(table.stdout).toContain(`slot         ${slotName}: inactive`);
    // The lag grows with every write on the server (other tests' too), so only its form is fixed.
    expect(table.stdout).toMatch(new RegExp(`confirmed    ${slot!.confirmed_flush_lsn!}   lag \\d{1,3}(,\\d{3})* bytes`));
    expect(table.stdout).toContain('wal_status   reserved   safe_wal_size unlimited');
    expect(table.stdout).toContain(`publication  ${slotName}_pub: publish insert, update, delete, truncate`);
    expect(table.stdout).toContain('state        baseline complete (2 tables)');

    // While a run reads the slot, reset-source refuses and changes nothing.
    const running = startCli(['run', '--config', ITEMS], { cwd: work.dir, env });
    await running.waitForState('STREAMING');
    expect((await status()).slot).toMatchObject({ active: true });
    const refused = await laredo(['reset-source', '--config', ITEMS, 'pg_main']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`laredo: slot ${slotName} is active \\(pid \\d+\\): stop the process reading it before resetting the source`));
    expect(await slotsOf(db)).toHaveLength(1);
    expect(await running.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const stopped = await slotsOf(db);
    expect(lsnValue(stopped[0]!.confirmed_flush_lsn!)).toBeGreaterThan(lsnValue(slot!.confirmed_flush_lsn!));

    const reset = await laredo(['reset-source', '--config', ITEMS, 'pg_main']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toContain(`pg_main: dropped slot ${slotName}`);
    expect(await slotsOf(db)).toEqual([]);
    expect(existsSync(path.join(work.dir, '.laredo-state', `${slotName}.json`))).toBe(false);
    expect(await publicationsOf(db)).toEqual([`${slotName}_pub`]);

    const dropPublication = await laredo(['reset-source', '--config', ITEMS, 'pg_main', '--drop-publication']);
    expect(dropPublication.code, dropPublication.stderr).toBe(0);
    expect(dropPublication.stdout).toContain(`pg_main: dropped publication ${slotName}_pub`);
    expect(await publicationsOf(db)).toEqual([]);
    expect(await status()).toEqual(before);

    // The next run starts over with a full baseline.
    const again = await laredo(['run', '--config', ITEMS, '--until-caught-up']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('"state":"BASELINING"');
  });

  it('status reports a source it cannot reach, exit 1, and goes on', async () => {
    const config = path.join(work.dir, 'two.conf');
    await writeFile(
      config,
      `sources {
        pg_main { type = postgresql, connection = \${MAIN_URL}, slot_mode = stateful, slot_name = ${slotName} }
        pg_gone { type = postgresql, connection = "postgresql://postgres:secret-9f2@127.0.0.1:1/nowhere" }
      }
      tables = [ { source = pg_main, table = items, targets = [ { type = jsonl, path = "x.jsonl" } ] }
                 { source = pg_gone, table = items, targets = [ { type = jsonl, path = "y.jsonl" } ] } ]`,
    );
    const run = await runCli(['status', '--json', '--config', config], { cwd: work.dir, env: { MAIN_URL: db.connectionString } });
    expect(run.code).toBe(1);
    const document = JSON.parse(run.stdout) as StatusDocument;
    const bySource = new Map(document.sources.map((s) => [s.source, s]));
    expect(bySource.get('pg_main')?.error).toBeUndefined();
    expect(bySource.get('pg_main')?.slot).toEqual({ name: slotName, exists: false });
    expect(bySource.get('pg_gone')?.error).toContain('postgresql://postgres:***@127.0.0.1:1/nowhere');
    expect(run.stdout + run.stderr).not.toContain('secret-9f2');
  });
});
