// The benchmarks' table, the one the issues name, and the rows every benchmark writes into it.

/** `ev(id bigserial primary key, account int, kind text, amount numeric(12,2), payload jsonb, created_at timestamptz)`. */
export const EV_COLUMNS_SQL = 'id bigserial PRIMARY KEY, account int, kind text, amount numeric(12,2), payload jsonb, created_at timestamptz';

/** `INSERT INTO ev` of the rows numbered first..last (`g`): a 60-byte jsonb object, microsecond timestamps. */
export function insertEvRows(first: number, last: number): string {
  return `INSERT INTO ev (account, kind, amount, payload, created_at) SELECT ${EV_ROW_VALUES} FROM generate_series(${first}, ${last}) g`;
}

/** The select list of one ev row numbered `g`. */
const EV_ROW_VALUES = `g % 5000,
       (ARRAY['deposit', 'withdrawal', 'fee', 'refund'])[g % 4 + 1],
       (g % 1000000) / 100.0,
       jsonb_build_object('order', g, 'sku', 'SKU-' || (g % 977), 'qty', g % 7 + 1, 'gift', g % 11 = 0),
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1.000123 second'`;
