import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UNCHANGED_TOAST } from '../../../src/protocol/row.js';
import { HttpSyncError, httpSyncTarget, type HttpSyncTargetOptions } from '../../../src/targets/http-sync/index.js';
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
import { startReceiver, type Receiver } from './receiver.js';

let receiver: Receiver;
const targets: { close(): Promise<void> }[] = [];

beforeEach(async () => {
  receiver = await startReceiver();
});

afterEach(async () => {
  await Promise.allSettled(targets.splice(0).map((t) => t.close()));
  await receiver.close();
});

function target(options: Partial<HttpSyncTargetOptions> = {}) {
  const created = httpSyncTarget({ baseUrl: receiver.url, source: 'pg_main', flushIntervalMs: 5, retryBackoffMs: 5, timeoutMs: 2_000, ...options });
  targets.push(created);
  return created;
}

const paths = (): string[] => receiver.requests.map((request) => request.path);
const ref = { schema: 'public', table: 'items' };
const columns = [
  { name: 'id', type_oid: 23, type_mod: -1, key: true },
  { name: 'name', type_oid: 25, type_mod: -1, key: false },
  { name: 'data', type_oid: 3802, type_mod: -1, key: false },
];

describe('httpSyncTarget baseline', () => {
  it('posts baseline/start, batches of at most batch_size rows, then baseline/complete', async () => {
    const sync = target({ batchSize: 2 });
    const rows = [1, 2, 3, 4, 5].map((id) => ({ id, name: `n${id}`, data: { id } }));
    await durable(sync.write([baseline(items, rows.slice(0, 3)), baseline(items, rows.slice(3)), baselineComplete(items, 5)]));
    expect(paths()).toEqual(['/api/sync/baseline/start', '/api/sync/baseline/batch', '/api/sync/baseline/batch', '/api/sync/baseline/batch', '/api/sync/baseline/complete']);
    expect(receiver.requests.map((request) => request.body)).toEqual([
      { source: 'pg_main', table: ref, columns, key: ['id'] },
      { source: 'pg_main', table: ref, rows: rows.slice(0, 2) },
      { source: 'pg_main', table: ref, rows: rows.slice(2, 4) },
      { source: 'pg_main', table: ref, rows: rows.slice(4) },
      { source: 'pg_main', table: ref, row_count: 5 },
    ]);
  });

  it('sends an empty table as start and complete with row_count 0', async () => {
    const sync = target();
    await durable(sync.write([reset(items), baselineComplete(items, 0)]));
    expect(receiver.requests.map((request) => [request.path, request.body.row_count])).toEqual([
      ['/api/sync/baseline/start', undefined],
      ['/api/sync/baseline/complete', 0],
    ]);
  });

  it('turns a reset that no baseline follows into an emptied table before the next changes', async () => {
    const sync = target();
    await durable(sync.write([reset(items), ...committed(5, insert(5, items, { id: 1, name: 'a', data: null }))]));
    expect(paths()).toEqual(['/api/sync/baseline/start', '/api/sync/baseline/complete', '/api/sync/changes']);
  });

  it('sends a partly filled batch after flush_interval, and only then completes the write', async () => {
    const sync = target({ batchSize: 500, flushIntervalMs: 50 });
    const started = Date.now();
    await durable(sync.write([baseline(items, [{ id: 1, name: 'a', data: null }])]));
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(paths()).toEqual(['/api/sync/baseline/start', '/api/sync/baseline/batch']);
  });
});

describe('httpSyncTarget changes', () => {
  it('sends a transaction only once its commit arrived, with every documented field', async () => {
    const sync = target({ flushIntervalMs: 1 });
    const insertChange = insert(7, items, { id: 1, name: 'a', data: { deep: [1] } });
    const open = watch(sync.write([begin(7), insertChange]));
    await open.settled;
    expect(open.done).toBe(true); // held by the target, answered at once
    expect(receiver.requests).toHaveLength(0);
    await durable(sync.write([commit(7)]));
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]!.path).toBe('/api/sync/changes');
    expect(receiver.requests[0]!.body).toEqual({
      source: 'pg_main',
      table: ref,
      key: ['id'],
      columns,
      changes: [
        {
          action: 'INSERT',
          lsn: `0/${insertChange.lsn.toString(16).toUpperCase()}`,
          xid: 7,
          columns: { id: 1, name: 'a', data: { deep: [1] } },
          commit_lsn: '1/700',
          commit_time: commitTimeOf(7),
        },
      ],
    });
  });

  it('writes UPDATE, DELETE and TRUNCATE entries with identity, unchanged TOAST and truncate flags', async () => {
    const sync = target();
    await durable(
      sync.write(
        committed(
          8,
          update(8, items, { id: 1, name: 'same key', data: UNCHANGED_TOAST }),
          update(8, items, { id: 2, name: 'moved', data: null }, { id: 1, name: null, data: null }, 'key'),
          remove(8, items, { id: 2, name: null, data: null }),
          truncate(8, items),
        ),
      ),
    );
    const changes = receiver.requests.flatMap((request) => request.body.changes);
    expect(changes).toMatchObject([
      { action: 'UPDATE', columns: { id: 1, name: 'same key' }, unchanged: ['data'], identity: { id: 1 } },
      { action: 'UPDATE', columns: { id: 2, name: 'moved', data: null }, identity: { id: 1 } },
      { action: 'DELETE', identity: { id: 2 } },
      { action: 'TRUNCATE', cascade: false, restart_identity: false },
    ]);
    expect(changes[2]).not.toHaveProperty('columns');
    expect(changes[3]).not.toHaveProperty('identity');
  });

  it('never sends a rolled-back transaction', async () => {
    const sync = target();
    await durable(
      sync.write([
        begin(9),
        insert(9, items, { id: 1, name: 'gone', data: null }),
        rollback(9),
        ...committed(10, insert(10, items, { id: 2, name: 'kept', data: null })),
      ]),
    );
    expect(receiver.requests.flatMap((request) => request.body.changes.map((change: { xid: number }) => change.xid))).toEqual([10]);
  });

  it('sends changes in commit order, one table per request, grouped across transactions', async () => {
    const other = table('other', [['id', INT4, true]], { relationId: 20000 });
    const sync = target({ flushIntervalMs: 30 });
    await durable(
      sync.write([
        insert(21, items, { id: 1, name: 'of 21', data: null }),
        insert(22, items, { id: 2, name: 'of 22', data: null }),
        insert(22, other, { id: 3 }),
        commit(22),
        commit(21),
        ...committed(23, insert(23, other, { id: 4 })),
      ]),
    );
    expect(receiver.requests.map((request) => [request.body.table.table, request.body.changes.map((c: { xid: number }) => c.xid)])).toEqual([
      ['items', [22]],
      ['other', [22]],
      ['items', [21]],
      ['other', [23]],
    ]);
  });

  it('announces a new table shape with columns on the next /changes request', async () => {
    const widened = table('items', [['id', INT4, true], ['name', TEXT], ['data', 3802], ['added', INT4]]);
    const sync = target();
    await durable(sync.write([...committed(30, insert(30, items, { id: 1, name: 'a', data: null })), ...committed(31, insert(31, widened, { id: 2, name: 'b', data: null, added: 1 }))]));
    expect(receiver.requests.map((request) => (request.body.columns as unknown[] | undefined)?.length)).toEqual([3, 4]);
  });

  it('sends batch_size changes at once without waiting for flush_interval', async () => {
    const sync = target({ batchSize: 3, flushIntervalMs: 60_000 });
    await durable(sync.write(committed(40, ...[1, 2, 3].map((id) => insert(40, items, { id, name: 'x', data: null })))));
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]!.body.changes).toHaveLength(3);
  });

  it('spills a huge transaction and sends it whole, in order, without queueing more than maxQueuedRequests', async () => {
    let release: () => void = () => undefined;
    let gate = new Promise<void>((resolve) => (release = resolve));
    receiver.answer = () => ({ status: 200, hold: gate });
    const sync = target({ batchSize: 50, transactionMemoryBytes: 2_000, maxQueuedRequests: 3 });
    const changes = Array.from({ length: 1_000 }, (_, id) => insert(50, items, { id, name: `row ${id}`, data: null }));
    const written = watch(sync.write([begin(50), ...changes, commit(50)]));
    await waitFor(() => sync.queuedRequests === 3 && receiver.requests.length === 1, { what: 'three queued requests, the first at the receiver' });
    let maxQueued = 0;
    const opener = setInterval(() => {
      maxQueued = Math.max(maxQueued, sync.queuedRequests);
      release();
      gate = new Promise<void>((resolve) => (release = resolve));
    }, 2);
    await written.settled;
    clearInterval(opener);
    release();
    expect(written.done).toBe(true);
    expect(maxQueued).toBeLessThanOrEqual(3);
    const ids = receiver.accepted.flatMap((request) => request.body.changes.map((change: { columns: { id: number } }) => change.columns.id));
    expect(ids).toEqual(changes.map((_, id) => id));
  });
});

describe('httpSyncTarget durability and failures', () => {
  it('completes a write only after the receiver answered 2xx', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    receiver.answer = () => ({ status: 204, hold: gate });
    const sync = target();
    const written = watch(sync.write(committed(1, insert(1, items, { id: 1, name: 'a', data: null }))));
    await waitFor(() => receiver.requests.length === 1, { what: 'the request' });
    expect(written.done).toBe(false);
    release();
    await written.settled;
    expect(written.done).toBe(true);
  });

  it('retries 5xx, 408, 429 (honouring Retry-After) and dropped connections with backoff, then succeeds', async () => {
    const script: ('drop' | number)[] = [503, 'drop', 429, 408, 200];
    receiver.answer = (_request, index) => {
      const step = script[index]!;
      return step === 'drop' ? 'drop' : { status: step, ...(step === 429 ? { headers: { 'retry-after': '0' } } : {}) };
    };
    const sync = target({ retryCount: 4 });
    await durable(sync.write(committed(1, insert(1, items, { id: 1, name: 'a', data: null }))));
    expect(receiver.requests).toHaveLength(5);
    expect(new Set(receiver.requests.map((request) => JSON.stringify(request.body))).size).toBe(1);
  });

  it('retries an attempt that exceeded timeout_ms', async () => {
    receiver.answer = (_request, index) => (index === 0 ? { status: 200, delayMs: 3_000 } : { status: 200 });
    const sync = target({ timeoutMs: 200 });
    const started = Date.now();
    await durable(sync.write(committed(1, insert(1, items, { id: 1, name: 'a', data: null }))));
    // The first attempt was abandoned after 200 ms, long before its answer would have come.
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(receiver.requests.length).toBeGreaterThanOrEqual(2);
  });

  it('fails at once with a typed, non-retryable error on a 4xx, and refuses later writes', async () => {
    receiver.answer = () => ({ status: 422, body: 'column "name" is unknown' });
    const sync = target({ retryCount: 3 });
    const error: unknown = await durable(sync.write(committed(1, insert(1, items, { id: 1, name: 'a', data: null })))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpSyncError);
    expect(error).toMatchObject({ code: 'HTTP_SYNC_REJECTED', retryable: false, status: 422, attempts: 1 });
    expect((error as Error).message).toContain('HTTP 422');
    expect((error as Error).message).toContain('column "name" is unknown');
    expect(receiver.requests).toHaveLength(1);
    await expect(durable(sync.write([reset(items)]))).rejects.toMatchObject({ code: 'HTTP_SYNC_REJECTED' });
  });

  it('gives up after retry_count retries with a non-retryable error that names the last failure', async () => {
    receiver.answer = () => ({ status: 500, body: 'database is down' });
    const sync = target({ retryCount: 2, authHeader: 'Bearer s3cr3t-token' });
    const error: unknown = await durable(sync.write(committed(1, insert(1, items, { id: 1, name: 'a', data: null })))).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'HTTP_SYNC_RETRIES_EXHAUSTED', retryable: false, status: 500, attempts: 3 });
    expect((error as Error).message).toMatch(/failed after 3 attempts \(last: HTTP 500 Internal Server Error: database is down\)/);
    expect((error as Error).message).not.toContain('s3cr3t');
    expect(receiver.requests).toHaveLength(3);
  });

  it('reports a receiver that is not there as a network error after the retries', async () => {
    const url = receiver.url;
    await receiver.close();
    const sync = httpSyncTarget({ baseUrl: url, source: 's', retryCount: 1, retryBackoffMs: 1, flushIntervalMs: 1 });
    const error: unknown = await durable(sync.write([reset(items), baselineComplete(items, 0)])).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'HTTP_SYNC_RETRIES_EXHAUSTED', attempts: 2 });
    expect((error as Error).message).toMatch(/network error: ECONNREFUSED/);
    receiver = await startReceiver();
  });

  it('sends the auth header as Authorization, the extra headers, and JSON', async () => {
    const sync = target({ authHeader: 'Bearer abc.def', headers: { 'X-Source': 'table-sync', authorization: 'overridden' } });
    await durable(sync.write([baselineComplete(items, 0)]));
    for (const request of receiver.requests) {
      expect(request.method).toBe('POST');
      expect(request.headers.authorization).toBe('Bearer abc.def');
      expect(request.headers['x-source']).toBe('table-sync');
      expect(request.headers['content-type']).toBe('application/json');
    }
  });

  it('works behind the target actor: every posted message becomes durable, changes arrive in order', async () => {
    const sync = target({ batchSize: 50 });
    await writeThroughActor(sync, [reset(items), baseline(items, [{ id: 0, name: 'base', data: null }]), baselineComplete(items, 1), ...committedInserts(200)]);
    const xids = receiver.accepted.flatMap((request) => (request.body.changes ?? []).map((change: { xid: number }) => change.xid));
    expect(xids).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('sends what is still forming on close', async () => {
    const sync = target({ flushIntervalMs: 60_000 });
    const written = watch(sync.write([baseline(items, [{ id: 1, name: 'a', data: null }])]));
    await sync.close();
    await written.settled;
    expect(written.done).toBe(true);
    expect(paths()).toEqual(['/api/sync/baseline/start', '/api/sync/baseline/batch']);
    await expect(durable(sync.write([reset(items)]))).rejects.toMatchObject({ code: 'HTTP_SYNC_CLOSED' });
  });

  it('refuses options it cannot work with, never echoing credentials', () => {
    expect(() => httpSyncTarget({ baseUrl: 'https://user:hunter2@example.com/sync', source: 's' })).toThrow(/must not hold credentials/);
    try {
      httpSyncTarget({ baseUrl: 'https://user:hunter2@example.com/sync', source: 's' });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
      expect(error).toMatchObject({ code: 'HTTP_SYNC_INVALID_OPTION' });
    }
    expect(() => httpSyncTarget({ baseUrl: 'ftp://example.com', source: 's' })).toThrow(/http:\/\/ or https:\/\//);
    expect(() => httpSyncTarget({ baseUrl: 'not a url', source: 's' })).toThrow(/is not a URL/);
    expect(() => httpSyncTarget({ baseUrl: 'http://x', source: 's', batchSize: 0 })).toThrow(/batch_size must be a whole number >= 1/);
    expect(() => httpSyncTarget({ baseUrl: 'http://x', source: 's', authHeader: 'Bearer a\nb' })).toThrow(/auth_header/);
  });
});

describe('httpSyncTarget streamed transactions', () => {
  it('drops only an aborted subtransaction and those nested in it', async () => {
    // In memory and spilled alike, and under any nesting: test/targets/transaction-buffer.test.ts.
    const sync = target();
    const row = (id: number) => ({ id, name: `row ${id}`, data: null });
    await durable(sync.write([insert(90, items, row(1)), { ...insert(90, items, row(2)), subXid: 91 }, { ...insert(90, items, row(3)), subXid: 92 }]));
    await durable(sync.write([{ ...insert(90, items, row(4)), subXid: 92 }, { ...rollback(90), subXid: 91 }, { ...insert(90, items, row(5)), subXid: 94 }, commit(90)]));
    expect(receiver.requests.flatMap((request) => request.body.changes.map((change: { columns: { id: number } }) => change.columns.id))).toEqual([1, 5]);
  });
});
