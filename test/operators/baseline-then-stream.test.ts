import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import type { SourceEvent } from '../../src/model/events.js';
import { baselineThenStream } from '../../src/operators/baseline-then-stream.js';
import { begin, commit, itemsTable } from './events.js';

let testScheduler: TestScheduler;
beforeEach(() => {
  testScheduler = new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
});

const rows: SourceEvent = { kind: 'baseline', table: itemsTable, rows: [{ id: 1 }], bytes: 5 };
const done: SourceEvent = { kind: 'baseline-complete', table: itemsTable, rows: 1, bytes: 0 };
const values = { r: rows, d: done, b: begin(1), c: commit(1, 100n), z: { kind: 'reset', tables: ['public.items'], bytes: 0 } as SourceEvent };

describe('baselineThenStream', () => {
  it('subscribes to the stream only after the baseline completed', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const baseline = cold<SourceEvent>('-r--d|', values);
      const stream = cold<SourceEvent>('-b-c', values);
      const output = hot('s').pipe(baselineThenStream({ baseline: () => baseline, stream: () => stream, tables: ['public.items'] }));
      expectObservable(output).toBe('-r--d-b-c', values);
      expectSubscriptions(baseline.subscriptions).toBe('^----!');
      expectSubscriptions(stream.subscriptions).toBe('-----^');
    });
  });

  it('streams at once when the slot needs no baseline', () => {
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const stream = cold<SourceEvent>('b-c', values);
      const output = hot('s').pipe(baselineThenStream({ baseline: () => cold('|'), stream: () => stream, tables: [] }));
      expectObservable(output).toBe('b-c', values);
    });
  });

  it('emits reset naming every table before a re-baseline, and not before the first baseline', () => {
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const output = hot('s-----t').pipe(
        baselineThenStream({
          baseline: () => cold<SourceEvent>('r---|', values),
          stream: () => cold<SourceEvent>('b', values),
          tables: (slot) => (slot === 's' ? [] : ['public.items']),
        }),
      );
      expectObservable(output).toBe('r---b-(zr)b', values);
    });
  });

  it('resets before the first baseline too when told so', () => {
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const output = hot('s').pipe(
        baselineThenStream({ baseline: () => cold<SourceEvent>('r|', values), stream: () => cold('-'), tables: ['public.items'], reset: true }),
      );
      expectObservable(output).toBe('(zr)', values);
    });
  });

  it('unsubscribes the current slot’s stream when a newer slot arrives', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const first = cold<SourceEvent>('b-c-b-c', values);
      const second = cold<SourceEvent>('b', values);
      const output = hot('s--t').pipe(
        baselineThenStream({ baseline: () => cold('|'), stream: (slot) => (slot === 's' ? first : second), tables: ['public.items'], reset: false }),
      );
      expectObservable(output).toBe('b-cb', values);
      expectSubscriptions(first.subscriptions).toBe('^--!');
    });
  });

  it('errors when the baseline fails, without ever subscribing to the stream', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const failure = new Error('COPY failed');
      const stream = cold<SourceEvent>('b', values);
      const output = hot('s').pipe(
        baselineThenStream({ baseline: () => cold<SourceEvent>('r-#', values, failure), stream: () => stream, tables: [] }),
      );
      expectObservable(output).toBe('r-#', values, failure);
      expectSubscriptions(stream.subscriptions).toBe([]);
    });
  });

  it('errors when the stream fails', () => {
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const failure = new Error('connection lost');
      const output = hot('s').pipe(
        baselineThenStream({ baseline: () => cold<SourceEvent>('r|', values), stream: () => cold<SourceEvent>('b#', values, failure), tables: [] }),
      );
      expectObservable(output).toBe('rb#', values, failure);
    });
  });
});
