import { defer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { LaredoError } from '../../src/errors.js';
import { ReconnectExhaustedError } from '../../src/operators/errors.js';
import { reconnect, type RetryInfo } from '../../src/operators/reconnect.js';

const connectionLost = new LaredoError('CONNECTION_LOST', 'connection lost', { retryable: true });
const badPassword = new LaredoError('AUTH_FAILED', 'password authentication failed', { retryable: false });

let testScheduler: TestScheduler;
beforeEach(() => {
  testScheduler = new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
});

/** `'<n>ms ^!'`-style subscription marbles for subscriptions that last one frame each. */
function oneFrameSubscriptions(starts: readonly number[]): string[] {
  return starts.map((start) => (start === 0 ? '^!' : `${start}ms ^!`));
}

describe('reconnect', () => {
  it('waits 1 s, 2 s, 4 s ... capped at 60 s between attempts and errors after maxAttempts', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const connection = cold('-#', undefined, connectionLost);
      const delays: number[] = [];
      const output = connection.pipe(
        reconnect({ jitter: false }, { onRetry: (info) => delays.push(info.delayMs), scheduler: testScheduler }),
      );
      const expectedDelays = [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000];
      const starts = [0];
      for (const delay of expectedDelays) starts.push(starts.at(-1)! + 1 + delay);
      expectObservable(output).toBe(
        `${starts.at(-1)! + 1}ms #`,
        undefined,
        expect.objectContaining({ code: 'RECONNECT_EXHAUSTED', attempts: 10, cause: connectionLost }),
      );
      expectSubscriptions(connection.subscriptions).toBe(oneFrameSubscriptions(starts));
      testScheduler.flush();
      expect(delays).toEqual(expectedDelays);
    });
  });

  it('follows the style guide schedule: maxAttempts 3 waits 1 s, 2 s, 4 s then fails', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const connection = cold('--#', undefined, connectionLost);
      const policy = { maxAttempts: 3, initialBackoff: 1000, multiplier: 2, maxBackoff: 60_000, jitter: false };
      expectObservable(connection.pipe(reconnect(policy, { scheduler: testScheduler }))).toBe(
        '-- 1000ms -- 2000ms -- 4000ms --#',
        undefined,
        expect.any(ReconnectExhaustedError),
      );
    });
  });

  it('passes values through and completes when the source completes', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold('a-b|').pipe(reconnect({}, { scheduler: testScheduler }))).toBe('a-b|');
    });
  });

  it('resumes the stream after a failed connection and keeps the values of both', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      let subscriptions = 0;
      const connection = cold('a#', { a: 1 }, connectionLost);
      const recovered = cold('b-c|', { b: 2, c: 3 });
      const source = defer(() => (subscriptions++ === 0 ? connection : recovered));
      expectObservable(source.pipe(reconnect({ jitter: false }, { scheduler: testScheduler }))).toBe('a 1000ms b-c|', {
        a: 1,
        b: 2,
        c: 3,
      });
    });
  });

  it('starts counting again once a reconnect streamed, so isolated failures never exhaust the policy', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      // Each connection streams one value, then fails: 6 failures before the unsubscription, never 2 in a row.
      const connection = cold('a#', { a: 'row' }, connectionLost);
      const attempts: number[] = [];
      const output = connection.pipe(
        reconnect({ maxAttempts: 1, initialBackoff: 10, jitter: false }, { scheduler: testScheduler, onRetry: (i) => attempts.push(i.attempt) }),
      );
      expectObservable(output, '^ 60ms !').toBe('a 10ms a 10ms a 10ms a 10ms a 10ms a', { a: 'row' });
      testScheduler.flush();
      expect(attempts).toEqual([1, 1, 1, 1, 1, 1]);
    });
  });

  it('does not start over on values resetWhen rejects, so keepalives alone do not hide a failing connection', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const connection = cold('p#', { p: 'progress' }, connectionLost);
      const output = connection.pipe(
        reconnect(
          { maxAttempts: 2, initialBackoff: 10, multiplier: 1, jitter: false },
          { scheduler: testScheduler, resetWhen: (value) => value !== 'progress' },
        ),
      );
      expectObservable(output).toBe('p 10ms p 10ms p#', { p: 'progress' }, expect.objectContaining({ attempts: 2 }));
    });
  });

  it('passes a non-retryable error through at once, without waiting or re-subscribing', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const connection = cold('--#', undefined, badPassword);
      expectObservable(connection.pipe(reconnect({}, { scheduler: testScheduler }))).toBe('--#', undefined, badPassword);
      expectSubscriptions(connection.subscriptions).toBe('^-!');
    });
  });

  it('passes a non-retryable error through even after retryable ones', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      let subscriptions = 0;
      const lost = cold('-#', undefined, connectionLost);
      const denied = cold('-#', undefined, badPassword);
      const source = defer(() => (subscriptions++ === 0 ? lost : denied));
      expectObservable(source.pipe(reconnect({ jitter: false }, { scheduler: testScheduler }))).toBe('- 1000ms -#', undefined, badPassword);
    });
  });

  it('treats plain errors as not retryable by default', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const failure = new Error('boom');
      expectObservable(cold('#', undefined, failure).pipe(reconnect({}, { scheduler: testScheduler }))).toBe('#', undefined, failure);
    });
  });

  it('lets a shouldRetry predicate decide what is retried', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const failure = new Error('ECONNRESET');
      const output = cold('-#', undefined, failure).pipe(
        reconnect({ maxAttempts: 1, initialBackoff: 5, jitter: false }, { scheduler: testScheduler, shouldRetry: () => true }),
      );
      expectObservable(output).toBe('- 5ms -#', undefined, expect.objectContaining({ code: 'RECONNECT_EXHAUSTED', cause: failure }));
    });
  });

  it('errors with ReconnectExhaustedError on the first failure when maxAttempts is 0', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold('#', undefined, connectionLost).pipe(reconnect({ maxAttempts: 0 }, { scheduler: testScheduler }))).toBe(
        '#',
        undefined,
        expect.objectContaining({ attempts: 0, cause: connectionLost }),
      );
    });
  });

  it('reports each retry to onRetry with its attempt, wait and error', () => {
    testScheduler.run(({ cold }) => {
      const seen: RetryInfo[] = [];
      cold('#', undefined, connectionLost)
        .pipe(reconnect({ maxAttempts: 2, jitter: false }, { scheduler: testScheduler, onRetry: (info) => seen.push(info) }))
        .subscribe({ error: () => undefined });
      testScheduler.flush();
      expect(seen).toEqual([
        { attempt: 1, delayMs: 1000, error: connectionLost },
        { attempt: 2, delayMs: 2000, error: connectionLost },
      ]);
    });
  });

  it('waits the jittered delay the random source asks for', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const output = cold('#', undefined, connectionLost).pipe(
        reconnect({ maxAttempts: 2 }, { scheduler: testScheduler, random: () => 0 }),
      );
      // 1000 * 0.8, then 2000 * 0.8
      expectObservable(output).toBe('800ms 1600ms #', undefined, expect.any(ReconnectExhaustedError));
    });
  });

  it('keeps a separate failure count per subscriber', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const shared = cold('#', undefined, connectionLost).pipe(
        reconnect({ maxAttempts: 1, initialBackoff: 10, jitter: false }, { scheduler: testScheduler }),
      );
      expectObservable(shared).toBe('10ms #', undefined, expect.any(ReconnectExhaustedError));
      expectObservable(shared).toBe('10ms #', undefined, expect.any(ReconnectExhaustedError));
    });
  });

  it('stops waiting and does not re-subscribe when unsubscribed during a backoff', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const connection = cold('-#', undefined, connectionLost);
      expectObservable(connection.pipe(reconnect({ jitter: false }, { scheduler: testScheduler })), '^ 500ms !').toBe('');
      expectSubscriptions(connection.subscriptions).toBe('^!');
    });
  });

  it('refuses an invalid policy when the operator is built', () => {
    expect(() => reconnect({ multiplier: 0 })).toThrow(/reconnect\.multiplier/);
  });
});
