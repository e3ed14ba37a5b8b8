// Helpers shared by the source's integration tests: running a source and watching it, a continuous
// write load, the slot as pg_replication_slots shows it, and comparing a target with its table.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Observable, type Subscription } from 'rxjs';
import { expect } from 'vitest';
import type { SourceEvent, TargetMessage } from '../../../src/model/events.js';
import type { Target } from '../../../src/model/target.js';
import { Lsn } from '../../../src/protocol/lsn.js';
import type { PgValue, Row } from '../../../src/protocol/row.js';
import type { PostgresSource, RunOptions, SourceState } from '../../../src/source/index.js';
import type { MemoryTarget } from '../../../src/targets/memory/index.js';
import type { TestDatabase } from '../../support/postgres.js';
import { waitFor } from '../../support/wait.js';

/** Fast reconnects for tests: a killed walsender is back within a fraction of a second. */
export const FAST_RECONNECT = { maxAttempts: 20, initialBackoff: 50, maxBackoff: 500, multiplier: 2, jitter: false } as const;

/** A source's run, watched: every state it went through, every confirmed position, how it ended. */
export interface RunningSource {
  readonly source: PostgresSource;
  readonly states: SourceState[];
  readonly confirmed: Lsn[];
  readonly error: unknown;
  readonly completed: boolean;
  readonly ended: boolean;
  /** Graceful stop; resolves once `run` completed (rejects if it errored instead). */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** Unsubscribes at once: what a crash looks like from PostgreSQL's side, minus the process exit. */
  kill(): void;
  /** Waits until the run errored, and returns the error. */
  failure(options?: { timeoutMs?: number }): Promise<unknown>;
}

export function runSource(source: PostgresSource, targets: readonly Target[], runOptions: RunOptions = {}): RunningSource {
  const states: SourceState[] = [];
  const confirmed: Lsn[] = [];
  const outcome: { error: unknown; completed: boolean; ended: boolean } = { error: undefined, completed: false, ended: false };
  const stateSubscription = source.state$.subscribe((state) => states.push(state));
  let subscription: Subscription | undefined;
  subscription = source.run(targets, runOptions).subscribe({
    next: (lsn) => confirmed.push(lsn),
    error: (error: unknown) => {
      outcome.error = error;
      outcome.ended = true;
      stateSubscription.unsubscribe();
    },
    complete: () => {
      outcome.completed = true;
      outcome.ended = true;
      stateSubscription.unsubscribe();
    },
  });
  return {
    source,
    states,
    confirmed,
    get error() {
      return outcome.error;
    },
    get completed() {
      return outcome.completed;
    },
    get ended() {
      return outcome.ended;
    },
    async stop({ timeoutMs = 30_000 } = {}) {
      if (!outcome.ended) {
        source.stop();
        await waitFor(() => outcome.ended, { timeoutMs, what: 'the source to stop' });
      }
      subscription?.unsubscribe();
      subscription = undefined;
      if (outcome.error !== undefined) throw outcome.error instanceof Error ? outcome.error : new Error('the source failed', { cause: outcome.error });
    },
    kill() {
      subscription?.unsubscribe();
      subscription = undefined;
      stateSubscription.unsubscribe();
      outcome.ended = true;
    },
    async failure({ timeoutMs = 30_000 } = {}) {
      await waitFor(() => outcome.ended, { timeoutMs, what: 'the source to fail' });
      if (outcome.error === undefined) throw new Error('the source completed instead of failing');
      return outcome.error;
    },
  };
}

/** Stops every source still running (afterEach), so a failed test leaves no walsender behind. */
export async function stopAll(running: RunningSource[]): Promise<void> {
  for (const run of running.splice(0)) {
    if (!run.ended) await run.stop({ timeoutMs: 15_000 }).catch(() => undefined);
    run.kill();
  }
}

/** A directory for a stateful source's state file; removed by the returned function. */
export async function temporaryStateDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'laredo-source-state-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface SlotRow {
  readonly slotName: string;
  readonly temporary: boolean;
  readonly plugin: string;
  readonly active: boolean;
  readonly activePid: number | null;
  readonly confirmedFlushLsn: Lsn | null;
  readonly walStatus: string | null;
}

/** The database's replication slots, as pg_replication_slots shows them. */
export async function slotsOf(db: TestDatabase): Promise<SlotRow[]> {
  const { rows } = await db.query<{
    slot_name: string;
    temporary: boolean;
    plugin: string;
    active: boolean;
    active_pid: number | null;
    confirmed_flush_lsn: string | null;
    wal_status: string | null;
  }>(
    `SELECT slot_name, temporary, plugin, active, active_pid, confirmed_flush_lsn::text, wal_status
       FROM pg_replication_slots WHERE database = current_database() ORDER BY slot_name`,
  );
  return rows.map((r) => ({
    slotName: r.slot_name,
    temporary: r.temporary,
    plugin: r.plugin,
    active: r.active,
    activePid: r.active_pid,
    confirmedFlushLsn: r.confirmed_flush_lsn === null ? null : Lsn.parse(r.confirmed_flush_lsn),
    walStatus: r.wal_status,
  }));
}

export async function slotOf(db: TestDatabase, slotName: string): Promise<SlotRow | undefined> {
  return (await slotsOf(db)).find((slot) => slot.slotName === slotName);
}

/** Ends the walsender(s) streaming from the database's slots; waits until there is one to end. */
export async function terminateWalsender(db: TestDatabase, slotName?: string): Promise<number[]> {
  return waitFor(
    async () => {
      const { rows } = await db.query<{ pid: number }>(
        `SELECT active_pid AS pid, pg_terminate_backend(active_pid) FROM pg_replication_slots
          WHERE database = current_database() AND active_pid IS NOT NULL AND ($1::text IS NULL OR slot_name = $1)`,
        [slotName ?? null],
      );
      return rows.length > 0 ? rows.map((r) => r.pid) : undefined;
    },
    { timeoutMs: 15_000, what: 'a walsender to terminate' },
  );
}

/** The server's current WAL insert position. */
export async function currentLsn(db: TestDatabase): Promise<Lsn> {
  const { rows } = await db.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return Lsn.parse(rows[0]!.lsn);
}

/**
 * Inserts, updates and deletes rows of `table (id int primary key, v int, body text)` in small
 * transactions on one connection until stopped: a continuous load to reconnect under.
 */
export interface WriteLoad {
  /** Transactions committed so far. */
  readonly transactions: number;
  /** Stops after the transaction in progress; rejects if the load failed. */
  stop(): Promise<number>;
}

export function startWriteLoad(db: TestDatabase, table: string, options: { firstId?: number; rowsPerTransaction?: number } = {}): WriteLoad {
  let running = true;
  let transactions = 0;
  const rowsPerTransaction = options.rowsPerTransaction ?? 3;
  let nextId = options.firstId ?? 1_000_000;
  const done = (async () => {
    const client = await db.client();
    try {
      while (running) {
        const id = nextId;
        nextId += rowsPerTransaction;
        await client.query('BEGIN');
        await client.query(`INSERT INTO ${table} (id, v, body) SELECT g, 0, 'load ' || g FROM generate_series($1::int, $2::int) g`, [id, id + rowsPerTransaction - 1]);
        // Touch rows of earlier transactions too, so updates and deletes cross transaction boundaries.
        await client.query(`UPDATE ${table} SET v = v + 1, body = body || '+' WHERE id = $1`, [id - 7 * rowsPerTransaction]);
        if (transactions % 4 === 3) await client.query(`DELETE FROM ${table} WHERE id = $1`, [id - 13 * rowsPerTransaction]);
        await client.query('COMMIT');
        transactions++;
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return {
    get transactions() {
      return transactions;
    },
    async stop() {
      running = false;
      await done;
      return transactions;
    },
  };
}

/** Rows sorted by `id`, so a target and a table compare whatever their order. */
export function byId<R extends Readonly<Record<string, unknown>>>(rows: readonly R[]): R[] {
  return [...rows].sort((a, b) => Number(a['id']) - Number(b['id']));
}

/** The table's rows, as the memory target holds them (int4 numbers, text strings). */
export async function tableRows(db: TestDatabase, table: string, columns = 'id, v, body'): Promise<Record<string, unknown>[]> {
  return (await db.query(`SELECT ${columns} FROM ${table} ORDER BY id`)).rows;
}

/** Waits until the memory target holds exactly the table's rows. */
export async function waitUntilTargetEqualsTable(db: TestDatabase, target: MemoryTarget, table: string, key = `public.${table}`, timeoutMs = 60_000): Promise<void> {
  let last: { expected: unknown; actual: unknown } | undefined;
  try {
    await waitFor(
      async () => {
        const expected = await tableRows(db, table);
        const actual = byId(target.rows(key) as Record<string, PgValue>[]);
        last = { expected, actual };
        return JSON.stringify(expected) === JSON.stringify(actual);
      },
      { timeoutMs, intervalMs: 100, what: `the target to equal table ${table}` },
    );
  } catch (error) {
    if (last !== undefined) expect(last.actual).toEqual(last.expected);
    throw error;
  }
}

/** Every event of `kind` in what a target received. */
export function eventsOf<K extends TargetMessage['kind']>(messages: readonly TargetMessage[], kind: K): Extract<TargetMessage, { kind: K }>[] {
  return messages.filter((m): m is Extract<TargetMessage, { kind: K }> => m.kind === kind);
}

/** Rows a target received in baseline events of `table`. */
export function baselineRowsOf(messages: readonly TargetMessage[], table: string): Row[] {
  return eventsOf(messages, 'baseline')
    .filter((m) => m.table.key === table)
    .flatMap((m) => [...m.rows]);
}

/** A Target that records what it receives and forwards it to `inner` (for kinds of events seen). */
export function tap(inner: Target, onMessage: (message: TargetMessage) => void): Target {
  return {
    name: inner.name,
    write: (batch) => {
      for (const message of batch) onMessage(message);
      return inner.write(batch);
    },
    ...(inner.close === undefined ? {} : { close: () => inner.close!() }),
  };
}

/**
 * A target in front of `inner` whose batches become durable only while the gate is open: closed, it
 * plays a slow target (nothing it was given is durable); opening applies what waited, in order.
 */
export interface GatedTarget extends Target {
  open(): void;
  close(): Observable<unknown> | Promise<unknown>;
  shut(): void;
  /** Bytes of the messages given to the target and not yet durable. */
  readonly heldBytes: number;
}

export function gated(inner: Target, { open = false } = {}): GatedTarget {
  const waiting: (() => void)[] = [];
  let isOpen = open;
  let heldBytes = 0;
  return {
    name: `gated ${inner.name}`,
    write: (batch) =>
      new Observable<unknown>((subscriber) => {
        const bytes = batch.reduce((sum, m) => sum + m.bytes, 0);
        heldBytes += bytes;
        let inner$: Subscription | undefined;
        const apply = () => {
          inner$ = inner.write(batch).subscribe({
            error: (error: unknown) => {
              subscriber.error(error);
            },
            complete: () => {
              heldBytes -= bytes;
              subscriber.complete();
            },
          });
        };
        if (isOpen && waiting.length === 0) apply();
        else waiting.push(apply);
        return () => inner$?.unsubscribe();
      }),
    open() {
      isOpen = true;
      // One at a time from the front: a batch applied here can make the actor write the next one at
      // once, which must queue behind those still waiting.
      for (let apply = waiting.shift(); apply !== undefined; apply = waiting.shift()) apply();
    },
    shut() {
      isOpen = false;
    },
    close: () => (inner.close === undefined ? Promise.resolve() : inner.close()),
    get heldBytes() {
      return heldBytes;
    },
  };
}

export type { SourceEvent };
