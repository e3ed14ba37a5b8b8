import { describe, expect, it } from 'vitest';
import { ProtocolError, type ProtocolErrorCode } from '../../src/protocol/errors.js';
import type { RelationMessage } from '../../src/protocol/pgoutput-messages.js';
import { PgoutputDecoder } from '../../src/protocol/pgoutput.js';
import { UNCHANGED_TOAST } from '../../src/protocol/row.js';
import { encodePgoutput, relationMessage, type EncodableMessage } from '../support/pgoutput-builder.js';

const INT4 = 23;
const TEXT = 25;
const BOOL = 16;

const users = relationMessage(16384, 'public', 'users', [
  ['id', INT4, true],
  ['name', TEXT],
  ['bio', TEXT],
]);

function decoderWith(...relations: RelationMessage[]): PgoutputDecoder {
  const decoder = new PgoutputDecoder();
  for (const relation of relations) decoder.decode(encodePgoutput(relation));
  return decoder;
}

function decodeError(decoder: PgoutputDecoder, bytes: Buffer): ProtocolError {
  try {
    decoder.decode(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return error as ProtocolError;
  }
  throw new Error(`decoded ${bytes.toString('hex')} without an error`);
}

function expectProtocolError(decoder: PgoutputDecoder, bytes: Buffer, code: ProtocolErrorCode, offset: number): ProtocolError {
  const error = decodeError(decoder, bytes);
  expect({ code: error.code, offset: error.offset }).toEqual({ code, offset });
  expect(error.retryable).toBe(false);
  expect(error.message).toContain(`(at byte ${offset})`);
  return error;
}

describe('PgoutputDecoder', () => {
  describe('transaction and stream control messages', () => {
    const samples: [string, EncodableMessage][] = [
      ['Begin', { tag: 'begin', finalLsn: 0x16_b374_d848n, commitTime: 789_000_000_123_456n, xid: 4_000_000_000 }],
      ['Commit', { tag: 'commit', flags: 0, commitLsn: 0x100n, commitEndLsn: 0x130n, commitTime: -5n }],
      ['Origin', { tag: 'origin', originLsn: 0xffff_ffff_ffff_ffffn, name: 'elsewhere ✓' }],
      ['Type', { tag: 'type', typeOid: 99_999, schema: 'app', name: 'mood' }],
      ['Truncate', { tag: 'truncate', cascade: true, restartIdentity: true, relationIds: [16384] }],
      ['Message', { tag: 'message', transactional: false, lsn: 0x42n, prefix: 'app/event', content: Buffer.from([0, 1, 255]) }],
      ['Message with empty content', { tag: 'message', transactional: true, lsn: 1n, prefix: '', content: Buffer.alloc(0) }],
      ['Stream Commit', { tag: 'stream_commit', xid: 7, flags: 0, commitLsn: 0x200n, commitEndLsn: 0x230n, commitTime: 1n }],
      ['Stream Abort', { tag: 'stream_abort', xid: 7, subXid: 8 }],
      ['Stream Abort (v4 parallel)', { tag: 'stream_abort', xid: 7, subXid: 7, abortLsn: 0x300n, abortTime: 2n }],
      ['Begin Prepare', { tag: 'begin_prepare', prepareLsn: 1n, prepareEndLsn: 2n, prepareTime: 3n, xid: 4, gid: 'gid-1' }],
      ['Prepare', { tag: 'prepare', flags: 0, prepareLsn: 1n, prepareEndLsn: 2n, prepareTime: 3n, xid: 4, gid: 'gid-1' }],
      ['Commit Prepared', { tag: 'commit_prepared', flags: 0, commitLsn: 5n, commitEndLsn: 6n, commitTime: 7n, xid: 4, gid: 'gid-1' }],
      [
        'Rollback Prepared',
        { tag: 'rollback_prepared', flags: 0, prepareEndLsn: 2n, rollbackEndLsn: 8n, prepareTime: 3n, rollbackTime: 9n, xid: 4, gid: 'g' },
      ],
      ['Stream Prepare', { tag: 'stream_prepare', flags: 0, prepareLsn: 1n, prepareEndLsn: 2n, prepareTime: 3n, xid: 4, gid: 'gid-2' }],
    ];

    it.each(samples)('decodes %s as encoded', (_name, message) => {
      expect(decoderWith(users).decode(encodePgoutput(message))).toEqual(message);
    });

    it('decodes a Relation and keeps it for relation(id), namespace and type modifiers included', () => {
      const relation: RelationMessage = {
        tag: 'relation',
        relationId: 4_294_967_295,
        schema: '',
        name: 'pg_thing',
        replicaIdentity: 'index',
        columns: [
          { isKey: true, name: 'a', typeOid: 1700, typeMod: 786_438 },
          { isKey: false, name: 'é', typeOid: 4_000_000_000, typeMod: -1 },
        ],
      };
      const decoder = new PgoutputDecoder();
      expect(decoder.decode(encodePgoutput(relation))).toEqual(relation);
      expect(decoder.relation(4_294_967_295)).toEqual(relation);
      expect(decoder.relation(1)).toBeUndefined();
    });

    it('decodes every replica identity setting', () => {
      for (const replicaIdentity of ['default', 'nothing', 'full', 'index'] as const) {
        const relation = { ...users, replicaIdentity };
        expect(new PgoutputDecoder().decode(encodePgoutput(relation))).toEqual(relation);
      }
    });

    it('keeps the last Type message per type oid', () => {
      const decoder = new PgoutputDecoder();
      decoder.decode(encodePgoutput({ tag: 'type', typeOid: 5, schema: 'a', name: 'old' }));
      decoder.decode(encodePgoutput({ tag: 'type', typeOid: 5, schema: 'a', name: 'new' }));
      expect(decoder.type(5)?.name).toBe('new');
    });
  });

  describe('rows', () => {
    it('decodes an insert into a row keyed by column name, values converted by type', () => {
      const decoder = decoderWith(relationMessage(1, 'public', 't', [['id', INT4, true], ['ok', BOOL], ['note', TEXT]]));
      const message = decoder.decode(encodePgoutput({ tag: 'insert', relationId: 1, new: ['42', 't', 'hi'] }));
      expect(message).toEqual({ tag: 'insert', relationId: 1, new: { id: 42, ok: true, note: 'hi' } });
    });

    it('decodes n as null and u as UNCHANGED_TOAST', () => {
      const message = decoderWith(users).decode(encodePgoutput({ tag: 'update', relationId: 16384, new: ['1', null, UNCHANGED_TOAST] }));
      expect(message).toEqual({ tag: 'update', relationId: 16384, new: { id: 1, name: null, bio: UNCHANGED_TOAST } });
    });

    it('decodes an update with the old key (K) and one with the old row (O)', () => {
      const decoder = decoderWith(users);
      expect(decoder.decode(encodePgoutput({ tag: 'update', relationId: 16384, key: ['1', null, null], new: ['2', 'b', null] }))).toEqual({
        tag: 'update',
        relationId: 16384,
        key: { id: 1, name: null, bio: null },
        new: { id: 2, name: 'b', bio: null },
      });
      expect(decoder.decode(encodePgoutput({ tag: 'update', relationId: 16384, old: ['1', 'a', 'x'], new: ['1', 'b', 'x'] }))).toEqual({
        tag: 'update',
        relationId: 16384,
        old: { id: 1, name: 'a', bio: 'x' },
        new: { id: 1, name: 'b', bio: 'x' },
      });
    });

    it('decodes a delete with the key (K) and one with the old row (O)', () => {
      const decoder = decoderWith(users);
      expect(decoder.decode(encodePgoutput({ tag: 'delete', relationId: 16384, key: ['1', null, null] }))).toEqual({
        tag: 'delete',
        relationId: 16384,
        key: { id: 1, name: null, bio: null },
      });
      expect(decoder.decode(encodePgoutput({ tag: 'delete', relationId: 16384, old: ['1', 'a', 'x'] }))).toEqual({
        tag: 'delete',
        relationId: 16384,
        old: { id: 1, name: 'a', bio: 'x' },
      });
    });

    it('decodes binary (b) columns with the binary converter, in either decoder mode', () => {
      const int4 = Buffer.from([0, 0, 1, 0]);
      for (const binary of [false, true]) {
        const decoder = new PgoutputDecoder({ binary });
        decoder.decode(encodePgoutput(users));
        expect(decoder.decode(encodePgoutput({ tag: 'insert', relationId: 16384, new: [int4, 'text', Buffer.from('bytes')] }))).toEqual({
          tag: 'insert',
          relationId: 16384,
          new: { id: 256, name: 'text', bio: 'bytes' },
        });
      }
    });

    it('decodes UTF-8 text exactly, in short and long messages, ASCII or not', () => {
      const decoder = decoderWith(users);
      const cases = [
        ['é', 'naïve — ✓ 🐘', ''],
        ['a'.repeat(2000), 'b', 'c'],
        ['a'.repeat(2000), '🐘'.repeat(300), 'ü'],
        ['plain', 'ascii', 'only'],
      ];
      for (const [id, name, bio] of cases) {
        const relation = relationMessage(2, 's', 't', [['id', TEXT], ['name', TEXT], ['bio', TEXT]]);
        decoder.decode(encodePgoutput(relation));
        expect(decoder.decode(encodePgoutput({ tag: 'insert', relationId: 2, new: [id!, name!, bio!] }))).toEqual({
          tag: 'insert',
          relationId: 2,
          new: { id, name, bio },
        });
      }
      // Old and new tuples of one message, where only the new one has a multi-byte character.
      expect(decoder.decode(encodePgoutput({ tag: 'update', relationId: 2, old: ['a', 'b', 'c'], new: ['a', 'b', 'ç'] }))).toEqual({
        tag: 'update',
        relationId: 2,
        old: { id: 'a', name: 'b', bio: 'c' },
        new: { id: 'a', name: 'b', bio: 'ç' },
      });
    });

    it('makes plain rows whatever the column names: quotes, backslashes, line breaks, __proto__', () => {
      const names = ['"', '\\', "'", 'line\nbreak', '\u2028', '${x}', '"]; throw new Error("injected"); //', 'constructor', '__proto__'];
      const relation = relationMessage(3, 'public', 'odd', names.map((name) => [name, TEXT] as const));
      const decoder = decoderWith(relation);
      const message = decoder.decode(encodePgoutput({ tag: 'insert', relationId: 3, new: names.map((_, i) => String(i)) }));
      if (message.tag !== 'insert') throw new Error('not an insert');
      expect(Object.keys(message.new)).toEqual(names);
      expect(Object.getPrototypeOf(message.new)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(message.new, '__proto__')?.value).toBe('8');
      names.forEach((name, i) => {
        expect(message.new[name]).toBe(String(i));
      });

      const withoutProto = relationMessage(4, 'public', 'odd2', names.slice(0, -1).map((name) => [name, TEXT] as const));
      decoder.decode(encodePgoutput(withoutProto));
      const row = decoder.decode(encodePgoutput({ tag: 'insert', relationId: 4, new: names.slice(0, -1).map((_, i) => String(i)) }));
      expect(row).toEqual({ tag: 'insert', relationId: 4, new: Object.fromEntries(names.slice(0, -1).map((name, i) => [name, String(i)])) });
    });

    it('returns a new row object every time', () => {
      const decoder = decoderWith(users);
      const bytes = encodePgoutput({ tag: 'insert', relationId: 16384, new: ['1', 'a', 'b'] });
      const first = decoder.decode(bytes);
      const second = decoder.decode(bytes);
      expect(first).toEqual(second);
      expect(first).not.toBe(second);
      if (first.tag === 'insert' && second.tag === 'insert') expect(first.new).not.toBe(second.new);
    });

    it('decodes later rows with the new shape after a changed Relation message', () => {
      const decoder = decoderWith(users);
      decoder.decode(encodePgoutput(relationMessage(16384, 'public', 'users', [['id', INT4, true], ['email', TEXT]])));
      expect(decoder.decode(encodePgoutput({ tag: 'insert', relationId: 16384, new: ['1', 'a@b'] }))).toEqual({
        tag: 'insert',
        relationId: 16384,
        new: { id: 1, email: 'a@b' },
      });
      // Same names, another type: the converters follow the type.
      decoder.decode(encodePgoutput(relationMessage(16384, 'public', 'users', [['id', TEXT, true], ['email', TEXT]])));
      expect(decoder.decode(encodePgoutput({ tag: 'insert', relationId: 16384, new: ['1', 'a@b'] }))).toEqual({
        tag: 'insert',
        relationId: 16384,
        new: { id: '1', email: 'a@b' },
      });
    });

    it('hands a converter’s refusal on as a ProtocolError naming the column and where its value starts', () => {
      const decoder = decoderWith(users);
      const bytes = encodePgoutput({ tag: 'insert', relationId: 16384, new: ['forty-two', null, null] });
      // I + relation id + N + column count + kind + length
      const error = expectProtocolError(decoder, bytes, 'MALFORMED', 1 + 4 + 1 + 2 + 1 + 4);
      expect(error.message).toContain('column "id" of public.users (type oid 23, text)');
      expect(error.cause).toBeInstanceOf(ProtocolError);
    });
  });

  describe('streamed transactions (v2+)', () => {
    it('reads the xid of data messages only between Stream Start and Stream Stop', () => {
      const decoder = new PgoutputDecoder({ protocolVersion: 2 });
      expect(decoder.decode(encodePgoutput({ tag: 'stream_start', xid: 700, firstSegment: true }))).toEqual({
        tag: 'stream_start',
        xid: 700,
        firstSegment: true,
      });
      expect(decoder.inStream).toBe(true);
      const streamed: EncodableMessage[] = [
        { ...users, xid: 700 },
        { tag: 'type', xid: 700, typeOid: 5, schema: 's', name: 'e' },
        { tag: 'insert', xid: 701, relationId: 16384, new: ['1', 'a', null] },
        { tag: 'update', xid: 700, relationId: 16384, key: ['1', null, null], new: ['2', 'a', null] },
        { tag: 'delete', xid: 700, relationId: 16384, old: ['2', 'a', null] },
        { tag: 'truncate', xid: 700, cascade: false, restartIdentity: true, relationIds: [16384] },
        { tag: 'message', xid: 700, transactional: true, lsn: 5n, prefix: 'p', content: Buffer.from('c') },
      ];
      const decoded = streamed.map((message) => decoder.decode(encodePgoutput(message)));
      expect(decoded.map((m) => ('xid' in m ? m.xid : undefined))).toEqual([700, 700, 701, 700, 700, 700, 700]);
      expect(decoded[2]).toEqual({ tag: 'insert', xid: 701, relationId: 16384, new: { id: 1, name: 'a', bio: null } });
      expect(decoder.decode(encodePgoutput({ tag: 'stream_stop' }))).toEqual({ tag: 'stream_stop' });
      expect(decoder.inStream).toBe(false);
      expect(decoder.decode(encodePgoutput({ tag: 'insert', relationId: 16384, new: ['3', null, null] }))).toEqual({
        tag: 'insert',
        relationId: 16384,
        new: { id: 3, name: null, bio: null },
      });
    });

    it('refuses stream control messages out of place, without changing state', () => {
      const decoder = decoderWith(users);
      expectProtocolError(decoder, encodePgoutput({ tag: 'stream_stop' }), 'MALFORMED', 0);
      decoder.decode(encodePgoutput({ tag: 'stream_start', xid: 1, firstSegment: true }));
      expectProtocolError(decoder, encodePgoutput({ tag: 'stream_start', xid: 1, firstSegment: false }), 'MALFORMED', 0);
      expectProtocolError(decoder, encodePgoutput({ tag: 'begin', finalLsn: 1n, commitTime: 1n, xid: 1 }), 'MALFORMED', 0);
      expectProtocolError(decoder, encodePgoutput({ tag: 'commit', flags: 0, commitLsn: 1n, commitEndLsn: 2n, commitTime: 1n }), 'MALFORMED', 0);
      expectProtocolError(decoder, encodePgoutput({ tag: 'stream_commit', xid: 1, flags: 0, commitLsn: 1n, commitEndLsn: 2n, commitTime: 1n }), 'MALFORMED', 0);
      expectProtocolError(decoder, encodePgoutput({ tag: 'stream_abort', xid: 1, subXid: 1 }), 'MALFORMED', 0);
      expect(decoder.inStream).toBe(true);
      decoder.decode(encodePgoutput({ tag: 'stream_stop' }));
      expect(decoder.inStream).toBe(false);
    });

    it('reads the abort LSN and time of Stream Abort only under v4', () => {
      const parallel = encodePgoutput({ tag: 'stream_abort', xid: 7, subXid: 8, abortLsn: 9n, abortTime: 10n });
      expect(new PgoutputDecoder({ protocolVersion: 4 }).decode(parallel)).toEqual({ tag: 'stream_abort', xid: 7, subXid: 8, abortLsn: 9n, abortTime: 10n });
      expectProtocolError(new PgoutputDecoder({ protocolVersion: 3 }), parallel, 'TRAILING_BYTES', 9);
      // A v4 Stream Abort that is neither 9 nor 25 bytes long.
      expectProtocolError(new PgoutputDecoder({ protocolVersion: 4 }), parallel.subarray(0, 17), 'TRAILING_BYTES', 9);
    });
  });

  describe('protocol versions', () => {
    it.each([
      [1, encodePgoutput({ tag: 'stream_start', xid: 1, firstSegment: true })],
      [1, encodePgoutput({ tag: 'stream_abort', xid: 1, subXid: 1 })],
      [2, encodePgoutput({ tag: 'begin_prepare', prepareLsn: 1n, prepareEndLsn: 2n, prepareTime: 3n, xid: 4, gid: 'g' })],
      [2, encodePgoutput({ tag: 'stream_prepare', flags: 0, prepareLsn: 1n, prepareEndLsn: 2n, prepareTime: 3n, xid: 4, gid: 'g' })],
    ] as const)('a version %i decoder refuses messages of later versions as UNKNOWN_MESSAGE', (protocolVersion, bytes) => {
      const error = expectProtocolError(new PgoutputDecoder({ protocolVersion }), bytes, 'UNKNOWN_MESSAGE', 0);
      expect(error.message).toContain('protocolVersion');
    });

    it('refuses an unknown protocol version up front', () => {
      expect(() => new PgoutputDecoder({ protocolVersion: 5 as 4 })).toThrow(RangeError);
    });
  });

  describe('bad bytes', () => {
    const insert = encodePgoutput({ tag: 'insert', relationId: 16384, new: ['1', 'name', null] });

    it('refuses an empty message', () => {
      expectProtocolError(new PgoutputDecoder(), Buffer.alloc(0), 'TRUNCATED', 0);
    });

    it('refuses an unknown tag', () => {
      expectProtocolError(new PgoutputDecoder(), Buffer.from('Z'), 'UNKNOWN_MESSAGE', 0);
    });

    it('refuses a row of a relation no Relation message announced', () => {
      expectProtocolError(new PgoutputDecoder(), insert, 'UNKNOWN_RELATION', 1);
      expectProtocolError(new PgoutputDecoder(), encodePgoutput({ tag: 'truncate', cascade: false, restartIdentity: false, relationIds: [5] }), 'UNKNOWN_RELATION', 6);
    });

    it('refuses a tuple whose column count differs from the relation’s', () => {
      const decoder = decoderWith(users);
      const error = expectProtocolError(decoder, encodePgoutput({ tag: 'insert', relationId: 16384, new: ['1', 'name'] }), 'MALFORMED', 6);
      expect(error.message).toContain('public.users');
    });

    it('refuses an unknown tuple kind', () => {
      const bytes = Buffer.from(insert);
      bytes[1 + 4 + 1 + 2] = 0x78; // x instead of t
      expectProtocolError(decoderWith(users), bytes, 'UNKNOWN_TUPLE_KIND', 8);
    });

    it('refuses trailing bytes', () => {
      expectProtocolError(decoderWith(users), Buffer.concat([insert, Buffer.from([0])]), 'TRAILING_BYTES', insert.length);
      const streaming = new PgoutputDecoder();
      streaming.decode(encodePgoutput({ tag: 'stream_start', xid: 1, firstSegment: true }));
      expectProtocolError(streaming, Buffer.from('E\0'), 'TRAILING_BYTES', 1);
    });

    it('refuses a value length past the end, and a negative one', () => {
      const long = Buffer.from(insert);
      long.writeInt32BE(1000, 1 + 4 + 1 + 2 + 1);
      expectProtocolError(decoderWith(users), long, 'TRUNCATED', 13);
      const negative = Buffer.from(insert);
      negative.writeInt32BE(-1, 1 + 4 + 1 + 2 + 1);
      expectProtocolError(decoderWith(users), negative, 'MALFORMED', 9);
    });

    it('refuses a string without its NUL terminator', () => {
      const origin = encodePgoutput({ tag: 'origin', originLsn: 1n, name: 'abc' });
      expectProtocolError(new PgoutputDecoder(), origin.subarray(0, -1), 'TRUNCATED', 9);
    });

    it('reports a cut-short message at the offset where the missing field starts, at every cut', () => {
      const decoder = decoderWith(users);
      for (let length = 1; length < insert.length; length++) {
        const error = decodeError(decoder, insert.subarray(0, length));
        expect(error.code).toBe('TRUNCATED');
        expect(error.offset).toBeLessThanOrEqual(length);
      }
    });

    it('refuses structurally wrong fields as MALFORMED', () => {
      const relation = encodePgoutput(users);
      const badIdentity = Buffer.from(relation);
      badIdentity[1 + 4 + 'public\0users\0'.length] = 0x78;
      expectProtocolError(new PgoutputDecoder(), badIdentity, 'MALFORMED', 18);

      const badFlags = Buffer.from(relation);
      badFlags[1 + 4 + 'public\0users\0'.length + 1 + 2] = 2;
      expectProtocolError(new PgoutputDecoder(), badFlags, 'MALFORMED', 21);

      const duplicate = encodePgoutput(relationMessage(1, 's', 't', [['a', TEXT], ['a', TEXT]]));
      expectProtocolError(new PgoutputDecoder(), duplicate, 'MALFORMED', 1 + 4 + 4 + 1 + 2 + (1 + 2 + 8) + 1);

      const truncateOptions = encodePgoutput({ tag: 'truncate', cascade: false, restartIdentity: false, relationIds: [16384] });
      truncateOptions[5] = 4;
      expectProtocolError(decoderWith(users), truncateOptions, 'MALFORMED', 5);

      const messageFlag = encodePgoutput({ tag: 'message', transactional: true, lsn: 1n, prefix: 'p', content: Buffer.alloc(0) });
      messageFlag[1] = 2;
      expectProtocolError(new PgoutputDecoder(), messageFlag, 'MALFORMED', 1);

      const streamFlag = encodePgoutput({ tag: 'stream_start', xid: 1, firstSegment: true });
      streamFlag[5] = 7;
      expectProtocolError(new PgoutputDecoder(), streamFlag, 'MALFORMED', 5);
    });

    it('refuses an update without its new tuple and a delete without K or O', () => {
      const decoder = decoderWith(users);
      const update = encodePgoutput({ tag: 'update', relationId: 16384, key: ['1', null, null], new: ['1', null, null] });
      const updateWithoutNew = Buffer.concat([update.subarray(0, 1 + 4 + 1 + 2 + 6 + 2), Buffer.from('K'), update.subarray(1 + 4 + 1 + 2 + 6 + 3)]);
      expectProtocolError(decoder, updateWithoutNew, 'MALFORMED', 16);
      const deleteNew = Buffer.from(encodePgoutput({ tag: 'delete', relationId: 16384, key: ['1', null, null] }));
      deleteNew[5] = 0x4e; // N
      expectProtocolError(decoder, deleteNew, 'MALFORMED', 5);
    });

    it('checks a Truncate’s relation count against the bytes before allocating for it', () => {
      const huge = encodePgoutput({ tag: 'truncate', cascade: false, restartIdentity: false, relationIds: [16384] });
      huge.writeInt32BE(0x7fff_ffff, 1);
      expectProtocolError(decoderWith(users), huge, 'TRUNCATED', 6);
      huge.writeInt32BE(-1, 1);
      expectProtocolError(decoderWith(users), huge, 'MALFORMED', 1);
    });

    it('leaves its state as it was when a message fails', () => {
      const decoder = decoderWith(users);
      const changed = Buffer.concat([encodePgoutput(relationMessage(16384, 'public', 'users', [['other', TEXT]])), Buffer.from([0])]);
      expectProtocolError(decoder, changed, 'TRAILING_BYTES', changed.length - 1);
      expect(decoder.relation(16384)).toEqual(users);
      const start = Buffer.concat([encodePgoutput({ tag: 'stream_start', xid: 1, firstSegment: true }), Buffer.from([0])]);
      expectProtocolError(decoder, start, 'TRAILING_BYTES', 6);
      expect(decoder.inStream).toBe(false);
      expect(decoder.decode(insert)).toEqual({ tag: 'insert', relationId: 16384, new: { id: 1, name: 'name', bio: null } });
    });
  });
});
