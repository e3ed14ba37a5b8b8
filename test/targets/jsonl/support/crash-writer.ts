// A child process for the crash test: writes transaction 1 (acknowledged after a real fsync), then
// transaction 2, whose fsync never returns; the parent kills the process while it hangs there.
import type { FileHandle } from 'node:fs/promises';
import { jsonlTarget } from '../../../../src/targets/jsonl/index.js';
import { committed, insert, items } from '../../fixtures.js';

const path = process.argv[2]!;
// A stalled fsync is a promise that never settles, which alone would let the process exit: stay up
// until the parent kills us, like a process stuck in the kernel.
setInterval(() => undefined, 60_000);
let fsyncs = 0;
const target = jsonlTarget({
  path,
  source: 'crash',
  flushIntervalMs: 1,
  fsync: (file: FileHandle) => {
    fsyncs++;
    if (fsyncs === 1) return file.datasync();
    process.stdout.write('fsync-stalled\n');
    return new Promise<void>(() => undefined);
  },
});

target.write(committed(1, insert(1, items, { id: 1, name: 'acknowledged', data: null }))).subscribe({
  complete: () => {
    process.stdout.write('ack 1\n');
    target.write(committed(2, insert(2, items, { id: 2, name: 'written, never acknowledged', data: null }))).subscribe({
      complete: () => process.stdout.write('ack 2\n'),
    });
  },
});
