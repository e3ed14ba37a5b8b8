import fc from 'fast-check';
import { EMPTY, lastValueFrom, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { LaredoError } from '../../src/errors.js';
import type { SourceEvent, TargetMessage } from '../../src/model/events.js';
import type { Target } from '../../src/model/target.js';
import { acknowledge } from '../../src/operators/acknowledge.js';
import { TargetFailedError } from '../../src/operators/errors.js';
import type { DrainTimeoutError } from '../../src/operators/target-actor.js';
import { InFlightBytes } from '../../src/streams/in-flight-bytes.js';
import { RecordingTarget, recordingTarget } from '../../src/targets/recording/index.js';
import { begin, commit, insert, progress, rollback } from './events.js';

let testScheduler: TestScheduler;
beforeEach(() => {
  testScheduler = new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
});

/** A recording target whose n-th batch becomes durable `delays[n]` frames after it was written. */
function delayedTarget(name: string, delays: readonly number[], fallback = 1): RecordingTarget {
  return recordingTarget({ name, durability: (_batch, index) => timer(delays[index] ?? fallback) });
}

describe('acknowledge', () => {
  it('confirms a commit only once both targets made it and everything before it durable, whatever order they finish in', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const events = { a: begin(1), b: commit(1, 100n), c: begin(2), d: commit(2, 200n) };
      // Target A finishes batch 0 (the first begin) last; target B finishes the last commit last.
      const targetA = delayedTarget('a', [6, 1, 1, 1]);
      const targetB = delayedTarget('b', [1, 1, 1, 9]);
      const source = hot<SourceEvent>('abcd', events);
      expectObservable(source.pipe(acknowledge([targetA, targetB], { scheduler: testScheduler }))).toBe('6ms x 5ms y', {
        x: 100n,
        y: 200n,
      });
    });
  });

  it('emits each confirmed position once, strictly increasing, even when several commits become durable together', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const events = { a: begin(1), b: commit(1, 100n), c: begin(2), d: commit(2, 200n) };
      const target = delayedTarget('slow-first', [10, 1, 1, 1]);
      expectObservable(hot<SourceEvent>('abcd', events).pipe(acknowledge([target], { scheduler: testScheduler }))).toBe('10ms y', {
        y: 200n,
      });
    });
  });

  it('delivers every event but progress to every target, in order', () => {
    const targetA = recordingTarget({ name: 'a' });
    const targetB = recordingTarget({ name: 'b' });
    const events: SourceEvent[] = [begin(1), insert(1, { id: 1, name: 'x' }), progress(5n), commit(1, 100n), progress(150n)];
    testScheduler.run(({ cold }) => {
      cold<SourceEvent>('abcde|', { a: events[0]!, b: events[1]!, c: events[2]!, d: events[3]!, e: events[4]! })
        .pipe(acknowledge([targetA, targetB], { scheduler: testScheduler }))
        .subscribe();
    });
    const expected = events.filter((e) => e.kind !== 'progress');
    expect(targetA.messages).toEqual(expected);
    expect(targetB.messages).toEqual(expected);
  });

  describe('progress events', () => {
    it('confirms the walEnd of a progress event at once when nothing is in flight', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const target = recordingTarget({ durability: 'held' });
        expectObservable(hot<SourceEvent>('p', { p: progress(500n) }).pipe(acknowledge([target], { scheduler: testScheduler }))).toBe(
          'x',
          { x: 500n },
        );
      });
    });

    it('confirms nothing for a progress event inside an open transaction', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const events = { a: begin(1), p: progress(900n), b: commit(1, 100n), q: progress(300n) };
        const target = delayedTarget('t', [], 1);
        expectObservable(hot<SourceEvent>('ap-b-q', events).pipe(acknowledge([target], { scheduler: testScheduler }))).toBe(
          '----xy',
          { x: 100n, y: 300n },
        );
      });
    });

    it('confirms a progress event after a commit only once that commit is durable', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const events = { a: begin(1), b: commit(1, 100n), p: progress(300n) };
        const target = delayedTarget('t', [1, 5]);
        expectObservable(hot<SourceEvent>('abp', events).pipe(acknowledge([target], { scheduler: testScheduler }))).toBe('------y', {
          y: 300n,
        });
      });
    });

    it('confirms progress between transactions again after a rollback closed the open one', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const events = { a: begin(7), r: rollback(7), p: progress(300n) };
        const target = delayedTarget('t', [], 1);
        expectObservable(hot<SourceEvent>('arp', events).pipe(acknowledge([target], { scheduler: testScheduler }))).toBe('--y', {
          y: 300n,
        });
      });
    });

    it('keeps a transaction open when only one of its subtransactions rolled back', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const events = { a: begin(7), r: { ...rollback(7), subXid: 8 }, p: progress(300n) };
        const target = delayedTarget('t', [], 1);
        expectObservable(hot<SourceEvent>('arp', events).pipe(acknowledge([target], { scheduler: testScheduler }))).toBe('');
      });
    });

    it('never emits a position below one already emitted', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const events = { p: progress(500n), q: progress(400n), r: progress(600n) };
        expectObservable(hot<SourceEvent>('pqr', events).pipe(acknowledge([], { scheduler: testScheduler }))).toBe('x-y', {
          x: 500n,
          y: 600n,
        });
      });
    });
  });

  describe('the byte budget', () => {
    it('releases an event’s bytes once it is durable in every target, and a progress event’s on sight', () => {
      const releases: [frame: number, bytes: number][] = [];
      const budget = new (class extends InFlightBytes {
        override release(bytes: number): void {
          super.release(bytes);
          releases.push([testScheduler.now(), bytes]);
        }
      })(1000, 500);
      testScheduler.run(({ hot }) => {
        budget.add(10 + 20 + 30 + 5);
        const events = { a: begin(1, 0n, 10), b: insert(1, { id: 1 }, undefined, 20), c: commit(1, 100n, 30), p: progress(50n, 5) };
        const fast = delayedTarget('fast', [], 1);
        const slow = delayedTarget('slow', [2, 4, 6]);
        hot<SourceEvent>('pabc', events).pipe(acknowledge([fast, slow], { scheduler: testScheduler, budget })).subscribe();
      });
      // p on sight at 0; a written at 1, durable in slow at 3; b written at 2, durable at 6; c written at 3, durable at 9.
      expect(releases).toEqual([
        [0, 5],
        [3, 10],
        [6, 20],
        [9, 30],
      ]);
      expect(budget.bytes).toBe(0);
    });

    it('releases the bytes of events abandoned by an error', () => {
      const budget = new InFlightBytes(1000, 500);
      testScheduler.run(({ hot, expectObservable }) => {
        budget.add(20);
        const failure = new LaredoError('CONNECTION_LOST', 'lost', { retryable: true });
        const target = recordingTarget({ durability: 'held' });
        expectObservable(
          hot<SourceEvent>('ab#', { a: begin(1, 0n, 10), b: insert(1, { id: 1 }, undefined, 10) }, failure).pipe(
            acknowledge([target], { scheduler: testScheduler, budget }),
          ),
        ).toBe('--#', undefined, failure);
      });
      expect(budget.bytes).toBe(0);
    });
  });

  describe('target failures', () => {
    it('errors when a target’s write errors, confirming nothing after the last durable position', () => {
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const failure = new LaredoError('DISK_FULL', 'disk full');
        const events = { a: begin(1), b: commit(1, 100n), c: begin(2), d: commit(2, 200n) };
        const target = recordingTarget({
          name: 'disk',
          durability: (_batch, index) => (index === 3 ? cold('--#', undefined, failure) : timer(1)),
        });
        const healthy = delayedTarget('healthy', [], 1);
        expectObservable(hot<SourceEvent>('abcd', events).pipe(acknowledge([target, healthy], { scheduler: testScheduler }))).toBe(
          '--x--#',
          { x: 100n },
          expect.objectContaining({ code: 'TARGET_FAILED', target: 'disk', cause: failure }),
        );
      });
    });

    it('errors when a target’s write throws synchronously', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const failure = new Error('cannot write');
        const target = recordingTarget({ name: 'thrower', durability: 'fail', error: failure, throwSynchronously: true });
        expectObservable(hot<SourceEvent>('-a', { a: begin(1) }).pipe(acknowledge([target], { scheduler: testScheduler }))).toBe(
          '-#',
          undefined,
          expect.any(TargetFailedError),
        );
      });
    });

    it('passes a source error through and stops writing', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const failure = new Error('socket closed');
        const target = recordingTarget();
        expectObservable(hot<SourceEvent>('a#', { a: begin(1) }, failure).pipe(acknowledge([target], { scheduler: testScheduler }))).toBe(
          '-#',
          undefined,
          failure,
        );
      });
    });

    it('inherits retryability from the target’s error', () => {
      const retryable = new TargetFailedError('http', new LaredoError('HTTP_503', 'unavailable', { retryable: true }));
      const fatal = new TargetFailedError('http', new LaredoError('HTTP_400', 'bad request'));
      expect([retryable.retryable, fatal.retryable]).toEqual([true, false]);
    });
  });

  describe('graceful stop', () => {
    it('waits for in-flight target work, emits the final position, closes targets and completes', () => {
      const target = delayedTarget('t', [5, 5]);
      testScheduler.run(({ cold, expectObservable }) => {
        const events = { a: begin(1), b: commit(1, 100n) };
        expectObservable(cold<SourceEvent>('ab|', events).pipe(acknowledge([target], { scheduler: testScheduler }))).toBe('------(x|)', {
          x: 100n,
        });
      });
      expect(target.closeCalls).toBe(1);
    });

    it('completes after stopTimeoutMs without confirming what is still not durable', () => {
      const target = recordingTarget({ name: 'stuck', durability: 'held' });
      const timeouts: DrainTimeoutError[] = [];
      testScheduler.run(({ cold, expectObservable }) => {
        const events = { a: begin(1), b: commit(1, 100n) };
        expectObservable(
          cold<SourceEvent>('ab|', events).pipe(
            acknowledge([target], { scheduler: testScheduler, stopTimeoutMs: 50, onStopTimeout: (e) => timeouts.push(e) }),
          ),
        ).toBe('-- 50ms |');
      });
      expect(timeouts).toEqual([expect.objectContaining({ code: 'STOP_TIMEOUT', target: 'stuck', pendingMessages: 2 })]);
      expect(target.batches.map((b) => b.state)).toEqual(['cancelled', 'cancelled']);
      expect(target.closeCalls).toBe(1);
    });

    it('completes at once when nothing is in flight, without closing targets when told not to', () => {
      const target = recordingTarget();
      testScheduler.run(({ cold, expectObservable }) => {
        expectObservable(cold<SourceEvent>('|').pipe(acknowledge([target], { scheduler: testScheduler, closeTargets: false }))).toBe('|');
      });
      expect(target.closeCalls).toBe(0);
    });

    it('errors when a target fails while draining', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const failure = new Error('flush failed');
        const target = recordingTarget({ name: 'f', durability: () => cold('---#', undefined, failure) });
        expectObservable(cold<SourceEvent>('a|', { a: begin(1) }).pipe(acknowledge([target], { scheduler: testScheduler }))).toBe(
          '---#',
          undefined,
          expect.objectContaining({ code: 'TARGET_FAILED', cause: failure }),
        );
      });
    });

    it('errors when closing a target fails', async () => {
      const failing: Target = { name: 'bad-close', write: () => timer(0), close: () => Promise.reject(new Error('close failed')) };
      await expect(lastValueFrom(EMPTY.pipe(acknowledge([failing])), { defaultValue: undefined })).rejects.toMatchObject({
        code: 'TARGET_FAILED',
        target: 'bad-close',
      });
    });
  });

  it('stops writing and cancels outstanding writes on unsubscribe', () => {
    const target = recordingTarget({ durability: 'held' });
    testScheduler.run(({ hot, expectObservable }) => {
      expectObservable(hot<SourceEvent>('ab-c', { a: begin(1), b: commit(1, 100n), c: begin(2) }).pipe(acknowledge([target])), '^-!').toBe('');
    });
    expect(target.batches.map((b) => b.state)).toEqual(['cancelled', 'cancelled']);
  });

  it('never confirms a position that is not durable in every target (random completion orders)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('tx', 'progress', 'rollback'), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 40, maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 40, maxLength: 40 }),
        fc.integer({ min: 1, max: 3 }),
        (shape, delaysA, delaysB, maxInFlight) => {
          const scheduler = new TestScheduler((a, b) => {
            expect(a).toEqual(b);
          });
          const events: SourceEvent[] = [];
          let lsn = 100n;
          let xid = 1;
          for (const step of shape) {
            lsn += 10n;
            if (step === 'progress') events.push(progress(lsn));
            else {
              events.push(begin(xid), insert(xid, { id: xid }));
              events.push(step === 'tx' ? commit(xid, lsn) : rollback(xid));
              xid++;
            }
          }
          const targetA = delayedTarget('a', delaysA);
          const targetB = delayedTarget('b', delaysB);
          const emitted: bigint[] = [];
          scheduler.run(({ cold }) => {
            const marbles = events.map((_, i) => String.fromCharCode(0x100 + i)).join('') + '|';
            const values = Object.fromEntries(events.map((e, i) => [String.fromCharCode(0x100 + i), e]));
            cold<SourceEvent>(marbles, values)
              .pipe(acknowledge([targetA, targetB], { scheduler, maxInFlight, stopTimeoutMs: 1000 }))
              .subscribe((position) => {
                const confirmedIndex = events.findIndex(
                  (e) => (e.kind === 'commit' && e.commitEndLsn === position) || (e.kind === 'progress' && e.walEnd === position),
                );
                expect(confirmedIndex).toBeGreaterThanOrEqual(0);
                const mustBeDurable = events.slice(0, confirmedIndex + 1).filter((e): e is TargetMessage => e.kind !== 'progress');
                for (const target of [targetA, targetB]) {
                  expect(target.durableMessages.slice(0, mustBeDurable.length)).toEqual(mustBeDurable);
                }
                emitted.push(position);
              });
          });
          for (let i = 1; i < emitted.length; i++) expect(emitted[i]! > emitted[i - 1]!).toBe(true);
          const positions = events.flatMap((e) => (e.kind === 'commit' ? [e.commitEndLsn] : e.kind === 'progress' ? [e.walEnd] : []));
          if (positions.length > 0) expect(emitted.at(-1)).toBe(positions.reduce((a, b) => (a > b ? a : b)));
        },
      ),
      { numRuns: 200 },
    );
  });
});
