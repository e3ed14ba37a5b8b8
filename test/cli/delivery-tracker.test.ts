import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TargetMessage } from '../../src/model/events.js';
import type { TableSchema } from '../../src/model/table.js';
import { DeliveryTracker } from '../../src/cli/pipeline.js';

const table = (key: string): TableSchema => ({
  key,
  schema: 'public',
  name: key.split('.')[1]!,
  relationId: 1,
  replicaIdentity: 'default',
  columns: [],
  keyColumns: [],
});

const reset = (...tables: string[]): TargetMessage => ({ kind: 'reset', tables, bytes: 0 });
const rows = (key: string, bytes: number): TargetMessage => ({ kind: 'baseline', table: table(key), rows: [], bytes });
const complete = (key: string): TargetMessage => ({ kind: 'baseline-complete', table: table(key), rows: 0, bytes: 0 });

function tracker(targets: number): { delivery: DeliveryTracker; inFlight: () => number } {
  let reported = -1;
  const delivery = new DeliveryTracker(targets, (bytes) => (reported = bytes));
  return { delivery, inFlight: () => reported };
}

describe('DeliveryTracker', () => {
  it('reports 0 bytes in flight from the start', () => {
    expect(tracker(2).inFlight()).toBe(0);
  });

  it('counts bytes handed over and not yet durable in the slowest target', () => {
    const { delivery, inFlight } = tracker(2);
    const first = [rows('public.a', 100)];
    const second = [rows('public.a', 50)];
    delivery.handed(first);
    delivery.handed(second);
    expect(inFlight()).toBe(150);
    delivery.durable(0, first);
    delivery.durable(0, second);
    expect(inFlight()).toBe(150);
    delivery.durable(1, first);
    expect(inFlight()).toBe(50);
    delivery.durable(1, second);
    expect(inFlight()).toBe(0);
  });

  it('calls a baseline durable only once its baseline-complete is durable in every target', () => {
    const { delivery } = tracker(2);
    const batch = [reset('public.a', 'public.b'), rows('public.a', 10), complete('public.a'), rows('public.b', 10), complete('public.b')];
    expect(delivery.baselinesDurable).toBe(true);
    delivery.handed(batch);
    expect(delivery.baselinesDurable).toBe(false);
    delivery.durable(0, batch);
    expect(delivery.baselinesDurable).toBe(false);
    delivery.durable(1, batch.slice(0, 3));
    expect(delivery.baselinesDurable).toBe(false);
    delivery.durable(1, batch.slice(3));
    expect(delivery.baselinesDurable).toBe(true);
  });

  it('opens a table\'s baseline again on a second reset (an ephemeral reconnect)', () => {
    const { delivery } = tracker(1);
    const first = [reset('public.a'), complete('public.a')];
    delivery.handed(first);
    delivery.durable(0, first);
    expect(delivery.baselinesDurable).toBe(true);
    delivery.handed([reset('public.a')]);
    expect(delivery.baselinesDurable).toBe(false);
  });

  it('with no target, holds nothing: every baseline is durable and nothing is in flight', () => {
    const { delivery, inFlight } = tracker(0);
    delivery.handed([reset('public.a'), rows('public.a', 10)]);
    expect(delivery.baselinesDurable).toBe(true);
    expect(inFlight()).toBe(0);
  });

  it('property: in flight is never negative, and 0 once every batch is durable in every target, whatever the order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 10_000 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 4 }),
        fc.infiniteStream(fc.nat()),
        (sizes, targets, choices) => {
          const { delivery, inFlight } = tracker(targets);
          const batches = sizes.map((bytes) => [rows('public.a', bytes)]);
          // Each target makes batches durable in order; targets interleave as `choices` says.
          const next = new Array<number>(targets).fill(0);
          let handed = 0;
          const iterator = choices[Symbol.iterator]();
          while (next.some((index) => index < batches.length)) {
            const choice = iterator.next().value as number;
            if (choice % (targets + 1) === targets || next.every((index) => index >= handed)) {
              if (handed < batches.length) delivery.handed(batches[handed++]!);
              continue;
            }
            const target = choice % (targets + 1);
            if (next[target]! < handed) delivery.durable(target, batches[next[target]!++]!);
            expect(inFlight()).toBeGreaterThanOrEqual(0);
          }
          expect(inFlight()).toBe(0);
        },
      ),
    );
  });
});
