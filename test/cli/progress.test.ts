import { describe, expect, it } from 'vitest';
import { createProgressReporter, describeProgress } from '../../src/cli/progress.js';
import type { BaselineProgress } from '../../src/streams/baseline.js';

const progress = (rowsCopied: number, done = false, estimatedRows: number | null = 1000): BaselineProgress =>
  ({ table: 'public.orders', rowsCopied, estimatedRows, done }) as BaselineProgress;

describe('baseline progress', () => {
  it('describes rows, the estimate, the rate and the time left', () => {
    expect(describeProgress(progress(250), 5)).toBe('250 / ~1,000 rows  50 rows/s  ETA 15s');
    expect(describeProgress(progress(1200, true), 4)).toBe('1,200 / ~1,200 rows  300 rows/s  done');
    expect(describeProgress(progress(10, false, null), 0)).toBe('10 rows  0 rows/s');
  });

  it('without a terminal, logs a line per table every 5 s and when it is done', () => {
    let now = 0;
    const lines: string[] = [];
    const reporter = createProgressReporter({ write: () => undefined, tty: false, log: (line) => lines.push(line), now: () => now });
    reporter.update('pg_main', progress(0));
    now = 1000;
    reporter.update('pg_main', progress(100));
    now = 5000;
    reporter.update('pg_main', progress(500));
    now = 6000;
    reporter.update('pg_main', progress(1000, true));
    expect(lines).toEqual([
      'baseline pg_main public.orders: 500 / ~1,000 rows  100 rows/s  ETA 5s',
      'baseline pg_main public.orders: 1,000 / ~1,000 rows  167 rows/s  done',
    ]);
  });

  it('times a table baselined again (an ephemeral reconnect) from its new start', () => {
    let now = 0;
    const lines: string[] = [];
    const reporter = createProgressReporter({ write: () => undefined, tty: false, log: (line) => lines.push(line), now: () => now });
    reporter.update('pg_main', progress(0));
    now = 2000;
    reporter.update('pg_main', progress(1000, true));
    now = 60_000;
    reporter.update('pg_main', progress(0));
    now = 62_000;
    reporter.update('pg_main', progress(1000, true));
    expect(lines).toEqual([
      'baseline pg_main public.orders: 1,000 / ~1,000 rows  500 rows/s  done',
      'baseline pg_main public.orders: 1,000 / ~1,000 rows  500 rows/s  done',
    ]);
  });

  it('on a terminal, redraws the bars in place', () => {
    const written: string[] = [];
    let now = 10_000;
    const reporter = createProgressReporter({ write: (text) => written.push(text), tty: true, log: () => undefined, now: () => now });
    reporter.update('pg_main', progress(500));
    now += 1000;
    reporter.update('pg_main', progress(1000, true));
    expect(written[0]).toContain('pg_main public.orders [############............] 500 / ~1,000 rows');
    expect(written[1]!.startsWith('\x1b[1A\x1b[2K')).toBe(true);
    expect(written[1]).toContain('[########################]');
  });
});
