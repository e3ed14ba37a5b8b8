/**
 * The marker for a TOASTed column whose value did not change (TupleData kind `u`): PostgreSQL did not
 * send it. It is neither NULL nor a missing column; a target keeps the value it already holds.
 */
export const UNCHANGED_TOAST: unique symbol = Symbol.for('laredo.unchangedToast');
export type UnchangedToast = typeof UNCHANGED_TOAST;

/** JSON as `JSON.parse` returns it (json and jsonb columns). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A column value, converted by type OID (see the README's value table). Lossless by design: int8 and
 * numeric are strings (int8 a bigint when asked), timestamps are ISO-8601 strings with every
 * microsecond, bytea is a Buffer. Types laredo does not know stay text (or a Buffer in binary mode).
 */
export type PgValue =
  | JsonValue // null, boolean, number, string, and parsed json/jsonb
  | bigint
  | Buffer
  | { readonly [key: string]: unknown } // structured types such as point or interval
  | readonly PgValue[]
  | UnchangedToast;

/** A row keyed by column name, in the table's column order. */
export type Row = Readonly<Record<string, PgValue>>;

export function isUnchangedToast(value: unknown): value is UnchangedToast {
  return value === UNCHANGED_TOAST;
}
