import { lastValueFrom, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { recordingTarget } from '../../../src/targets/recording/index.js';
import { begin, commit } from '../../operators/events.js';

describe('recordingTarget', () => {
  it('records every batch and message, durable at once by default', async () => {
    const target = recordingTarget({ name: 'rec' });
    await lastValueFrom(target.write([begin(1)]), { defaultValue: undefined });
    await lastValueFrom(target.write([commit(1, 100n)]), { defaultValue: undefined });
    expect(target.name).toBe('rec');
    expect(target.batches).toEqual([
      { index: 0, messages: [begin(1)], state: 'durable' },
      { index: 1, messages: [commit(1, 100n)], state: 'durable' },
    ]);
    expect(target.messages).toEqual([begin(1), commit(1, 100n)]);
  });

  it('holds batches until the test releases them, in any order', () => {
    const target = recordingTarget({ durability: 'held' });
    const done: number[] = [];
    target.write([begin(1)]).subscribe({ complete: () => done.push(0) });
    target.write([commit(1, 100n)]).subscribe({ complete: () => done.push(1) });
    expect(target.heldBatches).toEqual([0, 1]);
    expect(target.outstanding).toBe(2);
    target.release(1);
    expect(done).toEqual([1]);
    expect(target.durableMessages).toEqual([commit(1, 100n)]);
    target.release();
    expect(done).toEqual([1, 0]);
    expect(target.maxOutstanding).toBe(2);
  });

  it('completes a batch released before anyone subscribed as soon as someone does', () => {
    const target = recordingTarget({ durability: 'held' });
    const written = target.write([begin(1)]);
    target.release(0);
    let complete = false;
    written.subscribe({ complete: () => (complete = true) });
    expect(complete).toBe(true);
  });

  it('fails held batches on request', () => {
    const target = recordingTarget({ durability: 'held' });
    const failure = new Error('disk');
    let error: unknown;
    target.write([begin(1)]).subscribe({ error: (e: unknown) => (error = e) });
    target.fail(failure, 0);
    expect(error).toBe(failure);
    expect(target.batches[0]!.state).toBe('failed');
  });

  it('fails every write in fail mode, asynchronously or by throwing', () => {
    const failure = new Error('nope');
    let error: unknown;
    recordingTarget({ durability: 'fail', error: failure })
      .write([begin(1)])
      .subscribe({ error: (e: unknown) => (error = e) });
    expect(error).toBe(failure);
    expect(() => recordingTarget({ durability: 'fail', error: failure, throwSynchronously: true }).write([begin(1)])).toThrow(failure);
  });

  it('lets a function decide each batch’s durability, in virtual time', () => {
    new TestScheduler((a, b) => {
      expect(a).toEqual(b);
    }).run(({ expectObservable }) => {
      const target = recordingTarget({ durability: (_batch, index) => timer(index + 2) });
      expectObservable(target.write([begin(1)])).toBe('--|');
      expectObservable(target.write([begin(2)])).toBe('---|');
    });
  });

  it('marks batches whose subscriber left as cancelled, and can switch modes', () => {
    const target = recordingTarget({ durability: 'held' });
    target.write([begin(1)]).subscribe().unsubscribe();
    expect(target.batches[0]!.state).toBe('cancelled');
    target.setDurability('auto');
    target.write([begin(2)]).subscribe();
    expect(target.batches[1]!.state).toBe('durable');
  });

  it('counts close calls', async () => {
    const target = recordingTarget();
    await lastValueFrom(target.close(), { defaultValue: undefined });
    expect(target.closeCalls).toBe(1);
  });

  it('refuses to release a batch it never got', () => {
    expect(() => {
      recordingTarget().release(3);
    }).toThrow(RangeError);
  });
});
