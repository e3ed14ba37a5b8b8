import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import type { SourceEvent } from '../../src/model/events.js';
import { rollbackOnInterrupt } from '../../src/operators/rollback-on-interrupt.js';
import { begin, commit, insert, rollback } from './events.js';

let testScheduler: TestScheduler;
beforeEach(() => {
  testScheduler = new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
});

const values = {
  a: begin(1),
  i: insert(1, { id: 1 }),
  c: commit(1, 100n),
  b: begin(2),
  j: insert(2, { id: 2 }),
  x: rollback(1),
  y: rollback(2),
  s: { ...rollback(2), subXid: 3 } as SourceEvent,
};
const failure = new Error('connection lost');

describe('rollbackOnInterrupt', () => {
  it('emits a rollback for the open transaction before rethrowing', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold<SourceEvent>('ai#', values, failure).pipe(rollbackOnInterrupt())).toBe('ai(x#)', values, failure);
    });
  });

  it('rethrows without a rollback when no transaction is open', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold<SourceEvent>('aic#', values, failure).pipe(rollbackOnInterrupt())).toBe('aic#', values, failure);
    });
  });

  it('rolls back every open transaction in the order they began', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold<SourceEvent>('abj#', values, failure).pipe(rollbackOnInterrupt())).toBe('abj(xy#)', values, failure);
    });
  });

  it('does not roll back a transaction already rolled back, but does when only a subtransaction was', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold<SourceEvent>('axbs#', values, failure).pipe(rollbackOnInterrupt())).toBe('axbs(y#)', values, failure);
    });
  });

  it('rolls back an open transaction when the stream completes inside it', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold<SourceEvent>('ai|', values).pipe(rollbackOnInterrupt())).toBe('ai(x|)', values);
    });
  });
});
