import type { BaselineProgress } from '../streams/baseline.js';

/** Baseline progress per source and table: bars on a terminal, periodic plain lines otherwise. */
export interface ProgressReporter {
  update(source: string, progress: BaselineProgress): void;
  /** Clears the bars (before the process goes on logging). */
  close(): void;
}

interface TableLine {
  readonly source: string;
  progress: BaselineProgress;
  readonly startedAt: number;
  lastLoggedAt: number;
}

const BAR_WIDTH = 24;
const REDRAW_MS = 200;
const PLAIN_EVERY_MS = 5000;

function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s` : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** `rows / ~estimate  rate  ETA` for one table. */
export function describeProgress(progress: BaselineProgress, elapsedSeconds: number): string {
  const rate = elapsedSeconds > 0 ? progress.rowsCopied / elapsedSeconds : 0;
  const estimate = progress.estimatedRows !== null && progress.estimatedRows > 0 ? progress.estimatedRows : undefined;
  const total = estimate === undefined ? '' : ` / ~${formatCount(Math.max(estimate, progress.rowsCopied))}`;
  const eta = progress.done ? 'done' : estimate !== undefined && rate > 0 ? `ETA ${formatSeconds((estimate - progress.rowsCopied) / rate)}` : '';
  return `${formatCount(progress.rowsCopied)}${total} rows  ${formatCount(rate)} rows/s  ${eta}`.trimEnd();
}

export function createProgressReporter(options: {
  readonly write: (text: string) => void;
  readonly tty: boolean;
  readonly log: (line: string) => void;
  readonly now?: () => number;
}): ProgressReporter {
  const now = options.now ?? (() => Date.now());
  const lines = new Map<string, TableLine>();
  let drawn = 0;
  let lastDraw = 0;

  const draw = (force: boolean): void => {
    const at = now();
    if (!force && at - lastDraw < REDRAW_MS) return;
    lastDraw = at;
    let text = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const line of lines.values()) {
      const { progress } = line;
      const fraction = progress.done
        ? 1
        : progress.estimatedRows !== null && progress.estimatedRows > 0
          ? Math.min(1, progress.rowsCopied / progress.estimatedRows)
          : 0;
      const filled = Math.round(fraction * BAR_WIDTH);
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
      text += `\x1b[2K${line.source} ${progress.table} ${bar} ${describeProgress(progress, (at - line.startedAt) / 1000)}\n`;
    }
    drawn = lines.size;
    options.write(text);
  };

  return {
    update(source, progress) {
      const key = `${source}\u0000${progress.table}`;
      let line = lines.get(key);
      // A table baselined again (an ephemeral source after a reconnect, a rebaseline) starts a new line:
      // its rate and ETA count from the new start.
      if (line === undefined || (line.progress.done && !progress.done) || progress.rowsCopied < line.progress.rowsCopied) {
        line = { source, progress, startedAt: now(), lastLoggedAt: now() };
        lines.set(key, line);
      }
      line.progress = progress;
      if (options.tty) {
        draw(progress.done);
        return;
      }
      const at = now();
      if (progress.done || at - line.lastLoggedAt >= PLAIN_EVERY_MS) {
        line.lastLoggedAt = at;
        options.log(`baseline ${source} ${progress.table}: ${describeProgress(progress, (at - line.startedAt) / 1000)}`);
      }
    },
    close() {
      if (options.tty && lines.size > 0) draw(true);
    },
  };
}
