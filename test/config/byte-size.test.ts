import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatByteSize, parseByteSize } from '../../src/config/byte-size.js';
import { ConfigValueError } from '../../src/config/errors.js';

describe('parseByteSize', () => {
  it('reads decimal and binary units as the HOCON spec defines them', () => {
    expect(parseByteSize('64MB')).toBe(64_000_000);
    expect(parseByteSize('64MiB')).toBe(64 * 1024 ** 2);
    expect(parseByteSize('64M')).toBe(64 * 1024 ** 2);
    expect(parseByteSize('64m')).toBe(64 * 1024 ** 2);
    expect(parseByteSize('512kB')).toBe(512_000);
    expect(parseByteSize('512K')).toBe(512 * 1024);
    expect(parseByteSize('1.5GiB')).toBe(1.5 * 1024 ** 3);
    expect(parseByteSize('2 gibibytes')).toBe(2 * 1024 ** 3);
    expect(parseByteSize('100')).toBe(100);
    expect(parseByteSize(4096)).toBe(4096);
    expect(parseByteSize('10B')).toBe(10);
  });

  it('refuses KB, which HOCON does not define, offering both readings', () => {
    expect(() => parseByteSize('64KB')).toThrow(/write kB for 1000 bytes or KiB for 1024/);
  });

  it('refuses fractions of a byte, negatives, unknown units and sizes beyond exact integers', () => {
    expect(() => parseByteSize('1.5B')).toThrow(/whole number of bytes/);
    expect(() => parseByteSize('-1MiB')).toThrow(/negative/);
    expect(() => parseByteSize('3 parsecs')).toThrow(/unknown unit/);
    expect(() => parseByteSize('99999999TiB')).toThrow(/too large/);
    expect(() => parseByteSize(1.5)).toThrow(ConfigValueError);
    expect(() => parseByteSize([])).toThrow(ConfigValueError);
    expect(() => parseByteSize('0toString')).toThrow(/unknown unit/);
  });

  it('reads back every size formatByteSize writes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(), fc.nat({ max: 1 << 20 }).map((n) => n * 1024), fc.nat({ max: 4096 }).map((n) => n * 1024 ** 2)), (bytes) => {
        expect(parseByteSize(formatByteSize(bytes))).toBe(bytes);
      }),
    );
  });

  it('never crashes or returns garbage on arbitrary input', () => {
    const check = (input: unknown): void => {
      try {
        const bytes = parseByteSize(input);
        expect(Number.isSafeInteger(bytes) && bytes >= 0).toBe(true);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigValueError);
      }
    };
    fc.assert(fc.property(fc.oneof(fc.string(), fc.anything(), fc.double()), check));
    fc.assert(fc.property(fc.stringMatching(/^-?\d{0,25}(\.\d{0,12})?\s?[a-zA-Z]{0,10}$/), check));
    fc.assert(fc.property(fc.constantFrom(...Object.getOwnPropertyNames(Object.prototype)).map((name) => `1${name}`), check));
  });
});
