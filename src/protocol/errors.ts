import { LaredoError } from '../errors.js';

/** Stable codes for bytes the protocol layer cannot decode. */
export type ProtocolErrorCode =
  | 'TRUNCATED' // a length or field runs past the end of the buffer
  | 'UNKNOWN_MESSAGE' // a tag byte this protocol does not define
  | 'UNKNOWN_TUPLE_KIND' // a TupleData column kind other than n, u, t, b
  | 'UNKNOWN_RELATION' // a row for a relation id no Relation message announced
  | 'MALFORMED' // a value that is structurally wrong (bad LSN text, bad escape, column count mismatch...)
  | 'TRAILING_BYTES'; // a message followed by bytes that belong to nothing

/**
 * Bytes that are not what PostgreSQL sends. Never retryable: the same bytes fail the same way.
 * `offset` is where in the buffer decoding stopped.
 */
export class ProtocolError extends LaredoError {
  declare readonly code: ProtocolErrorCode;
  readonly offset: number;

  constructor(code: ProtocolErrorCode, message: string, offset: number, options?: { cause?: unknown }) {
    super(code, `${message} (at byte ${offset})`, { retryable: false, ...options });
    this.offset = offset;
  }
}
