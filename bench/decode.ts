/**
 * Decode throughput: XLogData frames of 1,000,000 inserts into the `ev` table (bench/support/ev-frames.ts)
 * through parseReplicationMessage and PgoutputDecoder, every value converted, on one core.
 *
 *   npm run bench:decode                    # 1,000,000 rows, 7 runs
 *   npm run bench:decode -- --rows 2000000 --runs 9
 *
 * Prints rows/s and MB/s (frame bytes) per run and the median. The first run also warms the JIT.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { PgoutputDecoder } from '../src/protocol/pgoutput.js';
import { parseReplicationMessage } from '../src/protocol/replication-messages.js';
import { evFrames } from './support/ev-frames.js';

const { values: args } = parseArgs({
  options: { rows: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '7' } },
});
const rows = Number(args.rows);
const runs = Number(args.runs);

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const data = await evFrames(rows, log);

interface Run {
  readonly rows: number;
  /** Wall-clock time. */
  readonly seconds: number;
  /** CPU time of this process (user + system): less disturbed than wall-clock on a shared machine. */
  readonly cpuSeconds: number;
}

/** Decodes every frame once with a fresh decoder; returns the row changes seen. */
function decodeAll(frames: readonly Buffer[]): Run {
  const decoder = new PgoutputDecoder({ protocolVersion: 4 });
  let changes = 0;
  // Keeps the optimiser from dropping the work: a value from every row feeds the checksum.
  let checksum = 0;
  const cpuStarted = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (const frame of frames) {
    const message = parseReplicationMessage(frame);
    if (message.tag !== 'w') continue;
    const decoded = decoder.decode(message.data);
    if (decoded.tag === 'insert') {
      changes++;
      checksum += decoded.new['account'] as number;
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStarted);
  if (checksum < 0) log('impossible');
  return { rows: changes, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const megabytes = data.bytes / 1e6;
log(`decode: ${data.frames.length} frames, ${megabytes.toFixed(1)} MB, node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}`);
log('run  rows        seconds  rows/s       MB/s    cpu s  rows/cpu-s');
const rates: number[] = [];
const throughputs: number[] = [];
const cpuRates: number[] = [];
for (let run = 1; run <= runs; run++) {
  const result = decodeAll(data.frames);
  const rate = result.rows / result.seconds;
  const throughput = megabytes / result.seconds;
  const cpuRate = result.rows / result.cpuSeconds;
  rates.push(rate);
  throughputs.push(throughput);
  cpuRates.push(cpuRate);
  log(
    `${String(run).padStart(3)}  ${String(result.rows).padEnd(10)}  ${result.seconds.toFixed(3).padStart(7)}  ${Math.round(rate).toLocaleString('en-US').padStart(11)}  ${throughput.toFixed(1).padStart(6)}  ${result.cpuSeconds.toFixed(3).padStart(7)}  ${Math.round(cpuRate).toLocaleString('en-US').padStart(11)}`,
  );
}
log(
  `median: ${Math.round(median(rates)).toLocaleString('en-US')} row changes/s, ${median(throughputs).toFixed(1)} MB/s (wall clock); ${Math.round(median(cpuRates)).toLocaleString('en-US')} row changes per CPU-second`,
);
