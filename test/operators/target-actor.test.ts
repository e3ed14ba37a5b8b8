import { Observable, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import type { TargetMessage } from '../../src/model/events.js';
import type { Target } from '../../src/model/target.js';
import { InvalidOperatorOptionError, TargetFailedError } from '../../src/operators/errors.js';
import { DrainTimeoutError, TargetActor } from '../../src/operators/target-actor.js';
import { recordingTarget } from '../../src/targets/recording/index.js';
import { begin, commit, insert } from './events.js';

let testScheduler: TestScheduler;
beforeEach(() => {
  testScheduler = new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
});

const messages: TargetMessage[] = [begin(1), insert(1, { id: 1 }), insert(1, { id: 2 }), insert(1, { id: 3 }), commit(1, 100n)];

function durableLog(actor: TargetActor): number[] {
  const log: number[] = [];
  actor.durable$.subscribe({ next: (d) => log.push(d), error: () => undefined });
  return log;
}

describe('TargetActor', () => {
  it('writes each message at once while the target has room, in order', () => {
    const target = recordingTarget();
    const actor = new TargetActor(target);
    messages.forEach((m, i) => {
      actor.post(i, m);
    });
    expect(target.batches.map((b) => b.messages)).toEqual(messages.map((m) => [m]));
    expect(actor.durableThrough).toBe(4);
    expect(actor.idle).toBe(true);
  });

  it('keeps at most maxInFlight batches outstanding and drains the mailbox into one batch when a slot frees', () => {
    const target = recordingTarget({ durability: 'held' });
    const actor = new TargetActor(target, { maxInFlight: 2 });
    messages.forEach((m, i) => {
      actor.post(i * 10, m);
    });
    expect(target.batches.map((b) => b.messages.length)).toEqual([1, 1]);
    expect(actor.pendingMessages).toBe(5);
    target.release(0);
    // The three waiting messages go out together.
    expect(target.batches.map((b) => b.messages.length)).toEqual([1, 1, 3]);
    expect(target.maxOutstanding).toBe(2);
    expect(actor.durableThrough).toBe(0);
  });

  it('caps a batch at maxBatch messages', () => {
    const target = recordingTarget({ durability: 'held' });
    const actor = new TargetActor(target, { maxInFlight: 1, maxBatch: 2 });
    messages.forEach((m, i) => {
      actor.post(i, m);
    });
    target.release(0);
    target.release(1);
    expect(target.batches.map((b) => b.messages.length)).toEqual([1, 2, 2]);
  });

  it('advances durableThrough only over the contiguous prefix when batches complete out of order', () => {
    const target = recordingTarget({ durability: 'held' });
    const actor = new TargetActor(target);
    const log = durableLog(actor);
    messages.slice(0, 3).forEach((m, i) => {
      actor.post(i * 2, m);
    });
    target.release(2);
    target.release(1);
    expect(actor.durableThrough).toBe(-1);
    target.release(0);
    expect(actor.durableThrough).toBe(4);
    expect(log).toEqual([-1, 4]);
  });

  it('never calls write while a previous call is still running, even when batches complete synchronously inside write', () => {
    let running = false;
    let overlapped = false;
    const written: number[] = [];
    const target: Target = {
      name: 'reentrant',
      write(batch) {
        if (running) overlapped = true;
        running = true;
        written.push(batch.length);
        running = false;
        return new Observable((subscriber) => {
          subscriber.complete();
        });
      },
    };
    const actor = new TargetActor(target, { maxInFlight: 1 });
    messages.forEach((m, i) => {
      actor.post(i, m);
    });
    expect(overlapped).toBe(false);
    expect(written).toEqual([1, 1, 1, 1, 1]);
    expect(actor.durableThrough).toBe(4);
  });

  it('fails with TargetFailedError when write throws, and ignores later posts', () => {
    const failure = new Error('bad config');
    const target = recordingTarget({ name: 'x', durability: 'fail', error: failure, throwSynchronously: true });
    const actor = new TargetActor(target);
    let error: unknown;
    actor.durable$.subscribe({ error: (e: unknown) => (error = e) });
    actor.post(0, messages[0]!);
    actor.post(1, messages[1]!);
    expect(error).toBeInstanceOf(TargetFailedError);
    expect(error).toMatchObject({ target: 'x', cause: failure });
    expect(target.batches).toHaveLength(1);
    expect(actor.failure).toBe(error);
  });

  it('fails when write returns something that is not an Observable', () => {
    const actor = new TargetActor({ name: 'js', write: () => 42 as unknown as Observable<unknown> });
    let error: unknown;
    actor.durable$.subscribe({ error: (e: unknown) => (error = e) });
    actor.post(0, messages[0]!);
    expect(error).toBeInstanceOf(TargetFailedError);
  });

  it('cancels the other outstanding writes when one fails', () => {
    const target = recordingTarget({ durability: 'held' });
    const actor = new TargetActor(target);
    actor.durable$.subscribe({ error: () => undefined });
    messages.slice(0, 3).forEach((m, i) => {
      actor.post(i, m);
    });
    target.fail(new Error('disk full'), 1);
    expect(target.batches.map((b) => b.state)).toEqual(['cancelled', 'failed', 'cancelled']);
  });

  it('refuses sequence numbers that do not increase', () => {
    const actor = new TargetActor(recordingTarget());
    actor.post(5, messages[0]!);
    expect(() => {
      actor.post(5, messages[1]!);
    }).toThrow(RangeError);
  });

  it('refuses a maxInFlight or maxBatch below 1', () => {
    expect(() => new TargetActor(recordingTarget(), { maxInFlight: 0 })).toThrow(InvalidOperatorOptionError);
    expect(() => new TargetActor(recordingTarget(), { maxBatch: 1.5 })).toThrow(InvalidOperatorOptionError);
  });

  describe('drain', () => {
    it('completes once everything posted is durable', () => {
      testScheduler.run(({ expectObservable }) => {
        const actor = new TargetActor(recordingTarget({ durability: (_b, i) => timer(3 + i) }));
        actor.post(0, messages[0]!);
        actor.post(1, messages[1]!);
        expectObservable(actor.drain(100, testScheduler)).toBe('----|');
      });
    });

    it('completes at once when idle', () => {
      testScheduler.run(({ expectObservable }) => {
        expectObservable(new TargetActor(recordingTarget()).drain(100, testScheduler)).toBe('|');
      });
    });

    it('errors with DrainTimeoutError after the timeout', () => {
      testScheduler.run(({ expectObservable }) => {
        const actor = new TargetActor(recordingTarget({ name: 'stuck', durability: 'held' }));
        actor.post(0, messages[0]!);
        expectObservable(actor.drain(20, testScheduler)).toBe(
          '20ms #',
          undefined,
          expect.objectContaining({ code: 'STOP_TIMEOUT', target: 'stuck', pendingMessages: 1 }),
        );
      });
    });

    it('errors with the target’s failure', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const failure = new Error('nope');
        const actor = new TargetActor(recordingTarget({ durability: () => cold('--#', undefined, failure) }));
        actor.post(0, messages[0]!);
        expectObservable(actor.drain(20, testScheduler)).toBe('--#', undefined, expect.objectContaining({ cause: failure }));
      });
    });

    it('waits without limit when the timeout is not finite', () => {
      const target = recordingTarget({ durability: 'held' });
      const actor = new TargetActor(target);
      actor.post(0, messages[0]!);
      let done = false;
      actor.drain(Number.POSITIVE_INFINITY).subscribe({ complete: () => (done = true) });
      expect(done).toBe(false);
      target.release();
      expect(done).toBe(true);
    });
  });

  it('dispose cancels outstanding writes, completes durable$ and ignores later posts', () => {
    const target = recordingTarget({ durability: 'held' });
    const actor = new TargetActor(target);
    let completed = false;
    actor.durable$.subscribe({ complete: () => (completed = true) });
    actor.post(0, messages[0]!);
    actor.dispose();
    actor.post(1, messages[1]!);
    expect(completed).toBe(true);
    expect(target.batches.map((b) => b.state)).toEqual(['cancelled']);
    expect(DrainTimeoutError).toBeDefined();
  });
});
