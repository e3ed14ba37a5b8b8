// A source in a process of its own, for the crash tests: the parent SIGKILLs it mid-load, as a crashed
// or OOM-killed laredo would die, with no stop, no final status update and no flushed buffers.
// Argument: JSON of SourceProcessArgs. Prints `state <STATE>` and `confirmed <LSN>` lines.
import { Lsn } from '../../../src/protocol/lsn.js';
import { pg, type SlotMode } from '../../../src/source/index.js';
import { jsonlTarget } from '../../../src/targets/jsonl/index.js';

export interface SourceProcessArgs {
  readonly connection: string;
  readonly slotMode: SlotMode;
  readonly slotName: string;
  readonly stateDir: string;
  /** The jsonl file the target appends to (durable: each batch is fsynced before it is acknowledged). */
  readonly jsonlPath: string;
  readonly tables: readonly string[];
}

const args = JSON.parse(process.argv[2] ?? '{}') as SourceProcessArgs;
const source = pg.source({
  connection: args.connection,
  slotMode: args.slotMode,
  slotName: args.slotName,
  stateDir: args.stateDir,
  publication: { tables: Object.fromEntries(args.tables.map((t) => [t, {}])) },
  reconnect: { maxAttempts: 20, initialBackoff: 50, maxBackoff: 500, multiplier: 2, jitter: false },
  statusInterval: 500,
});
source.state$.subscribe((state) => process.stdout.write(`state ${state}\n`));
source.run([jsonlTarget({ path: args.jsonlPath, source: 'crash', flushIntervalMs: 20 })]).subscribe({
  next: (lsn) => process.stdout.write(`confirmed ${Lsn.format(lsn)}\n`),
  error: (error: unknown) => {
    process.stderr.write(`source failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
});
