// What the CLI tests read back from PostgreSQL and from the jsonl files laredo wrote.
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { readJsonl, rebuildTables, rowKey, type JsonRowValues, type RebuiltTable } from '../../../src/targets/jsonl/index.js';
import type { JsonlLine } from '../../../src/targets/jsonl/index.js';
import type { TableKey } from '../../../src/model/table.js';
import type { TestDatabase } from '../../support/postgres.js';

export interface SlotRow {
  readonly slot_name: string;
  readonly temporary: boolean;
  readonly active: boolean;
  readonly confirmed_flush_lsn: string | null;
}

/** The replication slots of the test's database, as pg_replication_slots shows them. */
export async function slotsOf(db: TestDatabase): Promise<SlotRow[]> {
  const { rows } = await db.query<SlotRow & Record<string, unknown>>(
    `SELECT slot_name::text, temporary, active, confirmed_flush_lsn::text FROM pg_replication_slots WHERE database = current_database() ORDER BY 1`,
  );
  return rows;
}

export async function publicationsOf(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.query<{ pubname: string }>(`SELECT pubname::text FROM pg_publication ORDER BY 1`);
  return rows.map((row) => row.pubname);
}

/**
 * The rows `sql` selects, keyed the way `rebuildTables` keys a table's rows (JSON of the key columns).
 * Select only columns whose pg value equals its jsonl value (int4, text, numeric, int8, jsonb, bool).
 */
export async function expectedRows(db: TestDatabase, sql: string, keyColumns: readonly string[]): Promise<RebuiltTable> {
  const { rows } = await db.query(sql);
  const table: RebuiltTable = new Map();
  for (const row of rows as JsonRowValues[]) table.set(rowKey(keyColumns, row), row);
  return table;
}

/** Every table of a jsonl file rebuilt: `reset` empties, baseline and changes apply in order. */
export async function rebuildFile(file: string): Promise<Map<TableKey, RebuiltTable>> {
  return rebuildTables(await readLines(file));
}

export async function readLines(file: string): Promise<JsonlLine[]> {
  return existsSync(file) ? readJsonl(file) : [];
}

/** `0/16B3748` as a number of bytes, to compare LSNs. */
export function lsnValue(text: string): bigint {
  const [high, low] = text.split('/');
  return (BigInt(`0x${high ?? '0'}`) << 32n) + BigInt(`0x${low ?? '0'}`);
}

/** A TCP port nobody listens on right now (for health.http_port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}
