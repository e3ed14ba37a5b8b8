/**
 * The other Node libraries that turn a pgoutput slot into JavaScript objects, for the pipeline
 * benchmark. They are not laredo's dependencies and are never committed: install them into a scratch
 * directory and point LAREDO_BENCH_DEPS at it,
 *
 *   mkdir -p /tmp/bench-deps && cd /tmp/bench-deps && npm init -y && npm i pg-logical-replication postgres
 *   LAREDO_BENCH_DEPS=/tmp/bench-deps npx tsx bench/pipeline.ts
 *
 * Each one is used the way its README shows, with its own value parsing (jsonb parsed, timestamps to
 * Date), doing laredo's job as far as it can: deliver every change and confirm transactions as it goes.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Drained, DrainRequest } from './pipeline-drain.js';

/** A contender that cannot run here (its library is not installed): reported, not an error. */
export class SkippedError extends Error {}

function load(request: DrainRequest, name: string): unknown {
  if (request.depsDir === undefined) throw new SkippedError(`set LAREDO_BENCH_DEPS to a directory where \`npm i ${name}\` ran`);
  const require = createRequire(path.join(path.resolve(request.depsDir), 'package.json'));
  try {
    return require(name);
  } catch (error) {
    throw new SkippedError(`${name} is not installed in ${request.depsDir}: ${error instanceof Error ? error.message.split('\n')[0]! : String(error)}`);
  }
}

// The slices of the libraries' APIs used here (they ship no types this project could import).

interface PgoutputPluginMessage {
  readonly tag: string;
  readonly xid?: number;
  readonly commitEndLsn?: string;
}

interface LogicalReplicationService {
  on(event: 'data', listener: (lsn: string, message: PgoutputPluginMessage) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  subscribe(plugin: unknown, slotName: string, startLsn?: string): Promise<unknown>;
  acknowledge(lsn: string): Promise<boolean>;
  destroy(): Promise<unknown>;
}

interface PgLogicalReplicationModule {
  readonly LogicalReplicationService: new (
    clientConfig: { connectionString: string },
    config: { acknowledge: { auto: boolean; timeoutSeconds: number } },
  ) => LogicalReplicationService;
  readonly PgoutputPlugin: new (options: { protoVersion: 1 | 2; publicationNames: string[] }) => unknown;
}

/**
 * pg-logical-replication 2.x with its PgoutputPlugin (protocol 1 or 2 only, so 1 here: the workload's
 * transactions are small, and versions 1-4 send them alike). `acknowledge.auto` would confirm every
 * single message; confirming each commit instead is laredo's job and spares it a status update per row.
 */
export async function drainWithPgLogicalReplication(request: DrainRequest): Promise<Drained> {
  const library = load(request, 'pg-logical-replication') as PgLogicalReplicationModule;
  const service = new library.LogicalReplicationService(
    { connectionString: request.connection },
    { acknowledge: { auto: false, timeoutSeconds: 10 } },
  );
  const plugin = new library.PgoutputPlugin({ protoVersion: 1, publicationNames: [request.publication] });
  let changes = 0;
  let openXid = -1;
  try {
    await new Promise<void>((resolve, reject) => {
      service.on('data', (_lsn, message) => {
        switch (message.tag) {
          case 'insert':
          case 'update':
          case 'delete':
            changes++;
            break;
          case 'begin':
            // Read with readInt32: signed.
            openXid = (message.xid ?? -1) >>> 0;
            break;
          case 'commit':
            void service.acknowledge(message.commitEndLsn!);
            if (openXid === request.lastXid) resolve();
            break;
          default:
            break;
        }
      });
      service.on('error', reject);
      service.subscribe(plugin, request.slot).catch(reject);
    });
  } finally {
    void service.destroy();
  }
  return { changes, frames: undefined, frameBytes: undefined };
}

interface PostgresJsSql {
  (...args: unknown[]): unknown;
  unsafe: (...args: unknown[]) => unknown;
  end(options?: { timeout?: number }): Promise<void>;
  subscribe: ((pattern: string, handler: (row: unknown, info: { command: string }) => void, onsubscribe?: () => void, onerror?: (error: unknown) => void) => Promise<unknown>) & {
    sql: PostgresJsSql;
  };
}

type PostgresJs = (url: string, options: Record<string, unknown>) => PostgresJsSql;

/**
 * postgres.js 3.x `sql.subscribe('*', ...)`. It always creates a TEMPORARY slot of its own at the current
 * WAL position, so it cannot drain pending changes as it ships. Pointed at the benchmark's slot by
 * rewriting its two replication commands on its replication connection: CREATE_REPLICATION_SLOT
 * becomes a query for our slot's confirmed position (a walsender also runs plain SQL), and
 * START_REPLICATION names our slot. Everything else (protocol 1, parsing, its handler calls) is its own.
 * It confirms only what keepalives report as sent, and reports no transactions, so the clock stops at
 * the workload's last change.
 */
export async function drainWithPostgresJs(request: DrainRequest): Promise<Drained> {
  const postgres = load(request, 'postgres') as PostgresJs;
  const sql = postgres(request.connection, { publications: request.publication, max: 1, onnotice: () => undefined });
  const replication = sql.subscribe.sql;
  const unsafe = replication.unsafe;
  const slot = request.slot.replaceAll("'", "''");
  replication.unsafe = (...args: unknown[]) => {
    const text = String(args[0]);
    const rewritten = text.startsWith('CREATE_REPLICATION_SLOT ')
      ? `SELECT confirmed_flush_lsn::text AS consistent_point FROM pg_replication_slots WHERE slot_name = '${slot}'`
      : text.replace(/^START_REPLICATION SLOT \S+ LOGICAL \S+/, `START_REPLICATION SLOT "${request.slot}" LOGICAL 0/0`);
    // `unsafe` reads arguments.length: pass the same number of arguments.
    return unsafe(rewritten, ...args.slice(1));
  };
  let changes = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      sql
        .subscribe(
          '*',
          () => {
            changes++;
            if (changes === request.changes) resolve();
          },
          undefined,
          reject,
        )
        .catch(reject);
    });
  } finally {
    void sql.end({ timeout: 0 });
  }
  return { changes, frames: undefined, frameBytes: undefined };
}
