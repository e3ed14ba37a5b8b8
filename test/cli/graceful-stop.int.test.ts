// Acceptance: SIGINT/SIGTERM stop `laredo run` gracefully: exit 0, the final position confirmed to
// PostgreSQL, the temporary slot gone.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, testServer, uniqueName, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { CLI_FIXTURES, killAllCli, runCli, startCli, workingDirectory, type CliProcess } from './support/cli.js';
import { lsnValue, readLines, slotsOf } from './support/database.js';

const ITEMS = path.join(CLI_FIXTURES, 'items.conf');
const SPEC_EPHEMERAL = path.join(CLI_FIXTURES, 'spec-ephemeral.conf');

let db: TestDatabase;
let work: { dir: string; remove: () => Promise<void> };

beforeEach(async () => {
  db = await createTestDatabase('laredo_cli_stop');
  work = await workingDirectory();
  await db.query(`
    CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE notes (id int PRIMARY KEY, body text);
    CREATE TABLE config_document (id int PRIMARY KEY, instance_id int NOT NULL, status text NOT NULL, body jsonb);
    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 50) g;
    INSERT INTO config_document SELECT g, g % 3, 'active', '{}' FROM generate_series(1, 10) g;
  `);
});

afterEach(async () => {
  killAllCli();
  await db.drop();
  await work.remove();
});

/** The commit LSN of the last change in `file`, once `count` changes arrived there. */
async function lastCommitOnceWritten(file: string, count: number): Promise<bigint> {
  return waitFor(
    async () => {
      const changes = (await readLines(file)).flatMap((line) => (line.op === 'insert' ? [line.commit_lsn] : []));
      return changes.length >= count ? lsnValue(changes.at(-1)!) : undefined;
    },
    { timeoutMs: 30_000, what: `${count} inserts in ${file}` },
  );
}

function stoppedAt(cli: CliProcess): bigint {
  const stopped = cli.logs().find((record) => record.msg === 'source pg_main stopped');
  expect(stopped, cli.stderr()).toBeDefined();
  return lsnValue(stopped!['confirmed'] as string);
}

describe('laredo run stops gracefully', () => {
  it('on SIGINT (ephemeral, the specification\'s block): exit 0, the last change confirmed, the temporary slot gone', async () => {
    const cli = startCli(['run', '--config', SPEC_EPHEMERAL], { cwd: work.dir, env: { LAREDO_SOURCES_PG_MAIN_CONNECTION: db.connectionString } });
    await cli.waitForState('STREAMING');
    expect((await slotsOf(db)).map((slot) => [slot.temporary, slot.active])).toEqual([[true, true]]);
    await db.query(`INSERT INTO config_document SELECT g, 1, 'active', '{}' FROM generate_series(100, 119) g`);
    const lastCommit = await lastCommitOnceWritten(path.join(work.dir, 'config_document.jsonl'), 20);

    const exit = await cli.stop('SIGINT');

    expect(exit, cli.stderr()).toEqual({ code: 0, signal: null });
    // The commit record starts at commit_lsn; what was confirmed is its end, so strictly later.
    expect(stoppedAt(cli)).toBeGreaterThan(lastCommit);
    expect(await slotsOf(db)).toEqual([]);
    expect(cli.stdout()).toBe('');
  });

  it('on SIGTERM mid-load (stateful): exit 0, and the slot holds the final position as confirmed', async () => {
    const slotName = uniqueName('cli_stop');
    const cli = startCli(['run', '--config', ITEMS], {
      cwd: work.dir,
      env: { LAREDO_SOURCES_PG_MAIN_CONNECTION: db.connectionString, LAREDO_SOURCES_PG_MAIN_SLOT_NAME: slotName },
    });
    await cli.waitForState('STREAMING');
    // Transactions commit back to back, so confirmations are still coming in (and being coalesced)
    // when the stop arrives: the last of them must still reach the server.
    const writer = await db.client();
    const writing = { on: true, next: 1000 };
    const load = (async () => {
      while (writing.on) await writer.query(`INSERT INTO items VALUES ($1, 'live')`, [writing.next++]);
    })();
    const file = path.join(work.dir, 'changes.jsonl');
    await lastCommitOnceWritten(file, 30);

    const exit = await cli.stop('SIGTERM');
    writing.on = false;
    await load;

    expect(exit, cli.stderr()).toEqual({ code: 0, signal: null });
    const lastCommit = await lastCommitOnceWritten(file, 30);
    const [slot] = await slotsOf(db);
    expect(slot).toMatchObject({ slot_name: slotName, temporary: false, active: false });
    expect(lsnValue(slot!.confirmed_flush_lsn!)).toBe(stoppedAt(cli));
    expect(stoppedAt(cli)).toBeGreaterThan(lastCommit);
  });

  it('with --until-caught-up, run after run: each exits 0 having confirmed what it delivered, so nothing is delivered twice', async () => {
    const env = { LAREDO_SOURCES_PG_MAIN_CONNECTION: db.connectionString, LAREDO_SOURCES_PG_MAIN_SLOT_NAME: uniqueName('cli_caught_up') };
    const file = path.join(work.dir, 'changes.jsonl');
    const baseline = await runCli(['run', '--config', ITEMS, '--until-caught-up'], { cwd: work.dir, env });
    expect(baseline.code, baseline.stderr).toBe(0);
    for (let id = 1000; id < 1004; id++) {
      await db.query(`INSERT INTO items VALUES ($1, 'live')`, [id]);
      const run = await runCli(['run', '--config', ITEMS, '--until-caught-up'], { cwd: work.dir, env });
      expect(run.code, run.stderr).toBe(0);
      const inserts = (await readLines(file)).flatMap((line) => (line.op === 'insert' ? [line] : []));
      expect(inserts.map((line) => line.row['id'])).toEqual(Array.from({ length: id - 999 }, (_, index) => 1000 + index));
      const [slot] = await slotsOf(db);
      expect(lsnValue(slot!.confirmed_flush_lsn!)).toBeGreaterThan(lsnValue(inserts.at(-1)!.commit_lsn));
    }
  });

  it('on SIGTERM while waiting to reconnect: exit 0 at once, without reconnecting first', async () => {
    const cli = startCli(['run', '--config', ITEMS], {
      cwd: work.dir,
      env: {
        LAREDO_SOURCES_PG_MAIN_CONNECTION: db.connectionString,
        LAREDO_SOURCES_PG_MAIN_SLOT_MODE: 'ephemeral',
        LAREDO_SOURCES_PG_MAIN_SLOT_NAME: uniqueName('cli_stop'),
        // Far longer than the test waits: exiting in time proves the stop did not wait for the attempt.
        LAREDO_SOURCES_PG_MAIN_RECONNECT_INITIAL_BACKOFF: '5m',
        LAREDO_SOURCES_PG_MAIN_RECONNECT_MAX_BACKOFF: '5m',
      },
    });
    await cli.waitForState('STREAMING');
    await db.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = current_database() AND active_pid IS NOT NULL`);
    await cli.waitForState('RECONNECTING');

    const exit = await cli.stop('SIGTERM', 20_000);

    expect(exit, cli.stderr()).toEqual({ code: 0, signal: null });
    expect(cli.logs().filter((record) => record['state'] === 'CONNECTING')).toHaveLength(1);
    expect(await slotsOf(db)).toEqual([]);
    expect(cli.stderr()).not.toContain(testServer().password);
  });
});
