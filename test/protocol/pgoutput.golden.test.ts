// Decodes pgoutput bytes captured from real PostgreSQL 14 and 18 servers (scripts/capture-pgoutput.ts)
// and checks every message field by field against what the scripted workload did: the values it
// wrote, the xids and OIDs it recorded, and the server clock before and after each step. Nothing here
// is a snapshot of the decoder's own output.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CapturedStep, CapturedStream, PgoutputFixture } from '../../scripts/capture-pgoutput.js';
import { Lsn } from '../../src/protocol/lsn.js';
import type {
  PgoutputMessage,
  RelationColumn,
  StreamAbortMessage,
  StreamCommitMessage,
} from '../../src/protocol/pgoutput-messages.js';
import { PgoutputDecoder, type PgoutputProtocolVersion } from '../../src/protocol/pgoutput.js';
import { isoToPgTimestamp } from '../../src/protocol/replication-messages.js';
import { UNCHANGED_TOAST } from '../../src/protocol/row.js';
import { encodePgoutput, type EncodableMessage } from '../support/pgoutput-builder.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'pgoutput');

function loadFixture(major: number): PgoutputFixture {
  return JSON.parse(readFileSync(path.join(FIXTURES, `pg${major}.json`), 'utf8')) as PgoutputFixture;
}

interface DecodedCapture {
  readonly capture: CapturedStream;
  readonly decoder: PgoutputDecoder;
  readonly raw: readonly Buffer[];
  readonly messages: readonly PgoutputMessage[];
  step(name: string): DecodedStep;
}

interface DecodedStep extends CapturedStep {
  readonly messages: readonly PgoutputMessage[];
}

function decodeCapture(capture: CapturedStream): DecodedCapture {
  const decoder = new PgoutputDecoder({ protocolVersion: capture.protocolVersion as PgoutputProtocolVersion, binary: capture.binary });
  const raw = capture.messages.map(([, hex]) => Buffer.from(hex, 'hex'));
  const messages = raw.map((bytes) => decoder.decode(bytes));
  return {
    capture,
    decoder,
    raw,
    messages,
    step(name) {
      const step = capture.steps.find((s) => s.name === name);
      if (step === undefined) throw new Error(`no step ${name} in the fixture: regenerate it with scripts/capture-pgoutput.ts`);
      return { ...step, messages: messages.slice(step.from, step.to) };
    },
  };
}

function tags(messages: readonly PgoutputMessage[]): string[] {
  return messages.map((m) => m.tag);
}

/** The tags without Relation messages, which pgoutput resends whenever the relcache was invalidated. */
function dataTags(messages: readonly PgoutputMessage[]): string[] {
  return tags(messages).filter((tag) => tag !== 'relation');
}

function only<T extends PgoutputMessage['tag']>(messages: readonly PgoutputMessage[], tag: T): Extract<PgoutputMessage, { tag: T }>[] {
  return messages.filter((m): m is Extract<PgoutputMessage, { tag: T }> => m.tag === tag);
}

function one<T extends PgoutputMessage['tag']>(messages: readonly PgoutputMessage[], tag: T): Extract<PgoutputMessage, { tag: T }> {
  const found = only(messages, tag);
  expect(found, `exactly one ${tag}`).toHaveLength(1);
  return found[0]!;
}

/** The server's clock read before and after the step bracket every time the step's WAL records. */
function expectDuring(step: CapturedStep, micros: bigint): void {
  expect(micros).toBeGreaterThanOrEqual(BigInt(step.startedAt));
  expect(micros).toBeLessThanOrEqual(BigInt(step.endedAt));
}

/** An ordinary transaction: Begin first, Commit last, agreeing on commit LSN and time; returns the changes. */
function expectTransaction(step: DecodedStep): PgoutputMessage[] {
  const begin = step.messages[0];
  const commit = step.messages.at(-1);
  if (begin?.tag !== 'begin' || commit?.tag !== 'commit') throw new Error(`${step.name}: not begin ... commit: ${tags(step.messages).join(' ')}`);
  expect(begin.xid).toBe(step.xid);
  expect(commit.flags).toBe(0);
  expect(commit.commitLsn).toBe(begin.finalLsn);
  expect(commit.commitEndLsn).toBeGreaterThan(commit.commitLsn);
  expect(commit.commitTime).toBe(begin.commitTime);
  return step.messages.slice(1, -1);
}

/**
 * A streamed transaction: blocks of Stream Start, data messages carrying an xid, Stream Stop; the first
 * block marked first. Returns the data messages and whatever follows the last block.
 */
function expectStreamBlocks(messages: readonly PgoutputMessage[], xid: number, { continued = false } = {}): { data: PgoutputMessage[]; rest: PgoutputMessage[] } {
  const data: PgoutputMessage[] = [];
  let at = 0;
  let blocks = 0;
  while (messages[at]?.tag === 'stream_start') {
    const start = messages[at]!;
    expect(start).toEqual({ tag: 'stream_start', xid, firstSegment: blocks === 0 && !continued });
    at++;
    while (messages[at] !== undefined && messages[at]!.tag !== 'stream_stop') {
      const message = messages[at]!;
      expect(['relation', 'type', 'insert', 'update', 'delete', 'truncate', 'message']).toContain(message.tag);
      expect(message).toHaveProperty('xid');
      data.push(message);
      at++;
    }
    expect(messages[at]).toEqual({ tag: 'stream_stop' });
    at++;
    blocks++;
  }
  expect(blocks).toBeGreaterThan(0);
  return { data, rest: messages.slice(at) };
}

function column(name: string, typeOid: number, isKey = false, typeMod = -1): RelationColumn {
  return { isKey, name, typeOid, typeMod };
}

const INT2 = 21;
const INT4 = 23;
const INT8 = 20;
const TEXT = 25;

describe.each([14, 18])('pgoutput captured from PostgreSQL %i', (major) => {
  const fixture = loadFixture(major);
  const twoPhase = major >= 15;

  it('comes from the server it claims to', () => {
    expect(fixture.major).toBe(major);
    expect(fixture.serverVersion.split('.')[0]).toBe(String(major));
  });

  describe('main capture (text, newest protocol, streaming, messages, two-phase)', () => {
    const main = decodeCapture(fixture.captures['main']!);
    const { oids } = main.capture;
    const itemsColumns = [
      column('id', INT4, true),
      column('name', TEXT),
      column('note', TEXT),
      column('mood', oids['mood']!),
      column('pair', oids['pair']!),
      column('big', TEXT),
    ];

    it('uses the newest protocol the server speaks', () => {
      expect(main.capture.protocolVersion).toBe(major >= 16 ? 4 : 2);
    });

    it('decodes an insert with a TOASTed value, a NULL and user-defined types after Type and Relation messages', () => {
      const step = main.step('insert_with_toast_and_types');
      expectDuring(step, one(step.messages, 'begin').commitTime);
      const changes = expectTransaction(step);
      expect(tags(changes)).toEqual(['type', 'type', 'relation', 'insert']);
      expect(changes[0]).toEqual({ tag: 'type', typeOid: oids['mood'], schema: 'public', name: 'mood' });
      expect(changes[1]).toEqual({ tag: 'type', typeOid: oids['pair'], schema: 'public', name: 'pair' });
      expect(changes[2]).toEqual({
        tag: 'relation',
        relationId: oids['items'],
        schema: 'public',
        name: 'items',
        replicaIdentity: 'default',
        columns: itemsColumns,
      });
      expect(changes[3]).toEqual({
        tag: 'insert',
        relationId: oids['items'],
        new: { id: 1, name: 'one', note: null, mood: 'happy', pair: '(7,seven)', big: '0123456789'.repeat(300) },
      });
      expect(main.decoder.type(oids['mood']!)?.name).toBe('mood');
    });

    it('marks a TOASTed column the update did not touch as UNCHANGED_TOAST', () => {
      const step = main.step('update_unchanged_toast');
      const [update, ...others] = expectTransaction(step);
      expect(others).toEqual([]);
      expect(update).toEqual({
        tag: 'update',
        relationId: oids['items'],
        new: { id: 1, name: 'uno', note: 'first', mood: 'happy', pair: '(7,seven)', big: UNCHANGED_TOAST },
      });
      expectDuring(step, one(step.messages, 'commit').commitTime);
    });

    it('sends the old key (K) when an update changes the primary key; the other old columns are null', () => {
      const [update, ...others] = expectTransaction(main.step('update_key'));
      expect(others).toEqual([]);
      expect(update).toEqual({
        tag: 'update',
        relationId: oids['items'],
        key: { id: 1, name: null, note: null, mood: null, pair: null, big: null },
        new: { id: 2, name: 'uno', note: 'first', mood: 'happy', pair: '(7,seven)', big: UNCHANGED_TOAST },
      });
    });

    it('sends the key (K) of a deleted row', () => {
      const [deleted, ...others] = expectTransaction(main.step('delete_key'));
      expect(others).toEqual([]);
      expect(deleted).toEqual({
        tag: 'delete',
        relationId: oids['items'],
        key: { id: 2, name: null, note: null, mood: null, pair: null, big: null },
      });
    });

    it('sends whole old rows (O) under REPLICA IDENTITY FULL', () => {
      const changes = expectTransaction(main.step('replica_identity_full'));
      expect(changes).toEqual([
        {
          tag: 'relation',
          relationId: oids['full_rows'],
          schema: 'public',
          name: 'full_rows',
          replicaIdentity: 'full',
          // Under FULL every column is part of the identity.
          columns: [column('id', INT4, true), column('label', TEXT, true)],
        },
        { tag: 'insert', relationId: oids['full_rows'], new: { id: 1, label: 'a' } },
        { tag: 'update', relationId: oids['full_rows'], old: { id: 1, label: 'a' }, new: { id: 1, label: 'b' } },
        { tag: 'delete', relationId: oids['full_rows'], old: { id: 1, label: 'b' } },
      ]);
    });

    it('decodes int8 (bigserial) as a string', () => {
      const changes = expectTransaction(main.step('truncate_setup'));
      expect(only(changes, 'insert').map((m) => m.new)).toEqual([
        { id: 1, label: 'p' },
        { id: '1', parent_id: 1, label: 'c' },
      ]);
      expect(only(changes, 'relation').find((r) => r.name === 'child')?.columns).toEqual([
        column('id', INT8, true),
        column('parent_id', INT4),
        column('label', TEXT),
      ]);
    });

    it.each([
      ['truncate_cascade', true, false, ['parent', 'child']],
      ['truncate_restart_identity', false, true, ['child']],
      ['truncate_restart_identity_cascade', true, true, ['parent', 'child']],
      ['truncate_plain', false, false, ['full_rows']],
    ] as const)('decodes %s with its CASCADE and RESTART IDENTITY flags', (name, cascade, restartIdentity, tables) => {
      const changes = expectTransaction(main.step(name));
      expect(dataTags(changes)).toEqual(['truncate']);
      const truncate = one(changes, 'truncate');
      expect(truncate.cascade).toBe(cascade);
      expect(truncate.restartIdentity).toBe(restartIdentity);
      expect([...truncate.relationIds].sort()).toEqual(tables.map((t) => oids[t]).sort());
      expect(truncate).not.toHaveProperty('xid');
    });

    it('decodes a transactional logical decoding message in its transaction', () => {
      const step = main.step('message_transactional');
      const changes = expectTransaction(step);
      expect(dataTags(changes)).toEqual(['message', 'insert']);
      expect(one(changes, 'message')).toEqual({
        tag: 'message',
        transactional: true,
        lsn: Lsn.parse(step.facts!['endLsn']!),
        prefix: 'laredo',
        content: Buffer.from('in a transaction'),
      });
    });

    it('decodes a non-transactional logical decoding message on its own, with binary content', () => {
      const step = main.step('message_non_transactional');
      expect(step.messages).toEqual([
        { tag: 'message', transactional: false, lsn: Lsn.parse(step.facts!['endLsn']!), prefix: 'laredo.raw', content: Buffer.from([0x00, 0xff, 0x10]) },
      ]);
    });

    it('decodes an Origin message; the origin timestamp becomes the commit time', () => {
      const step = main.step('origin');
      const changes = expectTransaction(step);
      expect(changes).toEqual([
        { tag: 'origin', originLsn: Lsn.parse('1/2345678'), name: 'laredo_origin' },
        { tag: 'insert', relationId: oids['full_rows'], new: { id: 3, label: 'from elsewhere' } },
      ]);
      expect(one(step.messages, 'begin').commitTime).toBe(isoToPgTimestamp('2020-01-02T03:04:05.678901Z'));
    });

    it('decodes a streamed transaction: every change carries the xid, Stream Commit ends it', () => {
      const step = main.step('streamed_commit');
      const { data, rest } = expectStreamBlocks(step.messages, step.xid!);
      expect(only(data, 'insert')).toEqual([
        { tag: 'insert', xid: step.xid, relationId: oids['bulk'], new: { id: 1, label: 'first' } },
        { tag: 'insert', xid: step.xid, relationId: oids['bulk'], new: { id: 2, label: 'last' } },
      ]);
      expect(one(data, 'relation')).toMatchObject({ xid: step.xid, relationId: oids['bulk'], name: 'bulk' });
      expect(rest).toHaveLength(1);
      const commit = rest[0] as StreamCommitMessage;
      expect(commit).toMatchObject({ tag: 'stream_commit', xid: step.xid, flags: 0 });
      expect(commit.commitEndLsn).toBeGreaterThan(commit.commitLsn);
      expectDuring(step, commit.commitTime);
      expect(main.decoder.inStream).toBe(false);
    });

    it('decodes a streamed transaction rolled back after it was streamed: Stream Abort of the top-level xid', () => {
      const step = main.step('streamed_abort');
      const { data, rest } = expectStreamBlocks(step.messages, step.xid!);
      expect(only(data, 'insert').map((m) => m.new)).toEqual([{ id: 11, label: 'aborted' }]);
      // streaming = on (not parallel): no abort LSN or time, whatever the protocol version.
      expect(rest).toEqual([{ tag: 'stream_abort', xid: step.xid, subXid: step.xid }]);
    });

    it('decodes a streamed subtransaction abort: changes carry their subtransaction xid, Stream Abort names it', () => {
      const step = main.step('streamed_subtransaction_abort');
      const xid = step.xid!;
      const subXid = step.subXid!;
      const first = expectStreamBlocks(step.messages, xid);
      expect(only(first.data, 'insert')).toEqual([
        { tag: 'insert', xid, relationId: oids['bulk'], new: { id: 21, label: 'kept' } },
        { tag: 'insert', xid: subXid, relationId: oids['bulk'], new: { id: 22, label: 'rolled back to savepoint' } },
      ]);
      expect(first.rest[0]).toEqual({ tag: 'stream_abort', xid, subXid });
      const second = expectStreamBlocks(first.rest.slice(1), xid, { continued: true });
      // ROLLBACK TO keeps the savepoint, so the next insert runs in a new subtransaction.
      const after = one(second.data, 'insert');
      expect(after.new).toEqual({ id: 23, label: 'after savepoint' });
      expect(after.xid).toBeGreaterThan(subXid);
      expect(second.rest).toHaveLength(1);
      expect(second.rest[0]).toMatchObject({ tag: 'stream_commit', xid });
      expectDuring(step, (second.rest[0] as StreamCommitMessage).commitTime);
    });

    if (twoPhase) {
      it('decodes a prepared transaction at PREPARE and its COMMIT PREPARED', () => {
        const prepareStep = main.step('prepare');
        expect(dataTags(prepareStep.messages)).toEqual(['begin_prepare', 'insert', 'prepare']);
        const begin = one(prepareStep.messages, 'begin_prepare');
        const prepare = one(prepareStep.messages, 'prepare');
        expect(begin).toMatchObject({ xid: prepareStep.xid, gid: 'laredo_commit' });
        expect(prepare).toEqual({
          tag: 'prepare',
          flags: 0,
          prepareLsn: begin.prepareLsn,
          prepareEndLsn: begin.prepareEndLsn,
          prepareTime: begin.prepareTime,
          xid: prepareStep.xid,
          gid: 'laredo_commit',
        });
        expect(prepare.prepareEndLsn).toBeGreaterThan(prepare.prepareLsn);
        expectDuring(prepareStep, prepare.prepareTime);
        expect(one(prepareStep.messages, 'insert').new).toEqual({ id: 10, label: 'prepared' });

        const commitStep = main.step('commit_prepared');
        expect(tags(commitStep.messages)).toEqual(['commit_prepared']);
        const commit = one(commitStep.messages, 'commit_prepared');
        expect(commit).toMatchObject({ flags: 0, xid: prepareStep.xid, gid: 'laredo_commit' });
        expect(commit.commitLsn).toBeGreaterThanOrEqual(prepare.prepareEndLsn);
        expect(commit.commitEndLsn).toBeGreaterThan(commit.commitLsn);
        expectDuring(commitStep, commit.commitTime);
      });

      it('decodes ROLLBACK PREPARED with the prepared transaction’s end LSN and time', () => {
        const prepareStep = main.step('prepare_to_roll_back');
        expect(dataTags(prepareStep.messages)).toEqual(['begin_prepare', 'insert', 'prepare']);
        const prepare = one(prepareStep.messages, 'prepare');
        const rollbackStep = main.step('rollback_prepared');
        expect(rollbackStep.messages).toHaveLength(1);
        const rollback = one(rollbackStep.messages, 'rollback_prepared');
        expect(rollback).toMatchObject({
          flags: 0,
          prepareEndLsn: prepare.prepareEndLsn,
          prepareTime: prepare.prepareTime,
          xid: prepareStep.xid,
          gid: 'laredo_rollback',
        });
        expect(rollback.rollbackEndLsn).toBeGreaterThan(rollback.prepareEndLsn);
        expectDuring(rollbackStep, rollback.rollbackTime);
      });

      it('decodes a streamed prepared transaction: stream blocks, then Stream Prepare, then Commit Prepared', () => {
        const step = main.step('streamed_prepare');
        const { data, rest } = expectStreamBlocks(step.messages, step.xid!);
        expect(only(data, 'insert').map((m) => m.new)).toEqual([{ id: 31, label: 'streamed and prepared' }]);
        expect(rest).toHaveLength(1);
        expect(rest[0]).toMatchObject({ tag: 'stream_prepare', flags: 0, xid: step.xid, gid: 'laredo_streamed' });
        const streamPrepare = one(rest, 'stream_prepare');
        expect(streamPrepare.prepareEndLsn).toBeGreaterThan(streamPrepare.prepareLsn);
        expectDuring(step, streamPrepare.prepareTime);
        const commit = one(main.step('commit_streamed_prepared').messages, 'commit_prepared');
        expect(commit).toMatchObject({ xid: step.xid, gid: 'laredo_streamed' });
      });
    } else {
      it('without two-phase decoding, decodes a prepared transaction as an ordinary one at COMMIT PREPARED', () => {
        expect(main.step('prepare').messages).toEqual([]);
        const commitStep = main.step('commit_prepared');
        const changes = expectTransaction({ ...commitStep, xid: main.step('prepare').xid! });
        expect(only(changes, 'insert').map((m) => m.new)).toEqual([{ id: 10, label: 'prepared' }]);
        expectDuring(commitStep, one(commitStep.messages, 'commit').commitTime);
        // A rolled-back prepared transaction never reaches a non-two-phase subscriber.
        expect(main.step('prepare_to_roll_back').messages).toEqual([]);
        expect(main.step('rollback_prepared').messages).toEqual([]);
        const streamed = main.step('streamed_prepare');
        const { rest } = expectStreamBlocks(streamed.messages, streamed.xid!);
        expect(rest).toEqual([]);
        const finished = expectStreamBlocks(main.step('commit_streamed_prepared').messages, streamed.xid!, { continued: true });
        expect(finished.rest).toHaveLength(1);
        expect(finished.rest[0]).toMatchObject({ tag: 'stream_commit', xid: streamed.xid });
      });
    }

    it('re-encodes every non-row message to the captured bytes with the test builder', () => {
      let checked = 0;
      main.messages.forEach((message, index) => {
        if (message.tag === 'insert' || message.tag === 'update' || message.tag === 'delete') return;
        expect(encodePgoutput(message as EncodableMessage).toString('hex')).toBe(main.raw[index]!.toString('hex'));
        checked++;
      });
      expect(checked).toBeGreaterThan(40);
    });

    it('re-encodes row messages from the workload’s text to the captured bytes with the test builder', () => {
      const update = main.step('update_key');
      expect(encodePgoutput({
        tag: 'update',
        relationId: oids['items']!,
        key: ['1', null, null, null, null, null],
        new: ['2', 'uno', 'first', 'happy', '(7,seven)', UNCHANGED_TOAST],
      })).toEqual(main.raw[update.from + 1]);
      const streamed = main.step('streamed_commit');
      expect(encodePgoutput({ tag: 'insert', xid: streamed.xid!, relationId: oids['bulk']!, new: ['1', 'first'] })).toEqual(
        main.raw[streamed.from + 2],
      );
    });
  });

  describe('binary capture (binary = true), checked against the same WAL decoded as text', () => {
    const binary = decodeCapture(fixture.captures['binary']!);
    const text = decodeCapture(fixture.captures['binary_as_text']!);
    const { oids } = binary.capture;
    const expectedRow = {
      id: 1,
      flag: true,
      small: -2,
      large: '9007199254740993',
      amount: '1234.50',
      ratio: 0.25,
      label: 'héllo',
      raw: Buffer.from([0x00, 0xff]),
      doc: { a: [1, 2] },
      at: '2024-01-02T03:04:05.123456Z',
      day: '2024-02-29',
      uid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      tags: [1, null, 3],
      mood: 'ok',
      nothing: null,
    };

    it('sends every column in binary and the same messages otherwise', () => {
      expect(binary.raw.length).toBe(text.raw.length);
      const insertBytes = binary.raw[binary.step('insert_typed').from + 3]!;
      expect(insertBytes.includes(Buffer.from('b\x00\x00\x00\x04\x00\x00\x00\x01', 'latin1'))).toBe(true); // id = 1 as int4 send
      binary.messages.forEach((message, index) => {
        if (message.tag === 'insert' || message.tag === 'update' || message.tag === 'delete') return;
        expect(message).toEqual(text.messages[index]);
      });
    });

    it('decodes the typed row; the numeric(12,2) type modifier is in the Relation message', () => {
      const changes = expectTransaction(binary.step('insert_typed'));
      expect(dataTags(changes)).toEqual(['type', 'insert']);
      const relation = one(changes, 'relation');
      expect(relation.relationId).toBe(oids['typed']);
      expect(relation.columns.map((c) => [c.name, c.typeOid, c.typeMod])).toEqual([
        ['id', INT4, -1],
        ['flag', 16, -1],
        ['small', INT2, -1],
        ['large', INT8, -1],
        ['amount', 1700, ((12 << 16) | 2) + 4],
        ['ratio', 701, -1],
        ['label', TEXT, -1],
        ['raw', 17, -1],
        ['doc', 3802, -1],
        ['at', 1184, -1],
        ['day', 1082, -1],
        ['uid', 2950, -1],
        ['tags', 1007, -1],
        ['mood', oids['mood'], -1],
        ['nothing', TEXT, -1],
      ]);
      expect(one(expectTransaction(text.step('insert_typed')), 'insert').new).toEqual(expectedRow);
      // A user-defined enum has no binary converter: it stays the bytes its send function wrote.
      expect(one(changes, 'insert').new).toEqual({ ...expectedRow, mood: Buffer.from('ok') });
    });

    it('decodes binary updates and deletes like their text twins', () => {
      const update = one(expectTransaction(binary.step('update_typed')), 'update');
      const textUpdate = one(expectTransaction(text.step('update_typed')), 'update');
      expect(textUpdate.new).toEqual({ ...expectedRow, flag: false, label: null, nothing: 'something' });
      expect(update.new).toEqual({ ...textUpdate.new, mood: Buffer.from('ok') });
      const deleted = one(expectTransaction(binary.step('delete_typed')), 'delete');
      expect(deleted.key).toEqual(one(expectTransaction(text.step('delete_typed')), 'delete').key);
      expect(deleted.key?.['id']).toBe(1);
    });
  });

  describe('protocol version 1 capture', () => {
    const v1 = decodeCapture(fixture.captures['v1']!);
    const { oids } = v1.capture;

    it('decodes rows, a message and a truncate without any xid', () => {
      const step = v1.step('insert_update_delete');
      const changes = expectTransaction(step);
      expect(changes).toEqual([
        {
          tag: 'relation',
          relationId: oids['plain'],
          schema: 'public',
          name: 'plain',
          replicaIdentity: 'default',
          columns: [column('id', INT4, true), column('label', TEXT)],
        },
        { tag: 'insert', relationId: oids['plain'], new: { id: 1, label: 'one' } },
        { tag: 'insert', relationId: oids['plain'], new: { id: 2, label: null } },
        { tag: 'update', relationId: oids['plain'], new: { id: 1, label: 'uno' } },
        { tag: 'delete', relationId: oids['plain'], key: { id: 2, label: null } },
        { tag: 'message', transactional: true, lsn: Lsn.parse(step.facts!['endLsn']!), prefix: 'laredo', content: Buffer.from('v1') },
      ]);
      const truncate = expectTransaction(v1.step('truncate'));
      expect(one(truncate, 'truncate')).toEqual({ tag: 'truncate', cascade: false, restartIdentity: false, relationIds: [oids['plain']] });
    });

    it('refuses a streaming message when the decoder was made for protocol 1', () => {
      const decoder = new PgoutputDecoder({ protocolVersion: 1 });
      expect(() => decoder.decode(Buffer.from('5300000001' + '01', 'hex'))).toThrow(
        expect.objectContaining({ code: 'UNKNOWN_MESSAGE' }),
      );
    });
  });

  if (major >= 16) {
    describe('streaming = parallel capture (protocol 4)', () => {
      const parallel = decodeCapture(fixture.captures['parallel']!);

      it('adds the abort LSN and time to Stream Abort', () => {
        const step = parallel.step('streamed_abort');
        const { rest } = expectStreamBlocks(step.messages, step.xid!);
        expect(rest).toHaveLength(1);
        const abort = rest[0] as StreamAbortMessage;
        expect(abort).toMatchObject({ tag: 'stream_abort', xid: step.xid, subXid: step.xid });
        expect(abort.abortLsn).toBeGreaterThan(0n);
        expectDuring(step, abort.abortTime!);
      });

      it('adds them to a subtransaction’s Stream Abort too, before the Stream Commit', () => {
        const step = parallel.step('streamed_subtransaction_abort');
        const { data, rest } = expectStreamBlocks(step.messages, step.xid!);
        expect(only(data, 'insert').map((m) => [m.xid, m.new])).toEqual([
          [step.xid, { id: 2, label: 'kept' }],
          [step.subXid, { id: 3, label: 'rolled back to savepoint' }],
        ]);
        expect(tags(rest)).toEqual(['stream_abort', 'stream_commit']);
        const abort = rest[0] as StreamAbortMessage;
        const commit = rest[1] as StreamCommitMessage;
        expect(abort).toMatchObject({ xid: step.xid, subXid: step.subXid });
        // The abort LSN is the end of the subtransaction's abort record: at most where the commit starts.
        expect(abort.abortLsn).toBeLessThanOrEqual(commit.commitLsn);
        expectDuring(step, abort.abortTime!);
        expect(commit.xid).toBe(step.xid);
      });
    });
  }

  it('covers every message the server can send, and each capture ends outside a stream block', () => {
    const seen = new Set<string>();
    for (const [name, capture] of Object.entries(fixture.captures)) {
      const decoded = decodeCapture(capture);
      expect(decoded.messages.length, name).toBe(capture.messages.length);
      expect(decoded.decoder.inStream, name).toBe(false);
      for (const message of decoded.messages) seen.add(message.tag);
    }
    const everyVersion = ['begin', 'commit', 'origin', 'relation', 'type', 'insert', 'update', 'delete', 'truncate', 'message'];
    const streaming = ['stream_start', 'stream_stop', 'stream_commit', 'stream_abort'];
    const twoPhaseTags = ['begin_prepare', 'prepare', 'commit_prepared', 'rollback_prepared', 'stream_prepare'];
    expect([...seen].sort()).toEqual([...everyVersion, ...streaming, ...(twoPhase ? twoPhaseTags : [])].sort());
  });
});
