import fc from 'fast-check';
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import type { InsertChange, SourceEvent, TruncateChange } from '../../src/model/events.js';
import type { TableSchema } from '../../src/model/table.js';
import { decodePgoutput, PgoutputEventDecoder, type DecodePgoutputOptions } from '../../src/operators/decode-pgoutput.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { UNCHANGED_TOAST } from '../../src/protocol/row.js';
import { isoToPgTimestamp } from '../../src/protocol/replication-messages.js';
import {
  keepalive,
  relationMessage,
  xlogMessage,
  type EncodableMessage,
} from '../support/pgoutput-builder.js';

const COMMIT_TIME = '2024-05-06T07:08:09.123456Z';
const commitTime = isoToPgTimestamp(COMMIT_TIME);
const items = relationMessage(16384, 'public', 'items', [
  ['id', 23, true],
  ['name', 25],
  ['doc', 25],
]);
const itemsWithPrice = relationMessage(16384, 'public', 'items', [
  ['id', 23, true],
  ['name', 25],
  ['doc', 25],
  ['price', 1700, false, 655366],
]);
const tags = relationMessage(16390, 'public', 'tags', [['tag', 25, true]]);

const itemsSchema: TableSchema = {
  key: 'public.items',
  schema: 'public',
  name: 'items',
  relationId: 16384,
  replicaIdentity: 'default',
  columns: items.columns,
  keyColumns: ['id'],
};

/** Frames at increasing WAL positions, 0x100 apart, so each frame's walStart is predictable. */
function frames(...messages: (EncodableMessage | { keepalive: bigint })[]): Buffer[] {
  return messages.map((message, i) =>
    'keepalive' in message ? keepalive(message.keepalive) : xlogMessage(message, 0x1000n + BigInt(i) * 0x100n, 0x9000n),
  );
}

function decodeAll(input: readonly Buffer[], options: DecodePgoutputOptions = {}): SourceEvent[] {
  const decoder = new PgoutputEventDecoder(options);
  const events: SourceEvent[] = [];
  for (const frame of input) decoder.push(frame, (e) => events.push(e));
  decoder.finish((e) => events.push(e));
  return events;
}

const totalBytes = (list: readonly { bytes: number }[]): number => list.reduce((n, e) => n + e.bytes, 0);
const totalLength = (list: readonly Buffer[]): number => list.reduce((n, f) => n + f.length, 0);
const kinds = (events: readonly SourceEvent[]): string[] => events.map((e) => e.kind);

const begin = (xid: number, finalLsn = 0x5000n): EncodableMessage => ({ tag: 'begin', finalLsn, commitTime, xid });
const commit = (commitEndLsn: bigint): EncodableMessage => ({ tag: 'commit', flags: 0, commitLsn: commitEndLsn - 8n, commitEndLsn, commitTime });

describe('decodePgoutput', () => {
  it('maps a transaction to begin, schema, insert and commit events, each carrying its frame’s bytes', () => {
    const input = frames(begin(700, 0x5000n), items, { tag: 'insert', relationId: 16384, new: ['1', 'apple', null] }, commit(0x5008n));
    const events = decodeAll(input);
    expect(events).toEqual([
      { kind: 'begin', transaction: { xid: 700, commitLsn: 0x5000n, commitTime: COMMIT_TIME }, bytes: input[0]!.length },
      { kind: 'schema', table: itemsSchema, bytes: input[1]!.length },
      { kind: 'insert', table: itemsSchema, row: { id: 1, name: 'apple', doc: null }, lsn: 0x1200n, xid: 700, bytes: input[2]!.length },
      {
        kind: 'commit',
        transaction: { xid: 700, commitLsn: 0x5000n, commitTime: COMMIT_TIME },
        commitEndLsn: 0x5008n,
        bytes: input[3]!.length,
      },
    ]);
  });

  it('emits no schema event for a table the baseline delivered with the same shape, and gives the relation’s bytes to the next event', () => {
    const input = frames(begin(1), items, { tag: 'insert', relationId: 16384, new: ['1', 'a', 'b'] }, commit(0x5008n));
    const events = decodeAll(input, { knownTables: [itemsSchema] });
    expect(kinds(events)).toEqual(['begin', 'insert', 'commit']);
    expect(events[1]).toMatchObject({ table: itemsSchema, bytes: input[1]!.length + input[2]!.length });
    // The baseline’s own TableSchema object is reused, so targets can compare by identity.
    expect((events[1] as { table: TableSchema }).table).toBe(itemsSchema);
  });

  it('emits a schema event with the previous shape when the table changed since the baseline, and later rows use the new shape', () => {
    const input = frames(begin(1), itemsWithPrice, { tag: 'insert', relationId: 16384, new: ['1', 'a', null, '9.50'] }, commit(0x5008n));
    const events = decodeAll(input, { knownTables: new Map([[itemsSchema.key, itemsSchema]]) });
    expect(kinds(events)).toEqual(['begin', 'schema', 'insert', 'commit']);
    expect(events[1]).toMatchObject({ previous: itemsSchema, table: { columns: itemsWithPrice.columns } });
    expect(events[2]).toMatchObject({ table: { columns: itemsWithPrice.columns }, row: { price: '9.50' } });
  });

  it('emits a schema event when a relation changes mid-stream, and none when it is announced again unchanged', () => {
    const input = frames(
      begin(1),
      items,
      { tag: 'insert', relationId: 16384, new: ['1', 'a', null] },
      commit(0x5008n),
      begin(2),
      items,
      itemsWithPrice,
      { tag: 'insert', relationId: 16384, new: ['2', 'b', null, '1'] },
      commit(0x6008n),
    );
    expect(kinds(decodeAll(input))).toEqual(['begin', 'schema', 'insert', 'commit', 'begin', 'schema', 'insert', 'commit']);
  });

  it('keeps the baseline’s key columns under REPLICA IDENTITY FULL, where pgoutput flags every column', () => {
    const full = relationMessage(16384, 'public', 'items', [['id', 23, true], ['name', 25, true], ['doc', 25, true]], 'full');
    const known: TableSchema = { ...itemsSchema, replicaIdentity: 'full' };
    const input = frames(begin(1), full, { tag: 'delete', relationId: 16384, old: ['1', 'a', 'b'] }, commit(0x5008n));
    const events = decodeAll(input, { knownTables: [known] });
    expect(kinds(events)).toEqual(['begin', 'delete', 'commit']);
    expect(events[1]).toMatchObject({ old: { id: 1, name: 'a', doc: 'b' }, oldKind: 'full', table: { keyColumns: ['id'] } });
    // Without a baseline every column is the key: the whole row identifies it.
    expect(decodeAll(input)[1]).toMatchObject({ kind: 'schema', table: { keyColumns: ['id', 'name', 'doc'] } });
  });

  it('maps update and delete old tuples: K is the old key, O the whole old row', () => {
    const input = frames(
      begin(1),
      items,
      { tag: 'update', relationId: 16384, new: ['1', 'b', UNCHANGED_TOAST] },
      { tag: 'update', relationId: 16384, key: ['9', null, null], new: ['1', 'b', 'c'] },
      { tag: 'update', relationId: 16384, old: ['1', 'a', 'x'], new: ['1', 'b', 'c'] },
      { tag: 'delete', relationId: 16384, key: ['1', null, null] },
      { tag: 'delete', relationId: 16384, old: ['1', 'b', 'c'] },
      commit(0x5008n),
    );
    const [, , plain, keyed, full, deleteKey, deleteFull] = decodeAll(input);
    expect(plain).toMatchObject({ kind: 'update', row: { id: 1, name: 'b', doc: UNCHANGED_TOAST } });
    expect(plain).not.toHaveProperty('old');
    expect(plain).not.toHaveProperty('oldKind');
    expect(keyed).toMatchObject({ kind: 'update', old: { id: 9 }, oldKind: 'key' });
    expect(full).toMatchObject({ kind: 'update', old: { id: 1, name: 'a', doc: 'x' }, oldKind: 'full' });
    expect(deleteKey).toMatchObject({ kind: 'delete', old: { id: 1 }, oldKind: 'key' });
    expect(deleteFull).toMatchObject({ kind: 'delete', old: { id: 1, name: 'b', doc: 'c' }, oldKind: 'full' });
  });

  it('keeps unchanged TOAST columns as UNCHANGED_TOAST', () => {
    const input = frames(begin(1), items, { tag: 'update', relationId: 16384, new: ['1', UNCHANGED_TOAST, UNCHANGED_TOAST] }, commit(0x5008n));
    expect(decodeAll(input)[2]).toMatchObject({ row: { id: 1, name: UNCHANGED_TOAST, doc: UNCHANGED_TOAST } });
  });

  it('maps a truncate of several tables with its options', () => {
    const input = frames(begin(1), items, tags, { tag: 'truncate', cascade: true, restartIdentity: false, relationIds: [16384, 16390] }, commit(0x5008n));
    const truncate = decodeAll(input)[3];
    expect(truncate).toMatchObject({ kind: 'truncate', cascade: true, restartIdentity: false, xid: 1, lsn: 0x1300n });
    expect((truncate as TruncateChange).tables.map((t) => t.key)).toEqual(['public.items', 'public.tags']);
  });

  it('maps transactional messages with the transaction’s xid and non-transactional ones without', () => {
    const content = Buffer.from('hello');
    const input = frames(
      { tag: 'message', transactional: false, lsn: 0x4000n, prefix: 'app', content },
      begin(5),
      { tag: 'message', transactional: true, lsn: 0x4100n, prefix: 'app', content },
      commit(0x5008n),
    );
    const events = decodeAll(input);
    expect(events[0]).toEqual({ kind: 'message', prefix: 'app', content, transactional: false, lsn: 0x4000n, bytes: input[0]!.length });
    expect(events[2]).toEqual({ kind: 'message', prefix: 'app', content, transactional: true, lsn: 0x4100n, xid: 5, bytes: input[2]!.length });
  });

  it('maps a keepalive to a progress event at its walEnd', () => {
    const input = [keepalive(0xabcdefn, true)];
    expect(decodeAll(input)).toEqual([{ kind: 'progress', walEnd: 0xabcdefn, bytes: input[0]!.length }]);
  });

  it('gives the bytes of Origin and Type messages to the next event', () => {
    const input = frames(
      begin(1),
      { tag: 'origin', originLsn: 0x10n, name: 'upstream' },
      { tag: 'type', typeOid: 90000, schema: 'public', name: 'mood' },
      items,
      commit(0x5008n),
    );
    const events = decodeAll(input);
    expect(kinds(events)).toEqual(['begin', 'schema', 'commit']);
    expect(events[1]!.bytes).toBe(input[1]!.length + input[2]!.length + input[3]!.length);
  });

  describe('streamed transactions, assembled (default)', () => {
    const streamed = (extra: (EncodableMessage | { keepalive: bigint })[] = []): Buffer[] =>
      frames(
        { tag: 'stream_start', xid: 900, firstSegment: true },
        { ...items, xid: 900 },
        { tag: 'insert', xid: 900, relationId: 16384, new: ['1', 'a', null] },
        { tag: 'stream_stop' },
        begin(800),
        items,
        { tag: 'insert', relationId: 16384, new: ['50', 'other', null] },
        commit(0x4008n),
        { tag: 'stream_start', xid: 900, firstSegment: false },
        { tag: 'insert', xid: 901, relationId: 16384, new: ['2', 'in savepoint', null] },
        { tag: 'insert', xid: 900, relationId: 16384, new: ['3', 'c', null] },
        { tag: 'stream_stop' },
        ...extra,
      );

    it('emits the whole transaction at Stream Commit, after the transactions that committed before it', () => {
      const input = streamed([{ tag: 'stream_commit', xid: 900, flags: 0, commitLsn: 0x8000n, commitEndLsn: 0x8008n, commitTime }]);
      const events = decodeAll(input).filter((e) => e.kind !== 'progress');
      expect(kinds(events)).toEqual(['begin', 'schema', 'insert', 'commit', 'begin', 'insert', 'insert', 'insert', 'commit']);
      expect(events[4]).toEqual({ kind: 'begin', transaction: { xid: 900, commitLsn: 0x8000n, commitTime: COMMIT_TIME }, bytes: 0 });
      expect(events.slice(5, 8).map((e) => (e as InsertChange).row['id'])).toEqual([1, 2, 3]);
      expect(events.slice(5, 8).every((e) => (e as { xid: number }).xid === 900 && !('subXid' in e))).toBe(true);
      expect(events[8]).toMatchObject({ kind: 'commit', commitEndLsn: 0x8008n });
    });

    it('accounts the bytes of buffered frames at once, in progress events that confirm nothing', () => {
      const input = streamed([{ tag: 'stream_commit', xid: 900, flags: 0, commitLsn: 0x8000n, commitEndLsn: 0x8008n, commitTime }]);
      const events = decodeAll(input);
      const accounting = events.filter((e) => e.kind === 'progress');
      expect(accounting.every((e) => e.walEnd === 0n)).toBe(true);
      expect(totalBytes(accounting)).toBe(totalLength([...input.slice(0, 4), ...input.slice(8, 12)]));
      expect(totalBytes(events)).toBe(totalLength(input));
    });

    it('drops the transaction at Stream Abort of its top-level xid', () => {
      const input = streamed([{ tag: 'stream_abort', xid: 900, subXid: 900 }, { keepalive: 0x9000n }]);
      const events = decodeAll(input).filter((e) => e.kind !== 'progress' || e.walEnd !== 0n);
      expect(kinds(events)).toEqual(['begin', 'schema', 'insert', 'commit', 'progress']);
      expect(totalBytes(decodeAll(input))).toBe(totalLength(input));
    });

    it('drops only an aborted subtransaction’s changes', () => {
      const input = streamed([
        { tag: 'stream_abort', xid: 900, subXid: 901 },
        { tag: 'stream_commit', xid: 900, flags: 0, commitLsn: 0x8000n, commitEndLsn: 0x8008n, commitTime },
      ]);
      const events = decodeAll(input).filter((e) => e.kind !== 'progress');
      const assembled = events.slice(4);
      expect(kinds(assembled)).toEqual(['begin', 'insert', 'commit']);
      expect((assembled[1] as InsertChange).row['id']).toBe(1);
    });

    it('keeps a schema event announced inside the transaction and emits it in order', () => {
      const input = frames(
        { tag: 'stream_start', xid: 900, firstSegment: true },
        { ...itemsWithPrice, xid: 900 },
        { tag: 'insert', xid: 900, relationId: 16384, new: ['1', 'a', null, '2'] },
        { tag: 'stream_stop' },
        { tag: 'stream_commit', xid: 900, flags: 0, commitLsn: 0x8000n, commitEndLsn: 0x8008n, commitTime },
        begin(901),
        { tag: 'insert', relationId: 16384, new: ['2', 'b', null, '3'] },
        commit(0x9008n),
      );
      const events = decodeAll(input, { knownTables: [itemsSchema] }).filter((e) => e.kind !== 'progress');
      expect(kinds(events)).toEqual(['begin', 'schema', 'insert', 'commit', 'begin', 'insert', 'commit']);
      expect(events[5]).toMatchObject({ table: { columns: itemsWithPrice.columns } });
    });
  });

  describe('streamed transactions, passed through', () => {
    const options: DecodePgoutputOptions = { streams: 'passthrough' };

    it('emits changes as they arrive, tagging a subtransaction’s changes with subXid', () => {
      const input = frames(
        { tag: 'stream_start', xid: 900, firstSegment: true },
        { ...items, xid: 900 },
        { tag: 'insert', xid: 900, relationId: 16384, new: ['1', 'a', null] },
        { tag: 'insert', xid: 901, relationId: 16384, new: ['2', 'b', null] },
        { tag: 'stream_stop' },
        { tag: 'stream_commit', xid: 900, flags: 0, commitLsn: 0x8000n, commitEndLsn: 0x8008n, commitTime },
      );
      const events = decodeAll(input, options);
      expect(kinds(events)).toEqual(['begin', 'schema', 'insert', 'insert', 'commit']);
      expect(events[0]).toEqual({ kind: 'begin', transaction: { xid: 900, commitLsn: 0n, commitTime: '' }, bytes: input[0]!.length });
      expect(events[2]).toMatchObject({ xid: 900 });
      expect(events[2]).not.toHaveProperty('subXid');
      expect(events[3]).toMatchObject({ xid: 900, subXid: 901 });
      expect(events[4]).toMatchObject({ transaction: { xid: 900, commitLsn: 0x8000n, commitTime: COMMIT_TIME }, commitEndLsn: 0x8008n });
      expect(totalBytes(events)).toBe(totalLength(input));
    });

    it('turns Stream Abort into a rollback, with subXid when only a subtransaction aborted', () => {
      const input = frames(
        { tag: 'stream_start', xid: 900, firstSegment: true },
        { ...items, xid: 900 },
        { tag: 'insert', xid: 901, relationId: 16384, new: ['2', 'b', null] },
        { tag: 'stream_stop' },
        { tag: 'stream_abort', xid: 900, subXid: 901 },
        { tag: 'stream_abort', xid: 900, subXid: 900 },
      );
      const events = decodeAll(input, options);
      expect(events.slice(-2)).toEqual([
        { kind: 'rollback', xid: 900, subXid: 901, bytes: input[3]!.length + input[4]!.length },
        { kind: 'rollback', xid: 900, bytes: input[5]!.length },
      ]);
    });
  });

  describe('bad input', () => {
    it.each<[string, Buffer[]]>([
      ['a commit without a begin', frames(commit(0x10n))],
      ['an insert outside a transaction', frames(items, { tag: 'insert', relationId: 16384, new: ['1', 'a', null] })],
      ['a second begin inside a transaction', frames(begin(1), begin(2))],
      ['a later stream segment without the first', frames({ tag: 'stream_start', xid: 5, firstSegment: false })],
      ['a stream commit of an unknown xid', frames({ tag: 'stream_commit', xid: 5, flags: 0, commitLsn: 1n, commitEndLsn: 2n, commitTime })],
      ['a stream abort of an unknown xid', frames({ tag: 'stream_abort', xid: 5, subXid: 5 })],
      [
        'a two-phase message',
        frames({ tag: 'begin_prepare', prepareLsn: 1n, prepareEndLsn: 2n, prepareTime: commitTime, xid: 5, gid: 'g' }),
      ],
      ['an unknown replication message', [Buffer.from('z')]],
      ['an empty frame', [Buffer.alloc(0)]],
    ])('refuses %s with a ProtocolError', (_what, input) => {
      expect(() => decodeAll(input)).toThrow(ProtocolError);
    });

    it('never crashes with anything but a ProtocolError on random bytes', () => {
      fc.assert(
        fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
          const decoder = new PgoutputEventDecoder();
          for (const chunk of chunks) {
            try {
              decoder.push(Buffer.from([0x77, ...new Array<number>(24).fill(0), ...chunk]), () => undefined);
            } catch (error) {
              expect(error).toBeInstanceOf(ProtocolError);
            }
          }
        }),
      );
    });
  });

  it('accounts every frame’s bytes in the events, whatever the mix of transactions', () => {
    type Step = 'tx' | 'keepalive' | 'streamed-commit' | 'streamed-abort' | 'sub-abort' | 'relation';
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<Step>('tx', 'keepalive', 'streamed-commit', 'streamed-abort', 'sub-abort', 'relation'), { maxLength: 20 }),
        fc.constantFrom<'assemble' | 'passthrough'>('assemble', 'passthrough'),
        (steps, streams) => {
          const messages: (EncodableMessage | { keepalive: bigint })[] = [begin(1), items, commit(0x2000n)];
          let xid = 10;
          for (const step of steps) {
            xid += 2;
            if (step === 'keepalive') messages.push({ keepalive: 0x9000n });
            else if (step === 'relation') messages.push(begin(xid), items, commit(0x3000n));
            else if (step === 'tx') messages.push(begin(xid), { tag: 'insert', relationId: 16384, new: ['1', 'a', null] }, commit(0x3000n));
            else {
              messages.push(
                { tag: 'stream_start', xid, firstSegment: true },
                { tag: 'insert', xid, relationId: 16384, new: ['1', 'a', null] },
                { tag: 'insert', xid: xid + 1, relationId: 16384, new: ['2', 'b', null] },
                { tag: 'stream_stop' },
              );
              if (step === 'streamed-commit') messages.push({ tag: 'stream_commit', xid, flags: 0, commitLsn: 1n, commitEndLsn: 2n, commitTime });
              else if (step === 'streamed-abort') messages.push({ tag: 'stream_abort', xid, subXid: xid });
              else messages.push({ tag: 'stream_abort', xid, subXid: xid + 1 }, { tag: 'stream_commit', xid, flags: 0, commitLsn: 1n, commitEndLsn: 2n, commitTime });
            }
          }
          const input = frames(...messages);
          expect(totalBytes(decodeAll(input, { streams }))).toBe(totalLength(input));
        },
      ),
    );
  });

  describe('as an operator', () => {
    let testScheduler: TestScheduler;
    beforeEach(() => {
      testScheduler = new TestScheduler((actual, expected) => {
        expect(actual).toEqual(expected);
      });
    });

    it('emits events as frames arrive and gives trailing bytes back when the input completes', () => {
      const input = frames(begin(1), items, { tag: 'insert', relationId: 16384, new: ['1', 'a', null] }, commit(0x5008n), items);
      const expected = decodeAll(input);
      expect(expected.at(-1)).toEqual({ kind: 'progress', walEnd: 0n, bytes: input[4]!.length });
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold('a-b-c-d-e|', { a: input[0]!, b: input[1]!, c: input[2]!, d: input[3]!, e: input[4]! });
        expectObservable(source.pipe(decodePgoutput({ knownTables: [itemsSchema] }))).toBe('a---c-d--(e|)', {
          a: expected[0]!,
          c: { ...expected[2]!, bytes: input[1]!.length + input[2]!.length },
          d: expected[3]!,
          e: expected[4]!,
        });
      });
    });

    it('errors with a ProtocolError on bad frames and passes source errors through', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const failure = new Error('socket closed');
        expectObservable(cold('a', { a: Buffer.from('z') }).pipe(decodePgoutput())).toBe(
          '(p#)',
          { p: { kind: 'progress', walEnd: 0n, bytes: 1 } },
          expect.any(ProtocolError),
        );
        expectObservable(cold<Buffer>('-#', undefined, failure).pipe(decodePgoutput())).toBe('-#', undefined, failure);
        // A Type frame yields no event; its bytes are handed back before the error.
        const type = frames({ tag: 'type', typeOid: 90000, schema: 'public', name: 'mood' })[0]!;
        expectObservable(cold('a#', { a: type }, failure).pipe(decodePgoutput())).toBe(
          '-(p#)',
          { p: { kind: 'progress', walEnd: 0n, bytes: type.length } },
          failure,
        );
      });
    });

    it('keeps relation state per subscription', () => {
      const input = frames(begin(1), items, commit(0x5008n));
      testScheduler.run(({ cold, expectObservable }) => {
        const decoded = cold('abc', { a: input[0]!, b: input[1]!, c: input[2]! }).pipe(decodePgoutput());
        const kindsOf = decoded.pipe(map((e) => e.kind));
        expectObservable(kindsOf).toBe('abc', { a: 'begin', b: 'schema', c: 'commit' });
        expectObservable(kindsOf).toBe('abc', { a: 'begin', b: 'schema', c: 'commit' });
      });
    });
  });
});
