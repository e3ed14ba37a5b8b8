/**
 * Process plumbing for the pipeline benchmark: running pg_recvlogical and the Node drain processes,
 * and reading a walsender's CPU time from /proc while it serves a contender.
 */
import { fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { Lsn } from '../../src/protocol/lsn.js';
import { RESULT_PREFIX, type DrainRequest, type DrainResult } from './pipeline-drain.js';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ): 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

/** User + system CPU seconds of a process, from /proc; undefined once it is gone (or off Linux). */
function processCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/**
 * Follows the walsender serving `slot` (pg_replication_slots.active_pid) and samples its CPU time
 * every 50 ms until it exits; `stop()` returns the last sample. The walsender lives exactly as long as
 * the contender's connection, so this is the server's decoding work for the whole drain (less at most
 * one sampling interval at its end).
 */
export function followWalsender(client: pg.Client, slot: string): { stop: () => Promise<number | undefined> } {
  let pid: number | undefined;
  let cpu: number | undefined;
  const state = { stopped: false };
  const done = (async () => {
    while (!state.stopped && pid === undefined) {
      const { rows } = await client.query<{ pid: number | null }>('SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      pid = rows[0]?.pid ?? undefined;
      if (pid === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    while (pid !== undefined) {
      const sample = processCpuSeconds(pid);
      if (sample === undefined) break;
      cpu = sample;
      if (state.stopped) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    stop: async () => {
      state.stopped = true;
      await done;
      return cpu;
    },
  };
}

export interface RecvlogicalRun {
  readonly seconds: number;
  /** User + system CPU of pg_recvlogical (and its wrapper), from the shell's `times`. */
  readonly cpuSeconds: number;
  readonly systemSeconds: number;
}

export interface RecvlogicalOptions {
  readonly binary: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly slot: string;
  readonly publication: string;
  readonly protoVersion: number;
  readonly endLsn: Lsn;
}

/**
 * `pg_recvlogical --start` writing pgoutput's output to /dev/null until `--endpos`, timed from spawn to
 * exit (process start-up included: a few tens of ms). Run under bash so `times` reports its CPU.
 */
export function runPgRecvlogical(options: RecvlogicalOptions): Promise<RecvlogicalRun> {
  const args = [
    `--dbname=host=${options.host} port=${options.port} user=${options.user} dbname=postgres`,
    `--slot=${options.slot}`,
    '--start',
    '--no-loop',
    '--file=/dev/null',
    `--endpos=${Lsn.format(options.endLsn)}`,
    '-o',
    `proto_version=${options.protoVersion}`,
    '-o',
    `publication_names=${options.publication}`,
  ];
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/bin/bash', ['-c', '"$@"; status=$?; times >&2; exit $status', 'bash', options.binary, ...args], {
      // The password goes through the environment, never the command line.
      env: { ...process.env, PGPASSWORD: options.password },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) {
        reject(new Error(`${options.binary} exited with ${String(code)}: ${stderr.trim()}`));
        return;
      }
      // `times`: the shell's own user/system times, then its children's: `0m1.234s 0m0.056s`.
      const lines = stderr.trim().split('\n');
      const children = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(lines.at(-1) ?? '');
      const systemSeconds = children === null ? Number.NaN : Number(children[3]) * 60 + Number(children[4]);
      const cpuSeconds = children === null ? Number.NaN : Number(children[1]) * 60 + Number(children[2]) + systemSeconds;
      resolve({ seconds, cpuSeconds, systemSeconds });
    });
  });
}

const DRAIN_SCRIPT = path.join(import.meta.dirname, 'pipeline-drain.ts');

/**
 * Runs one Node contender in a fresh process (the same Node and loader as this one; `execArgv` adds
 * flags such as `--cpu-prof`) and returns what it measured.
 */
export function runNodeDrain(request: DrainRequest, execArgv: readonly string[] = []): Promise<DrainResult> {
  return new Promise((resolve, reject) => {
    const child = fork(DRAIN_SCRIPT, [JSON.stringify(request)], { execArgv: [...process.execArgv, ...execArgv], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || line === undefined) {
        reject(new Error(`${request.contender} drain process exited with ${String(code)}${line === undefined ? ' without a result' : ''}`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as DrainResult);
    });
  });
}
