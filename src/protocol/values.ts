// STUB: the values helper replaces this file. The signatures are the contract.
import type { PgValue } from './row.js';

/** How values are converted; the defaults are lossless. */
export interface ValueOptions {
  /** int8 as a decimal string (default) or a bigint. */
  readonly int8?: 'string' | 'bigint';
}

export type TextParser = (text: string) => PgValue;
export type BinaryParser = (bytes: Buffer) => PgValue;

/** The converter for a column of type `typeOid` sent as text (pgoutput `t`, COPY text). */
export function textParser(_typeOid: number, _options: ValueOptions = {}): TextParser {
  return (text) => text;
}

/** The converter for a column of type `typeOid` sent in binary (pgoutput `b`); unknown types stay Buffers. */
export function binaryParser(_typeOid: number, _options: ValueOptions = {}): BinaryParser {
  return (bytes) => Buffer.from(bytes);
}
