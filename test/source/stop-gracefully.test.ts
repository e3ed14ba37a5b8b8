import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import type { SourceEvent } from '../../src/model/events.js';
import { stopGracefully } from '../../src/source/stop-gracefully.js';
import { begin, commit, insert, rollback } from '../operators/events.js';

let testScheduler: TestScheduler;
beforeEach(() => {
  testScheduler = new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
});

const values = { a: begin(1), i: insert(1, { id: 1 }), c: commit(1, 100n), b: begin(2), j: insert(2, { id: 2 }), x: rollback(1), y: rollback(2) };

describe('stopGracefully', () => {
  it('on stop completes at once, but keeps the connection (upstream) until released, dropping what it still sends', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const upstream = cold<SourceEvent>('aic-b-j-', values);
      const stop$ = hot<undefined>('   ---s----', { s: undefined });
      const release$ = hot<undefined>('------r--', { r: undefined });
      expectObservable(upstream.pipe(stopGracefully(stop$, release$))).toBe('aic|', values);
      expectSubscriptions(upstream.subscriptions).toBe('^-----!');
    });
  });

  it('stopped inside a transaction, emits its rollback first so targets drop the partial transaction', () => {
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const upstream = cold<SourceEvent>('aicbj---', values);
      const stop$ = hot<undefined>('   -----s', { s: undefined });
      expectObservable(upstream.pipe(stopGracefully(stop$, hot('-')))).toBe('aicbj(y|)', values);
    });
  });

  it('after a stop, an upstream error or completion is the released connection’s business, not the output’s', () => {
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const stop$ = hot<undefined>('-s', { s: undefined });
      expectObservable(cold<SourceEvent>('a-#', values).pipe(stopGracefully(stop$, hot('-')))).toBe('a(x|)', values);
      expectObservable(cold<SourceEvent>('a--|', values).pipe(stopGracefully(stop$, hot('-')))).toBe('a(x|)', values);
    });
  });

  it('without a stop, passes everything, errors and completion through; unsubscribing tears the upstream down at once', () => {
    const failure = new Error('lost');
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<SourceEvent>('aic#', values, failure).pipe(stopGracefully(hot('-'), hot('-')))).toBe('aic#', values, failure);
      const upstream = cold<SourceEvent>('aic-----', values);
      expectObservable(upstream.pipe(stopGracefully(hot('-'), hot('-'))), '^--!').toBe('aic', values);
      expectSubscriptions(upstream.subscriptions).toBe('^--!');
    });
  });

  it('a release that came before the stop (the run already ended) lets the upstream go right at the stop', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const upstream = cold<SourceEvent>('a-----', values);
      const stop$ = hot<undefined>('   --s---', { s: undefined });
      const release$ = cold<undefined>('r', { r: undefined });
      expectObservable(upstream.pipe(stopGracefully(stop$, release$))).toBe('a-(x|)', values);
      expectSubscriptions(upstream.subscriptions).toBe('^-!');
    });
  });
});
