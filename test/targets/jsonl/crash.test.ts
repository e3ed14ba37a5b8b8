import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { jsonlTarget, readJsonl, rebuildTables } from '../../../src/targets/jsonl/index.js';
import { waitFor } from '../../support/wait.js';
import { committed, durable, insert, items } from '../fixtures.js';

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'laredo-jsonl-crash-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

it('acknowledges nothing whose fsync did not return when the process is killed, and a restart appends cleanly', async () => {
  const path = join(directory, 'changes.jsonl');
  const writer = join(dirname(fileURLToPath(import.meta.url)), 'support', 'crash-writer.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', writer, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let errors = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  try {
    await waitFor(() => output.includes('fsync-stalled'), { timeoutMs: 60_000, what: `the child to stall in fsync (stderr: ${errors})` });
  } finally {
    child.kill('SIGKILL');
  }
  expect(await exited).toBe('SIGKILL');
  expect(output).toContain('ack 1');
  expect(output).not.toContain('ack 2');

  // Transaction 2 reached the file (the kernel kept the written pages) but was never acknowledged, so
  // PostgreSQL sends it again after the restart: it appears twice, and the tables are still exact.
  const restarted = jsonlTarget({ path, source: 'crash', flushIntervalMs: 1 });
  await durable(restarted.write([...committed(2, insert(2, items, { id: 2, name: 'written, never acknowledged', data: null })), ...committed(3, insert(3, items, { id: 3, name: 'after restart', data: null }))]));
  await restarted.close();
  const lines = await readJsonl(path);
  expect(lines.flatMap((line) => (line.op === 'insert' ? [line.xid] : []))).toEqual([1, 2, 2, 3]);
  expect([...rebuildTables(lines).get('public.items')!.keys()]).toEqual(['[1]', '[2]', '[3]']);
});
