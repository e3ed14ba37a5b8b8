import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  asyncScheduler,
  BehaviorSubject,
  catchError,
  combineLatest,
  concatMap,
  defer,
  EMPTY,
  filter,
  finalize,
  from,
  map,
  Observable,
  of,
  ReplaySubject,
  Subject,
  switchMap,
  takeUntil,
  tap,
  throwError,
  type SchedulerLike,
} from 'rxjs';
import { LaredoError } from '../errors.js';
import type { SourceEvent } from '../model/events.js';
import type { TableKey, TableSchema } from '../model/table.js';
import type { Target } from '../model/target.js';
import { acknowledge } from '../operators/acknowledge.js';
import { baselineThenStream } from '../operators/baseline-then-stream.js';
import { decodePgoutput } from '../operators/decode-pgoutput.js';
import { reconnect, type RetryInfo } from '../operators/reconnect.js';
import { rollbackOnInterrupt } from '../operators/rollback-on-interrupt.js';
import { Lsn } from '../protocol/lsn.js';
import type { PgoutputProtocolVersion } from '../protocol/pgoutput.js';
import { baselineRows, describeTables, type BaselineProgress } from '../streams/baseline.js';
import { pgClientConfig, redactConnectionString } from '../streams/connection.js';
import { fromPgError, PostgresServerError, SlotError } from '../streams/errors.js';
import { parseTableName, quoteLiteral } from '../streams/identifiers.js';
import { InFlightBytes } from '../streams/in-flight-bytes.js';
import { preflight, type PreflightWarning } from '../streams/preflight.js';
import { ensurePublication } from '../streams/publication.js';
import { ReplicationClient } from '../streams/replication-client.js';
import { maxProtoVersion, replicationFrames } from '../streams/replication-frames.js';
import { assertSlotUsable, inspectSlot, type SqlQueryable } from '../streams/slot.js';
import { resolveSourceOptions, type ResolvedSourceOptions } from './defaults.js';
import type { PostgresSourceOptions } from './options.js';
import { skipCoveredBySnapshot } from './skip-covered-by-snapshot.js';
import { fileStateStore, type SlotState, type SourceStateStore } from './state-store.js';
import { stopGracefully } from './stop-gracefully.js';

/** Where a source is in its life. */
export type SourceState = 'CONNECTING' | 'BASELINING' | 'STREAMING' | 'RECONNECTING' | 'ERROR' | 'CLOSED';

/** How far the confirmed position is behind the server. */
export interface SourceLag {
  /** The server's WAL end as last reported (keepalives). */
  readonly serverWalEnd: Lsn;
  /** The last position confirmed to PostgreSQL (durable in every target). */
  readonly confirmed: Lsn;
  readonly bytes: bigint;
}

export interface RunOptions {
  /**
   * Stop gracefully once everything up to the server's WAL position at start is delivered and
   * acknowledged (scheduled incremental syncs, benchmarks).
   */
  readonly untilCaughtUp?: boolean;
}

/** A second `run` while one is active: a slot serves one consumer at a time. */
export class SourceBusyError extends LaredoError {
  constructor(slotName: string) {
    super('SOURCE_BUSY', `this source is already running (slot ${slotName}): stop it before running it again`, { retryable: false });
  }
}

/** The slot was invalidated by PostgreSQL while we used it: reconnecting re-plans (rebaseline or error). */
class SlotInvalidatedWhileStreaming extends LaredoError {
  constructor(cause: unknown) {
    super('SLOT_INVALIDATED', `the replication slot was invalidated while streaming: ${(cause as Error).message}`, { retryable: true, cause });
  }
}

/** State that outlives one connection attempt of a run. */
interface RunContext {
  attempt: number;
  readonly budget: InFlightBytes;
  /** Latest durable position (feeds standby status updates). */
  readonly confirmed: BehaviorSubject<Lsn>;
  /** Commit end of the last transaction handed to the targets: a stateful reconnect resumes there. */
  delivered: Lsn;
  /** Per table: stream changes of transactions that committed before this were in its baseline. */
  readonly coveredBefore: Map<TableKey, Lsn>;
  /** The slot state to save as baseline-complete events become durable. */
  pendingState: SlotState | undefined;
  readonly pendingTables: Set<TableKey>;
  stateWrites: Promise<void>;
  untilLsn: Lsn | undefined;
  warned: boolean;
  /** Between a failed attempt and the next one: no connection is open, so a stop ends the run at once. */
  waitingToReconnect: boolean;
}

/** What one connection attempt will do, decided from the slot, the state file and the options. */
interface AttemptPlan {
  readonly events: Observable<SourceEvent>;
}

const APPLICATION_NAME = 'laredo';

/**
 * Memory a held event costs beyond the server bytes it stands for: the decoded event and row objects
 * and their strings (a change of a ~170-byte frame is ~500 bytes of heap), so `maxInFlightBytes`
 * bounds memory rather than payload.
 */
const HELD_EVENT_OVERHEAD = 512;

/**
 * A PostgreSQL source: logical replication with pgoutput, a consistent baseline, then every change.
 * Create it with `pg.source(options)`. `run(targets)` is cold: each subscription connects, baselines
 * as the slot mode requires, streams, and confirms to PostgreSQL only what every target made durable.
 */
export class PostgresSource {
  readonly options: ResolvedSourceOptions;
  readonly #scheduler: SchedulerLike;
  readonly #store: SourceStateStore;
  readonly #values: PostgresSourceOptions['values'];
  readonly #state = new BehaviorSubject<SourceState>('CLOSED');
  readonly #confirmed = new BehaviorSubject<Lsn>(Lsn.ZERO);
  readonly #serverWalEnd = new BehaviorSubject<Lsn>(Lsn.ZERO);
  readonly #baselineProgress = new Subject<BaselineProgress>();
  readonly #warnings = new ReplaySubject<PreflightWarning>(64);
  readonly #retries = new Subject<RetryInfo>();
  readonly #stop = new Subject<void>();
  #running = false;
  #budget: InFlightBytes | undefined;

  constructor(options: PostgresSourceOptions) {
    this.options = resolveSourceOptions(options);
    this.#scheduler = options.scheduler ?? asyncScheduler;
    this.#store = options.stateStore ?? fileStateStore(this.options.stateDir);
    this.#values = options.values;
  }

  /** CONNECTING, BASELINING, STREAMING, RECONNECTING, ERROR or CLOSED; replays the current one. */
  get state$(): Observable<SourceState> {
    return this.#state.asObservable();
  }

  get state(): SourceState {
    return this.#state.value;
  }

  /** Positions confirmed to PostgreSQL (durable in every target); replays the latest. */
  get confirmed$(): Observable<Lsn> {
    return this.#confirmed.asObservable();
  }

  get confirmed(): Lsn {
    return this.#confirmed.value;
  }

  /** Bytes of WAL between the server's end and the confirmed position. */
  get lag$(): Observable<SourceLag> {
    return combineLatest([this.#serverWalEnd, this.#confirmed]).pipe(
      filter(([walEnd]) => walEnd > 0n),
      map(([serverWalEnd, confirmed]) => ({ serverWalEnd, confirmed, bytes: serverWalEnd > confirmed ? serverWalEnd - confirmed : 0n })),
    );
  }

  /**
   * Bytes received from PostgreSQL that are not yet durable in every target (0 when not running):
   * reading pauses above `maxInFlightBytes`, so this stays near it however slow a target is.
   */
  get inFlightBytes(): number {
    return this.#budget?.bytes ?? 0;
  }

  /** Per-table baseline progress (rows, bytes, estimate), while a baseline runs. */
  get baselineProgress$(): Observable<BaselineProgress> {
    return this.#baselineProgress.asObservable();
  }

  /** Preflight warnings (e.g. a table whose updates cannot be keyed). */
  get warnings$(): Observable<PreflightWarning> {
    return this.#warnings.asObservable();
  }

  /** Every reconnect wait: attempt number, delay and the failure. */
  get retries$(): Observable<RetryInfo> {
    return this.#retries.asObservable();
  }

  /**
   * Graceful stop of the running pipeline: reading stops, in-flight target work gets `stopTimeout` to
   * finish, the final position is confirmed, the connection closes (a temporary slot with it), and
   * `run`'s Observable completes. Unsubscribing instead stops at once (what was durable stays
   * confirmed; nothing else is).
   */
  stop(): void {
    this.#stop.next();
  }

  /**
   * Runs the source into `targets` and emits each position confirmed to PostgreSQL. Errors with the
   * cause when the source goes to ERROR (a non-retryable failure, reconnects exhausted, a target
   * failure); completes after `stop()` (or when caught up with `untilCaughtUp`).
   */
  run(targets: readonly Target[], runOptions: RunOptions = {}): Observable<Lsn> {
    return defer(() => {
      if (this.#running) return throwError(() => new SourceBusyError(this.options.slotName));
      this.#running = true;
      const ctx: RunContext = {
        attempt: 0,
        budget: new InFlightBytes(this.options.maxInFlightBytes, undefined, { perItemOverhead: HELD_EVENT_OVERHEAD }),
        confirmed: new BehaviorSubject<Lsn>(Lsn.ZERO),
        delivered: Lsn.ZERO,
        coveredBefore: new Map(),
        pendingState: undefined,
        pendingTables: new Set(),
        stateWrites: Promise.resolve(),
        untilLsn: undefined,
        warned: false,
        waitingToReconnect: false,
      };
      this.#budget = ctx.budget;
      // Replayed: an attempt that starts after the stop (its reconnect wait was already over) still sees it.
      const stop$ = new ReplaySubject<void>(1);
      const released$ = new ReplaySubject<void>(1);
      const stopSubscription = this.#stop.subscribe(() => {
        stop$.next();
      });
      let ended = false;
      const end = (final: 'CLOSED' | 'ERROR'): void => {
        if (ended) return;
        ended = true;
        // Lets the stopped connection go: it sends its last status update and CopyDone, and closes.
        released$.next();
        released$.complete();
        stopSubscription.unsubscribe();
        this.#running = false;
        this.#budget = undefined;
        this.#state.next(final);
      };
      this.#state.next('CONNECTING');

      const events$ = defer(() => this.#attempt(ctx, runOptions, stop$, released$)).pipe(
        reconnect<SourceEvent>(this.options.reconnect, {
          scheduler: this.#scheduler,
          // A reconnect counts as working once it delivers a transaction or the server reports progress.
          resetWhen: (event) => event.kind === 'commit' || event.kind === 'progress',
          onRetry: (info) => {
            ctx.attempt += 1;
            ctx.waitingToReconnect = true;
            this.#state.next('RECONNECTING');
            this.#retries.next(info);
          },
        }),
        // A stop during the wait must not wait for it (up to maxBackoff) nor connect again.
        takeUntil(stop$.pipe(filter(() => ctx.waitingToReconnect))),
        tap((event) => {
          if (event.kind === 'commit') ctx.delivered = event.commitEndLsn;
          else if (event.kind === 'progress' && event.walEnd > 0n) this.#serverWalEnd.next(event.walEnd);
        }),
      );

      return events$.pipe(
        acknowledge(targets, {
          budget: ctx.budget,
          stopTimeoutMs: this.options.stopTimeout,
          scheduler: this.#scheduler,
          onDurable: (event) => {
            if (event.kind === 'baseline-complete') this.#baselineDurable(ctx, event.table.key);
          },
        }),
        // A state write that a confirmation depends on finishes before the position goes out.
        concatMap((lsn) => from(ctx.stateWrites).pipe(map(() => lsn))),
        tap((lsn) => {
          ctx.confirmed.next(lsn);
          this.#confirmed.next(lsn);
          if (ctx.untilLsn !== undefined && lsn >= ctx.untilLsn) stop$.next();
        }),
        // Ended before the subscriber hears of it: in its complete or error callback the state is
        // final and the source can be run again.
        tap({ complete: () => { end('CLOSED'); }, error: () => { end('ERROR'); } }),
        finalize(() => { end('CLOSED'); }),
      );
    });
  }

  /**
   * The change stream for a plain subscriber: every event but keepalive progress, in order. A
   * transaction is acknowledged to PostgreSQL once the subscriber's `next` returned for its commit, so
   * use `run` with targets when the subscriber's work is asynchronous.
   */
  changes(runOptions: RunOptions = {}): Observable<SourceEvent> {
    return new Observable<SourceEvent>((subscriber) => {
      const target: Target = {
        name: 'subscriber',
        write: (batch) => {
          for (const message of batch) subscriber.next(message);
          return EMPTY;
        },
      };
      return this.run([target], runOptions).subscribe({
        error: (error: unknown) => {
          subscriber.error(error);
        },
        complete: () => {
          subscriber.complete();
        },
      });
    });
  }

  #baselineDurable(ctx: RunContext, table: TableKey): void {
    const pending = ctx.pendingState;
    if (pending === undefined || !ctx.pendingTables.delete(table)) return;
    const tables = [...new Set([...pending.tables, table])].sort();
    const next: SlotState = {
      ...pending,
      tables,
      baselineComplete: ctx.pendingTables.size === 0 ? true : pending.baselineComplete,
      updatedAt: new Date().toISOString(),
    };
    ctx.pendingState = ctx.pendingTables.size === 0 ? undefined : next;
    ctx.stateWrites = ctx.stateWrites.then(() => this.#store.save(next));
  }

  /** One connection attempt: plan from the server's state, then baseline and/or stream. */
  #attempt(ctx: RunContext, runOptions: RunOptions, stop$: Observable<void>, released$: Observable<void>): Observable<SourceEvent> {
    ctx.waitingToReconnect = false;
    const resources = new Resources();
    return from(this.#plan(ctx, runOptions, resources)).pipe(
      // Only the stream's failures are classified: the plan's own SLOT_INVALIDATED (onSlotInvalidated =
      // error) must stay final.
      switchMap((plan) => plan.events.pipe(catchError((error: unknown) => throwError(() => classifyStreamError(error))))),
      rollbackOnInterrupt(),
      // Upstream of the stop: connections close only once the stop released the upstream.
      finalize(() => {
        resources.close();
      }),
      stopGracefully(stop$, released$),
    );
  }

  async #plan(ctx: RunContext, runOptions: RunOptions, resources: Resources): Promise<AttemptPlan> {
    const o = this.options;
    if (ctx.attempt > 0) this.#state.next('CONNECTING');
    const admin = resources.add(new pg.Client(pgClientConfig(o.connection, { applicationName: APPLICATION_NAME })), (c) => c.end());
    const where = redactConnectionString(o.connection);
    try {
      await admin.connect();
    } catch (error) {
      throw fromPgError(error, { action: `connecting to ${where}`, secrets: secretsOf(admin) });
    }
    const query = async <R>(sql: string, action: string): Promise<R[]> => {
      try {
        return (await admin.query(sql)).rows as R[];
      } catch (error) {
        throw fromPgError(error, { action, secrets: secretsOf(admin) });
      }
    };
    const queryable: SqlQueryable = { query: async (sql) => ({ rows: await query(sql, 'querying the catalog') }) };
    const tableKeys = Object.keys(o.publication.tables);
    const preflightResult = await preflight(queryable, {
      tables: tableKeys,
      publication: o.publication.name,
      ...(o.slotMode === 'stateful' ? { slotName: o.slotName } : {}),
    });
    if (!ctx.warned) {
      ctx.warned = true;
      for (const warning of preflightResult.warnings) this.#warnings.next(warning);
    }
    const serverVersion = Number((await query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`, 'reading the server version'))[0]?.v);
    // The publication exists before any slot: a slot's stream only holds changes its publication
    // covered when they were decoded, so a slot made first would miss them.
    await ensurePublication(
      queryable,
      { name: o.publication.name, create: o.publication.create, publish: o.publication.publish, tables: o.publication.tables },
      serverVersion,
    );
    const tables = await describeTables(queryable, tableKeys.map((key) => parseTableName(key)), o.publication.name);
    if (runOptions.untilCaughtUp === true && ctx.untilLsn === undefined) {
      const [row] = await query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn', 'reading the current WAL position');
      ctx.untilLsn = Lsn.parse(row!.lsn);
    }

    const connectReplication = async (): Promise<ReplicationClient> => {
      const client = await ReplicationClient.connect(o.connection, { applicationName: APPLICATION_NAME });
      return resources.add(client, (c) => c.close());
    };
    const replication = await connectReplication();
    const identity = await replication.identifySystem();
    const protoVersion = maxProtoVersion(replication.serverVersion) as PgoutputProtocolVersion;
    const allTables = tables.map((t) => t.key);

    let slotName = o.slotName;
    let startLsn: Lsn = ctx.delivered;
    let floor: Lsn;
    let baseline: { snapshotName: string | null; tables: readonly TableSchema[]; client?: ReplicationClient } | undefined;

    const createSlot = (name: string, temporary: boolean, client = replication) => client.createSlot(name, { temporary, snapshot: 'export' });

    if (o.slotMode === 'ephemeral') {
      // A unique name per attempt: the previous attempt's walsender may still be exiting with its slot.
      slotName = `${o.slotName.slice(0, 54)}_${randomBytes(4).toString('hex')}`;
      const created = await createSlot(slotName, true);
      startLsn = created.consistentPoint;
      floor = created.consistentPoint;
      baseline = { snapshotName: created.snapshotName, tables };
      ctx.coveredBefore.clear();
    } else {
      let info = await inspectSlot(queryable, slotName);
      if (info !== undefined) {
        // A slot of another kind (physical, another output plugin, another database) is someone
        // else's: never drop it below, and never stream from it. The errors say to pick another name.
        assertSlotUsable({ ...info, invalidated: false, active: false }, { database: replication.database }, slotName);
      }
      if (info?.invalidated === true) {
        if (o.onSlotInvalidated === 'error') {
          throw new SlotError(
            'SLOT_INVALIDATED',
            slotName,
            `replication slot "${slotName}" was invalidated by PostgreSQL (${info.invalidationReason ?? `wal_status ${info.walStatus ?? '?'}`}); ` +
              `on_slot_invalidated = error: drop it (SELECT pg_drop_replication_slot(${quoteLiteral(slotName)})) to re-baseline, and raise max_slot_wal_keep_size`,
          );
        }
        await dropSlot(query, slotName);
        info = undefined;
      }
      let state = await this.#store.load(slotName);
      if (state !== undefined && state.systemId !== identity.systemId) state = undefined;
      if (info !== undefined && state?.baselineComplete !== true) {
        // The slot exists but its first baseline never became durable (a crash, or a lost state
        // file): resuming would stream into targets that miss rows. Start over from a new snapshot.
        if (info.active) {
          throw new SlotError(
            'SLOT_ACTIVE',
            slotName,
            `replication slot "${slotName}" is in use by another process (pid ${String(info.activePid)}): stop the other consumer; laredo retries`,
          );
        }
        await dropSlot(query, slotName);
        info = undefined;
      }
      if (info === undefined) {
        const created = await createSlot(slotName, false);
        startLsn = created.consistentPoint;
        floor = created.consistentPoint;
        baseline = { snapshotName: created.snapshotName, tables };
        ctx.coveredBefore.clear();
        const fresh: SlotState = {
          slotName,
          systemId: identity.systemId,
          database: replication.database,
          consistentPoint: Lsn.format(created.consistentPoint),
          baselineComplete: false,
          tables: [],
          updatedAt: new Date().toISOString(),
        };
        await this.#store.save(fresh);
        ctx.pendingState = fresh;
        ctx.pendingTables.clear();
        for (const key of allTables) ctx.pendingTables.add(key);
      } else {
        floor = info.confirmedFlushLsn ?? Lsn.ZERO;
        let resumed = state!;
        const configured = new Set(allTables);
        if (resumed.tables.some((t) => !configured.has(t))) {
          // A table dropped from the config has just left the publication: the slot will not stream its
          // changes from here on, so if it comes back it needs a baseline again. Forget it now, before
          // anything of this run is confirmed.
          resumed = { ...resumed, tables: resumed.tables.filter((t) => configured.has(t)), updatedAt: new Date().toISOString() };
          const pruned = resumed;
          ctx.stateWrites = ctx.stateWrites.then(() => this.#store.save(pruned));
          await ctx.stateWrites;
        }
        const known = new Set(resumed.tables);
        const rebaseline = o.alwaysBaseline && ctx.attempt === 0;
        // A baseline of this run that was interrupted before it became durable (pendingTables) is taken
        // again: the targets were reset and hold only part of it.
        const toBaseline = tables.filter((t) => rebaseline || !known.has(t.key) || ctx.pendingTables.has(t.key));
        if (toBaseline.length > 0) {
          // A baseline for part of the tables while the persistent slot resumes from its position:
          // take it at a temporary slot's snapshot and skip what the stream repeats of it.
          const helper = await connectReplication();
          const temporaryName = `${slotName.slice(0, 50)}_bl_${randomBytes(4).toString('hex')}`;
          const created = await createSlot(temporaryName, true, helper);
          baseline = { snapshotName: created.snapshotName, tables: toBaseline, client: helper };
          for (const t of toBaseline) ctx.coveredBefore.set(t.key, created.consistentPoint);
          ctx.pendingState = { ...resumed, tables: resumed.tables.filter((t) => !toBaseline.some((b) => b.key === t)) };
          ctx.pendingTables.clear();
          for (const t of toBaseline) ctx.pendingTables.add(t.key);
        }
      }
    }

    const baselinePlan = baseline;
    const baseline$ =
      baselinePlan === undefined
        ? EMPTY
        : defer(() => {
            this.#state.next('BASELINING');
            return baselineRows({
              connection: o.connection,
              snapshotName: baselinePlan.snapshotName,
              tables: baselinePlan.tables.map((table) => {
                const where = o.publication.tables[table.key]?.where;
                return where === undefined ? { table } : { table, where };
              }),
              parallelism: o.baselineParallelism,
              batchSize: o.baselineBatchSize,
              budget: ctx.budget,
              applicationName: APPLICATION_NAME,
              onProgress: (progress) => {
                this.#baselineProgress.next(progress);
              },
              ...(this.#values === undefined ? {} : { values: this.#values }),
            }).pipe(
              finalize(() => {
                // The helper connection's temporary slot is only needed until the snapshot is imported.
                if (baselinePlan.client !== undefined) void baselinePlan.client.close();
              }),
            );
          });

    const streamSlot = slotName;
    const streamStart = startLsn;
    const streamFloor = floor;
    const stream$ = defer(() => {
      let streaming = false;
      // From here replicationFrames owns the connection: on unsubscribe it sends CopyDone and closes
      // the socket once the server answered. Closing it from here too would cut that short.
      resources.handOver(replication);
      return replicationFrames({
        client: replication,
        slotName: streamSlot,
        startLsn: streamStart,
        publicationNames: [o.publication.name],
        protoVersion,
        messages: o.messages,
        streaming: o.streaming,
        binary: o.binary,
        ...(o.origin === undefined ? {} : { origin: o.origin }),
        // Never report a position below the slot's own: older servers would move confirmed_flush back.
        confirmed$: ctx.confirmed.pipe(filter((lsn) => lsn >= streamFloor)),
        budget: ctx.budget,
        statusIntervalMs: o.statusInterval,
        scheduler: this.#scheduler,
      }).pipe(
        tap(() => {
          if (!streaming) {
            streaming = true;
            this.#state.next('STREAMING');
          }
        }),
        decodePgoutput({
          protocolVersion: protoVersion,
          binary: o.binary,
          knownTables: tables,
          ...(this.#values === undefined ? {} : { values: this.#values }),
        }),
        skipCoveredBySnapshot(ctx.coveredBefore),
      );
    });

    // The catalog connection is not needed while streaming.
    await admin.end().catch(() => undefined);

    const resetTables = baselinePlan === undefined ? [] : baselinePlan.tables.map((t) => t.key);
    return {
      events: of(undefined).pipe(
        baselineThenStream({
          baseline: () => baseline$,
          stream: () => stream$,
          tables: resetTables,
          reset: resetTables.length > 0,
        }),
      ),
    };
  }
}

async function dropSlot(query: <R>(sql: string, action: string) => Promise<R[]>, slotName: string): Promise<void> {
  await query(
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ${quoteLiteral(slotName)}`,
    `dropping replication slot "${slotName}"`,
  );
}

function secretsOf(client: pg.Client): string[] {
  const password = (client as unknown as { password?: unknown }).password;
  return typeof password === 'string' && password.length > 0 ? [password] : [];
}

/** A server refusing to stream from an invalidated slot is worth a reconnect: the plan then rebaselines or errors. */
function classifyStreamError(error: unknown): unknown {
  if (error instanceof SlotError && error.code === 'SLOT_INVALIDATED') return new SlotInvalidatedWhileStreaming(error);
  if (error instanceof PostgresServerError && error.sqlstate === '55000' && /can no longer (get|access) changes/i.test(error.message)) {
    return new SlotInvalidatedWhileStreaming(error);
  }
  return error;
}

/** Connections an attempt opened, closed when the attempt ends however it ends. */
class Resources {
  readonly #closers: { readonly resource: unknown; readonly close: () => unknown }[] = [];
  #closed = false;

  add<T>(resource: T, close: (resource: T) => unknown): T {
    if (this.#closed) {
      void Promise.resolve().then(() => close(resource)).catch(() => undefined);
      return resource;
    }
    this.#closers.push({ resource, close: () => close(resource) });
    return resource;
  }

  /** Someone else closes `resource` from now on. */
  handOver(resource: unknown): void {
    const index = this.#closers.findIndex((closer) => closer.resource === resource);
    if (index >= 0) this.#closers.splice(index, 1);
  }

  close(): void {
    this.#closed = true;
    for (const { close } of this.#closers.splice(0).reverse()) {
      void Promise.resolve()
        .then(close)
        .catch(() => undefined);
    }
  }
}
