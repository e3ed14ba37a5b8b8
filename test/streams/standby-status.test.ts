import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { standbyStatusSchedule, statusIntervalFor } from '../../src/streams/standby-status.js';

function scheduler() {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
}

describe('standbyStatusSchedule', () => {
  it('sends the latest confirmed position on every timer tick, 0/0 before anything is confirmed', () => {
    const testScheduler = scheduler();
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const confirmed$ = hot<bigint>('-- 250ms a', { a: 100n });
      const updates = standbyStatusSchedule({ confirmed$, replyRequested$: cold('-'), intervalMs: 100, coalesceMs: 10, scheduler: testScheduler });
      expectObservable(updates, '^ 450ms !').toBe('100ms a 99ms b 51ms c 47ms d 99ms e', {
        a: { lsn: 0n, reason: 'interval' },
        b: { lsn: 0n, reason: 'interval' },
        c: { lsn: 100n, reason: 'confirmed' },
        d: { lsn: 100n, reason: 'interval' },
        e: { lsn: 100n, reason: 'interval' },
      });
    });
  });

  it('answers every keepalive that requests a reply at once', () => {
    const testScheduler = scheduler();
    testScheduler.run(({ hot, expectObservable }) => {
      const confirmed$ = hot<bigint>('a', { a: 7n });
      const replies = hot('--x-x');
      const updates = standbyStatusSchedule({ confirmed$, replyRequested$: replies, intervalMs: 1000, coalesceMs: 10, scheduler: testScheduler });
      expectObservable(updates, '^ 50ms !').toBe('a-b-c', {
        a: { lsn: 7n, reason: 'confirmed' },
        b: { lsn: 7n, reason: 'keepalive' },
        c: { lsn: 7n, reason: 'keepalive' },
      });
    });
  });

  it('coalesces a burst of confirmations: the first at once, then one update with the latest per window', () => {
    const testScheduler = scheduler();
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const confirmed$ = hot<bigint>('a-b-c-d 100ms e', { a: 1n, b: 2n, c: 3n, d: 4n, e: 5n });
      const updates = standbyStatusSchedule({ confirmed$, replyRequested$: cold('-'), intervalMs: 10_000, coalesceMs: 20, scheduler: testScheduler });
      expectObservable(updates, '^ 200ms !').toBe('a 19ms b 86ms e', {
        a: { lsn: 1n, reason: 'confirmed' },
        b: { lsn: 4n, reason: 'confirmed' },
        e: { lsn: 5n, reason: 'confirmed' },
      });
    });
  });

  it('never goes back: lower or repeated confirmations are ignored', () => {
    const testScheduler = scheduler();
    testScheduler.run(({ hot, expectObservable }) => {
      const confirmed$ = hot<bigint>('a 50ms b 50ms c', { a: 10n, b: 5n, c: 10n });
      const replies = hot('-- 200ms x');
      const updates = standbyStatusSchedule({ confirmed$, replyRequested$: replies, intervalMs: 100_000, coalesceMs: 1, scheduler: testScheduler });
      expectObservable(updates, '^ 300ms !').toBe('a 201ms k', {
        a: { lsn: 10n, reason: 'confirmed' },
        k: { lsn: 10n, reason: 'keepalive' },
      });
    });
  });
});

describe('statusIntervalFor', () => {
  it('stays within a third of wal_sender_timeout, or uses the configured interval when the timeout is off', () => {
    expect(statusIntervalFor(10_000, 60_000)).toBe(10_000);
    expect(statusIntervalFor(10_000, 2_000)).toBe(666);
    expect(statusIntervalFor(10_000, 0)).toBe(10_000);
    expect(statusIntervalFor(10_000, 1)).toBe(1);
  });
});
