import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PreflightError } from '../../src/streams/errors.js';
import { gatherPreflightFacts, preflight } from '../../src/streams/preflight.js';
import { createTestDatabase, serverConnectionString, uniqueName, type TestDatabase } from '../support/postgres.js';

let db: TestDatabase;
const role = uniqueName('laredo_pf_role');
const password = 'preflight-secret';

beforeAll(async () => {
  db = await createTestDatabase('laredo_preflight');
  await db.query('CREATE TABLE keyed (id int PRIMARY KEY, v text)');
  await db.query('CREATE TABLE keyless (v text)');
  await db.query('CREATE TABLE nothing_identity (id int PRIMARY KEY)');
  await db.query('ALTER TABLE nothing_identity REPLICA IDENTITY NOTHING');
  await db.query('CREATE TABLE full_identity (v text)');
  await db.query('ALTER TABLE full_identity REPLICA IDENTITY FULL');
  await db.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
  await db.query(`GRANT SELECT ON keyed TO ${role}`);
});

afterAll(async () => {
  await db.drop();
  const admin = new pg.Client({ connectionString: serverConnectionString() });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${role}`);
  await admin.end();
});

describe('preflight', () => {
  it('passes on a server set up for logical replication, warning about tables whose updates and deletes cannot be published', async () => {
    const client = await db.client();
    const result = await preflight(client, { tables: ['public.keyed', 'public.keyless', 'public.nothing_identity', 'public.full_identity'] });
    expect(result.warnings.map((w) => [w.code, w.table])).toEqual([
      ['NO_REPLICA_IDENTITY', 'public.keyless'],
      ['REPLICA_IDENTITY_NOTHING', 'public.nothing_identity'],
    ]);
    expect(result.warnings[0]!.message).toContain('ALTER TABLE "public"."keyless" REPLICA IDENTITY FULL');
    expect(result.warnings[0]!.message).toContain('primary key');
  });

  it('does not warn about replica identity when the publication publishes no updates or deletes', async () => {
    const publication = uniqueName('pub');
    await db.query(`CREATE PUBLICATION ${publication} FOR TABLE keyless WITH (publish = 'insert, truncate')`);
    const result = await preflight(await db.client(), { tables: ['public.keyless'], publication });
    expect(result.warnings).toEqual([]);
  });

  it('reports every problem of a role without REPLICATION and SELECT, and a missing table, in one error', async () => {
    const client = new pg.Client({ connectionString: serverConnectionString(db.name, { name: role, password }) });
    await client.connect();
    try {
      const error = await preflight(client, { tables: ['public.keyed', 'public.keyless', 'public.nope'] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PreflightError);
      const problems = (error as PreflightError).problems;
      expect(problems.map((p) => [p.code, p.table])).toEqual([
        ['REPLICATION_ROLE', undefined],
        ['TABLE_PRIVILEGE', 'public.keyless'],
        ['TABLE_MISSING', 'public.nope'],
      ]);
      expect((error as PreflightError).code).toBe('PREFLIGHT_REPLICATION_ROLE');
      expect((error as Error).message).toContain(`ALTER ROLE "${role}" REPLICATION`);
      expect((error as Error).message).toContain(`GRANT SELECT ON "public"."keyless" TO "${role}"`);
      expect((error as Error).message).not.toContain(password);
    } finally {
      await client.end();
    }
  });

  it('gathers slot and sender counts so a full server is caught', async () => {
    const facts = await gatherPreflightFacts(await db.client(), { tables: [], slotName: 'laredo_no_such_slot' });
    expect(facts.walLevel).toBe('logical');
    expect(facts.canReplicate).toBe(true);
    expect(facts.maxReplicationSlots).toBe(64);
    expect(facts.usedReplicationSlots).toBeGreaterThanOrEqual(0);
    expect(facts.slotExists).toBe(false);
    expect(facts.maxWalSenders).toBe(64);
    expect(facts.serverVersion).toBeGreaterThanOrEqual(140000);
  });
});
