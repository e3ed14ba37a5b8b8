// decodePgoutput against what a real server sends: pgoutput messages read from a slot with
// pg_logical_slot_peek_binary_changes, wrapped in XLogData frames as the walsender would send them.
import type pg from 'pg';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeleteChange, InsertChange, SourceEvent, UpdateChange } from '../../src/model/events.js';
import { decodePgoutput, type DecodePgoutputOptions } from '../../src/operators/decode-pgoutput.js';
import { UNCHANGED_TOAST } from '../../src/protocol/row.js';
import { SESSION_SETTINGS } from '../../src/protocol/values.js';
import { xlogData } from '../support/pgoutput-builder.js';
import { createTestDatabase, testServer, uniqueName, type TestDatabase } from '../support/postgres.js';

let db: TestDatabase;
let session: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase('laredo_decode');
  session = await db.client();
  for (const [name, value] of Object.entries(SESSION_SETTINGS)) await session.query(`SELECT set_config($1, $2, false)`, [name, value]);
  await db.query(`
    CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), tags jsonb, seen timestamptz, raw bytea, doc text);
    CREATE TABLE audit (id int, note text);
    ALTER TABLE audit REPLICA IDENTITY FULL;
    CREATE PUBLICATION pub FOR TABLE items, audit;
  `);
});

afterAll(async () => {
  await db.drop();
});

/** A fresh slot; `work` runs after it exists, so the slot sees exactly its changes. */
async function framesOf(work: string, options: { protoVersion?: number; streaming?: boolean; messages?: boolean } = {}): Promise<Buffer[]> {
  const slot = uniqueName('s');
  await session.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  try {
    await db.query(work);
    const args = ['proto_version', String(options.protoVersion ?? 1), 'publication_names', 'pub'];
    if (options.streaming === true) args.push('streaming', 'on');
    if (options.messages === true) args.push('messages', 'true');
    const placeholders = args.map((_, i) => `$${i + 2}`).join(', ');
    const { rows } = await session.query<{ lsn: string; data: Buffer }>(
      `SELECT lsn::text AS lsn, data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, ${placeholders})`,
      [slot, ...args],
    );
    return rows.map((row) => {
      const [high, low] = row.lsn.split('/');
      const lsn = (BigInt(`0x${high!}`) << 32n) | BigInt(`0x${low!}`);
      return xlogData(lsn, lsn, row.data);
    });
  } finally {
    await session.query(`SELECT pg_drop_replication_slot($1)`, [slot]);
  }
}

async function decode(frames: Buffer[], options: DecodePgoutputOptions = {}): Promise<SourceEvent[]> {
  return lastValueFrom(from(frames).pipe(decodePgoutput(options), toArray()));
}

const changes = (events: SourceEvent[]): SourceEvent[] => events.filter((e) => e.kind !== 'progress' && e.kind !== 'schema');

describe(`decodePgoutput on PostgreSQL ${testServer().major}`, () => {
  it('decodes inserts, updates, deletes and truncates into change events with converted values', async () => {
    // One query string runs as one transaction.
    const frames = await framesOf(`
      INSERT INTO items VALUES (1, 'apple', 1.50, '{"a":[1,2]}', '2024-01-02 03:04:05.123456+00', '\\x0102', 'd');
      UPDATE items SET name = 'pear' WHERE id = 1;
      UPDATE items SET id = 2 WHERE id = 1;
      DELETE FROM items WHERE id = 2;
      TRUNCATE items;
    `);
    const events = await decode(frames);
    expect(events.reduce((n, e) => n + e.bytes, 0)).toBe(frames.reduce((n, f) => n + f.length, 0));
    const schema = events.find((e) => e.kind === 'schema');
    expect(schema).toMatchObject({ table: { key: 'public.items', keyColumns: ['id'], replicaIdentity: 'default' } });
    const kinds = changes(events).map((e) => e.kind);
    expect(kinds).toEqual(['begin', 'insert', 'update', 'update', 'delete', 'truncate', 'commit']);
    const [insert, renamed, rekeyed, deleted] = changes(events).slice(1) as [InsertChange, ...SourceEvent[]];
    expect(insert.row).toEqual({
      id: 1,
      name: 'apple',
      price: '1.50',
      tags: { a: [1, 2] },
      seen: '2024-01-02T03:04:05.123456Z',
      raw: Buffer.from([1, 2]),
      doc: 'd',
    });
    expect(insert.table.key).toBe('public.items');
    expect(renamed).toMatchObject({ kind: 'update', row: { id: 1, name: 'pear' } });
    expect(renamed).not.toHaveProperty('old');
    expect(rekeyed as UpdateChange).toMatchObject({ row: { id: 2 }, old: { id: 1 }, oldKind: 'key' });
    expect(deleted as DeleteChange).toMatchObject({ old: { id: 2 }, oldKind: 'key' });
    const begins = events.filter((e) => e.kind === 'begin');
    const commits = events.filter((e) => e.kind === 'commit');
    for (const [i, b] of begins.entries()) {
      expect(b.transaction.commitTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(commits[i]!.transaction).toBe(b.transaction);
      expect(commits[i]!.commitEndLsn > b.transaction.commitLsn).toBe(true);
    }
    const inserted = events.find((e): e is InsertChange => e.kind === 'insert')!;
    expect(inserted.xid).toBe(begins[0]!.transaction.xid);
  });

  it('keeps unchanged TOASTed columns as UNCHANGED_TOAST', async () => {
    const frames = await framesOf(`
      INSERT INTO items (id, name, doc) SELECT 10, 'big', string_agg(md5(i::text), '') FROM generate_series(1, 2000) i;
      UPDATE items SET name = 'bigger' WHERE id = 10;
    `);
    const update = (await decode(frames)).find((e): e is UpdateChange => e.kind === 'update')!;
    expect(update.row['name']).toBe('bigger');
    expect(update.row['doc']).toBe(UNCHANGED_TOAST);
  });

  it('gives the whole old row under REPLICA IDENTITY FULL', async () => {
    const frames = await framesOf(`
      INSERT INTO audit VALUES (1, 'a');
      UPDATE audit SET note = 'b';
      DELETE FROM audit;
    `);
    const events = await decode(frames);
    expect(events.find((e) => e.kind === 'update')).toMatchObject({ row: { id: 1, note: 'b' }, old: { id: 1, note: 'a' }, oldKind: 'full' });
    expect(events.find((e) => e.kind === 'delete')).toMatchObject({ old: { id: 1, note: 'b' }, oldKind: 'full' });
  });

  it('emits a schema event when a column is added, and decodes later rows with it', async () => {
    const frames = await framesOf(`
      INSERT INTO audit VALUES (2, 'x');
      ALTER TABLE audit ADD COLUMN extra int;
      INSERT INTO audit VALUES (3, 'y', 7);
    `);
    const events = await decode(frames);
    const schemas = events.filter((e) => e.kind === 'schema');
    expect(schemas).toHaveLength(2);
    expect(schemas[1]).toMatchObject({ previous: { columns: [{ name: 'id' }, { name: 'note' }] } });
    expect(events.filter((e) => e.kind === 'insert').at(-1)).toMatchObject({ row: { id: 3, note: 'y', extra: 7 } });
    await db.query(`ALTER TABLE audit DROP COLUMN extra; DELETE FROM audit`);
  });

  it('decodes logical decoding messages, transactional and not', async () => {
    const frames = await framesOf(
      `
      SELECT pg_logical_emit_message(false, 'laredo', 'outside');
      BEGIN; INSERT INTO items (id) VALUES (20); SELECT pg_logical_emit_message(true, 'laredo', 'inside'); COMMIT;
    `,
      { messages: true },
    );
    const messages = (await decode(frames)).filter((e) => e.kind === 'message');
    expect(messages).toEqual([
      expect.objectContaining({ transactional: false, prefix: 'laredo', content: Buffer.from('outside') }),
      expect.objectContaining({ transactional: true, prefix: 'laredo', content: Buffer.from('inside'), xid: expect.any(Number) }),
    ]);
    expect(messages[0]).not.toHaveProperty('xid');
  });

  describe('streamed transactions (protocol 2)', () => {
    // logical_decoding_work_mem at its minimum (64kB) makes the server stream a modest transaction.
    const bigTransaction = `
      SET logical_decoding_work_mem = '64kB';
      BEGIN;
      INSERT INTO items (id, name) SELECT i, 'row ' || i FROM generate_series(1000, 2999) i;
      SAVEPOINT s1;
      INSERT INTO items (id, name) SELECT i, 'rolled back ' || i FROM generate_series(3000, 3999) i;
      ROLLBACK TO SAVEPOINT s1;
      INSERT INTO items (id, name) SELECT i, 'kept ' || i FROM generate_series(4000, 4999) i;
      COMMIT;
    `;

    async function streamedFrames(): Promise<Buffer[]> {
      await session.query(`SET logical_decoding_work_mem = '64kB'`);
      try {
        return await framesOf(`${bigTransaction}; DELETE FROM items WHERE id >= 1000`, { protoVersion: 2, streaming: true });
      } finally {
        await session.query(`RESET logical_decoding_work_mem`);
      }
    }

    it('assembles a streamed transaction whole and drops the rolled back savepoint', async () => {
      const frames = await streamedFrames();
      expect(frames.some((f) => f[25] === 0x53 /* Stream Start */)).toBe(true);
      const events = await decode(frames, { protocolVersion: 2 });
      expect(events.reduce((n, e) => n + e.bytes, 0)).toBe(frames.reduce((n, f) => n + f.length, 0));
      const first = changes(events).findIndex((e) => e.kind === 'begin');
      const transaction = changes(events).slice(first, changes(events).findIndex((e) => e.kind === 'commit') + 1);
      const ids = transaction.filter((e): e is InsertChange => e.kind === 'insert').map((e) => e.row['id'] as number);
      expect(ids).toHaveLength(3000);
      expect(ids.every((id) => id < 3000 || id >= 4000)).toBe(true);
      expect(transaction.at(-1)).toMatchObject({ kind: 'commit' });
      expect(transaction[0]).toMatchObject({ kind: 'begin', transaction: { commitTime: expect.stringMatching(/Z$/) } });
    });

    it('passes a streamed transaction through, tagging savepoint changes and rolling them back', async () => {
      const frames = await streamedFrames();
      const events = await decode(frames, { protocolVersion: 2, streams: 'passthrough' });
      const subRollbacks = events.filter((e) => e.kind === 'rollback' && e.subXid !== undefined);
      expect(subRollbacks).toHaveLength(1);
      const rolledBackSub = (subRollbacks[0] as { subXid: number }).subXid;
      const tagged = events.filter((e): e is InsertChange => e.kind === 'insert' && e.subXid === rolledBackSub);
      expect(tagged.length).toBeGreaterThan(0);
      expect(tagged.every((e) => (e.row['id'] as number) >= 3000 && (e.row['id'] as number) < 4000)).toBe(true);
      expect(events.reduce((n, e) => n + e.bytes, 0)).toBe(frames.reduce((n, f) => n + f.length, 0));
    });
  });
});
