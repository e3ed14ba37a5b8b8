import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/protocol/errors.js';
import { Lsn } from '../../src/protocol/lsn.js';

const U64 = 0xffff_ffff_ffff_ffffn;
const lsn = fc.bigInt({ min: 0n, max: U64 });

describe('Lsn', () => {
  it.each([
    ['0/0', 0n],
    ['16/B374D848', 0x16_b374_d848n],
    ['0/1', 1n],
    ['1/0', 0x1_0000_0000n],
    ['FFFFFFFF/FFFFFFFF', U64],
  ])('parses and formats %s as PostgreSQL prints it', (text, value) => {
    expect(Lsn.parse(text)).toBe(value);
    expect(Lsn.format(value)).toBe(text);
  });

  it('accepts lower case and leading zeros, and formats them away', () => {
    expect(Lsn.format(Lsn.parse('0016/00b374d8'))).toBe('16/B374D8');
  });

  it('round-trips every 64-bit position through text', () => {
    fc.assert(
      fc.property(lsn, (value) => {
        const text = Lsn.format(value);
        expect(text).toMatch(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/);
        expect(Lsn.parse(text)).toBe(value);
      }),
      { seed: 1, numRuns: 5000 },
    );
  });

  it.each(['', '0', '/0', '0/', '0/0/0', '123456789/0', '0/123456789', 'G/0', ' 0/0', '0/0 ', '-1/0', '0x1/0', '1 / 2'])(
    'refuses %j with a MALFORMED ProtocolError',
    (text) => {
      expect(() => Lsn.parse(text)).toThrow(expect.objectContaining({ name: 'ProtocolError', code: 'MALFORMED' }));
    },
  );

  it('refuses any other string with a ProtocolError, never another exception', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 24 }), (text) => {
        try {
          const value = Lsn.parse(text);
          expect(Lsn.isValid(value)).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
      }),
      { seed: 2, numRuns: 5000 },
    );
  });

  it('compares, subtracts, adds, and picks the larger and smaller position', () => {
    fc.assert(
      fc.property(lsn, lsn, (a, b) => {
        expect(Lsn.compare(a, b)).toBe(a < b ? -1 : a > b ? 1 : 0);
        expect(Lsn.compare(a, b) + Lsn.compare(b, a)).toBe(0);
        expect(Lsn.diff(a, b)).toBe(a - b);
        expect(Lsn.max(a, b)).toBe(a > b ? a : b);
        expect(Lsn.min(a, b)).toBe(a < b ? a : b);
        if (a + b <= U64) expect(Lsn.add(a, b)).toBe(a + b);
      }),
      { seed: 3, numRuns: 2000 },
    );
    expect(Lsn.add(0x10n, 8)).toBe(0x18n);
  });

  it('refuses arithmetic outside the 64-bit range', () => {
    expect(() => Lsn.add(Lsn.MAX, 1)).toThrow(RangeError);
    expect(() => Lsn.add(Lsn.ZERO, -1)).toThrow(RangeError);
  });

  it('recognises valid positions only', () => {
    expect(Lsn.isValid(0n)).toBe(true);
    expect(Lsn.isValid(U64)).toBe(true);
    expect(Lsn.isValid(U64 + 1n)).toBe(false);
    expect(Lsn.isValid(-1n)).toBe(false);
    expect(Lsn.isValid(1)).toBe(false);
    expect(Lsn.isValid('0/0')).toBe(false);
  });
});
