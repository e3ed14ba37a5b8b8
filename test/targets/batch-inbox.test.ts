import { lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { BatchInbox } from '../../src/targets/batch-inbox.js';

interface Job {
  readonly id: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** A promise and the function that resolves it, for a `take` the test lets through. */
function gate(): { readonly opened: Promise<void>; readonly open: () => void } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('BatchInbox', () => {
  it('takes jobs in one at a time, in order, while write returns at once', async () => {
    const taken: number[] = [];
    let running = 0;
    let mostRunning = 0;
    const gates = [gate(), gate(), gate()];
    const inbox = new BatchInbox<Job>(async (job) => {
      running++;
      mostRunning = Math.max(mostRunning, running);
      taken.push(job.id);
      await gates[job.id]!.opened;
      running--;
      job.resolve();
    });
    const written = [0, 1, 2].map((id) => lastValueFrom(inbox.submit((resolve, reject) => ({ id, resolve, reject })), { defaultValue: 'done' }));
    expect(taken).toEqual([0]);
    expect(inbox.length).toBe(2);
    for (const each of gates) each.open();
    expect(await Promise.all(written)).toEqual(['done', 'done', 'done']);
    await inbox.idle;
    expect(taken).toEqual([0, 1, 2]);
    expect(mostRunning).toBe(1);
    expect(inbox.length).toBe(0);
  });

  it('reports a rejected job as the error of its Observable, and goes on with the next', async () => {
    const inbox = new BatchInbox<Job>((job) => {
      if (job.id === 0) job.reject(new Error('disk full'));
      else job.resolve();
      return Promise.resolve();
    });
    const failed = lastValueFrom(inbox.submit((resolve, reject) => ({ id: 0, resolve, reject })));
    const next = lastValueFrom(inbox.submit((resolve, reject) => ({ id: 1, resolve, reject })), { defaultValue: 'done' });
    await expect(failed).rejects.toThrow('disk full');
    expect(await next).toBe('done');
  });

  it('never strands a job submitted just as the inbox ran empty', async () => {
    const taken: number[] = [];
    const inbox = new BatchInbox<Job>(async (job) => {
      taken.push(job.id);
      await Promise.resolve();
      job.resolve();
    });
    for (let id = 0; id < 20; id++) {
      void inbox.submit((resolve, reject) => ({ id, resolve, reject }));
      // Every few jobs, let the drain finish first, so the next job starts a new one.
      if (id % 3 === 0) await inbox.idle;
    }
    await inbox.idle;
    expect(taken).toEqual(Array.from({ length: 20 }, (_, id) => id));
  });
});
