import fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import type { SourceEvent, TruncateChange } from '../../src/model/events.js';
import type { TableSchema } from '../../src/model/table.js';
import { skipCoveredBySnapshot } from '../../src/source/skip-covered-by-snapshot.js';
import { begin, commit, insert, itemsTable, progress, remove, update } from '../operators/events.js';

const otherTable: TableSchema = { ...itemsTable, key: 'public.other', name: 'other', relationId: 16385 };
// items was baselined at a snapshot whose consistent point is 0x500: transactions committing before
// it are in the baseline already.
const covered = new Map([['public.items', 0x500n]]);

function truncate(xid: number, tables: readonly TableSchema[], bytes = 10): TruncateChange {
  return { kind: 'truncate', tables, cascade: false, restartIdentity: false, lsn: 1n, xid, bytes };
}

let testScheduler: TestScheduler;
beforeEach(() => {
  testScheduler = new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
});

describe('skipCoveredBySnapshot', () => {
  const values = {
    a: begin(1, 0x400n, 10),
    i: insert(1, { id: 1 }, itemsTable, 20),
    o: insert(1, { id: 2 }, otherTable, 30),
    c: commit(1, 0x401n, 40),
    // The insert's bytes travel with the next event that is passed on.
    O: insert(1, { id: 2 }, otherTable, 50),
    C: commit(1, 0x401n, 60),
    b: begin(2, 0x500n, 10),
    j: insert(2, { id: 3 }, itemsTable, 20),
    d: commit(2, 0x501n, 10),
  };

  it('drops the covered table’s changes of transactions that committed before the snapshot, keeping begin, commit and other tables', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold<SourceEvent>('aioc|', values).pipe(skipCoveredBySnapshot(covered))).toBe('a-Oc|', values);
      expectObservable(cold<SourceEvent>('aic|', values).pipe(skipCoveredBySnapshot(covered))).toBe('a-C|', values);
    });
  });

  it('passes a transaction that committed at or after the snapshot’s consistent point', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold<SourceEvent>('bjd|', values).pipe(skipCoveredBySnapshot(covered))).toBe('bjd|', values);
    });
  });

  it('drops covered updates and deletes too, and cuts the covered tables out of a truncate', () => {
    const events = {
      a: begin(1, 0x100n),
      u: update(1, { id: 1 }),
      r: remove(1, { id: 1 }),
      t: truncate(1, [itemsTable, otherTable], 5),
      T: truncate(1, [otherTable], 25),
      c: commit(1, 0x101n),
    };
    testScheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold<SourceEvent>('aurtc|', events).pipe(skipCoveredBySnapshot(covered))).toBe('a--Tc|', events);
    });
  });

  it('hands the bytes of trailing dropped events on in a progress event at 0/0 when the input ends (complete or error)', () => {
    const events = { a: begin(1, 0x100n), i: insert(1, { id: 1 }, itemsTable, 20), p: progress(0n, 20) };
    const failure = new Error('connection lost');
    testScheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold<SourceEvent>('ai|', events).pipe(skipCoveredBySnapshot(covered))).toBe('a-(p|)', events);
      expectObservable(cold<SourceEvent>('ai#', events, failure).pipe(skipCoveredBySnapshot(covered))).toBe('a-(p#)', events, failure);
    });
  });

  it('is the identity when no table is covered', () => {
    const source = from([begin(1, 0x100n)]);
    expect(source.pipe(skipCoveredBySnapshot(new Map()))).toBe(source);
  });

  it('property: keeps every byte, never passes a covered change, and keeps everything else in order', async () => {
    const tables = [itemsTable, otherTable];
    const transaction = fc.record({
      commitLsn: fc.bigInt({ min: 1n, max: 0x1000n }),
      changes: fc.array(fc.record({ table: fc.constantFrom(...tables), kind: fc.constantFrom('insert', 'update', 'delete'), bytes: fc.nat(100) }), {
        maxLength: 5,
      }),
      committed: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(transaction, { maxLength: 8 }), fc.bigInt({ min: 0n, max: 0x1000n }), async (transactions, coveredBefore) => {
        const events: SourceEvent[] = [];
        transactions.forEach((t, xid) => {
          events.push(begin(xid, t.commitLsn, 1));
          for (const change of t.changes) {
            const row = { id: xid };
            events.push(
              change.kind === 'insert'
                ? insert(xid, row, change.table, change.bytes)
                : change.kind === 'update'
                  ? update(xid, row, change.table, undefined, change.bytes)
                  : remove(xid, row, change.table, change.bytes),
            );
          }
          // An uncommitted last transaction is where the stream was cut.
          if (t.committed) events.push(commit(xid, t.commitLsn + 1n, 1));
        });
        const map = new Map([['public.items', coveredBefore]]);
        const output = await lastValueFrom(from(events).pipe(skipCoveredBySnapshot(map), toArray()), { defaultValue: [] });
        const sum = (list: readonly SourceEvent[]) => list.reduce((n, e) => n + e.bytes, 0);
        expect(sum(output)).toBe(sum(events));
        const isCoveredChange = (e: SourceEvent) =>
          (e.kind === 'insert' || e.kind === 'update' || e.kind === 'delete') && e.table.key === 'public.items' && transactions[e.xid]!.commitLsn < coveredBefore;
        const strip = (e: SourceEvent) => ({ ...e, bytes: 0 });
        expect(output.filter((e) => e.kind !== 'progress').map(strip)).toEqual(events.filter((e) => !isCoveredChange(e)).map(strip));
      }),
    );
  });
});
