/**
 * The decode benchmark's input: XLogData frames (CopyData payloads, `w` + header + pgoutput message) of
 * at least 1,000,000 inserts into
 *
 *   ev(id bigserial primary key, account int, kind text, amount numeric(12,2), payload jsonb, created_at timestamptz)
 *
 * captured once from a throwaway PostgreSQL over a walsender connection and cached in bench/.data/
 * (gitignored) as `[Int32 length][frame]...`. Delete the file to capture again.
 */
import { EV_COLUMNS_SQL, insertEvRows } from './ev-table.js';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { EmbeddedPostgres } from '../../src/embedded/postgres-server.js';
import { Lsn } from '../../src/protocol/lsn.js';
import { ReplicationCapture } from './replication-capture.js';

export const DATA_DIR = path.join(import.meta.dirname, '..', '.data');

export interface EvFrames {
  readonly file: string;
  readonly frames: readonly Buffer[];
  readonly bytes: number;
}

const TRANSACTION_ROWS = 10_000;

/** Reads the cached frames, capturing them first if needed. */
export async function evFrames(rows: number, log: (line: string) => void): Promise<EvFrames> {
  const file = path.join(DATA_DIR, `ev-${rows}.frames`);
  if (!existsSync(file)) await captureEvFrames(file, rows, log);
  const data = readFileSync(file);
  const frames: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    const length = data.readUInt32BE(at);
    frames.push(data.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return { file, frames, bytes: data.length - 4 * frames.length };
}

async function captureEvFrames(file: string, rows: number, log: (line: string) => void): Promise<void> {
  log(`capturing ${rows} ev inserts into ${file} (once) ...`);
  const server = new EmbeddedPostgres();
  const info = await server.start();
  const client = new pg.Client({ connectionString: server.connectionString() });
  await client.connect();
  try {
    await client.query(`
      CREATE TABLE ev (${EV_COLUMNS_SQL});
      CREATE PUBLICATION ev_pub FOR TABLE ev;
    `);
    // On its own: a slot cannot be created in a transaction that has written.
    await client.query(`SELECT pg_create_logical_replication_slot('ev_slot', 'pgoutput')`);
    const capture = await ReplicationCapture.start(server.connectionString(), 'ev_slot', {
      proto_version: info.major >= 16 ? '4' : '2',
      publication_names: 'ev_pub',
    });
    const frames: Buffer[] = [];
    // Kept as whole CopyData payloads (header included), the way the replication connection hands them on.
    capture.onMessage = (message) => {
      const header = Buffer.allocUnsafe(25);
      header[0] = 0x77;
      header.writeBigUInt64BE(message.walStart, 1);
      header.writeBigUInt64BE(message.walStart, 9);
      header.writeBigInt64BE(0n, 17);
      frames.push(header, message.data);
    };
    try {
      for (let first = 1; first <= rows; first += TRANSACTION_ROWS) {
        const last = Math.min(rows, first + TRANSACTION_ROWS - 1);
        await client.query(insertEvRows(first, last));
        if (last % 100_000 === 0 || last === rows) log(`  inserted ${last}`);
      }
      const end = Lsn.parse((await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn);
      await capture.catchUp(end, 600_000);
    } finally {
      await capture.stop();
    }
    mkdirSync(DATA_DIR, { recursive: true });
    const chunks: Buffer[] = [];
    for (let i = 0; i < frames.length; i += 2) {
      const length = Buffer.allocUnsafe(4);
      length.writeUInt32BE(frames[i]!.length + frames[i + 1]!.length);
      chunks.push(length, frames[i]!, frames[i + 1]!);
    }
    writeFileSync(file, Buffer.concat(chunks));
    log(`  ${frames.length / 2} frames from PostgreSQL ${info.major}`);
  } finally {
    await client.end();
    await server.stop();
  }
}
