import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BaselineTracker } from '../../src/cli/pipeline.js';
import type { TargetMessage } from '../../src/model/events.js';
import type { TableSchema } from '../../src/model/table.js';

const table = (key: string): TableSchema => ({ key, schema: 'public', name: key.slice('public.'.length), relationId: 1, replicaIdentity: 'default', columns: [], keyColumns: [] });
const reset = (...tables: string[]): TargetMessage => ({ kind: 'reset', tables, bytes: 0 });
const rows = (key: string): TargetMessage => ({ kind: 'baseline', table: table(key), rows: [], bytes: 10 });
const complete = (key: string): TargetMessage => ({ kind: 'baseline-complete', table: table(key), rows: 0, bytes: 0 });

describe('BaselineTracker', () => {
  it('is durable before any baseline, and again once every target made each baseline-complete durable', () => {
    const baselines = new BaselineTracker(2);
    const batch = [reset('public.a', 'public.b'), rows('public.a'), complete('public.a'), rows('public.b'), complete('public.b')];
    expect(baselines.durable).toBe(true);
    baselines.handed(batch);
    expect(baselines.durable).toBe(false);
    baselines.madeDurable(0, batch);
    expect(baselines.durable).toBe(false);
    baselines.madeDurable(1, batch.slice(0, 3));
    expect(baselines.durable).toBe(false);
    baselines.madeDurable(1, batch.slice(3));
    expect(baselines.durable).toBe(true);
  });

  it('opens a table\'s baseline again on a second reset (an ephemeral reconnect)', () => {
    const baselines = new BaselineTracker(1);
    const first = [reset('public.a'), complete('public.a')];
    baselines.handed(first);
    baselines.madeDurable(0, first);
    expect(baselines.durable).toBe(true);
    baselines.handed([reset('public.a')]);
    expect(baselines.durable).toBe(false);
  });

  it('with no target holds nothing, so every baseline is durable', () => {
    const baselines = new BaselineTracker(0);
    baselines.handed([reset('public.a'), rows('public.a')]);
    expect(baselines.durable).toBe(true);
  });

  it('property: whatever the order targets finish in, durable exactly when every target finished the batch holding the baseline-complete', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.array(fc.nat(), { maxLength: 40 }), (targets, batches, order) => {
        const baselines = new BaselineTracker(targets);
        // Batch 0 opens the baseline, the last one completes it, those between carry rows.
        const sent = Array.from({ length: batches }, (_, index) => [
          ...(index === 0 ? [reset('public.a')] : []),
          rows('public.a'),
          ...(index === batches - 1 ? [complete('public.a')] : []),
        ]);
        for (const batch of sent) baselines.handed(batch);
        const next = new Array<number>(targets).fill(0);
        const finishOne = (target: number): void => {
          if (next[target]! < batches) baselines.madeDurable(target, sent[next[target]!++]!);
        };
        for (const choice of order) {
          finishOne(choice % targets);
          expect(baselines.durable).toBe(next.every((done) => done === batches));
        }
        for (let target = 0; target < targets; target++) while (next[target]! < batches) finishOne(target);
        expect(baselines.durable).toBe(true);
      }),
    );
  });
});
