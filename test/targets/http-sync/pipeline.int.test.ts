// The http-sync target fed with what a real PostgreSQL sends, posting to a receiver written from
// docs/targets.md alone: the tables it ends up holding equal what SELECT returns.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonValue } from '../../../src/protocol/row.js';
import { httpSyncTarget, type ChangesBody } from '../../../src/targets/http-sync/index.js';
import { createTestDatabase, testServer, type TestDatabase } from '../../support/postgres.js';
import { durable } from '../fixtures.js';
import { captureWorkload, laredoSession, SCHEMA_SQL, selectRows, TABLES } from '../jsonl/support/real-changes.js';
import { startReceiver, type Receiver, type ReceivedRequest } from './receiver.js';

type JsonRow = Record<string, JsonValue>;

/** A receiver applying the protocol as docs/targets.md tells: rows keyed by the table's key columns. */
class ReferenceReceiver {
  readonly tables = new Map<string, { key: readonly string[]; rows: Map<string, JsonRow> }>();

  apply(request: ReceivedRequest): void {
    const body = request.body as { table: { schema: string; table: string }; key?: string[]; rows?: JsonRow[] };
    const name = `${body.table.schema}.${body.table.table}`;
    const keyOf = (key: readonly string[], row: Readonly<JsonRow>): string => JSON.stringify(key.length === 0 ? Object.values(row) : key.map((c) => row[c] ?? null));
    switch (request.path.replace(/^\/api\/sync/, '')) {
      case '/baseline/start':
        this.tables.set(name, { key: body.key ?? [], rows: new Map() });
        return;
      case '/baseline/batch': {
        const table = this.tables.get(name)!;
        for (const row of body.rows ?? []) table.rows.set(keyOf(table.key, row), row);
        return;
      }
      case '/baseline/complete':
        return;
      case '/changes': {
        const changes = request.body as ChangesBody;
        let table = this.tables.get(name);
        if (table === undefined) this.tables.set(name, (table = { key: changes.key, rows: new Map() }));
        for (const change of changes.changes) {
          if (change.action === 'TRUNCATE') table.rows.clear();
          else if (change.action === 'DELETE') table.rows.delete(keyOf(changes.key, change.identity as JsonRow));
          else {
            const columns = change.columns as JsonRow;
            const identityKey = keyOf(changes.key, change.identity ?? columns);
            const stored = table.rows.get(identityKey);
            const row: JsonRow = { ...columns };
            for (const column of change.unchanged ?? []) row[column] = stored![column]!;
            // Keep the table's column order: the stored row's, then new columns.
            const ordered: JsonRow = stored === undefined ? row : Object.fromEntries([...Object.keys(stored).filter((c) => c in row), ...Object.keys(row).filter((c) => !(c in stored))].map((c) => [c, row[c]!]));
            table.rows.delete(identityKey);
            table.rows.set(keyOf(changes.key, ordered), ordered);
          }
        }
        return;
      }
    }
  }
}

let db: TestDatabase;
let session: pg.Client;
let receiver: Receiver;
const reference = new ReferenceReceiver();

beforeAll(async () => {
  db = await createTestDatabase('laredo_http');
  session = await laredoSession(db);
  await db.query(SCHEMA_SQL);
  const events = await captureWorkload(db, session);
  receiver = await startReceiver();
  receiver.answer = (request) => {
    reference.apply(request);
    return { status: 200 };
  };
  const target = httpSyncTarget({ baseUrl: receiver.url, source: 'pg', batchSize: 2, flushIntervalMs: 5 });
  const writes: Promise<unknown>[] = [];
  for (let start = 0; start < events.length; start += 3) writes.push(durable(target.write(events.slice(start, start + 3))));
  await Promise.all(writes);
  await target.close();
});

afterAll(async () => {
  await receiver.close();
  await db.drop();
});

describe(`http-sync target on PostgreSQL ${testServer().major}`, () => {
  it('leaves a receiver built from the docs with exactly the tables SELECT returns', async () => {
    for (const table of TABLES) {
      const received = [...(reference.tables.get(table)?.rows.values() ?? [])].map((row) => JSON.stringify(row)).sort();
      expect(received, table).toEqual(await selectRows(session, table));
    }
  });

  it('sends an update that left a TOASTed value alone without it, naming it in "unchanged"', () => {
    const changes = receiver.requests.flatMap((request) => (request.body as ChangesBody).changes);
    const update = changes.find((change) => change.action === 'UPDATE' && change.columns?.t === 'changed, big untouched');
    expect(update).toMatchObject({ unchanged: ['big'], identity: { id: 1 } });
    expect(update?.columns).not.toHaveProperty('big');
  });

  it('sends no rolled-back change and every change of a table in commit order', () => {
    const inserted = receiver.requests
      .flatMap((request) => (request.body as ChangesBody).changes)
      .filter((change) => change.action === 'INSERT' && change.columns !== undefined && 'b' in change.columns)
      .map((change) => change.columns!.id);
    expect(inserted).toEqual([1, 2, 3, 4, 6]);
  });
});
