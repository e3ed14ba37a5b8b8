/**
 * One contender of the pipeline benchmark draining one slot, in a process of its own so its CPU time
 * is its own and no contender warms the JIT or fills the heap for another. bench/pipeline.ts forks it
 * with a JSON `DrainRequest` as the only argument; it prints `RESULT <DrainResult JSON>` on stdout.
 *
 * The clock starts before connecting and stops once the last workload transaction is done: for laredo
 * when the acknowledge operator confirms its commit end (decode-only and frames-only: when its commit
 * arrives); for the other libraries when their handler has seen its commit (or, for postgres.js, which
 * reports no transactions, its last change). Tearing the connection down is not timed.
 */
import { EMPTY, Observable, Subject, tap } from 'rxjs';
import type { SourceEvent } from '../../src/model/events.js';
import type { Target } from '../../src/model/target.js';
import { acknowledge } from '../../src/operators/acknowledge.js';
import { decodePgoutput } from '../../src/operators/decode-pgoutput.js';
import type { Lsn } from '../../src/protocol/lsn.js';
import type { PgoutputProtocolVersion } from '../../src/protocol/pgoutput.js';
import { InFlightBytes } from '../../src/streams/in-flight-bytes.js';
import { replicationFrames } from '../../src/streams/replication-frames.js';
import { drainWithPgLogicalReplication, drainWithPostgresJs, SkippedError } from './pipeline-libraries.js';

export const NODE_CONTENDERS = ['laredo', 'laredo decode-only', 'laredo frames-only', 'pg-logical-replication', 'postgres.js'] as const;
export type NodeContender = (typeof NODE_CONTENDERS)[number];

export interface DrainRequest {
  readonly contender: NodeContender;
  readonly connection: string;
  readonly slot: string;
  readonly publication: string;
  readonly protoVersion: PgoutputProtocolVersion;
  /** The workload's last transaction: drained once its commit is. */
  readonly lastXid: number;
  /** Row changes the workload wrote (postgres.js stops after this many). */
  readonly changes: number;
  /** Where pg-logical-replication and postgres are installed (LAREDO_BENCH_DEPS). */
  readonly depsDir: string | undefined;
  /** laredo's in-flight byte budget. */
  readonly maxInFlightBytes: number;
}

export interface DrainResult {
  /** Row changes the contender delivered (inserts, updates, deletes). */
  readonly changes: number;
  /** CopyData frames received (XLogData and keepalives), when the contender shows them. */
  readonly frames: number | undefined;
  readonly frameBytes: number | undefined;
  readonly seconds: number;
  /** User + system CPU of this process while draining. */
  readonly cpuSeconds: number;
  /** The system (kernel) part of cpuSeconds: socket reads, mostly. */
  readonly systemSeconds: number;
  /** Why a contender could not run (a library missing); the figures are then zero. */
  readonly skipped?: string;
}

/** What a drain function returns; the caller adds the timings. */
export interface Drained {
  readonly changes: number;
  readonly frames: number | undefined;
  readonly frameBytes: number | undefined;
}

const TAG_BEGIN = 0x42;
const TAG_COMMIT = 0x43;
const TAG_INSERT = 0x49;
const TAG_UPDATE = 0x55;
const TAG_DELETE = 0x44;
/** XLogData header: `w`, walStart, walEnd, server clock. */
const XLOG_HEADER = 25;

/** A target that is durable at once: what is measured is laredo, not a target. */
const noopTarget: Target = { name: 'noop', write: () => EMPTY };

/** Counts row changes and frame bytes (every event carries those of its frames), and notices the commit of `lastXid`. */
class EventTally {
  changes = 0;
  frameBytes = 0;
  #openXid = -1;
  /** Commit end of the workload's last transaction, once it went by. */
  lastCommitEnd: Lsn | undefined;

  constructor(readonly lastXid: number) {}

  see(event: SourceEvent): void {
    this.frameBytes += event.bytes;
    switch (event.kind) {
      case 'insert':
      case 'update':
      case 'delete':
        this.changes++;
        break;
      case 'begin':
        this.#openXid = event.transaction.xid;
        break;
      case 'commit':
        if (this.#openXid === this.lastXid) this.lastCommitEnd = event.commitEndLsn;
        break;
      default:
        break;
    }
  }
}

function laredoFrames(request: DrainRequest, confirmed$: Observable<Lsn>, budget: InFlightBytes | undefined): Observable<Buffer> {
  return replicationFrames({
    client: request.connection,
    slotName: request.slot,
    startLsn: 0n,
    publicationNames: [request.publication],
    protoVersion: request.protoVersion,
    confirmed$,
    ...(budget === undefined ? {} : { budget }),
  });
}

/** frames → decodePgoutput → acknowledge([no-op target]), confirming as it goes, until the last commit is confirmed. */
function drainLaredo(request: DrainRequest): Promise<Drained> {
  return new Promise((resolve, reject) => {
    const budget = new InFlightBytes(request.maxInFlightBytes);
    const confirmed = new Subject<Lsn>();
    const tally = new EventTally(request.lastXid);
    const subscription = laredoFrames(request, confirmed, budget)
      .pipe(
        decodePgoutput({ protocolVersion: request.protoVersion }),
        tap((event) => {
          tally.see(event);
        }),
        acknowledge([noopTarget], { budget }),
      )
      .subscribe({
        next: (lsn) => {
          confirmed.next(lsn);
          if (tally.lastCommitEnd !== undefined && lsn >= tally.lastCommitEnd) {
            resolve({ changes: tally.changes, frames: undefined, frameBytes: tally.frameBytes });
            queueMicrotask(() => {
              subscription.unsubscribe();
            });
          }
        },
        error: reject,
      });
  });
}

/** frames → decodePgoutput, each commit confirmed as it arrives, until the last commit arrives. */
function drainLaredoDecodeOnly(request: DrainRequest): Promise<Drained> {
  return new Promise((resolve, reject) => {
    const confirmed = new Subject<Lsn>();
    const tally = new EventTally(request.lastXid);
    const subscription = laredoFrames(request, confirmed, undefined)
      .pipe(decodePgoutput({ protocolVersion: request.protoVersion }))
      .subscribe({
        next: (event) => {
          tally.see(event);
          if (event.kind !== 'commit') return;
          confirmed.next(event.commitEndLsn);
          if (tally.lastCommitEnd !== undefined) {
            resolve({ changes: tally.changes, frames: undefined, frameBytes: tally.frameBytes });
            queueMicrotask(() => {
              subscription.unsubscribe();
            });
          }
        },
        error: reject,
      });
  });
}

/** replicationFrames alone: tags read off the frames, commits confirmed as they arrive. The floor under laredo. */
function drainLaredoFramesOnly(request: DrainRequest): Promise<Drained> {
  return new Promise((resolve, reject) => {
    const confirmed = new Subject<Lsn>();
    let changes = 0;
    let frames = 0;
    let frameBytes = 0;
    let openXid = -1;
    const subscription = laredoFrames(request, confirmed, undefined).subscribe({
      next: (frame) => {
        frames++;
        frameBytes += frame.length;
        if (frame[0] !== 0x77 /* w */) return;
        const tag = frame[XLOG_HEADER];
        if (tag === TAG_INSERT || tag === TAG_UPDATE || tag === TAG_DELETE) changes++;
        // Begin: tag, final LSN, commit time, xid. Commit: tag, flags, commit LSN, commit end LSN.
        else if (tag === TAG_BEGIN) openXid = frame.readUInt32BE(XLOG_HEADER + 17);
        else if (tag === TAG_COMMIT) {
          confirmed.next(frame.readBigUInt64BE(XLOG_HEADER + 10));
          if (openXid === request.lastXid) {
            resolve({ changes, frames, frameBytes });
            queueMicrotask(() => {
              subscription.unsubscribe();
            });
          }
        }
      },
      error: reject,
    });
  });
}

async function drain(request: DrainRequest): Promise<Drained> {
  switch (request.contender) {
    case 'laredo':
      return drainLaredo(request);
    case 'laredo decode-only':
      return drainLaredoDecodeOnly(request);
    case 'laredo frames-only':
      return drainLaredoFramesOnly(request);
    case 'pg-logical-replication':
      return drainWithPgLogicalReplication(request);
    case 'postgres.js':
      return drainWithPostgresJs(request);
  }
}

/** Runs one drain and measures it. */
export async function measureDrain(request: DrainRequest): Promise<DrainResult> {
  const cpuStarted = process.cpuUsage();
  const started = process.hrtime.bigint();
  const drained = await drain(request);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStarted);
  return { ...drained, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, systemSeconds: cpu.system / 1e6 };
}

/** The marker before the result line on stdout. */
export const RESULT_PREFIX = 'RESULT ';

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const request = JSON.parse(process.argv[2] ?? '{}') as DrainRequest;
  try {
    const result = await measureDrain(request);
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
    // Connections still closing (CopyDone, Terminate) must not keep the process alive.
    setTimeout(() => process.exit(0), 2000).unref();
  } catch (error) {
    if (error instanceof SkippedError) {
      process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ changes: 0, frames: undefined, frameBytes: undefined, seconds: 0, cpuSeconds: 0, systemSeconds: 0, skipped: error.message })}\n`);
      process.exit(0);
    }
    process.stderr.write(`${request.contender}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  }
}
