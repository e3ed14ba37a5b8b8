import { asyncScheduler, defer, filter, interval, map, merge, type Observable, type SchedulerLike, tap, throttleTime } from 'rxjs';
import { Lsn } from '../protocol/lsn.js';

/** Why a standby status update goes out. */
export type StandbyStatusReason = 'interval' | 'keepalive' | 'confirmed';

export interface StandbyStatusDue {
  /** write = flush = apply: the latest durable position (never merely "received"). */
  readonly lsn: Lsn;
  readonly reason: StandbyStatusReason;
}

export interface StandbyStatusScheduleOptions {
  /** Durable positions from the acknowledge operator; lower values than seen before are ignored. */
  readonly confirmed$: Observable<Lsn>;
  /** Emits whenever the server sent a keepalive with replyRequested. */
  readonly replyRequested$: Observable<unknown>;
  /** Period of the timer, ms: keeps the walsender's wal_sender_timeout from firing while we read nothing. */
  readonly intervalMs: number;
  /** Confirmations closer together than this are sent as one update (the latest), ms. */
  readonly coalesceMs: number;
  /** Position reported before confirmed$ emits. Default 0/0, which the server ignores. */
  readonly initial?: Lsn;
  readonly scheduler?: SchedulerLike;
}

/** Default for how long a burst of confirmations is gathered into one update, ms. */
export const DEFAULT_CONFIRM_COALESCE_MS = 100;

/**
 * When to send a standby status update, and with which position: on every keepalive that asks for a
 * reply (at once), on a timer (so a downstream that stalls and stops reading cannot let
 * wal_sender_timeout kill the connection), and when the confirmed position moves (the first move at
 * once, then at most one update per `coalesceMs`, carrying the latest).
 */
export function standbyStatusSchedule(options: StandbyStatusScheduleOptions): Observable<StandbyStatusDue> {
  const scheduler = options.scheduler ?? asyncScheduler;
  return defer(() => {
    let confirmed = options.initial ?? Lsn.ZERO;
    const moved$ = options.confirmed$.pipe(
      filter((lsn) => lsn > confirmed),
      tap((lsn) => {
        confirmed = lsn;
      }),
      throttleTime(options.coalesceMs, scheduler, { leading: true, trailing: true }),
      map((): StandbyStatusDue => ({ lsn: confirmed, reason: 'confirmed' })),
    );
    const tick$ = interval(options.intervalMs, scheduler).pipe(map((): StandbyStatusDue => ({ lsn: confirmed, reason: 'interval' })));
    const reply$ = options.replyRequested$.pipe(map((): StandbyStatusDue => ({ lsn: confirmed, reason: 'keepalive' })));
    return merge(moved$, tick$, reply$);
  });
}

/**
 * The status interval for a server: the configured one, but at most a third of wal_sender_timeout so
 * two updates can be lost or late and the connection still lives. A timeout of 0 disables the
 * server's check, and then the configured interval stands.
 */
export function statusIntervalFor(configuredMs: number, walSenderTimeoutMs: number): number {
  if (walSenderTimeoutMs <= 0) return configuredMs;
  return Math.max(1, Math.min(configuredMs, Math.floor(walSenderTimeoutMs / 3)));
}
