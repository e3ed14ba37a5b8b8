// Properties of PgoutputDecoder over generated and mutated bytes:
//  - what the test builder encodes decodes back to the same message (round trip);
//  - any bytes at all, and in particular real frames captured from PostgreSQL 14 and 18 cut at every
//    length, with bytes flipped, lengths spliced, bytes inserted and removed, yield either a message
//    that is valid for the decoder's state or a ProtocolError, never another exception, never garbage.
// Deterministic: fast-check runs with fixed seeds and the mutations use a seeded generator.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PgoutputFixture } from '../../scripts/capture-pgoutput.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import type { PgoutputMessage, RelationMessage, ReplicaIdentity } from '../../src/protocol/pgoutput-messages.js';
import { PgoutputDecoder, type PgoutputProtocolVersion } from '../../src/protocol/pgoutput.js';
import { UNCHANGED_TOAST, type PgValue, type Row } from '../../src/protocol/row.js';
import { encodePgoutput, type EncodableMessage, type Tuple } from '../support/pgoutput-builder.js';
import { seededRandom } from '../support/random.js';

const TEXT = 25;
const U32 = 0xffff_ffff;
const U64 = 0xffff_ffff_ffff_ffffn;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

// --- a seeded generator for the mutations ------------------------------------------------------------

// --- what a valid decode looks like --------------------------------------------------------------------

const isU32 = (value: unknown): boolean => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= U32;
const isLsn = (value: unknown): boolean => typeof value === 'bigint' && value >= 0n && value <= U64;
const isTime = (value: unknown): boolean => typeof value === 'bigint' && value >= I64_MIN && value <= I64_MAX;
const isFlags = (value: unknown): boolean => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 255;
const IDENTITIES: readonly ReplicaIdentity[] = ['default', 'nothing', 'full', 'index'];

/** Plain checks rather than expect(): they run a hundred thousand times, and expect() is slow. */
function check(condition: boolean, what: string, message: PgoutputMessage): void {
  if (!condition) {
    const text = JSON.stringify(message, (_key, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value));
    throw new Error(`invalid decoded message (${what}): ${text}`);
  }
}

function checkRow(row: Row | undefined, relation: RelationMessage | undefined, message: PgoutputMessage): void {
  check(relation !== undefined && row !== undefined, 'row of a known relation', message);
  const keys = Object.keys(row!);
  const names = relation!.columns.map((c) => c.name);
  check(keys.length === names.length && keys.every((key, i) => key === names[i]), 'row keys are the column names, in order', message);
  check((Object.values(row!) as unknown[]).every((value) => value !== undefined), 'no undefined value', message);
}

/**
 * Checks a successfully decoded message against the decoder state it was decoded in: field ranges, an
 * xid exactly inside stream blocks, rows shaped like their relation, known relations only.
 */
function checkValid(message: PgoutputMessage, before: { inStream: boolean; relation: (id: number) => RelationMessage | undefined }): void {
  const dataMessage = ['relation', 'type', 'insert', 'update', 'delete', 'truncate', 'message'].includes(message.tag);
  const xid = (message as { xid?: number }).xid;
  if (dataMessage) check((xid !== undefined) === before.inStream, 'an xid exactly inside a stream block', message);
  if (xid !== undefined) check(isU32(xid), 'xid', message);
  switch (message.tag) {
    case 'begin':
      check(isLsn(message.finalLsn) && isTime(message.commitTime), 'fields', message);
      break;
    case 'commit':
    case 'stream_commit':
      check(isFlags(message.flags) && isLsn(message.commitLsn) && isLsn(message.commitEndLsn) && isTime(message.commitTime), 'fields', message);
      break;
    case 'origin':
      check(isLsn(message.originLsn) && typeof message.name === 'string', 'fields', message);
      break;
    case 'relation': {
      check(isU32(message.relationId) && IDENTITIES.includes(message.replicaIdentity), 'fields', message);
      const names = message.columns.map((c) => c.name);
      check(new Set(names).size === names.length, 'unique column names', message);
      check(message.columns.every((c) => isU32(c.typeOid) && Number.isInteger(c.typeMod) && typeof c.isKey === 'boolean'), 'columns', message);
      break;
    }
    case 'type':
      check(isU32(message.typeOid), 'type oid', message);
      break;
    case 'insert':
      checkRow(message.new, before.relation(message.relationId), message);
      break;
    case 'update':
      check(message.key === undefined || message.old === undefined, 'not both K and O', message);
      if (message.key !== undefined) checkRow(message.key, before.relation(message.relationId), message);
      if (message.old !== undefined) checkRow(message.old, before.relation(message.relationId), message);
      checkRow(message.new, before.relation(message.relationId), message);
      break;
    case 'delete':
      check((message.key === undefined) !== (message.old === undefined), 'exactly one of K and O', message);
      checkRow(message.key ?? message.old, before.relation(message.relationId), message);
      break;
    case 'truncate':
      check(message.relationIds.every((id) => before.relation(id) !== undefined), 'known relations', message);
      break;
    case 'message':
      check(isLsn(message.lsn) && Buffer.isBuffer(message.content), 'fields', message);
      break;
    case 'stream_start':
      check(!before.inStream && isU32(message.xid), 'outside a stream block', message);
      break;
    case 'stream_stop':
      check(before.inStream, 'inside a stream block', message);
      break;
    case 'stream_abort':
      check(isU32(message.subXid) && (message.abortLsn === undefined || isLsn(message.abortLsn)), 'fields', message);
      check((message.abortLsn === undefined) === (message.abortTime === undefined), 'abort LSN and time together', message);
      break;
    case 'begin_prepare':
    case 'prepare':
    case 'stream_prepare':
      check(isLsn(message.prepareLsn) && isLsn(message.prepareEndLsn) && isTime(message.prepareTime) && typeof message.gid === 'string', 'fields', message);
      break;
    case 'commit_prepared':
      check(isLsn(message.commitLsn) && isLsn(message.commitEndLsn) && isTime(message.commitTime), 'fields', message);
      break;
    case 'rollback_prepared':
      check(isLsn(message.prepareEndLsn) && isLsn(message.rollbackEndLsn) && isTime(message.rollbackTime), 'fields', message);
      break;
  }
}

// --- decoder contexts: the state a frame was (or would be) decoded in ---------------------------------

interface Context {
  readonly protocolVersion: PgoutputProtocolVersion;
  readonly binary: boolean;
  /** Relations known before the frame, as announced outside a stream (no xid). */
  readonly relations: readonly RelationMessage[];
  readonly inStream: boolean;
}

interface Seed {
  readonly name: string;
  readonly context: Context;
  readonly frame: Buffer;
}

function withoutXid(relation: RelationMessage): RelationMessage {
  const { xid: _xid, ...rest } = relation;
  return rest;
}

/** A decoder in `context`'s state, made once and reused for as long as no frame changes its state. */
class PrimedDecoder {
  #decoder: PgoutputDecoder | undefined;
  readonly #context: Context;
  readonly #primers: readonly Buffer[];

  constructor(context: Context) {
    this.#context = context;
    this.#primers = [
      ...context.relations.map((r) => encodePgoutput(withoutXid(r))),
      ...(context.inStream ? [encodePgoutput({ tag: 'stream_start', xid: 1, firstSegment: true })] : []),
    ];
  }

  get decoder(): PgoutputDecoder {
    if (this.#decoder === undefined) {
      const decoder = new PgoutputDecoder({ protocolVersion: this.#context.protocolVersion, binary: this.#context.binary });
      for (const primer of this.#primers) decoder.decode(primer);
      this.#decoder = decoder;
    }
    return this.#decoder;
  }

  /** Decodes `frame`: a valid message for the state, or a ProtocolError; anything else fails the test. */
  attempt(frame: Buffer): 'decoded' | 'refused' {
    const decoder = this.decoder;
    const before = { inStream: decoder.inStream, relation: (id: number) => decoder.relation(id) };
    const relations = new Map(this.#context.relations.map((r) => [r.relationId, decoder.relation(r.relationId)]));
    let message: PgoutputMessage;
    try {
      message = decoder.decode(frame);
    } catch (error) {
      if (!(error instanceof ProtocolError)) {
        throw new Error(`not a ProtocolError for ${frame.toString('hex')}: ${String(error)}`, { cause: error });
      }
      // Plain checks rather than expect(): this runs a hundred thousand times.
      if (!Number.isInteger(error.offset) || error.offset < 0 || error.offset > frame.length) {
        throw new Error(`offset ${error.offset} outside the ${frame.length}-byte frame ${frame.toString('hex')}`, { cause: error });
      }
      // A refused frame leaves the decoder as it was.
      if (decoder.inStream !== before.inStream) {
        throw new Error(`a refused frame changed the stream state: ${frame.toString('hex')}`, { cause: error });
      }
      for (const [id, relation] of relations) {
        if (decoder.relation(id) !== relation) throw new Error(`a refused frame changed relation ${id}: ${frame.toString('hex')}`, { cause: error });
      }
      return 'refused';
    }
    checkValid(message, { inStream: before.inStream, relation: (id) => relations.get(id) ?? before.relation(id) });
    if (['relation', 'type', 'stream_start', 'stream_stop'].includes(message.tag)) this.#decoder = undefined;
    return 'decoded';
  }
}

function goldenSeeds(): Seed[] {
  const seeds: Seed[] = [];
  for (const major of [14, 18]) {
    const fixture = JSON.parse(readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'pgoutput', `pg${major}.json`), 'utf8')) as PgoutputFixture;
    for (const [name, capture] of Object.entries(fixture.captures)) {
      const protocolVersion = capture.protocolVersion as PgoutputProtocolVersion;
      const tracker = new PgoutputDecoder({ protocolVersion, binary: capture.binary });
      const relations = new Map<number, RelationMessage>();
      capture.messages.forEach(([, hex], index) => {
        const frame = Buffer.from(hex, 'hex');
        seeds.push({ name: `pg${major} ${name} #${index}`, context: { protocolVersion, binary: capture.binary, relations: [...relations.values()], inStream: tracker.inStream }, frame });
        const message = tracker.decode(frame);
        if (message.tag === 'relation') relations.set(message.relationId, message);
      });
    }
  }
  return seeds;
}

const USERS: RelationMessage = {
  tag: 'relation',
  relationId: 16384,
  schema: 'public',
  name: 'users',
  replicaIdentity: 'default',
  columns: [
    { isKey: true, name: 'id', typeOid: 23, typeMod: -1 },
    { isKey: false, name: 'name', typeOid: TEXT, typeMod: -1 },
    { isKey: false, name: 'payload', typeOid: 3802, typeMod: -1 },
  ],
};

function builderSeeds(): Seed[] {
  const outside: Context = { protocolVersion: 4, binary: false, relations: [USERS], inStream: false };
  const inside: Context = { ...outside, inStream: true };
  const row: Tuple = ['7', 'ann', '{"a":[1,2,{"b":null}]}'];
  const messages: [Context, EncodableMessage][] = [
    [outside, { tag: 'begin', finalLsn: 0x1234_5678n, commitTime: 700_000_000_000_000n, xid: 999 }],
    [outside, { tag: 'commit', flags: 0, commitLsn: 0x1234_5678n, commitEndLsn: 0x1234_56a8n, commitTime: 700_000_000_000_000n }],
    [outside, { tag: 'origin', originLsn: 0x1_0000_0000n, name: 'origin-name' }],
    [outside, USERS],
    [outside, { tag: 'type', typeOid: 70_000, schema: 'public', name: 'mood' }],
    [outside, { tag: 'insert', relationId: 16384, new: row }],
    [outside, { tag: 'update', relationId: 16384, key: ['6', null, null], new: row }],
    [outside, { tag: 'update', relationId: 16384, old: row, new: ['7', null, UNCHANGED_TOAST] }],
    [outside, { tag: 'delete', relationId: 16384, key: ['7', null, null] }],
    [outside, { tag: 'delete', relationId: 16384, old: row }],
    [outside, { tag: 'truncate', cascade: true, restartIdentity: false, relationIds: [16384, 16384] }],
    [outside, { tag: 'message', transactional: false, lsn: 5n, prefix: 'prefix', content: Buffer.from('content') }],
    [outside, { tag: 'stream_start', xid: 999, firstSegment: true }],
    [inside, { ...USERS, xid: 999 }],
    [inside, { tag: 'insert', xid: 1000, relationId: 16384, new: row }],
    [inside, { tag: 'message', xid: 999, transactional: true, lsn: 5n, prefix: 'p', content: Buffer.from([0, 1, 2]) }],
    [inside, { tag: 'stream_stop' }],
    [outside, { tag: 'stream_commit', xid: 999, flags: 0, commitLsn: 10n, commitEndLsn: 20n, commitTime: 30n }],
    [outside, { tag: 'stream_abort', xid: 999, subXid: 1000 }],
    [outside, { tag: 'stream_abort', xid: 999, subXid: 1000, abortLsn: 40n, abortTime: 50n }],
    [outside, { tag: 'begin_prepare', prepareLsn: 1n, prepareEndLsn: 2n, prepareTime: 3n, xid: 4, gid: 'gid' }],
    [outside, { tag: 'prepare', flags: 0, prepareLsn: 1n, prepareEndLsn: 2n, prepareTime: 3n, xid: 4, gid: 'gid' }],
    [outside, { tag: 'commit_prepared', flags: 0, commitLsn: 5n, commitEndLsn: 6n, commitTime: 7n, xid: 4, gid: 'gid' }],
    [outside, { tag: 'rollback_prepared', flags: 0, prepareEndLsn: 2n, rollbackEndLsn: 8n, prepareTime: 3n, rollbackTime: 9n, xid: 4, gid: 'gid' }],
    [outside, { tag: 'stream_prepare', flags: 0, prepareLsn: 1n, prepareEndLsn: 2n, prepareTime: 3n, xid: 4, gid: 'gid' }],
  ];
  return messages.map(([context, message], i) => ({ name: `builder ${message.tag} #${i}`, context, frame: encodePgoutput(message) }));
}

// --- mutations -----------------------------------------------------------------------------------------

const INTERESTING_INT32 = [0, 1, -1, 2, 127, 128, 255, 256, 0x7fff, 0x8000, 0xffff, 0x7fff_ffff, -0x8000_0000];
const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, 0x4e, 0x4b, 0x4f, 0x6e, 0x74, 0x62, 0x75];

function mutate(frame: Buffer, next: () => number): Buffer {
  const pick = (n: number): number => Math.floor(next() * n);
  const copy = Buffer.from(frame);
  switch (pick(6)) {
    case 0: {
      // Flip one to four random bytes.
      const flips = 1 + pick(4);
      for (let i = 0; i < flips && copy.length > 0; i++) copy[pick(copy.length)] = pick(256);
      return copy;
    }
    case 1: {
      // Splice an interesting Int32 (a length, a count, an oid) somewhere.
      if (copy.length < 4) return copy;
      const at = pick(copy.length - 3);
      const value = INTERESTING_INT32[pick(INTERESTING_INT32.length)]! + (pick(3) - 1) * (next() < 0.3 ? frame.length : 0);
      copy.writeInt32BE(value | 0, at);
      return copy;
    }
    case 2: {
      // Splice an Int16 (a column count).
      if (copy.length < 2) return copy;
      copy.writeInt16BE((INTERESTING_INT32[pick(INTERESTING_INT32.length)]! + pick(3) - 1) << 16 >> 16, pick(copy.length - 1));
      return copy;
    }
    case 3: {
      // Set a byte to one the decoder switches on (tags, tuple kinds, flags).
      if (copy.length > 0) copy[pick(copy.length)] = INTERESTING_BYTES[pick(INTERESTING_BYTES.length)]!;
      return copy;
    }
    case 4: {
      // Insert random bytes.
      const at = pick(copy.length + 1);
      const extra = Buffer.from(Array.from({ length: 1 + pick(8) }, () => pick(256)));
      return Buffer.concat([copy.subarray(0, at), extra, copy.subarray(at)]);
    }
    default: {
      // Remove a run of bytes.
      const at = pick(copy.length + 1);
      return Buffer.concat([copy.subarray(0, at), copy.subarray(at + 1 + pick(8))]);
    }
  }
}

// --- the tests -----------------------------------------------------------------------------------------

describe('PgoutputDecoder fuzzing', () => {
  const seeds = [...goldenSeeds(), ...builderSeeds()];

  it('decodes every seed frame as it is', () => {
    for (const seed of seeds) expect(new PrimedDecoder(seed.context).attempt(seed.frame), seed.name).toBe('decoded');
  });

  it('refuses every seed frame cut short, at every length', () => {
    let attempts = 0;
    for (const seed of seeds) {
      const primed = new PrimedDecoder(seed.context);
      for (let length = 0; length < seed.frame.length; length++) {
        // A prefix may happen to be a complete message (a Stream Abort without its v4 fields).
        primed.attempt(seed.frame.subarray(0, length));
        attempts++;
      }
    }
    expect(attempts).toBeGreaterThan(10_000);
  });

  it('yields only valid messages or ProtocolErrors for 100,000 mutated frames', () => {
    const next = seededRandom(0x5eed);
    const perSeed = Math.ceil(100_000 / seeds.length);
    const outcomes = { decoded: 0, refused: 0 };
    for (const seed of seeds) {
      const primed = new PrimedDecoder(seed.context);
      for (let i = 0; i < perSeed; i++) {
        let frame = mutate(seed.frame, next);
        if (next() < 0.2) frame = mutate(frame, next);
        outcomes[primed.attempt(frame)]++;
      }
    }
    expect(outcomes.decoded + outcomes.refused).toBeGreaterThanOrEqual(100_000);
    // Both happen: the mutations are neither all harmless nor all fatal.
    expect(outcomes.decoded).toBeGreaterThan(1000);
    expect(outcomes.refused).toBeGreaterThan(10_000);
  });

  it('yields only valid messages or ProtocolErrors for random bytes behind every tag', () => {
    const tags = Array.from('BCORYIUDTMSEcAbPKrpZ\0', (c) => c.charCodeAt(0));
    const primed = [false, true].map((inStream) => new PrimedDecoder({ protocolVersion: 4, binary: false, relations: [USERS], inStream }));
    fc.assert(
      fc.property(fc.constantFrom(...tags), fc.uint8Array({ maxLength: 64 }), fc.boolean(), (tag, body, inStream) => {
        primed[inStream ? 1 : 0]!.attempt(Buffer.concat([Buffer.from([tag]), body]));
      }),
      { seed: 20_240_101, numRuns: 20_000 },
    );
  });

  describe('round trips through the test builder', () => {
    const name = fc.string({ unit: 'binary', maxLength: 12 }).filter((s) => !s.includes('\0'));
    const lsn = fc.bigInt({ min: 0n, max: U64 });
    const time = fc.bigInt({ min: I64_MIN, max: I64_MAX });
    const xid = fc.nat({ max: U32 });
    const relation = fc
      .record({
        relationId: xid,
        schema: name,
        name,
        replicaIdentity: fc.constantFrom(...IDENTITIES),
        columns: fc.uniqueArray(fc.record({ isKey: fc.boolean(), name, typeMod: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }), {
          selector: (c) => c.name,
          minLength: 1,
          maxLength: 8,
        }),
      })
      .map((r): RelationMessage => ({ tag: 'relation', ...r, columns: r.columns.map((c) => ({ ...c, typeOid: TEXT })) }));
    const value = fc.oneof(fc.constant(null), fc.constant(UNCHANGED_TOAST), fc.string({ unit: 'binary', maxLength: 40 }));
    const tupleFor = (r: RelationMessage): fc.Arbitrary<Tuple> => fc.tuple(...r.columns.map(() => value));
    const rowOf = (r: RelationMessage, tuple: Tuple): Row => Object.fromEntries(r.columns.map((c, i) => [c.name, tuple[i] as PgValue]));

    it('decodes Relation messages and rows of them back to what was encoded', () => {
      fc.assert(
        fc.property(
          relation.chain((r) => fc.tuple(fc.constant(r), tupleFor(r), tupleFor(r), fc.option(xid, { nil: undefined }), fc.constantFrom('none', 'key', 'old'))),
          ([r, first, second, streamXid, oldKind]) => {
            const decoder = new PgoutputDecoder();
            if (streamXid !== undefined) decoder.decode(encodePgoutput({ tag: 'stream_start', xid: streamXid, firstSegment: true }));
            const withXid = <T extends object>(m: T): T => (streamXid === undefined ? m : { ...m, xid: streamXid });
            expect(decoder.decode(encodePgoutput(withXid(r)))).toEqual(withXid(r));
            const id = r.relationId;
            expect(decoder.decode(encodePgoutput(withXid({ tag: 'insert', relationId: id, new: first })))).toEqual(
              withXid({ tag: 'insert', relationId: id, new: rowOf(r, first) }),
            );
            const old = oldKind === 'key' ? { key: second } : oldKind === 'old' ? { old: second } : {};
            const oldRow = oldKind === 'key' ? { key: rowOf(r, second) } : oldKind === 'old' ? { old: rowOf(r, second) } : {};
            expect(decoder.decode(encodePgoutput(withXid({ tag: 'update', relationId: id, ...old, new: first })))).toEqual(
              withXid({ tag: 'update', relationId: id, ...oldRow, new: rowOf(r, first) }),
            );
            expect(decoder.decode(encodePgoutput(withXid({ tag: 'delete', relationId: id, old: first })))).toEqual(
              withXid({ tag: 'delete', relationId: id, old: rowOf(r, first) }),
            );
          },
        ),
        { seed: 42, numRuns: 500 },
      );
    });

    it('decodes every other message back to what was encoded', () => {
      const gid = name;
      const message: fc.Arbitrary<EncodableMessage> = fc.oneof(
        fc.record({ tag: fc.constant('begin' as const), finalLsn: lsn, commitTime: time, xid }),
        fc.record({ tag: fc.constant('commit' as const), flags: fc.nat({ max: 255 }), commitLsn: lsn, commitEndLsn: lsn, commitTime: time }),
        fc.record({ tag: fc.constant('origin' as const), originLsn: lsn, name }),
        fc.record({ tag: fc.constant('type' as const), typeOid: xid, schema: name, name }),
        fc.record({ tag: fc.constant('message' as const), transactional: fc.boolean(), lsn, prefix: name, content: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)) }),
        fc.record({ tag: fc.constant('stream_commit' as const), xid, flags: fc.nat({ max: 255 }), commitLsn: lsn, commitEndLsn: lsn, commitTime: time }),
        fc.record({ tag: fc.constant('stream_abort' as const), xid, subXid: xid }),
        fc.record({ tag: fc.constant('stream_abort' as const), xid, subXid: xid, abortLsn: lsn, abortTime: time }),
        fc.record({ tag: fc.constant('begin_prepare' as const), prepareLsn: lsn, prepareEndLsn: lsn, prepareTime: time, xid, gid }),
        fc.record({ tag: fc.constantFrom('prepare' as const, 'stream_prepare' as const), flags: fc.nat({ max: 255 }), prepareLsn: lsn, prepareEndLsn: lsn, prepareTime: time, xid, gid }),
        fc.record({ tag: fc.constant('commit_prepared' as const), flags: fc.nat({ max: 255 }), commitLsn: lsn, commitEndLsn: lsn, commitTime: time, xid, gid }),
        fc.record({
          tag: fc.constant('rollback_prepared' as const),
          flags: fc.nat({ max: 255 }),
          prepareEndLsn: lsn,
          rollbackEndLsn: lsn,
          prepareTime: time,
          rollbackTime: time,
          xid,
          gid,
        }),
      );
      fc.assert(
        fc.property(message, (m) => {
          expect(new PgoutputDecoder().decode(encodePgoutput(m))).toEqual(m);
        }),
        { seed: 7, numRuns: 2000 },
      );
    });
  });
});
