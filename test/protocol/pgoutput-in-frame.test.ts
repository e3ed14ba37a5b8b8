// PgoutputDecoder#decode(frame, 25) reads the pgoutput message inside a whole XLogData frame, where it
// is, instead of a view of it: it must decode exactly what decode(message) decodes, and refuse
// exactly what it refuses, with the same offsets (counted from the message's first byte).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PgoutputFixture } from '../../scripts/capture-pgoutput.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { PgoutputDecoder, type PgoutputProtocolVersion } from '../../src/protocol/pgoutput.js';
import { seededRandom } from '../support/random.js';

const XLOG_DATA_HEADER = 25;

function inFrame(message: Buffer): Buffer {
  // The header's bytes are 'w' and LSNs in real frames; anything goes here, the decoder must not look.
  const header = Buffer.alloc(XLOG_DATA_HEADER, 0x74);
  header[0] = 0x77;
  return Buffer.concat([header, message]);
}

type Outcome = { message: unknown } | { code: string; offset: number; text: string } | { other: unknown };

function outcome(decode: () => unknown): Outcome {
  try {
    return { message: decode() };
  } catch (error) {
    if (error instanceof ProtocolError) return { code: error.code, offset: error.offset, text: error.message };
    return { other: error };
  }
}

function capturedStreams(): { name: string; protocolVersion: PgoutputProtocolVersion; binary: boolean; messages: Buffer[] }[] {
  return [14, 18].flatMap((major) => {
    const fixture = JSON.parse(readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'pgoutput', `pg${major}.json`), 'utf8')) as PgoutputFixture;
    return Object.entries(fixture.captures).map(([name, capture]) => ({
      name: `pg${major} ${name}`,
      protocolVersion: capture.protocolVersion as PgoutputProtocolVersion,
      binary: capture.binary,
      messages: capture.messages.map(([, hex]) => Buffer.from(hex, 'hex')),
    }));
  });
}

describe('PgoutputDecoder#decode of a message inside an XLogData frame', () => {
  it('decodes every captured message, and refuses every mutation of one, exactly as the message alone', () => {
    const next = seededRandom(0xf4a3e);
    let refused = 0;
    for (const stream of capturedStreams()) {
      const alone = new PgoutputDecoder({ protocolVersion: stream.protocolVersion, binary: stream.binary });
      const framed = new PgoutputDecoder({ protocolVersion: stream.protocolVersion, binary: stream.binary });
      for (const [index, message] of stream.messages.entries()) {
        // Mutations first (a refused message leaves both decoders as they were), then the real one.
        for (let i = 0; i < 20; i++) {
          const mutated = Buffer.from(message.subarray(0, Math.floor(next() * (message.length + 1))));
          if (mutated.length > 0 && next() < 0.5) mutated[Math.floor(next() * mutated.length)] = Math.floor(next() * 256);
          const expected = outcome(() => alone.decode(mutated));
          expect(outcome(() => framed.decode(inFrame(mutated), XLOG_DATA_HEADER)), `${stream.name} #${index} mutated`).toEqual(expected);
          if ('code' in expected) refused++;
        }
        expect(outcome(() => framed.decode(inFrame(message), XLOG_DATA_HEADER)), `${stream.name} #${index}`).toEqual(outcome(() => alone.decode(message)));
      }
    }
    expect(refused).toBeGreaterThan(1000);
  });

  it('refuses an empty message and a start that is not a whole number >= 0', () => {
    const decoder = new PgoutputDecoder();
    expect(() => decoder.decode(inFrame(Buffer.alloc(0)), XLOG_DATA_HEADER)).toThrow(expect.objectContaining({ code: 'TRUNCATED', offset: 0 }));
    expect(() => decoder.decode(Buffer.from('B'), -1)).toThrow(RangeError);
    expect(() => decoder.decode(Buffer.from('B'), 0.5)).toThrow(RangeError);
  });
});
