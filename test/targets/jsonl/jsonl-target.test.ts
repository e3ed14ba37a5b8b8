import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TargetMessage } from '../../../src/model/events.js';
import { UNCHANGED_TOAST } from '../../../src/protocol/row.js';
import { jsonlTarget, JsonlTargetError, readJsonl, type JsonlTargetOptions } from '../../../src/targets/jsonl/index.js';
import { waitFor } from '../../support/wait.js';
import {
  baseline,
  baselineComplete,
  begin,
  commit,
  commitTimeOf,
  committed,
  committedInserts,
  durable,
  insert,
  INT4,
  items,
  remove,
  reset,
  rollback,
  table,
  TEXT,
  truncate,
  update,
  watch,
  writeThroughActor,
} from '../fixtures.js';

let directory: string;
let path: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'laredo-jsonl-'));
  path = join(directory, 'changes.jsonl');
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

function target(options: Partial<JsonlTargetOptions> = {}) {
  return jsonlTarget({ path, source: 'pg_main', flushIntervalMs: 5, ...options });
}

async function fileLines(): Promise<Record<string, unknown>[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** An fsync the test lets through one call at a time. */
function heldFsync() {
  const calls: { resolve: () => void; reject: (error: Error) => void }[] = [];
  let entered = 0;
  const fsync = (file: FileHandle): Promise<void> => {
    entered++;
    return new Promise<void>((resolve, reject) => {
      calls.push({ resolve: () => void file.datasync().then(resolve, reject), reject });
    });
  };
  return {
    fsync,
    get entered() {
      return entered;
    },
    releaseAll() {
      for (const call of calls.splice(0)) call.resolve();
    },
    failNext(error: Error) {
      calls.shift()?.reject(error);
    },
  };
}

describe('jsonlTarget line format', () => {
  it('writes reset, schema, baseline rows and baseline_complete lines in delivery order', async () => {
    const jsonl = target();
    await durable(jsonl.write([reset(items), baseline(items, [{ id: 1, name: 'a', data: { x: 1 } }, { id: 2, name: null, data: [1, 'two'] }]), baselineComplete(items, 2)]));
    await jsonl.close();
    expect(await fileLines()).toEqual([
      { op: 'reset', source: 'pg_main', table: 'public.items' },
      {
        op: 'schema',
        source: 'pg_main',
        table: 'public.items',
        relation_id: 16384,
        replica_identity: 'default',
        columns: [
          { name: 'id', type_oid: 23, type_mod: -1, key: true },
          { name: 'name', type_oid: 25, type_mod: -1, key: false },
          { name: 'data', type_oid: 3802, type_mod: -1, key: false },
        ],
        key: ['id'],
      },
      { op: 'baseline', source: 'pg_main', table: 'public.items', row: { id: 1, name: 'a', data: { x: 1 } } },
      { op: 'baseline', source: 'pg_main', table: 'public.items', row: { id: 2, name: null, data: [1, 'two'] } },
      { op: 'baseline_complete', source: 'pg_main', table: 'public.items', rows: 2 },
    ]);
  });

  it('writes the exact documented text for an insert', async () => {
    const jsonl = target();
    const change = insert(7, items, { id: 1, name: 'a', data: null });
    await durable(jsonl.write([begin(7), change, commit(7)]));
    await jsonl.close();
    const text = (await readFile(path, 'utf8')).split('\n')[1];
    expect(text).toBe(
      `{"op":"insert","source":"pg_main","table":"public.items","lsn":"0/${change.lsn.toString(16).toUpperCase()}","xid":7,` +
        `"row":{"id":1,"name":"a","data":null},"commit_lsn":"1/700","commit_time":"${commitTimeOf(7)}"}`,
    );
  });

  it('writes no line for a begin and writes a transaction only once its commit arrives', async () => {
    const jsonl = target();
    await durable(jsonl.write([begin(10), insert(10, items, { id: 1, name: 'a', data: null })]));
    // The batch ends inside the transaction: answered at once, nothing of the transaction written.
    expect(jsonl.openTransactions).toBe(1);
    await durable(jsonl.write([update(10, items, { id: 1, name: 'b', data: null }), commit(10)]));
    await jsonl.close();
    const lines = await fileLines();
    expect(lines.map((line) => line.op)).toEqual(['schema', 'insert', 'update']);
    expect(lines[1]).toMatchObject({ xid: 10, commit_lsn: '1/A00', commit_time: commitTimeOf(10) });
    expect(lines[2]).toMatchObject({ row: { id: 1, name: 'b', data: null } });
    expect(lines[2]).not.toHaveProperty('old');
  });

  it('discards a rolled-back transaction and keeps the ones around it', async () => {
    const jsonl = target();
    await durable(
      jsonl.write([
        ...committed(1, insert(1, items, { id: 1, name: 'kept', data: null })),
        begin(2),
        insert(2, items, { id: 2, name: 'rolled back', data: null }),
        rollback(2),
        ...committed(3, insert(3, items, { id: 3, name: 'kept too', data: null })),
      ]),
    );
    await jsonl.close();
    expect((await fileLines()).filter((line) => line.op === 'insert').map((line) => (line.row as { id: number }).id)).toEqual([1, 3]);
    expect(jsonl.openTransactions).toBe(0);
  });

  it('writes interleaved transactions (streamed without begin) each at its own commit, in commit order', async () => {
    const jsonl = target();
    await durable(
      jsonl.write([
        insert(21, items, { id: 1, name: 'first of 21', data: null }),
        insert(22, items, { id: 2, name: 'first of 22', data: null }),
        insert(21, items, { id: 3, name: 'second of 21', data: null }),
        commit(22),
        commit(21),
      ]),
    );
    await jsonl.close();
    const inserts = (await fileLines()).filter((line) => line.op === 'insert');
    expect(inserts.map((line) => [line.xid, (line.row as { id: number }).id])).toEqual([
      [22, 2],
      [21, 1],
      [21, 3],
    ]);
  });

  it('drops only an aborted subtransaction and those nested in it', async () => {
    // In memory and spilled alike, and under any nesting: test/targets/transaction-buffer.test.ts.
    const jsonl = target();
    const row = (id: number) => ({ id, name: `row ${id}`, data: null });
    await durable(
      jsonl.write([
        insert(90, items, row(1)),
        { ...insert(90, items, row(2)), subXid: 91 },
        { ...insert(90, items, row(3)), subXid: 92 },
        { ...rollback(90), subXid: 93 }, // made no change: nothing to drop
      ]),
    );
    await durable(jsonl.write([{ ...insert(90, items, row(4)), subXid: 92 }, { ...rollback(90), subXid: 91 }, { ...insert(90, items, row(5)), subXid: 94 }, commit(90)]));
    await jsonl.close();
    expect((await fileLines()).filter((line) => line.op === 'insert').map((line) => (line.row as { id: number }).id)).toEqual([1, 5]);
  });

  it('forgets a shape that only an aborted subtransaction used: its next use writes the schema line again', async () => {
    const widened = table('items', [['id', INT4, true], ['name', TEXT], ['data', 3802], ['added', INT4]]);
    const jsonl = target();
    await durable(
      jsonl.write([
        insert(90, items, { id: 1, name: 'kept', data: null }),
        { ...insert(90, widened, { id: 2, name: 'gone', data: null, added: 1 }), subXid: 91 },
        { ...rollback(90), subXid: 91 },
        commit(90),
        ...committed(92, insert(92, widened, { id: 3, name: 'new shape', data: null, added: 2 })),
      ]),
    );
    await jsonl.close();
    const lines = await fileLines();
    expect(lines.map((line) => [line.op, (line.columns as unknown[] | undefined)?.length ?? (line.row as { id: number }).id])).toEqual([
      ['schema', 3],
      ['insert', 1],
      ['schema', 4],
      ['insert', 3],
    ]);
  });

  it('writes update old keys without the NULLs of a K tuple, full old rows, deletes and one truncate line per table', async () => {
    const full = table('audit', [['id', INT4, true], ['note', TEXT, true]], { replicaIdentity: 'full', relationId: 16390 });
    const jsonl = target();
    await durable(
      jsonl.write(
        committed(
          30,
          update(30, items, { id: 2, name: 'moved', data: null }, { id: 1, name: null, data: null }, 'key'),
          update(30, full, { id: 1, note: 'new' }, { id: 1, note: 'old' }, 'full'),
          remove(30, items, { id: 2, name: null, data: null }),
          truncate(30, items, full),
        ),
      ),
    );
    await jsonl.close();
    const changes = (await fileLines()).filter((line) => line.op !== 'schema');
    expect(changes).toMatchObject([
      { op: 'update', table: 'public.items', row: { id: 2, name: 'moved', data: null }, old: { id: 1 } },
      { op: 'update', table: 'public.audit', row: { id: 1, note: 'new' }, old: { id: 1, note: 'old' } },
      { op: 'delete', table: 'public.items', old: { id: 2 } },
      { op: 'truncate', table: 'public.items', cascade: false, restart_identity: false },
      { op: 'truncate', table: 'public.audit', cascade: false, restart_identity: false },
    ]);
    expect(changes[2]).not.toHaveProperty('row');
  });

  it('leaves an unchanged TOASTed column out of the row and names it in "unchanged"', async () => {
    const jsonl = target();
    await durable(jsonl.write(committed(40, update(40, items, { id: 1, name: 'renamed', data: UNCHANGED_TOAST }))));
    await jsonl.close();
    const line = (await fileLines()).find((l) => l.op === 'update');
    expect(line).toMatchObject({ row: { id: 1, name: 'renamed' }, unchanged: ['data'] });
    expect(line?.row).not.toHaveProperty('data');
  });

  it('writes a schema line before the first line of a new shape, inside the transaction that first uses it', async () => {
    const widened = table('items', [['id', INT4, true], ['name', TEXT], ['data', 3802], ['added', INT4]]);
    const jsonl = target();
    await durable(
      jsonl.write([
        baseline(items, [{ id: 1, name: 'a', data: null }]),
        ...committed(50, insert(50, items, { id: 2, name: 'b', data: null }), insert(50, widened, { id: 3, name: 'c', data: null, added: 7 })),
        ...committed(51, insert(51, widened, { id: 4, name: 'd', data: null, added: 8 })),
      ]),
    );
    await jsonl.close();
    const lines = await fileLines();
    expect(lines.map((line) => line.op)).toEqual(['schema', 'baseline', 'insert', 'schema', 'insert', 'insert']);
    expect((lines[3]!.columns as unknown[]).length).toBe(4);
    expect(lines[3]).toMatchObject({ commit_lsn: '1/3200' });
  });

  it('writes logical decoding messages: transactional ones with their transaction, others at once', async () => {
    const jsonl = target();
    const message = (transactional: boolean, xid?: number): TargetMessage => ({
      kind: 'message',
      prefix: 'app',
      content: Buffer.from('hi'),
      transactional,
      lsn: 0x5000n,
      ...(xid === undefined ? {} : { xid }),
      bytes: 0,
    });
    await durable(jsonl.write([begin(60), message(true, 60), message(false), commit(60)]));
    await jsonl.close();
    expect(await fileLines()).toEqual([
      { op: 'message', source: 'pg_main', lsn: '0/5000', transactional: false, prefix: 'app', content: '\\x6869' },
      { op: 'message', source: 'pg_main', lsn: '0/5000', transactional: true, xid: 60, prefix: 'app', content: '\\x6869', commit_lsn: '1/3C00', commit_time: commitTimeOf(60) },
    ]);
  });
});

describe('jsonlTarget durability', () => {
  it('completes a batch only after the fsync that covers it returned, and the bytes were written before it', async () => {
    const held = heldFsync();
    const jsonl = target({ fsync: held.fsync });
    const first = watch(jsonl.write(committed(1, insert(1, items, { id: 1, name: 'a', data: null }))));
    await waitFor(() => held.entered === 1, { what: 'the first fsync' });
    // Written (the bytes are in the file) but not fsynced: not acknowledged.
    expect((await fileLines()).map((line) => line.op)).toEqual(['schema', 'insert']);
    expect(first.done).toBe(false);
    held.releaseAll();
    await first.settled;
    expect(first.done).toBe(true);
    await jsonl.close();
  });

  it('covers every transaction of a flush interval with one fsync', async () => {
    let fsyncs = 0;
    const jsonl = target({
      flushIntervalMs: 500,
      fsync: async (file) => {
        fsyncs++;
        await file.datasync();
      },
    });
    const writes = Array.from({ length: 50 }, (_, index) => durable(jsonl.write(committed(index + 1, insert(index + 1, items, { id: index, name: 'x', data: null })))));
    await Promise.all(writes);
    expect(fsyncs).toBe(1);
    await jsonl.close();
    expect((await fileLines()).filter((line) => line.op === 'insert')).toHaveLength(50);
  });

  it('does not acknowledge, and fails for good, when fsync fails', async () => {
    const held = heldFsync();
    const jsonl = target({ fsync: held.fsync });
    const first = watch(jsonl.write(committed(1, insert(1, items, { id: 1, name: 'a', data: null }))));
    await waitFor(() => held.entered === 1, { what: 'the fsync' });
    held.failNext(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    await first.settled;
    expect(first.done).toBe(false);
    expect(first.error).toBeInstanceOf(JsonlTargetError);
    expect(first.error).toMatchObject({ code: 'JSONL_SYNC_FAILED', retryable: false });
    await expect(durable(jsonl.write(committed(2, insert(2, items, { id: 2, name: 'b', data: null }))))).rejects.toMatchObject({ code: 'JSONL_SYNC_FAILED' });
    await jsonl.close();
  });

  it('flushes and fsyncs on close', async () => {
    let fsyncs = 0;
    const jsonl = target({
      flushIntervalMs: 60_000,
      fsync: async (file) => {
        fsyncs++;
        await file.datasync();
      },
    });
    const written = watch(jsonl.write(committed(1, insert(1, items, { id: 1, name: 'a', data: null }))));
    await jsonl.close();
    await written.settled;
    expect(written.done).toBe(true);
    expect(fsyncs).toBe(1);
    expect(await fileLines()).toHaveLength(2);
    await expect(durable(jsonl.write([reset(items)]))).rejects.toMatchObject({ code: 'JSONL_CLOSED' });
  });

  it('stops taking batches while the disk lags, then writes them all in order', async () => {
    const held = heldFsync();
    const jsonl = target({ fsync: held.fsync, maxBufferedBytes: 2_000 });
    const rows = Array.from({ length: 20 }, (_, index) => ({ id: index, name: 'x'.repeat(40), data: null }));
    const first = watch(jsonl.write([baseline(items, rows)]));
    await waitFor(() => held.entered === 1, { what: 'the first fsync' });
    // The fsync stalls; every later batch (about 1.4 kB each) piles up in memory only to 2 kB.
    const later = Array.from({ length: 30 }, (_, batch) => watch(jsonl.write([baseline(items, rows.map((row) => ({ ...row, id: 100 * (batch + 1) + row.id })))])));
    await waitFor(() => jsonl.bufferedBytes >= 2_000, { what: 'the buffer to fill' });
    expect(jsonl.queuedBatches).toBeGreaterThan(25);
    expect(jsonl.bufferedBytes).toBeLessThan(2_000 + 1_500);
    held.releaseAll();
    const release = setInterval(() => held.releaseAll(), 2);
    await Promise.all([first, ...later].map((w) => w.settled));
    clearInterval(release);
    expect([first, ...later].every((w) => w.done)).toBe(true);
    await jsonl.close();
    const ids = (await fileLines()).filter((line) => line.op === 'baseline').map((line) => (line.row as { id: number }).id);
    expect(ids).toHaveLength(31 * 20);
    expect(ids.slice(0, 25)).toEqual([...rows.map((row) => row.id), 100, 101, 102, 103, 104]);
  });

  it('spills a large transaction to a temporary file that disappears, and writes it intact', async () => {
    const spillDirectory = join(directory, 'spill');
    await rm(spillDirectory, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(spillDirectory));
    const jsonl = target({ transactionMemoryBytes: 4_096, spillDirectory });
    const changes = Array.from({ length: 2_000 }, (_, index) => insert(70, items, { id: index, name: `row ${index} ✓`, data: { n: index } }));
    await durable(jsonl.write([begin(70), ...changes.slice(0, 1_000)]));
    await durable(jsonl.write([...changes.slice(1_000), commit(70)]));
    // The temporary file was unlinked as soon as it was opened.
    expect(await readdir(spillDirectory)).toEqual([]);
    await jsonl.close();
    const inserts = (await fileLines()).filter((line) => line.op === 'insert');
    expect(inserts.map((line) => (line.row as { id: number }).id)).toEqual(changes.map((_, index) => index));
    expect(inserts[1999]).toMatchObject({ row: { name: 'row 1999 ✓', data: { n: 1999 } }, commit_lsn: '1/4600' });
  });

  it('drops a spilled transaction on rollback', async () => {
    const jsonl = target({ transactionMemoryBytes: 1_024 });
    const changes = Array.from({ length: 500 }, (_, index) => insert(80, items, { id: index, name: 'gone', data: null }));
    await durable(jsonl.write([begin(80), ...changes, rollback(80), ...committed(81, insert(81, items, { id: 1, name: 'kept', data: null }))]));
    await jsonl.close();
    expect((await fileLines()).filter((line) => line.op === 'insert')).toMatchObject([{ xid: 81 }]);
  });
});

describe('jsonlTarget files and streams', () => {
  it('appends to an existing file and cuts a torn last line left by a crash', async () => {
    await writeFile(path, '{"op":"reset","source":"pg_main","table":"public.items"}\n{"op":"baseline","sou');
    const jsonl = target();
    await durable(jsonl.write([reset(items)]));
    await jsonl.close();
    expect(await readFile(path, 'utf8')).toBe(
      '{"op":"reset","source":"pg_main","table":"public.items"}\n{"op":"reset","source":"pg_main","table":"public.items"}\n',
    );
  });

  it('creates no file when closed before it had a line to write', async () => {
    await target().close();
    const heldOnly = target();
    // A transaction that never committed has nothing to write either.
    await durable(heldOnly.write([begin(1), insert(1, items, { id: 1, name: 'a', data: null })]));
    await heldOnly.close();
    expect(await readdir(directory)).toEqual([]);
  });

  it('writes to stdout ("-") and counts a batch durable once the stream took it', async () => {
    const chunks: string[] = [];
    let release: (() => void) | undefined;
    const stdout = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk.toString());
        release = () => {
          callback();
        };
      },
    });
    const jsonl = jsonlTarget({ path: '-', source: 's', stdout, flushIntervalMs: 1 });
    const written = watch(jsonl.write([reset(items)]));
    await waitFor(() => release !== undefined, { what: 'the stream write' });
    expect(written.done).toBe(false);
    release!();
    await written.settled;
    expect(written.done).toBe(true);
    expect(chunks.join('')).toBe('{"op":"reset","source":"s","table":"public.items"}\n');
    await jsonl.close();
  });

  it('fails with a typed error naming the file when it cannot be opened', async () => {
    const jsonl = jsonlTarget({ path: join(directory, 'missing-dir', 'x.jsonl'), source: 's', flushIntervalMs: 1 });
    const error: unknown = await durable(jsonl.write([reset(items)])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JsonlTargetError);
    expect(error).toMatchObject({ code: 'JSONL_OPEN_FAILED', retryable: false });
    expect((error as Error).message).toContain('missing-dir');
    await jsonl.close();
  });

  it('refuses options it cannot work with', () => {
    expect(() => jsonlTarget({ path: '', source: 's' })).toThrow(JsonlTargetError);
    expect(() => jsonlTarget({ path, source: 's', flushIntervalMs: -1 })).toThrow(/flushIntervalMs/);
  });

  it('works behind the target actor: every posted message becomes durable, in order', async () => {
    const jsonl = target();
    await writeThroughActor(jsonl, [reset(items), baseline(items, [{ id: 0, name: 'base', data: null }]), ...committedInserts(200)]);
    await jsonl.close();
    expect((await fileLines()).filter((line) => line.op === 'insert').map((line) => line.xid)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('reads back what it wrote', async () => {
    const jsonl = target();
    await durable(jsonl.write([reset(items), baseline(items, [{ id: 1, name: 'a', data: null }]), baselineComplete(items, 1)]));
    await jsonl.close();
    expect((await readJsonl(path)).map((line) => line.op)).toEqual(['reset', 'schema', 'baseline', 'baseline_complete']);
  });
});
