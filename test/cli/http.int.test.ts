// Acceptance: the health endpoints and the Prometheus metrics of a running `laredo run`, over real
// HTTP, as docs/config.md describes them; and no password in any log line or metric.
import path from 'node:path';
import { afterEach, beforeEach, expect, it, onTestFinished } from 'vitest';
import { startReceiver } from '../targets/http-sync/receiver.js';
import { createTestDatabase, testServer, uniqueName, type TestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { CLI_FIXTURES, killAllCli, startCli, workingDirectory } from './support/cli.js';
import { freePort, lsnValue, slotsOf } from './support/database.js';

const HTTP = path.join(CLI_FIXTURES, 'http.conf');

let db: TestDatabase;
let work: { dir: string; remove: () => Promise<void> };

beforeEach(async () => {
  db = await createTestDatabase('laredo_cli_http');
  work = await workingDirectory();
  await db.query(`
    CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE notes (id int PRIMARY KEY, body text);
    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 200) g;
    INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 30) g;
  `);
});

afterEach(async () => {
  killAllCli();
  await db.drop();
  await work.remove();
});

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

/** The value of one series in a Prometheus text exposition, e.g. `laredo_changes_total{source="pg_main",table="public.items",op="insert"}`. */
function sample(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of exposition.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

it('serves /health/live, /health/ready (503 until the baseline is done, then 200) and every documented metric, with no password anywhere', async () => {
  const port = await freePort();
  const slotName = uniqueName('cli_http');
  const base = `http://127.0.0.1:${port}`;
  const source = { source: 'pg_main' };
  // The receiver holds its answers until the test opens the gate: until then the baseline is handed
  // over (the source streams) but not durable in every target, and the process is not ready.
  const receiver = await startReceiver();
  let openGate = (): void => undefined;
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  receiver.answer = () => ({ status: 200, hold: gate });
  onTestFinished(() => receiver.close());

  const cli = startCli(['run', '--config', HTTP], {
    cwd: work.dir,
    env: {
      LAREDO_SOURCES_PG_MAIN_CONNECTION: db.connectionString,
      LAREDO_SOURCES_PG_MAIN_SLOT_NAME: slotName,
      LAREDO_TEST_HTTP_PORT: String(port),
      LAREDO_TEST_SYNC_URL: receiver.url,
    },
  });
  await waitFor(() => get(`${base}/health/live`).then((response) => response.status === 200), { timeoutMs: 60_000, what: '/health/live' });
  await cli.waitForState('STREAMING');
  await waitFor(() => receiver.requests.length > 0, { timeoutMs: 30_000, what: 'the baseline to reach the receiver' });
  expect(await get(`${base}/health/ready`)).toEqual({ status: 503, body: 'not ready\n' });
  const baselining = (await get(`${base}/metrics`)).body;
  expect(sample(baselining, 'laredo_source_state', { ...source, state: 'STREAMING' })).toBe(1);
  expect(sample(baselining, 'laredo_source_state', { ...source, state: 'BASELINING' })).toBe(0);
  expect(sample(baselining, 'laredo_reconnects_total', source)).toBe(0);
  expect(sample(baselining, 'laredo_changes_total', { ...source, table: 'public.items', op: 'delete' })).toBe(0);
  // The receiver holds the baseline of items: those bytes are received and not durable everywhere.
  expect(sample(baselining, 'laredo_in_flight_bytes', source)).toBeGreaterThan(0);

  openGate();
  await waitFor(() => get(`${base}/health/ready`).then((response) => response.status === 200), { timeoutMs: 60_000, what: '/health/ready to be 200' });
  expect(await get(`${base}/health/live`)).toEqual({ status: 200, body: 'ok\n' });

  await db.query(`INSERT INTO items SELECT g, 'new' FROM generate_series(1001, 1010) g`);
  await db.query(`UPDATE items SET name = 'renamed' WHERE id <= 3`);
  await db.query(`DELETE FROM notes WHERE id <= 2`);
  // A lost connection: the source reconnects (and the reconnect's error is logged).
  await db.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1`, [slotName]);
  await cli.waitForState('RECONNECTING');
  await db.query(`INSERT INTO notes VALUES (500, 'after the reconnect')`);
  const metrics = await waitFor(
    async () => {
      const body = (await get(`${base}/metrics`)).body;
      return sample(body, 'laredo_changes_total', { ...source, table: 'public.notes', op: 'insert' }) === 1 ? body : undefined;
    },
    { timeoutMs: 60_000, what: 'the insert after the reconnect to be counted' },
  );
  expect(sample(metrics, 'laredo_source_state', { ...source, state: 'STREAMING' })).toBe(1);
  expect(sample(metrics, 'laredo_changes_total', { ...source, table: 'public.items', op: 'insert' })).toBe(10);
  expect(sample(metrics, 'laredo_changes_total', { ...source, table: 'public.items', op: 'update' })).toBe(3);
  expect(sample(metrics, 'laredo_changes_total', { ...source, table: 'public.notes', op: 'delete' })).toBe(2);
  expect(sample(metrics, 'laredo_baseline_rows_total', { ...source, table: 'public.items' })).toBe(200);
  expect(sample(metrics, 'laredo_baseline_rows_total', { ...source, table: 'public.notes' })).toBe(30);
  expect(sample(metrics, 'laredo_baseline_duration_seconds', { ...source, table: 'public.items' })).toBeGreaterThan(0);
  expect(sample(metrics, 'laredo_reconnects_total', source)).toBeGreaterThanOrEqual(1);
  expect(sample(metrics, 'laredo_target_apply_seconds_count', { ...source, target: 'jsonl:changes.jsonl' })).toBeGreaterThan(0);
  expect(sample(metrics, 'laredo_target_apply_seconds_count', { ...source, target: `http-sync:${new URL(receiver.url).origin}` })).toBeGreaterThan(0);
  // Lag and the confirmed position follow the server's keepalives (status_interval = 1s in the config).
  const [slot] = await slotsOf(db);
  const confirmed = await waitFor(
    async () => {
      const body = (await get(`${base}/metrics`)).body;
      const value = sample(body, 'laredo_source_confirmed_lsn_bytes', source);
      return value !== undefined && BigInt(value) >= lsnValue(slot!.confirmed_flush_lsn!) ? body : undefined;
    },
    { timeoutMs: 30_000, what: 'the confirmed position in the metrics' },
  );
  expect(sample(confirmed, 'laredo_source_lag_bytes', source)).toBeGreaterThanOrEqual(0);
  expect(await get(`${base}/nowhere`)).toMatchObject({ status: 404 });

  const exit = await cli.stop('SIGTERM');
  expect(exit, cli.stderr()).toEqual({ code: 0, signal: null });
  expect(cli.stderr()).toContain('reconnecting in');
  // The connection string's password and the receiver's token: in no log line and no metric.
  for (const secret of [testServer().password, 'cli-test-token-2f9a']) {
    for (const text of [cli.stderr(), cli.stdout(), baselining, metrics, confirmed]) expect(text).not.toContain(secret);
  }
  // The HTTP server went with the process.
  await expect(get(`${base}/health/live`)).rejects.toThrow();
});
