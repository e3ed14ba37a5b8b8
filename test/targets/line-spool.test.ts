import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LineSpool, SpoolError } from '../../src/targets/line-spool.js';

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'laredo-spool-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function collect(spool: LineSpool): Promise<string[]> {
  const lines: string[] = [];
  for await (const batch of spool.lines()) lines.push(...batch);
  return lines;
}

it('gives back every line in order, from memory and from its temporary file', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => s.replaceAll('\n', ' ')), { maxLength: 200 }), fc.integer({ min: 1, max: 500 }), async (lines, limit) => {
      const spool = new LineSpool({ memoryLimitChars: limit, directory });
      for (const line of lines) {
        spool.append(line);
        if (spool.needsDrain) await spool.drain();
      }
      expect(await collect(spool)).toEqual(lines);
      await spool.discard();
    }),
    { numRuns: 50 },
  );
  expect(await readdir(directory)).toEqual([]);
});

it('cuts back to any earlier line count, in memory or inside its temporary file', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(fc.string({ maxLength: 20 }).map((s) => ({ append: s.replaceAll('\n', ' ') })), fc.nat().map((n) => ({ cutTo: n }))), { maxLength: 120 }),
      fc.integer({ min: 1, max: 300 }),
      async (operations, limit) => {
        const spool = new LineSpool({ memoryLimitChars: limit, directory });
        const model: string[] = [];
        for (const operation of operations) {
          if ('append' in operation) {
            spool.append(operation.append);
            model.push(operation.append);
          } else {
            const cut = operation.cutTo % (model.length + 1);
            await spool.truncate(cut);
            model.length = cut;
          }
          expect(spool.lineCount).toBe(model.length);
        }
        expect(await collect(spool)).toEqual(model);
        await spool.discard();
      },
    ),
    { numRuns: 100 },
  );
});

it('keeps multi-byte characters whole across read chunks of a large spill', async () => {
  const spool = new LineSpool({ memoryLimitChars: 10_000, directory });
  const line = `${'é✓'.repeat(1_000)}x`;
  for (let index = 0; index < 700; index++) spool.append(line);
  expect(spool.spilled).toBe(true);
  const lines = await collect(spool);
  expect(lines).toHaveLength(700);
  expect(lines.every((l) => l === line)).toBe(true);
  await spool.discard();
  await spool.discard();
});

it('fails with a SpoolError naming the file when the temporary directory is unusable', async () => {
  const spool = new LineSpool({ memoryLimitChars: 10, directory: join(directory, 'missing') });
  spool.append('x'.repeat(20));
  const error: unknown = await spool.drain().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SpoolError);
  expect((error as Error).message).toContain('missing');
  await spool.discard();
});
