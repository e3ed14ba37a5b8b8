import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { EmbeddedPostgresInfo } from '../../src/embedded/postgres-server.js';

/** The server the global setup started for this run. */
export function testServer(): EmbeddedPostgresInfo {
  return inject('postgres');
}

export function serverConnectionString(database = 'postgres', user?: { name: string; password: string }): string {
  const info = testServer();
  const name = user?.name ?? info.user;
  const password = user?.password ?? info.password;
  return `postgresql://${encodeURIComponent(name)}:${encodeURIComponent(password)}@${info.host}:${info.port}/${encodeURIComponent(database)}`;
}

/** A short random suffix for database, slot and publication names. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export interface TestDatabase {
  readonly name: string;
  readonly connectionString: string;
  /** Runs SQL in this database on a short-lived connection. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** A connected client in this database; closed by drop(). */
  client(): Promise<pg.Client>;
  /** Terminates walsenders, drops this database's slots, then the database (and its publications). */
  drop(): Promise<void>;
}

async function adminQuery(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: serverConnectionString() });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

/**
 * Creates a database of its own for one test file or test. Call `drop()` in afterAll/onTestFinished:
 * it removes the slots made in it even when the test failed.
 */
export async function createTestDatabase(prefix = 'laredo_t'): Promise<TestDatabase> {
  const name = uniqueName(prefix);
  await adminQuery(`CREATE DATABASE "${name}"`);
  const connectionString = serverConnectionString(name);
  const clients: pg.Client[] = [];
  return {
    name,
    connectionString,
    async query(sql, params) {
      const client = new pg.Client({ connectionString });
      await client.connect();
      try {
        return await client.query(sql, params);
      } finally {
        await client.end();
      }
    },
    async client() {
      const client = new pg.Client({ connectionString });
      await client.connect();
      clients.push(client);
      return client;
    },
    async drop() {
      await Promise.allSettled(clients.map((c) => c.end()));
      await dropDatabaseSlots(name);
      await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

/** Drops every replication slot of `database`, terminating whatever process holds one. */
export async function dropDatabaseSlots(database: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const { rows } = await adminQuery(
      `SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = $1`,
      [database],
    );
    if (rows.length === 0) return;
    for (const row of rows as { slot_name: string; active_pid: number | null }[]) {
      if (row.active_pid !== null) await adminQuery('SELECT pg_terminate_backend($1)', [row.active_pid]);
      await adminQuery(
        `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NULL`,
        [row.slot_name],
      ).catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`could not drop the replication slots of ${database}`);
}
