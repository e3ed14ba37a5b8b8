/**
 * Baseline throughput: COPY of one table of 1,000,000 `ev` rows
 *
 *   ev(id bigserial primary key, account int, kind text, amount numeric(12,2), payload jsonb, created_at timestamptz)
 *
 * through `baselineRows` (COPY ... TO STDOUT at an exported snapshot, every value parsed: jsonb with
 * JSON.parse, timestamptz to ISO, numeric and int8 as exact strings), against
 * `psql -c "\copy (select * from ev) to /dev/null"` measured in the same run on the same server.
 *
 *   npx tsx bench/baseline.ts                          # PostgreSQL 18 (LAREDO_TEST_PG), 1,000,000 rows, 3 runs each
 *   npx tsx bench/baseline.ts --rows 2000000 --runs 5 --major 14
 *
 * Cases: laredo with one COPY (no ctid split), and with ctid ranges copied in parallel at 2 and 4
 * connections; psql is the reference; and, for insight, the default case with jsonb kept as text
 * (values option json: 'text'), which shows what JSON.parse costs. rows/s by wall clock, the median of
 * the runs, the ratio to psql, and this process' CPU seconds (user + system) per run: the client
 * parses every value on one thread, so when CPU seconds approach the wall time the client is the
 * bound and more ctid ranges only help the server side. The server is a throwaway one (src/embedded)
 * on this machine, so client and server share the CPUs.
 */
import { EV_COLUMNS_SQL, insertEvRows } from './support/ev-table.js';
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { lastValueFrom } from 'rxjs';
import { EmbeddedPostgres } from '../src/embedded/postgres-server.js';
import { baselineRows, describeTables } from '../src/streams/baseline.js';
import { parseConnectionString } from '../src/streams/connection.js';
import { ReplicationClient } from '../src/streams/replication-client.js';
import type { ValueOptions } from '../src/protocol/values.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    major: { type: 'string' },
    psql: { type: 'string', default: '/usr/bin/psql' },
  },
});
const rows = Number(args.rows);
const runs = Number(args.runs);
const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const server = new EmbeddedPostgres(args.major === undefined ? {} : { major: Number(args.major) });
const info = await server.start();
const connection = server.connectionString();

interface Timing {
  readonly seconds: number;
  /** CPU of this process (user + system); psql's own CPU is not counted. */
  readonly cpuSeconds: number;
}

interface Case {
  readonly name: string;
  readonly run: () => Promise<Timing>;
}

try {
  const client = new pg.Client({ connectionString: connection });
  await client.connect();
  log(`PostgreSQL ${info.major}: loading ${rows} ev rows ...`);
  await client.query(`CREATE TABLE ev (${EV_COLUMNS_SQL})`);
  for (let first = 1; first <= rows; first += 100_000) {
    const last = Math.min(rows, first + 99_999);
    await client.query(insertEvRows(first, last));
  }
  // Hint bits and the visibility map set, statistics current: every case reads the same settled table.
  await client.query('VACUUM (ANALYZE, FREEZE) ev');
  const { rows: size } = await client.query<{ pages: string; bytes: string }>(
    `SELECT (pg_relation_size('ev') / current_setting('block_size')::int)::text AS pages, pg_size_pretty(pg_relation_size('ev')) AS bytes`,
  );
  log(`table: ${size[0]!.pages} pages (${size[0]!.bytes})`);
  const [table] = await describeTables(client, [{ schema: 'public', name: 'ev' }]);
  await client.end();

  const parsed = parseConnectionString(connection);
  const psql = (): Timing => {
    const started = process.hrtime.bigint();
    const result = spawnSync(args.psql, ['-X', '-q', '-c', '\\copy (select * from ev) to /dev/null'], {
      env: {
        ...process.env,
        PGHOST: parsed.host ?? '127.0.0.1',
        PGPORT: String(parsed.port ?? 5432),
        PGUSER: parsed.user ?? '',
        PGPASSWORD: parsed.password ?? '',
        PGDATABASE: parsed.database ?? 'postgres',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (result.status !== 0) throw new Error(`psql failed: ${result.stderr.toString()}`);
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9, cpuSeconds: 0 };
  };

  const laredo = (parallelism: number, splitPages: number, values: ValueOptions = {}) => async (): Promise<Timing> => {
    // A real exported snapshot, as the source uses it; the slot's connection stays idle meanwhile.
    const replication = await ReplicationClient.connect(connection);
    try {
      const slot = await replication.createSlot('bench_baseline', { temporary: true });
      const cpuStarted = process.cpuUsage();
      const started = process.hrtime.bigint();
      await lastValueFrom(baselineRows({ connection, snapshotName: slot.snapshotName, tables: [{ table: table! }], parallelism, splitPages, values }), {
        defaultValue: undefined,
      }).then(() => undefined);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cpu = process.cpuUsage(cpuStarted);
      return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
    } finally {
      await replication.close();
    }
  };

  // Rows are counted by the events; checked once here so a broken case cannot report a fast time.
  {
    const replication = await ReplicationClient.connect(connection);
    const slot = await replication.createSlot('bench_check', { temporary: true });
    let count = 0;
    await new Promise<void>((resolve, reject) => {
      baselineRows({ connection, snapshotName: slot.snapshotName, tables: [{ table: table! }] }).subscribe({
        next: (event) => {
          if (event.kind === 'baseline') count += event.rows.length;
        },
        error: reject,
        complete: resolve,
      });
    });
    await replication.close();
    if (count !== rows) throw new Error(`baseline emitted ${count} rows, expected ${rows}`);
  }

  const cases: Case[] = [
    { name: 'psql \\copy to /dev/null', run: () => Promise.resolve(psql()) },
    { name: 'laredo, 1 COPY', run: laredo(1, 0) },
    { name: 'laredo, ctid ranges x2', run: laredo(2, 2048) },
    { name: 'laredo, ctid ranges x4 (default)', run: laredo(4, 4096) },
    { name: 'laredo, x4, jsonb kept as text', run: laredo(4, 4096, { json: 'text' }) },
  ];
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const results: { name: string; seconds: number; cpuSeconds: number }[] = [];
  for (const benchCase of cases) {
    const timings: Timing[] = [];
    await benchCase.run(); // warm-up: JIT, shared buffers
    for (let run = 0; run < runs; run++) timings.push(await benchCase.run());
    results.push({ name: benchCase.name, seconds: median(timings.map((t) => t.seconds)), cpuSeconds: median(timings.map((t) => t.cpuSeconds)) });
  }
  const reference = results[0]!.seconds;
  log('');
  log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, PostgreSQL ${info.major}, ${new Date().toISOString().slice(0, 10)}`);
  log(`${'case'.padEnd(36)}${'seconds'.padStart(10)}${'rows/s'.padStart(14)}${'vs psql'.padStart(10)}${'client CPU s'.padStart(14)}`);
  for (const result of results) {
    log(
      `${result.name.padEnd(36)}${result.seconds.toFixed(2).padStart(10)}${Math.round(rows / result.seconds).toLocaleString('en-US').padStart(14)}` +
        `${(reference / result.seconds).toFixed(2).padStart(9)}x${(result.cpuSeconds === 0 ? '-' : result.cpuSeconds.toFixed(2)).padStart(14)}`,
    );
  }
} finally {
  await server.stop();
}
