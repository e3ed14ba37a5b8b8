// Acceptance: `laredo demo` starts its own PostgreSQL, prints the baseline and then live changes as
// jsonl on stdout, and leaves no server and no temporary directory behind, whether it stops after
// --duration or on a terminal's Ctrl-C (SIGINT to the whole process group, the embedded server included).
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJsonlLine, type JsonlLine } from '../../src/targets/jsonl/index.js';
import { waitFor } from '../support/wait.js';
import { killAllCli, runCli, startCli } from './support/cli.js';

let temp: string;

beforeEach(async () => {
  // The demo's own TMPDIR, to see what it leaves there. Open to all: as root, the embedded server runs
  // as the postgres user and must reach its data directory inside.
  temp = await mkdtemp(path.join(tmpdir(), 'laredo-demo-test-'));
  await chmod(temp, 0o777);
});

afterEach(async () => {
  killAllCli();
  await rm(temp, { recursive: true, force: true });
});

/** The complete lines of the demo's stdout (the last one may still be on its way). */
function jsonlLines(stdout: string): JsonlLine[] {
  return stdout
    .split('\n')
    .slice(0, -1)
    .map((line, index) => parseJsonlLine(line, index + 1, 'stdout'));
}

function serverPort(stderr: string): number {
  const match = /is up on port (\d+)/.exec(stderr);
  expect(match, stderr).not.toBeNull();
  return Number(match![1]);
}

/** Whether anything still accepts connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

/** What the demo left in its TMPDIR; tsx's compile cache (the test runs the CLI through tsx) is not the demo's. */
async function leftBehind(): Promise<string[]> {
  return (await readdir(temp)).filter((name) => !name.startsWith('tsx-'));
}

describe('laredo demo', () => {
  it('--duration N --rows M prints the M baseline rows, then live inserts, updates and deletes, and exits 0 leaving nothing behind', async () => {
    const run = await runCli(['demo', '--duration', '8', '--rows', '25'], { cwd: temp, env: { TMPDIR: temp } });

    expect(run.code, run.stderr).toBe(0);
    const lines = jsonlLines(run.stdout);
    const ops = lines.map((line) => line.op);
    expect(ops.slice(0, 2)).toEqual(['reset', 'schema']);
    expect(ops.filter((op) => op === 'baseline')).toHaveLength(25);
    const baselineDone = ops.indexOf('baseline_complete');
    expect(ops.slice(2, baselineDone).every((op) => op === 'baseline')).toBe(true);
    const live = ops.slice(baselineDone + 1);
    for (const op of ['insert', 'update', 'delete'] as const) expect(live, run.stdout).toContain(op);
    expect(live.every((op) => op === 'insert' || op === 'update' || op === 'delete')).toBe(true);
    expect(await listening(serverPort(run.stderr))).toBe(false);
    expect(await leftBehind()).toEqual([]);
  });

  it('stops on Ctrl-C in a terminal (SIGINT to its process group): exit 0, server and data directory gone', async () => {
    const demo = startCli(['demo', '--rows', '5'], { cwd: temp, env: { TMPDIR: temp }, processGroup: true });
    await waitFor(() => jsonlLines(demo.stdout()).some((line) => line.op === 'insert'), { timeoutMs: 90_000, what: `a live change (stderr: ${demo.stderr()})` });

    process.kill(-demo.pid, 'SIGINT');
    const exit = await demo.exited;

    expect(exit, demo.stderr()).toEqual({ code: 0, signal: null });
    expect(demo.stderr()).not.toMatch(/error/i);
    expect(await listening(serverPort(demo.stderr()))).toBe(false);
    expect(await leftBehind()).toEqual([]);
  });
});
