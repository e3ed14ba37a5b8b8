import { ProtocolError } from './errors.js';

/**
 * A WAL position (`pg_lsn`): an unsigned 64-bit byte offset into the write-ahead log, held as a bigint
 * so arithmetic and comparison are exact. PostgreSQL prints it as two hex halves, `16/B374D848`.
 */
export type Lsn = bigint;

const MAX = 0xffff_ffff_ffff_ffffn;
const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export const Lsn = {
  /** `0/0`, the invalid position PostgreSQL uses for "none". */
  ZERO: 0n as Lsn,
  MAX: MAX as Lsn,

  /** Parses `X/X` as PostgreSQL prints it; anything else is a ProtocolError. */
  parse(text: string): Lsn {
    const match = LSN_TEXT.exec(text);
    if (match === null) throw new ProtocolError('MALFORMED', `not an LSN: ${JSON.stringify(text.slice(0, 40))} (expected X/X in hex)`, 0);
    return (BigInt(`0x${match[1]!}`) << 32n) | BigInt(`0x${match[2]!}`);
  },

  /** Formats exactly like PostgreSQL's pg_lsn output: upper-case hex, no leading zeros. */
  format(lsn: Lsn): string {
    return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`;
  },

  compare(a: Lsn, b: Lsn): -1 | 0 | 1 {
    return a < b ? -1 : a > b ? 1 : 0;
  },

  /** `lsn + bytes`, refusing to wrap past the 64-bit range. */
  add(lsn: Lsn, bytes: bigint | number): Lsn {
    const sum = lsn + BigInt(bytes);
    if (sum < 0n || sum > MAX) throw new RangeError(`LSN arithmetic out of range: ${Lsn.format(lsn)} + ${String(bytes)}`);
    return sum;
  },

  /** Bytes from `from` to `to` (negative when `to` is behind). */
  diff(to: Lsn, from: Lsn): bigint {
    return to - from;
  },

  max(a: Lsn, b: Lsn): Lsn {
    return a > b ? a : b;
  },

  min(a: Lsn, b: Lsn): Lsn {
    return a < b ? a : b;
  },

  /** True for an unsigned 64-bit value. */
  isValid(value: unknown): value is Lsn {
    return typeof value === 'bigint' && value >= 0n && value <= MAX;
  },
} as const;
