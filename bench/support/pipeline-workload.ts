/**
 * The pipeline benchmark's workload: row changes of
 *
 *   ev(id bigserial primary key, account int, kind text, amount numeric(12,2), payload jsonb, created_at timestamptz)
 *
 * written once, after every contender's slot exists, so every slot holds the same WAL and each
 * contender drains exactly the same changes. `inserts`: transactions of `transactionRows` inserts.
 * `mixed`: transactions of 60% inserts, 30% updates and 10% deletes (of rows the previous transaction
 * inserted; REPLICA IDENTITY DEFAULT, so an update carries the new row and a delete the key).
 */
import { EV_COLUMNS_SQL, insertEvRows } from './ev-table.js';
import type pg from 'pg';
import { Lsn } from '../../src/protocol/lsn.js';

export type WorkloadKind = 'inserts' | 'mixed';

export interface Workload {
  readonly kind: WorkloadKind;
  /** Row changes written: inserts + updates + deletes. */
  readonly changes: number;
  readonly transactions: number;
  /** The xid of the last transaction (32 bits, as pgoutput's Begin carries it): drained once its commit is. */
  readonly lastXid: number;
  /** The insert position right after the last commit: pg_recvlogical's `--endpos`. */
  readonly endLsn: Lsn;
}

export const PUBLICATION = 'ev_pub';

/** In `mixed`, each transaction inserts this share of its changes; the previous one's rows are updated and deleted. */
const MIXED_INSERTS = 0.6;
const MIXED_UPDATES = 0.3;

/** Creates the table and its publication; `mixed` seeds the rows its first transaction updates and deletes. */
export async function createSchema(client: pg.Client, kind: WorkloadKind, transactionRows: number): Promise<void> {
  await client.query(`
    CREATE TABLE ev (${EV_COLUMNS_SQL})
      -- No autovacuum: its WAL would sit between the workload's commits and differ from run to run.
      WITH (autovacuum_enabled = false);
    CREATE PUBLICATION ${PUBLICATION} FOR TABLE ev;
  `);
  if (kind === 'mixed') {
    const inserts = Math.round(transactionRows * MIXED_INSERTS);
    await client.query(insertEvRows(1, inserts));
  }
}

/** Creates a persistent pgoutput slot; its consistent point is before any workload change. */
export async function createSlot(client: pg.Client, slotName: string): Promise<void> {
  // On its own: a slot cannot be created in a transaction that has written.
  await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slotName]);
}

/** Writes `changes` row changes in transactions of `transactionRows`; `log` hears of progress. */
export async function writeWorkload(
  client: pg.Client,
  kind: WorkloadKind,
  changes: number,
  transactionRows: number,
  log: (line: string) => void,
): Promise<Workload> {
  const inserts = kind === 'inserts' ? transactionRows : Math.round(transactionRows * MIXED_INSERTS);
  const updates = kind === 'inserts' ? 0 : Math.round(transactionRows * MIXED_UPDATES);
  const deletes = transactionRows - inserts - updates;
  const transactions = Math.ceil(changes / transactionRows);
  let written = 0;
  let lastXid = 0;
  // `mixed` seeded the first `inserts` ids; ids are contiguous because nothing here rolls back.
  let nextId = kind === 'mixed' ? inserts + 1 : 1;
  for (let t = 0; t < transactions; t++) {
    const size = Math.min(transactionRows, changes - written);
    const statements: string[] = [];
    if (kind === 'inserts' || size < transactionRows) {
      statements.push(insertEvRows(nextId, nextId + size - 1));
      nextId += size;
    } else {
      const previous = nextId - inserts;
      statements.push(
        insertEvRows(nextId, nextId + inserts - 1),
        `UPDATE ev SET amount = amount + 1, payload = payload || '{"updated": true}' WHERE id BETWEEN ${previous} AND ${previous + updates - 1}`,
        `DELETE FROM ev WHERE id BETWEEN ${previous + updates} AND ${previous + updates + deletes - 1}`,
      );
      nextId += inserts;
    }
    const results = (await client.query(
      `BEGIN; ${statements.join('; ')}; SELECT (txid_current() % 4294967296)::text AS xid; COMMIT`,
    )) as unknown as pg.QueryResult[];
    const counted = results.reduce((sum, result) => sum + (result.command === 'SELECT' ? 0 : (result.rowCount ?? 0)), 0);
    if (counted !== size) throw new Error(`workload transaction ${t + 1} changed ${counted} rows, expected ${size}`);
    lastXid = Number((results.find((result) => result.command === 'SELECT')?.rows[0] as { xid: string }).xid);
    written += size;
    if ((t + 1) % Math.max(1, Math.floor(transactions / 10)) === 0) log(`  written ${written.toLocaleString('en-US')} changes`);
  }
  const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return { kind, changes: written, transactions, lastXid, endLsn: Lsn.parse(rows[0]!.lsn) };
}

/** Where a slot starts: its confirmed position (everything after it is pending). */
export async function slotStart(client: pg.Client, slotName: string): Promise<Lsn> {
  const { rows } = await client.query<{ lsn: string }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [
    slotName,
  ]);
  if (rows[0] === undefined) throw new Error(`slot ${slotName} is missing`);
  return Lsn.parse(rows[0].lsn);
}
