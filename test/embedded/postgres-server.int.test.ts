import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testServer, type TestDatabase } from '../support/postgres.js';

describe('the throwaway test server', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('runs with wal_level = logical and the requested major', async () => {
    const { rows } = await db.query<{ wal_level: string; version: string }>(
      `SELECT current_setting('wal_level') AS wal_level, current_setting('server_version_num') AS version`,
    );
    expect(rows[0]?.wal_level).toBe('logical');
    expect(Math.floor(Number(rows[0]?.version) / 10000)).toBe(testServer().major);
  });

  it('creates and drops a pgoutput slot in its own database', async () => {
    const slot = `t_${Date.now()}`;
    await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    const { rows } = await db.query(`SELECT plugin, database FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
    expect(rows).toEqual([{ plugin: 'pgoutput', database: db.name }]);
  });
});
