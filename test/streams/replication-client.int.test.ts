import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lsn } from '../../src/protocol/lsn.js';
import { ConnectionError, PostgresServerError, SlotError, UnsupportedOptionError } from '../../src/streams/errors.js';
import { ReplicationClient } from '../../src/streams/replication-client.js';
import { createTestDatabase, serverConnectionString, testServer, uniqueName, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('laredo_rc');
});

afterAll(async () => {
  await db.drop();
});

async function connect(): Promise<ReplicationClient> {
  return ReplicationClient.connect(db.connectionString, { applicationName: 'laredo_rc_test' });
}

describe('ReplicationClient', () => {
  it('connects as a walsender, reads the server version and wal_sender_timeout, and identifies the system', async () => {
    const client = await connect();
    try {
      expect(Math.floor(client.serverVersion / 10000)).toBe(testServer().major);
      // Another test file of the run may lower the server-wide setting meanwhile: compare with itself.
      expect(client.walSenderTimeoutMs).toBeGreaterThan(0);
      expect(await client.walSenderTimeout()).toBe(client.walSenderTimeoutMs);
      const { rows } = await db.query<{ backend_type: string }>('SELECT backend_type FROM pg_stat_activity WHERE pid = $1', [client.pid]);
      expect(rows[0]?.backend_type).toBe('walsender');
      const system = await client.identifySystem();
      expect(system.dbName).toBe(db.name);
      expect(system.timeline).toBe(1);
      expect(system.systemId).toMatch(/^\d+$/);
      expect(system.xlogPos).toBeGreaterThan(0n);
    } finally {
      await client.close();
    }
  });

  it('sets the session settings at startup, so values print as the converters expect', async () => {
    const client = await connect();
    try {
      const { rows } = await client.query<{ datestyle: string; timezone: string; intervalstyle: string; bytea: string; extra: string }>(
        `SELECT current_setting('DateStyle') AS datestyle, current_setting('TimeZone') AS timezone,
                current_setting('IntervalStyle') AS intervalstyle, current_setting('bytea_output') AS bytea,
                current_setting('extra_float_digits') AS extra`,
      );
      expect(rows[0]).toEqual({ datestyle: 'ISO, YMD', timezone: 'UTC', intervalstyle: 'postgres', bytea: 'hex', extra: '3' });
    } finally {
      await client.close();
    }
  });

  it('creates a temporary slot with an exported snapshot that another session can import', async () => {
    const client = await connect();
    const slotName = uniqueName('rc_tmp');
    try {
      const slot = await client.createSlot(slotName, { temporary: true, snapshot: 'export' });
      expect(slot.slotName).toBe(slotName);
      expect(slot.outputPlugin).toBe('pgoutput');
      expect(slot.consistentPoint).toBeGreaterThan(0n);
      expect(slot.snapshotName).toMatch(/^[0-9A-F-]+$/);
      const session = await db.client();
      await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await session.query(`SET TRANSACTION SNAPSHOT '${slot.snapshotName!}'`);
      await session.query('COMMIT');
      const { rows } = await db.query<{ temporary: boolean; plugin: string }>('SELECT temporary, plugin FROM pg_replication_slots WHERE slot_name = $1', [slotName]);
      expect(rows).toEqual([{ temporary: true, plugin: 'pgoutput' }]);
    } finally {
      await client.close();
    }
    // A temporary slot lives as long as its walsender.
    await waitFor(async () => (await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slotName])).rowCount === 0, {
      timeoutMs: 5000,
      what: 'the temporary slot to go',
    });
  });

  it('creates a persistent slot without a snapshot, reports SLOT_EXISTS for a second one, and drops it', async () => {
    const client = await connect();
    const slotName = uniqueName('rc_perm');
    try {
      const slot = await client.createSlot(slotName, { snapshot: 'nothing' });
      expect(slot.snapshotName).toBeNull();
      const error = await client.createSlot(slotName, { snapshot: 'nothing' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SlotError);
      expect((error as SlotError).code).toBe('SLOT_EXISTS');
      expect((error as SlotError).message).toContain(slotName);
      // The connection stays usable after a server error.
      await client.dropSlot(slotName, { wait: true });
      const { rowCount } = await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slotName]);
      expect(rowCount).toBe(0);
      await client.dropSlot(slotName, { ifExists: true });
      const missing = await client.dropSlot(slotName).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(SlotError);
      expect((missing as SlotError).code).toBe('SLOT_MISSING');
    } finally {
      await client.close();
    }
  });

  it('creates a two-phase slot on 15+, and refuses with UnsupportedOptionError on 14', async () => {
    const client = await connect();
    const slotName = uniqueName('rc_2pc');
    try {
      if (client.serverVersion < 150000) {
        await expect(client.createSlot(slotName, { temporary: true, twoPhase: true })).rejects.toBeInstanceOf(UnsupportedOptionError);
        return;
      }
      await client.createSlot(slotName, { temporary: true, snapshot: 'nothing', twoPhase: true });
      const { rows } = await db.query<{ two_phase: boolean }>('SELECT two_phase FROM pg_replication_slots WHERE slot_name = $1', [slotName]);
      expect(rows[0]?.two_phase).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('fails with PostgresServerError 28P01 for a wrong password, never showing the password', async () => {
    const info = testServer();
    const secret = 'not-the-Password-1234';
    const url = `postgresql://${info.user}:${secret}@${info.host}:${info.port}/${db.name}`;
    const error = await ReplicationClient.connect(url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PostgresServerError);
    expect((error as PostgresServerError).sqlstate).toBe('28P01');
    expect((error as PostgresServerError).retryable).toBe(false);
    expect((error as Error).message).not.toContain(secret);
    expect(JSON.stringify(error)).not.toContain(secret);
  });

  it('fails with PostgresServerError 3D000 for a missing database', async () => {
    const error = await ReplicationClient.connect(serverConnectionString('no_such_db_laredo')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PostgresServerError);
    expect((error as PostgresServerError).sqlstate).toBe('3D000');
    expect((error as Error).message).toContain('no_such_db_laredo');
  });

  it('fails with a retryable ConnectionError when nothing listens on the port', async () => {
    const info = testServer();
    const error = await ReplicationClient.connect(`postgresql://${info.user}:secret@127.0.0.1:1/${db.name}`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).retryable).toBe(true);
    expect((error as Error).message).not.toContain('secret');
  });

  it('maps a replication command error to PostgresServerError and stays usable', async () => {
    const client = await connect();
    try {
      const error = await client.query('START_REPLICATION SLOT "no_such_slot_x" LOGICAL 0/0').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PostgresServerError);
      expect((error as PostgresServerError).sqlstate).toBe('42704');
      const system = await client.identifySystem();
      expect(system.xlogPos).toBeGreaterThan(Lsn.ZERO);
    } finally {
      await client.close();
    }
  });
});
