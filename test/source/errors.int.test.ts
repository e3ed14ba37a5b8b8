// How the source fails: "After max_attempts failures, the source transitions to ERROR" (against a
// server of the test's own, which it stops), and failures no reconnect can cure fail at once.
import { inspect } from 'node:util';
import pgClient from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedPostgres } from '../../src/embedded/postgres-server.js';
import { ReconnectExhaustedError, type RetryInfo } from '../../src/operators/index.js';
import { pg, type PostgresSourceOptions } from '../../src/source/index.js';
import { ConnectionError, PostgresServerError } from '../../src/streams/errors.js';
import { memoryTarget } from '../../src/targets/memory/index.js';
import { createTestDatabase, serverConnectionString, testServer, uniqueName, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { runSource, stopAll, type RunningSource } from './support/harness.js';

const running: RunningSource[] = [];
afterEach(async () => {
  await stopAll(running);
});

describe('After max_attempts failures, the source transitions to ERROR.', () => {
  let server: EmbeddedPostgres | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it('with the server stopped: retries waiting 200, 400, 800 ms (exponential backoff), then ERROR within that total', async () => {
    server = new EmbeddedPostgres({ major: testServer().major });
    await server.start();
    const connection = server.connectionString();
    const setup = new pgClient.Client({ connectionString: connection });
    await setup.connect();
    await setup.query(`CREATE TABLE items (id int PRIMARY KEY, body text)`);
    await setup.end();

    const reconnect = { maxAttempts: 3, initialBackoff: 200, maxBackoff: 10_000, multiplier: 2, jitter: false };
    const source = pg.source({ connection, publication: { tables: { 'public.items': {} } }, reconnect });
    const retries: (RetryInfo & { at: number })[] = [];
    source.retries$.subscribe((info) => retries.push({ ...info, at: Date.now() }));
    const run = runSource(source, [memoryTarget()]);
    running.push(run);
    await waitFor(() => source.state === 'STREAMING', { what: 'STREAMING' });

    await server.stop();
    server = undefined;
    const error = await run.failure({ timeoutMs: 60_000 });
    const failedAt = Date.now();
    expect(source.state).toBe('ERROR');
    expect(error).toBeInstanceOf(ReconnectExhaustedError);
    expect((error as ReconnectExhaustedError).attempts).toBe(3);
    expect((error as ReconnectExhaustedError).cause).toBeInstanceOf(ConnectionError);
    expect(retries.map((r) => [r.attempt, r.delayMs])).toEqual([
      [1, 200],
      [2, 400],
      [3, 800],
    ]);
    // From the first wait to ERROR: the 1.4 s of backoff plus three refused connection attempts.
    const total = failedAt - retries[0]!.at;
    expect(total).toBeGreaterThanOrEqual(1400);
    expect(total).toBeLessThan(1400 + 5000);
    expect(run.states.filter((s) => s === 'RECONNECTING')).toHaveLength(3);
    expect(run.states.at(-1)).toBe('ERROR');
  });
});

describe('failures no reconnect can cure fail at once, with a typed error that never shows the password', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('laredo_errors');
    await db.query(`CREATE TABLE items (id int PRIMARY KEY, body text)`);
  });
  afterAll(async () => {
    await db.drop();
  });

  async function failFast(options: PostgresSourceOptions): Promise<PostgresServerError> {
    const source = pg.source(options);
    const retries: RetryInfo[] = [];
    source.retries$.subscribe((info) => retries.push(info));
    const started = Date.now();
    const run = runSource(source, [memoryTarget()]);
    running.push(run);
    const error = await run.failure({ timeoutMs: 10_000 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(retries).toEqual([]);
    expect(run.states).not.toContain('RECONNECTING');
    expect(source.state).toBe('ERROR');
    expect(error).toBeInstanceOf(PostgresServerError);
    expect((error as PostgresServerError).retryable).toBe(false);
    return error as PostgresServerError;
  }

  it('a bad password', async () => {
    const password = `Wrong-${uniqueName('secret')}`;
    const connection = serverConnectionString(db.name, { name: testServer().user, password });
    const error = await failFast({ connection, publication: { tables: { 'public.items': {} } }, reconnect: { initialBackoff: 10, jitter: false } });
    expect(error.sqlstate).toBe('28P01');
    expect(error.message).toMatch(/password/);
    expect(error.message).toMatch(/check the user name and password/);
    // Not in the message, the stack, nor anywhere in the cause chain.
    expect(inspect(error, { depth: 10 })).not.toContain(password);
    expect(JSON.stringify(error)).not.toContain(password);
    expect(String(error.stack)).not.toContain(password);
  });

  it('a missing database', async () => {
    const password = testServer().password;
    const missing = uniqueName('no_such_db');
    const connection = serverConnectionString(missing);
    const error = await failFast({ connection, publication: { tables: { 'public.items': {} } }, reconnect: { initialBackoff: 10, jitter: false } });
    expect(error.sqlstate).toBe('3D000');
    expect(error.message).toContain(missing);
    expect(error.message).toMatch(/create the database or fix the database name/);
    expect(inspect(error, { depth: 10 })).not.toContain(password);
  });
});
