// The jsonl target fed with what a real PostgreSQL sends: every type class written as documented, and
// the tables rebuilt from the file equal to what SELECT returns.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TargetMessage } from '../../../src/model/events.js';
import { jsonlTarget, readJsonl, rebuildTables, type JsonlLine } from '../../../src/targets/jsonl/index.js';
import { createTestDatabase, testServer, type TestDatabase } from '../../support/postgres.js';
import { durable } from '../fixtures.js';
import { captureWorkload, laredoSession, SCHEMA_SQL, selectRows, TABLES } from './support/real-changes.js';

let db: TestDatabase;
let session: pg.Client;
let directory: string;
let events: TargetMessage[];
let lines: JsonlLine[];

beforeAll(async () => {
  db = await createTestDatabase('laredo_jsonl');
  directory = await mkdtemp(join(tmpdir(), 'laredo-jsonl-int-'));
  session = await laredoSession(db);
  await db.query(SCHEMA_SQL);
  events = await captureWorkload(db, session);
  const path = join(directory, 'changes.jsonl');
  const target = jsonlTarget({ path, source: 'pg', flushIntervalMs: 5 });
  // Batches as the actor would cut them: some end inside a transaction.
  const writes: Promise<unknown>[] = [];
  for (let start = 0; start < events.length; start += 3) writes.push(durable(target.write(events.slice(start, start + 3))));
  await Promise.all(writes);
  await target.close();
  lines = await readJsonl(path);
});

afterAll(async () => {
  await db.drop();
  await rm(directory, { recursive: true, force: true });
});

describe(`jsonl target on PostgreSQL ${testServer().major}`, () => {
  it('writes every type class as documented', () => {
    const first = lines.find((line) => line.op === 'insert' && line.table === 'public.every_type' && line.row.id === 1);
    expect(first).toBeDefined();
    const row = first!.op === 'insert' ? first!.row : {};
    expect(row).toMatchObject({
      b: true,
      i2: -32768,
      i8: '9223372036854775807',
      f4: 'NaN',
      f8: '-Infinity',
      n: '12345678901234567890.123456789012345678901',
      t: 'héllo\nworld "quoted"',
      vc: 'short',
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      j: { a: [1, 2.5e300] },
      jb: { b: { c: null } },
      raw: '\\x00ff10',
      d: '2024-02-29',
      ts: '2024-01-02T03:04:05.123456',
      tstz: '2024-01-02T01:04:05.123456Z',
      arr: [1, null, 3],
      arr2: [
        ['a', 'b'],
        ['c', null],
      ],
      m: 'happy',
      big: 'x'.repeat(5000),
    });
    expect(typeof row.tm).toBe('string');
    expect(typeof row.iv).toBe('string');
    const second = lines.find((line) => line.op === 'insert' && line.row.id === 2);
    expect(second).toMatchObject({ row: { f4: '-0', f8: 'Infinity', n: 'NaN', i8: '-9223372036854775808', raw: '\\x', jb: 'just a string', j: [], arr: [] } });
  });

  it('writes an update that left a TOASTed value alone without it, naming it in "unchanged"', () => {
    const update = lines.find((line) => line.op === 'update' && line.table === 'public.every_type' && line.row.t === 'changed, big untouched');
    expect(update).toMatchObject({ unchanged: ['big'] });
    expect(update?.op === 'update' && 'big' in update.row).toBe(false);
  });

  it('writes nothing of rolled-back work and keeps each transaction together', () => {
    const ids = lines.flatMap((line) => (line.op === 'insert' && line.table === 'public.every_type' ? [line.row.id] : []));
    expect(ids).toEqual([1, 2, 3, 4, 6]);
    const commitLsns = lines.flatMap((line) => {
      const commitLsn = (line as { commit_lsn?: string }).commit_lsn;
      return commitLsn === undefined ? [] : [commitLsn];
    });
    // One run per transaction: a commit_lsn never comes back after another one started.
    expect(commitLsns.filter((lsn, index) => index === 0 || lsn !== commitLsns[index - 1])).toEqual([...new Set(commitLsns)]);
  });

  it('rebuilds every table exactly as SELECT returns it', async () => {
    const rebuilt = rebuildTables(lines);
    for (const table of TABLES) {
      const fromFile = [...(rebuilt.get(table)?.values() ?? [])].map((row) => JSON.stringify(row)).sort();
      expect(fromFile, table).toEqual(await selectRows(session, table));
    }
    expect(rebuilt.get('public.scratch')?.size).toBe(1);
  });
});
