/**
 * Pipeline throughput: a slot full of pending row changes drained end to end, by laredo and by what
 * else does the job, on the same workload in the same server.
 *
 *   npm run bench:pipeline                                  # PostgreSQL 18 (LAREDO_TEST_PG), 1,000,000 inserts, 3 runs
 *   LAREDO_BENCH_DEPS=/tmp/bench-deps npx tsx bench/pipeline.ts --workload mixed --runs 5 --major 14
 *   npx tsx bench/pipeline.ts --only laredo --profile       # V8 CPU profile of laredo's process in bench/.data/
 *
 * One persistent pgoutput slot per contender and run is created first, then the workload is written
 * once (bench/support/pipeline-workload.ts: 1,000,000 changes of the `ev` table in transactions of
 * 1,000), so every slot holds the same WAL. Then, round-robin over the runs, each slot is drained by:
 *
 * - `pg_recvlogical` (PostgreSQL's own client) to /dev/null until `--endpos`: the reference, about as
 *   fast as the server can decode and send;
 * - `laredo`: replicationFrames → decodePgoutput → acknowledge([no-op target]), confirming as it goes,
 *   until the last commit is confirmed; `laredo decode-only` (no acknowledge, commits confirmed as
 *   they arrive) and `laredo frames-only` (replicationFrames alone) show where the time goes;
 * - `pg-logical-replication` (PgoutputPlugin) and `postgres.js` (`sql.subscribe`), if installed where
 *   LAREDO_BENCH_DEPS points (see bench/support/pipeline-libraries.ts); skipped with a note otherwise.
 *
 * Each Node contender runs in a process of its own (bench/support/pipeline-drain.ts). Reported per
 * contender, medians over the runs: row changes/s and WAL MB/s by wall clock, the ratio to
 * pg_recvlogical, the client's CPU seconds and the walsender's (read from /proc: the server's share of
 * the work). Client and server share this machine's cores, as they would share a small host.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { EmbeddedPostgres } from '../src/embedded/postgres-server.js';
import { Lsn } from '../src/protocol/lsn.js';
import { maxProtoVersion } from '../src/streams/replication-frames.js';
import { NODE_CONTENDERS, type DrainResult } from './support/pipeline-drain.js';
import { followWalsender, runNodeDrain, runPgRecvlogical } from './support/pipeline-processes.js';
import { createSchema, createSlot, PUBLICATION, slotStart, writeWorkload, type WorkloadKind } from './support/pipeline-workload.js';

const CONTENDERS = ['pg_recvlogical', ...NODE_CONTENDERS] as const;
type Contender = (typeof CONTENDERS)[number];

const { values: args } = parseArgs({
  options: {
    changes: { type: 'string', default: '1000000' },
    'tx-rows': { type: 'string', default: '1000' },
    workload: { type: 'string', default: 'inserts' },
    runs: { type: 'string', default: '3' },
    major: { type: 'string' },
    only: { type: 'string' },
    'pg-recvlogical': { type: 'string', default: '/usr/bin/pg_recvlogical' },
    'max-in-flight-mb': { type: 'string', default: '64' },
    profile: { type: 'boolean', default: false },
  },
});
const changes = Number(args.changes);
const transactionRows = Number(args['tx-rows']);
const runs = Number(args.runs);
if (args.workload !== 'inserts' && args.workload !== 'mixed') throw new Error(`--workload must be inserts or mixed, got ${args.workload}`);
const workloadKind: WorkloadKind = args.workload;
const contenders: readonly Contender[] =
  args.only === undefined
    ? CONTENDERS
    : args.only.split(',').map((name) => {
        const contender = CONTENDERS.find((c) => c === name.trim());
        if (contender === undefined) throw new Error(`--only: unknown contender ${name}; choose from ${CONTENDERS.join(', ')}`);
        return contender;
      });
const depsDir = process.env['LAREDO_BENCH_DEPS'] === undefined || process.env['LAREDO_BENCH_DEPS'] === '' ? undefined : process.env['LAREDO_BENCH_DEPS'];
const profileDir = path.join(import.meta.dirname, '.data', 'profiles');

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const format = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

interface Measured {
  readonly contender: Contender;
  readonly changes: number;
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly systemSeconds: number;
  readonly walsenderCpuSeconds: number;
  readonly walBytes: number;
  readonly frameBytes: number | undefined;
  readonly skipped?: string;
}

const server = new EmbeddedPostgres({
  ...(args.major === undefined ? {} : { major: Number(args.major) }),
  // Nothing but the workload writes WAL while slots are drained.
  settings: { autovacuum: 'off' },
});
const info = await server.start();
const results: Measured[] = [];
try {
  const admin = new pg.Client({ connectionString: server.connectionString() });
  await admin.connect();
  const version = (await admin.query<{ server_version: string; num: string }>(`SELECT current_setting('server_version') AS server_version, current_setting('server_version_num') AS num`))
    .rows[0]!;
  const protoVersion = maxProtoVersion(Number(version.num)) as 1 | 2 | 3 | 4;
  log(
    `pipeline: PostgreSQL ${version.server_version}, pgoutput proto_version ${protoVersion}; node ${process.version}; ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}); load ${load()}`,
  );

  await createSchema(admin, workloadKind, transactionRows);
  const slots = new Map<string, string>();
  for (let run = 1; run <= runs; run++) {
    for (const contender of contenders) {
      const slot = `bench_${contender.replace(/[^a-z]+/g, '_')}_${run}`;
      await createSlot(admin, slot);
      slots.set(`${contender}#${run}`, slot);
    }
  }
  log(`${slots.size} slots created; writing ${format(changes)} ${workloadKind} changes in transactions of ${format(transactionRows)} ...`);
  const workload = await writeWorkload(admin, workloadKind, changes, transactionRows, log);
  log(`workload written: ${format(workload.transactions)} transactions, WAL up to ${Lsn.format(workload.endLsn)}; load ${load()}\n`);

  log('run  contender               changes     seconds   changes/s  WAL MB/s  client cpu s (sys)  walsender cpu s  load');
  for (let run = 1; run <= runs; run++) {
    for (const contender of contenders) {
      const slot = slots.get(`${contender}#${run}`)!;
      const walBytes = Number(workload.endLsn - (await slotStart(admin, slot)));
      const walsender = followWalsender(admin, slot);
      let measured: Measured;
      if (contender === 'pg_recvlogical') {
        const recv = await runPgRecvlogical({
          binary: args['pg-recvlogical'],
          host: info.host,
          port: info.port,
          user: info.user,
          password: info.password,
          slot,
          publication: PUBLICATION,
          protoVersion,
          endLsn: workload.endLsn,
        });
        measured = { contender, changes: workload.changes, ...recv, walsenderCpuSeconds: (await walsender.stop()) ?? Number.NaN, walBytes, frameBytes: undefined };
      } else {
        const drained: DrainResult = await runNodeDrain(
          {
            contender,
            connection: server.connectionString(),
            slot,
            publication: PUBLICATION,
            protoVersion,
            lastXid: workload.lastXid,
            changes: workload.changes,
            depsDir,
            maxInFlightBytes: Number(args['max-in-flight-mb']) * 1024 * 1024,
          },
          args.profile && contender.startsWith('laredo') ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
        );
        measured = {
          contender,
          changes: drained.changes,
          seconds: drained.seconds,
          cpuSeconds: drained.cpuSeconds,
          systemSeconds: drained.systemSeconds,
          walsenderCpuSeconds: (await walsender.stop()) ?? Number.NaN,
          walBytes,
          frameBytes: drained.frameBytes,
          ...(drained.skipped === undefined ? {} : { skipped: drained.skipped }),
        };
      }
      if (measured.skipped !== undefined) {
        log(`${String(run).padStart(3)}  ${contender.padEnd(22)}  skipped: ${measured.skipped}`);
      } else {
        if (measured.changes !== workload.changes) throw new Error(`${contender} delivered ${measured.changes} changes, the workload wrote ${workload.changes}`);
        results.push(measured);
        log(
          `${String(run).padStart(3)}  ${contender.padEnd(22)}  ${String(measured.changes).padEnd(10)}  ${measured.seconds.toFixed(3).padStart(7)}  ${format(measured.changes / measured.seconds).padStart(10)}  ${(walBytes / 1e6 / measured.seconds).toFixed(1).padStart(8)}  ${measured.cpuSeconds.toFixed(2).padStart(12)} (${measured.systemSeconds.toFixed(2)})  ${measured.walsenderCpuSeconds.toFixed(2).padStart(15)}  ${load()}`,
        );
      }
      // A drained slot only holds WAL back: drop it once its walsender is gone.
      await admin.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NULL', [slot]);
    }
  }

  const median = (values: readonly number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length === 0 ? Number.NaN : sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  };
  const rateOf = (contender: Contender): number => median(results.filter((r) => r.contender === contender).map((r) => r.changes / r.seconds));
  const reference = rateOf('pg_recvlogical');
  log(
    `\nmedians over ${runs} run(s), ${format(workload.changes)} ${workloadKind} changes, ${(median(results.map((r) => r.walBytes)) / 1e6).toFixed(0)} MB of WAL\n` +
      'contender               changes/s  WAL MB/s  frame MB/s  vs pg_recvlogical  client cpu s  changes/client-cpu-s  walsender cpu s',
  );
  for (const contender of contenders) {
    const mine = results.filter((r) => r.contender === contender);
    if (mine.length === 0) {
      log(`${contender.padEnd(22)}  skipped`);
      continue;
    }
    const rate = rateOf(contender);
    const wal = median(mine.map((r) => r.walBytes / 1e6 / r.seconds));
    const frames = median(mine.flatMap((r) => (r.frameBytes === undefined ? [] : [r.frameBytes / 1e6 / r.seconds])));
    const cpu = median(mine.map((r) => r.cpuSeconds));
    const perCpu = median(mine.map((r) => r.changes / r.cpuSeconds));
    const walsenderCpu = median(mine.map((r) => r.walsenderCpuSeconds));
    log(
      `${contender.padEnd(22)}  ${format(rate).padStart(9)}  ${wal.toFixed(1).padStart(8)}  ${Number.isNaN(frames) ? '         -' : frames.toFixed(1).padStart(10)}  ${Number.isNaN(reference) ? '                -' : `${(rate / reference).toFixed(2)}x`.padStart(17)}  ${cpu.toFixed(2).padStart(12)}  ${format(perCpu).padStart(20)}  ${walsenderCpu.toFixed(2).padStart(15)}`,
    );
  }
  log(`load at the end: ${load()}`);
  await admin.end();
} finally {
  await server.stop();
}
