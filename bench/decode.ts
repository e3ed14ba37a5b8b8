/**
 * Decode throughput: XLogData frames of 1,000,000 inserts into the `ev` table (bench/support/ev-frames.ts)
 * through parseReplicationMessage and PgoutputDecoder with every value converted (the default value
 * options: jsonb parsed, timestamptz to ISO, numeric and int8 as exact strings), on one core.
 *
 *   npm run bench:decode                    # 1,000,000 rows, 7 runs of each case
 *   npm run bench:decode -- --rows 2000000 --runs 9
 *
 * Cases: `decode` is the figure (the target is >= 1,000,000 row changes/s); `decode, json as text`
 * (values option json: 'text') shows what JSON.parse costs; `frames only` is parseReplicationMessage
 * alone, the floor under everything. For each, rows/s and MB/s (frame bytes) by wall clock, and rows
 * per CPU-second of this process, which a shared machine disturbs less. Medians over the runs; the
 * first run of each case also warms the JIT.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { PgoutputDecoder } from '../src/protocol/pgoutput.js';
import { parseReplicationMessage } from '../src/protocol/replication-messages.js';
import type { ValueOptions } from '../src/protocol/values.js';
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

const XLOG_DATA_HEADER = 25;

interface Run {
  readonly rows: number;
  /** Wall-clock time. */
  readonly seconds: number;
  /** CPU time of this process (user + system). */
  readonly cpuSeconds: number;
}

/** Decodes every frame once with a fresh decoder (or only parses the frames); counts row changes. */
function decodeAll(frames: readonly Buffer[], values: ValueOptions | 'frames only'): Run {
  const decoder = values === 'frames only' ? undefined : new PgoutputDecoder({ protocolVersion: 4, values });
  let changes = 0;
  // Keeps the optimiser from dropping the work: something from every message feeds the checksum.
  let checksum = 0;
  const cpuStarted = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (const frame of frames) {
    if (decoder === undefined) {
      const message = parseReplicationMessage(frame);
      if (message.tag !== 'w') continue;
      if (message.data[0] === 0x49 /* I */) changes++;
      checksum += message.data.length;
      continue;
    }
    // The library's own path (PgoutputEventDecoder): the tag and the WAL start from the XLogData
    // header, then the pgoutput message decoded in place after it.
    if (frame[0] !== 0x77 /* w */) continue;
    checksum += Number(frame.readBigUInt64BE(1) & 1n);
    const decoded = decoder.decode(frame, XLOG_DATA_HEADER);
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

const format = (n: number): string => Math.round(n).toLocaleString('en-US');
const megabytes = data.bytes / 1e6;
log(`decode: ${data.frames.length} frames, ${megabytes.toFixed(1)} MB, node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}`);

const cases: [string, ValueOptions | 'frames only'][] = [
  ['decode', {}],
  ['decode, json as text', { json: 'text' }],
  ['frames only', 'frames only'],
];
const summary: string[] = [];
for (const [name, values] of cases) {
  log(`\n${name}\nrun  rows        seconds  rows/s        MB/s    cpu s  rows/cpu-s`);
  const rates: number[] = [];
  const throughputs: number[] = [];
  const cpuRates: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const result = decodeAll(data.frames, values);
    const rate = result.rows / result.seconds;
    const throughput = megabytes / result.seconds;
    const cpuRate = result.rows / result.cpuSeconds;
    rates.push(rate);
    throughputs.push(throughput);
    cpuRates.push(cpuRate);
    log(
      `${String(run).padStart(3)}  ${String(result.rows).padEnd(10)}  ${result.seconds.toFixed(3).padStart(7)}  ${format(rate).padStart(11)}  ${throughput.toFixed(1).padStart(6)}  ${result.cpuSeconds.toFixed(3).padStart(7)}  ${format(cpuRate).padStart(11)}`,
    );
  }
  summary.push(
    `${name.padEnd(22)} ${format(median(rates)).padStart(11)} rows/s  ${median(throughputs).toFixed(1).padStart(6)} MB/s  ${format(median(cpuRates)).padStart(11)} rows/cpu-s`,
  );
}
log(`\nmedians (row changes)\n${summary.join('\n')}`);
