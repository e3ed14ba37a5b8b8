import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/protocol/errors.js';
import {
  encodeStandbyStatusUpdate,
  isoToPgTimestamp,
  parseReplicationMessage,
  parseStandbyStatusUpdate,
  pgTimestampNow,
  pgTimestampToIso,
  PG_EPOCH_UNIX_MICROS,
} from '../../src/protocol/replication-messages.js';
import { keepalive, xlogData } from '../support/pgoutput-builder.js';

const U64 = 0xffff_ffff_ffff_ffffn;
const lsn = fc.bigInt({ min: 0n, max: U64 });
const clock = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

function expectProtocolError(action: () => unknown, code: string, offset: number): void {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect({ code: (error as ProtocolError).code, offset: (error as ProtocolError).offset }).toEqual({ code, offset });
    return;
  }
  throw new Error('no error');
}

describe('parseReplicationMessage', () => {
  it('decodes XLogData as the test builder encodes it, the payload a view of the frame', () => {
    fc.assert(
      fc.property(lsn, lsn, clock, fc.uint8Array({ maxLength: 64 }), (walStart, walEnd, serverClock, payload) => {
        const frame = xlogData(walStart, walEnd, Buffer.from(payload), serverClock);
        const message = parseReplicationMessage(frame);
        expect(message).toEqual({ tag: 'w', walStart, walEnd, serverClock, data: Buffer.from(payload) });
        if (message.tag === 'w') expect(message.data.buffer).toBe(frame.buffer);
      }),
      { seed: 11, numRuns: 2000 },
    );
  });

  it('decodes a primary keepalive as the test builder encodes it', () => {
    fc.assert(
      fc.property(lsn, fc.boolean(), clock, (walEnd, replyRequested, serverClock) => {
        expect(parseReplicationMessage(keepalive(walEnd, replyRequested, serverClock))).toEqual({ tag: 'k', walEnd, serverClock, replyRequested });
      }),
      { seed: 12, numRuns: 2000 },
    );
  });

  it('refuses empty, cut-short and unknown frames', () => {
    expectProtocolError(() => parseReplicationMessage(Buffer.alloc(0)), 'TRUNCATED', 0);
    const w = xlogData(1n, 2n, Buffer.alloc(0));
    for (let length = 1; length < w.length; length++) expectProtocolError(() => parseReplicationMessage(w.subarray(0, length)), 'TRUNCATED', length);
    const k = keepalive(1n, true);
    for (let length = 1; length < k.length; length++) expectProtocolError(() => parseReplicationMessage(k.subarray(0, length)), 'TRUNCATED', length);
    expectProtocolError(() => parseReplicationMessage(Buffer.from('r')), 'UNKNOWN_MESSAGE', 0);
  });

  it('refuses a keepalive with trailing bytes or a reply flag other than 0 and 1', () => {
    expectProtocolError(() => parseReplicationMessage(Buffer.concat([keepalive(1n), Buffer.from([0])])), 'TRAILING_BYTES', 18);
    const flag = keepalive(1n);
    flag[17] = 2;
    expectProtocolError(() => parseReplicationMessage(flag), 'MALFORMED', 17);
  });

  it('yields a message or a ProtocolError for any bytes, never another exception', () => {
    fc.assert(
      fc.property(fc.constantFrom(0x77, 0x6b, 0x72, 0x00), fc.uint8Array({ maxLength: 40 }), (tag, body) => {
        try {
          parseReplicationMessage(Buffer.concat([Buffer.from([tag]), body]));
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
      }),
      { seed: 13, numRuns: 5000 },
    );
  });
});

describe('standby status updates', () => {
  it('round-trip through encode and parse', () => {
    fc.assert(
      fc.property(lsn, lsn, lsn, clock, fc.boolean(), (written, flushed, applied, at, replyRequested) => {
        const frame = encodeStandbyStatusUpdate({ written, flushed, applied, clock: at, replyRequested });
        expect(frame.length).toBe(34);
        expect(frame[0]).toBe(0x72);
        expect(parseStandbyStatusUpdate(frame)).toEqual({ written, flushed, applied, clock: at, replyRequested });
      }),
      { seed: 21, numRuns: 2000 },
    );
  });

  it('puts the positions where PostgreSQL reads them: written, flushed, applied, clock, reply flag', () => {
    const frame = encodeStandbyStatusUpdate({ written: 1n, flushed: 2n, applied: 3n, clock: 4n, replyRequested: true });
    expect(frame.toString('hex')).toBe(
      ['72', '0000000000000001', '0000000000000002', '0000000000000003', '0000000000000004', '01'].join(''),
    );
  });

  it('stamps the current time when no clock is given, and asks for no reply by default', () => {
    const before = pgTimestampNow();
    const update = parseStandbyStatusUpdate(encodeStandbyStatusUpdate({ written: 0n, flushed: 0n, applied: 0n }));
    expect(update.clock).toBeGreaterThanOrEqual(before);
    expect(update.clock).toBeLessThanOrEqual(pgTimestampNow());
    expect(update.replyRequested).toBe(false);
  });

  it('refuses cut-short, foreign, padded and bad-flag frames', () => {
    const frame = encodeStandbyStatusUpdate({ written: 0n, flushed: 0n, applied: 0n, clock: 0n });
    expectProtocolError(() => parseStandbyStatusUpdate(frame.subarray(0, 33)), 'TRUNCATED', 33);
    expectProtocolError(() => parseStandbyStatusUpdate(Buffer.concat([frame, Buffer.from([0])])), 'TRAILING_BYTES', 34);
    const foreign = Buffer.from(frame);
    foreign[0] = 0x77;
    expectProtocolError(() => parseStandbyStatusUpdate(foreign), 'UNKNOWN_MESSAGE', 0);
    const flag = Buffer.from(frame);
    flag[33] = 9;
    expectProtocolError(() => parseStandbyStatusUpdate(flag), 'MALFORMED', 33);
  });
});

describe('PostgreSQL timestamps', () => {
  it.each([
    [0n, '2000-01-01T00:00:00.000000Z'],
    [1n, '2000-01-01T00:00:00.000001Z'],
    [-1n, '1999-12-31T23:59:59.999999Z'],
    [-PG_EPOCH_UNIX_MICROS, '1970-01-01T00:00:00.000000Z'],
    [757_479_845_123_456n, '2024-01-02T03:04:05.123456Z'],
  ])('converts %i µs to %s and back', (micros, iso) => {
    expect(pgTimestampToIso(micros)).toBe(iso);
    expect(isoToPgTimestamp(iso)).toBe(micros);
  });

  it('round-trips every microsecond in years 0001 to 9999', () => {
    const first = isoToPgTimestamp('0001-01-01T00:00:00Z');
    const last = isoToPgTimestamp('9999-12-31T23:59:59.999999Z');
    fc.assert(
      fc.property(fc.bigInt({ min: first, max: last }), (micros) => {
        expect(isoToPgTimestamp(pgTimestampToIso(micros))).toBe(micros);
      }),
      { seed: 31, numRuns: 5000 },
    );
  });

  it('pgTimestampNow counts from 2000-01-01 UTC', () => {
    expect(pgTimestampNow(Date.UTC(2000, 0, 1))).toBe(0n);
    expect(pgTimestampNow(Date.UTC(2024, 0, 2, 3, 4, 5, 123))).toBe(757_479_845_123_000n);
  });

  it('refuses what it cannot represent with a ProtocolError', () => {
    expect(() => pgTimestampToIso(2n ** 63n - 1n)).toThrow(ProtocolError);
    expect(() => isoToPgTimestamp('not a time')).toThrow(ProtocolError);
  });
});
