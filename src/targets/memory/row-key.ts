import type { PgValue } from '../../protocol/row.js';
import { isUnchangedToast } from '../../protocol/row.js';

/**
 * A canonical string for a tuple of column values, so rows can be keyed in a Map. Distinct values
 * give distinct strings: every value is tagged with its type (the text '1', the number 1 and the
 * bigint 1n differ, as they do in PostgreSQL's eyes once converted), objects are encoded with sorted
 * keys, Buffers as hex.
 */
export function encodeKey(values: readonly PgValue[]): string {
  return values.map(encodeValue).join('\u0000');
}

function encodeValue(value: PgValue | undefined): string {
  if (value === undefined) return 'u';
  if (value === null) return 'z';
  if (isUnchangedToast(value)) return 't';
  switch (typeof value) {
    case 'string':
      return `s${JSON.stringify(value)}`;
    case 'number':
      return `n${Object.is(value, -0) ? '0' : String(value)}`;
    case 'bigint':
      return `i${value.toString()}`;
    case 'boolean':
      return value ? 'T' : 'F';
    default:
      break;
  }
  if (Buffer.isBuffer(value)) return `x${value.toString('hex')}`;
  if (Array.isArray(value)) return `[${(value as readonly PgValue[]).map(encodeValue).join(',')}]`;
  const entries = Object.entries(value as Readonly<Record<string, PgValue>>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${encodeValue(v)}`).join(',')}}`;
}
