import { firstValueFrom, filter } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pg } from '../../src/source/index.js';
import { memoryTarget } from '../../src/targets/memory/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';

describe('ephemeral mode', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.query(`CREATE TABLE rules (id int PRIMARY KEY, body text, n int8)`);
    await db.query(`INSERT INTO rules SELECT g, 'r' || g, g::int8 * 1000000000 FROM generate_series(1, 500) g`);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('on startup creates a temporary slot, runs a full baseline, then streams changes', async () => {
    const target = memoryTarget();
    const source = pg.source({ connection: db.connectionString, publication: { tables: { 'public.rules': {} } }, stateDir: '/tmp/laredo-test-state' });
    const subscription = source.run([target]).subscribe({ error: (e) => console.error(e) });
    try {
      await waitFor(() => source.state === 'STREAMING', { what: 'STREAMING' });
      const slots = await db.query(`SELECT temporary, plugin FROM pg_replication_slots WHERE database = $1`, [db.name]);
      expect(slots.rows).toEqual([{ temporary: true, plugin: 'pgoutput' }]);
      expect(target.size('public.rules')).toBe(500);
      await db.query(`INSERT INTO rules VALUES (1001, 'new', 1)`);
      await db.query(`UPDATE rules SET body = 'changed' WHERE id = 1`);
      await db.query(`DELETE FROM rules WHERE id = 2`);
      await waitFor(() => target.size('public.rules') === 500 && target.get('public.rules', 1)?.['body'] === 'changed', { what: 'changes' });
      expect(target.get('public.rules', 1001)).toEqual({ id: 1001, body: 'new', n: '1' });
      const confirmed = await firstValueFrom(source.confirmed$.pipe(filter((lsn) => lsn > 0n)));
      expect(confirmed).toBeGreaterThan(0n);
    } finally {
      source.stop();
      await waitFor(() => source.state === 'CLOSED', { what: 'CLOSED' });
      subscription.unsubscribe();
    }
    await waitFor(async () => (await db.query(`SELECT 1 FROM pg_replication_slots WHERE database = $1`, [db.name])).rowCount === 0, {
      what: 'temporary slot dropped',
    });
  });
});
