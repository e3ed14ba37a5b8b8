import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransactionBuffer, type BufferedTransaction, type TransactionBufferOptions } from '../../src/targets/transaction-buffer.js';

let spillDirectory: string;

beforeAll(async () => {
  spillDirectory = await mkdtemp(join(tmpdir(), 'laredo-transactions-'));
});

afterAll(async () => {
  await rm(spillDirectory, { recursive: true, force: true });
});

/** A buffer whose state counts the lines it holds, rewound by `saveState` like a target's own bookkeeping. */
function countingBuffer(memoryLimitChars: number, options: { rewind: boolean } = { rewind: true }) {
  const counting: TransactionBufferOptions<{ lines: number }> = { memoryLimitChars, spillDirectory, createState: () => ({ lines: 0 }) };
  if (!options.rewind) return new TransactionBuffer(counting);
  return new TransactionBuffer({
    ...counting,
    saveState: (state) => {
      const saved = state.lines;
      return () => {
        state.lines = saved;
      };
    },
  });
}

async function hold(buffer: TransactionBuffer<{ lines: number }>, xid: number, line: string, subXid?: number): Promise<void> {
  await buffer.hold(xid, subXid, ({ spool, state }) => {
    spool.append(line);
    state.lines++;
  });
}

/** Reads a committed transaction's lines and discards its spool, as a target does. */
async function linesOf(transaction: BufferedTransaction<unknown> | undefined): Promise<string[]> {
  if (transaction === undefined) return [];
  const lines: string[] = [];
  for await (const batch of transaction.spool.lines()) lines.push(...batch);
  await transaction.spool.discard();
  return lines;
}

describe('TransactionBuffer', () => {
  it('holds each transaction until its commit and hands its lines over in order, interleaved or not', async () => {
    const buffer = countingBuffer(1 << 20);
    buffer.begin(1);
    await hold(buffer, 1, 'a1');
    await hold(buffer, 2, 'b1'); // a streamed transaction: its first change opens it
    await hold(buffer, 1, 'a2');
    expect(buffer.size).toBe(2);
    const second = buffer.commit(2);
    expect(second?.state.lines).toBe(1);
    expect(await linesOf(second)).toEqual(['b1']);
    expect(await linesOf(buffer.commit(1))).toEqual(['a1', 'a2']);
    expect(buffer.size).toBe(0);
    expect(buffer.commit(3)).toBeUndefined();
  });

  it('drops what it held of a transaction whose begin comes again (the stream restarted)', async () => {
    const buffer = countingBuffer(1 << 20);
    buffer.begin(1);
    await hold(buffer, 1, 'first try');
    buffer.begin(1);
    await hold(buffer, 1, 'second try');
    expect(await linesOf(buffer.commit(1))).toEqual(['second try']);
  });

  it('drops a rolled-back transaction, spilled or not, and leaves no temporary file behind', async () => {
    const buffer = countingBuffer(64);
    buffer.begin(1);
    for (let index = 0; index < 100; index++) await hold(buffer, 1, `row ${index} of a transaction too big for memory`);
    buffer.begin(2);
    await hold(buffer, 2, 'kept');
    await buffer.rollback(1, undefined);
    await buffer.rollback(9, undefined); // nothing of it arrived: nothing to do
    expect(buffer.size).toBe(1);
    expect(await readdir(spillDirectory)).toEqual([]);
    expect(await linesOf(buffer.commit(2))).toEqual(['kept']);
  });

  it('asks the caller to wait while the temporary file lags behind, and only then', async () => {
    const buffer = countingBuffer(10);
    buffer.begin(1);
    const small = buffer.hold(1, undefined, ({ spool }) => {
      spool.append('x');
    });
    expect(small).toBeUndefined();
    let waited = false;
    for (let index = 0; index < 50 && !waited; index++) {
      const waiting = buffer.hold(1, undefined, ({ spool }) => {
        spool.append('y'.repeat(40));
      });
      if (waiting !== undefined) {
        waited = true;
        await waiting;
      }
    }
    expect(waited).toBe(true);
    await buffer.discardAll();
    expect(buffer.size).toBe(0);
  });

  it.each([
    ['in memory', 1 << 20],
    ['spilled to a temporary file', 16],
  ])('drops only an aborted subtransaction and those begun after it, rewinding the state (%s)', async (_where, memoryLimitChars) => {
    // A streamed transaction with savepoints: 90 { 91 { 92 } } — 91 aborts, taking 92 with it.
    const buffer = countingBuffer(memoryLimitChars);
    await hold(buffer, 90, 'top 1');
    await hold(buffer, 90, 'sub 91', 91);
    await hold(buffer, 90, 'sub 92', 92);
    await buffer.rollback(90, 93); // made no change: nothing to drop
    await hold(buffer, 90, 'sub 92 again', 92);
    await buffer.rollback(90, 91);
    expect(buffer.hold(90, undefined, () => undefined)).toBeUndefined();
    const transaction = buffer.commit(90);
    expect(transaction?.state.lines).toBe(1);
    expect(await linesOf(transaction)).toEqual(['top 1']);
  });

  it('keeps the state as is at a subtransaction abort when no saveState is given', async () => {
    const buffer = countingBuffer(1 << 20, { rewind: false });
    await hold(buffer, 1, 'top');
    await hold(buffer, 1, 'sub', 2);
    await buffer.rollback(1, 2);
    const transaction = buffer.commit(1);
    expect(transaction?.state.lines).toBe(2);
    expect(await linesOf(transaction)).toEqual(['top']);
  });

  it('treats a rollback naming the transaction itself as its own subXid as a whole rollback', async () => {
    const buffer = countingBuffer(1 << 20);
    await hold(buffer, 5, 'gone');
    await buffer.rollback(5, 5);
    expect(buffer.size).toBe(0);
  });

  it('agrees with a model of nested subtransactions under any sequence of changes and aborts', async () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('change' as const), subXid: fc.option(fc.integer({ min: 101, max: 105 }), { nil: undefined }) }),
      fc.record({ kind: fc.constant('abort' as const), subXid: fc.integer({ min: 101, max: 105 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60 }), fc.integer({ min: 8, max: 400 }), async (steps, memoryLimitChars) => {
        const buffer = countingBuffer(memoryLimitChars);
        // The model: the lines kept, and where each subtransaction's first kept change is.
        const kept: string[] = [];
        const starts = new Map<number, number>();
        for (const [index, each] of steps.entries()) {
          if (each.kind === 'change') {
            const line = `change ${index} of ${String(each.subXid ?? 'top')}`;
            if (each.subXid !== undefined && !starts.has(each.subXid)) starts.set(each.subXid, kept.length);
            kept.push(line);
            await hold(buffer, 100, line, each.subXid);
          } else {
            const start = starts.get(each.subXid);
            if (start !== undefined) {
              kept.length = start;
              for (const [subXid, at] of starts) if (at >= start) starts.delete(subXid);
            }
            await buffer.rollback(100, each.subXid);
          }
        }
        const transaction = buffer.commit(100);
        if (transaction === undefined) {
          expect(steps.filter((each) => each.kind === 'change')).toEqual([]);
          return;
        }
        expect(transaction.state.lines).toBe(kept.length);
        expect(await linesOf(transaction)).toEqual(kept);
      }),
      { numRuns: 150 },
    );
  });
});
