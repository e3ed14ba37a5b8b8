import type { Readable } from 'node:stream';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { Observable, type Subscription } from 'rxjs';
import type { BaselineCompleteEvent, BaselineRowsEvent } from '../model/events.js';
import { tableKey, type TableKey, type TableSchema } from '../model/table.js';
import { CopyTextDecoder } from '../protocol/copy-text.js';
import type { RelationColumn, ReplicaIdentity } from '../protocol/pgoutput-messages.js';
import type { Row } from '../protocol/row.js';
import type { ValueOptions } from '../protocol/values.js';
import { describeConnection, pgClientConfig, type ConnectionConfig } from './connection.js';
import { fromPgError, TableError, type PgErrorContext } from './errors.js';
import { formatTableName, quoteIdentifier, quoteLiteral, quoteQualifiedName, type QualifiedName } from './identifiers.js';
import type { InFlightBytes } from './in-flight-bytes.js';
import type { SqlQueryable } from './slot.js';

/**
 * The baseline: every row of the published tables as of the slot's exported snapshot, copied with
 * COPY ... TO STDOUT on connections that imported that snapshot, decoded into rows shaped exactly like
 * the rows pgoutput streams later (same columns, same value converters). Changes committed after the
 * slot's consistent point come from the stream; nothing is missing or doubled between the two.
 */

const REPLICA_IDENTITY: Readonly<Record<string, ReplicaIdentity>> = { d: 'default', n: 'nothing', f: 'full', i: 'index' };

interface ColumnRow {
  relid: string;
  attnum: string;
  name: string;
  typeoid: string;
  typmod: string;
  generated: string;
}

function oidList(oids: readonly number[]): string {
  return oids.map((oid) => `${oid}::oid`).join(', ');
}

/**
 * The TableSchema of each table, as pgoutput describes it in its Relation message: the relation oid,
 * the replica identity, and the columns the publication sends, in attribute order (dropped and
 * generated columns excluded; on 15+ the publication's column list applied, read from
 * pg_publication_tables, which also knows 18's published generated columns). A column's `isKey` is
 * pgoutput's flag: every column under REPLICA IDENTITY FULL, else the replica identity index's
 * columns (the primary key for DEFAULT). `keyColumns` names the columns that identify a row: the
 * replica identity index's, or the primary key's when the identity is FULL or NOTHING.
 *
 * Runs simple queries only, so `client` can also be a ReplicationClient.
 */
export async function describeTables(client: SqlQueryable, tables: readonly QualifiedName[], publication?: string): Promise<TableSchema[]> {
  if (tables.length === 0) return [];
  const action = `describing tables ${tables.map(formatTableName).join(', ')}`;
  const run = async <R>(sql: string): Promise<R[]> => {
    try {
      return (await client.query(sql)).rows as R[];
    } catch (error) {
      throw fromPgError(error, action);
    }
  };
  const wanted = tables.map((t) => `(${quoteLiteral(t.schema)}, ${quoteLiteral(t.name)})`).join(', ');
  const relations = await run<{ oid: string; schema: string; name: string; replident: string; relkind: string; version: string }>(
    `SELECT c.oid::int8::text AS oid, n.nspname::text AS schema, c.relname::text AS name, c.relreplident::text AS replident,
            c.relkind::text AS relkind, current_setting('server_version_num') AS version
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE (n.nspname::text, c.relname::text) IN (VALUES ${wanted})`,
  );
  const byName = new Map(relations.map((r) => [tableKey(r.schema, r.name), r]));
  const ordered = tables.map((t) => {
    const relation = byName.get(tableKey(t.schema, t.name));
    if (relation === undefined) {
      throw new TableError('TABLE_MISSING', tableKey(t.schema, t.name), `table ${quoteQualifiedName(t)} does not exist: create it or fix its name in the configuration`);
    }
    if (relation.relkind !== 'r' && relation.relkind !== 'p') {
      throw new TableError(
        'TABLE_NOT_COPYABLE',
        tableKey(t.schema, t.name),
        `${quoteQualifiedName(t)} is not a table (relkind ${relation.relkind}): only tables and partitioned tables can be published`,
      );
    }
    return relation;
  });
  const serverVersion = Number(ordered[0]?.version ?? 0);
  const oids = ordered.map((r) => Number(r.oid));
  const columns = await run<ColumnRow>(
    `SELECT a.attrelid::int8::text AS relid, a.attnum::text AS attnum, a.attname::text AS name, a.atttypid::int8::text AS typeoid,
            a.atttypmod::text AS typmod, a.attgenerated::text AS generated
       FROM pg_catalog.pg_attribute a
      WHERE a.attrelid IN (${oidList(oids)}) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attrelid, a.attnum`,
  );
  const indexes = await run<{ relid: string; isprimary: string; isreplident: string; keys: string }>(
    `SELECT i.indrelid::int8::text AS relid, i.indisprimary::text AS isprimary, i.indisreplident::text AS isreplident, i.indkey::text AS keys
       FROM pg_catalog.pg_index i
      WHERE i.indrelid IN (${oidList(oids)}) AND (i.indisprimary OR i.indisreplident) AND i.indisvalid`,
  );
  // 15+: the publication decides the columns (column lists; on 18 also published generated columns).
  const published = new Map<TableKey, readonly string[]>();
  if (publication !== undefined && serverVersion >= 150000) {
    const rows = await run<{ schema: string; name: string; attnames: string | null }>(
      `SELECT schemaname::text AS schema, tablename::text AS name, array_to_json(attnames)::text AS attnames
         FROM pg_catalog.pg_publication_tables WHERE pubname = ${quoteLiteral(publication)}`,
    );
    for (const row of rows) {
      if (row.attnames !== null) published.set(tableKey(row.schema, row.name), JSON.parse(row.attnames) as string[]);
    }
  }

  return ordered.map((relation): TableSchema => {
    const relid = relation.oid;
    const key = tableKey(relation.schema, relation.name);
    const replicaIdentity = REPLICA_IDENTITY[relation.replident] ?? 'default';
    const attnumsOf = (row: { keys: string } | undefined) => new Set((row?.keys ?? '').split(' ').filter((k) => k.length > 0));
    const primary = attnumsOf(indexes.find((i) => i.relid === relid && i.isprimary === 'true'));
    const identityIndex =
      replicaIdentity === 'default' ? primary : replicaIdentity === 'index' ? attnumsOf(indexes.find((i) => i.relid === relid && i.isreplident === 'true')) : new Set<string>();
    const publishedNames = published.get(key);
    const sent = columns.filter(
      (c) => c.relid === relid && (publishedNames === undefined ? c.generated === '' : publishedNames.includes(c.name)),
    );
    const relationColumns: RelationColumn[] = sent.map((c) => ({
      isKey: replicaIdentity === 'full' || identityIndex.has(c.attnum),
      name: c.name,
      typeOid: Number(c.typeoid),
      typeMod: Number(c.typmod),
    }));
    const keySource = replicaIdentity === 'default' || replicaIdentity === 'index' ? identityIndex : primary;
    return {
      key,
      schema: relation.schema,
      name: relation.name,
      relationId: Number(relid),
      replicaIdentity,
      columns: relationColumns,
      keyColumns: sent.filter((c) => keySource.has(c.attnum)).map((c) => c.name),
    };
  });
}

export interface BaselineTable {
  readonly table: TableSchema;
  /** Row filter (the publication's WHERE for this table), a SQL boolean expression. */
  readonly where?: string;
}

/** How far the copy of one table is. */
export interface BaselineProgress {
  readonly table: TableKey;
  readonly rowsCopied: number;
  /** COPY bytes received for this table. */
  readonly bytes: number;
  /** pg_class.reltuples: an estimate, null when the table was never analyzed. */
  readonly estimatedRows: number | null;
  /** Ranges (ctid slices) copied so far and in all. */
  readonly partsDone: number;
  readonly parts: number;
  readonly done: boolean;
}

export interface BaselineOptions {
  /** Where to copy from (the same database as the slot). */
  readonly connection: string | ConnectionConfig;
  /**
   * The slot's exported snapshot. Every baseline connection imports it before any COPY starts, so all
   * see exactly the data the slot's consistent point follows. null: each connection reads its own
   * snapshot (only for tools and tests; not consistent with a slot).
   */
  readonly snapshotName: string | null;
  readonly tables: readonly BaselineTable[];
  /** COPYs at once (connections). Default 4. */
  readonly parallelism?: number;
  /** Rows per BaselineRowsEvent. Default 1000. */
  readonly batchSize?: number;
  /**
   * Tables larger than this many pages are copied in ctid ranges of this many pages, in parallel under
   * the same snapshot (TID range scans, PostgreSQL 14+). Default 4096 (32 MiB with 8 kB pages). 0: never split.
   */
  readonly splitPages?: number;
  /** COPY bytes received are added; COPY streams pause while it is paused. Every event carries its `bytes`. */
  readonly budget?: InFlightBytes;
  readonly values?: ValueOptions;
  /** Called after every batch and when a table completes (from the event loop; keep it cheap). */
  readonly onProgress?: (progress: BaselineProgress) => void;
  readonly applicationName?: string;
}

export const BASELINE_DEFAULTS = {
  /** Four COPYs keep a server's disks and a client core busy without hogging connections. */
  parallelism: 4,
  /** Big enough to amortise per-batch work in targets, small enough to keep batches a few hundred kB. */
  batchSize: 1000,
  /** 32 MiB slices: small tables stay one COPY; big ones spread over all connections. */
  splitPages: 4096,
} as const;

/** One COPY: a whole table, or a ctid range of it. */
interface CopyPart {
  readonly tableIndex: number;
  /** First page (inclusive); undefined: from the start. */
  readonly fromPage?: number;
  /** Last page (exclusive); undefined: to the end, including pages added after sizing. */
  readonly toPage?: number;
}

interface TablePlan {
  readonly table: TableSchema;
  readonly where?: string;
  readonly relkind: string;
  readonly pages: number;
  readonly estimatedRows: number | null;
  parts: number;
  partsDone: number;
  rows: number;
  bytes: number;
}

/** The COPY statement for one part: `COPY table (cols)` when it can, else `COPY (SELECT ...)`. */
export function copyStatement(table: TableSchema, options: { where?: string; fromPage?: number; toPage?: number; relkind?: string }): string {
  const name = quoteQualifiedName(table);
  const columns = table.columns.map((c) => quoteIdentifier(c.name)).join(', ');
  const conditions: string[] = [];
  if (options.where !== undefined && options.where.trim().length > 0) conditions.push(`(${options.where})`);
  if (options.fromPage !== undefined) conditions.push(`ctid >= '(${options.fromPage},0)'::tid`);
  if (options.toPage !== undefined) conditions.push(`ctid < '(${options.toPage},0)'::tid`);
  const relkind = options.relkind ?? 'r';
  if (conditions.length === 0 && relkind === 'r' && columns.length > 0) return `COPY ${name} (${columns}) TO STDOUT`;
  // ONLY: an inheritance parent's children are published (and baselined) as tables of their own. A
  // partitioned table has no rows of its own, so it is read whole.
  const from = relkind === 'p' ? name : `ONLY ${name}`;
  return `COPY (SELECT ${columns} FROM ${from}${conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : ''}) TO STDOUT`;
}

/** Splits `pages` into ranges of at most `splitPages`; the first has no lower bound, the last no upper. */
export function planParts(tableIndex: number, pages: number, splitPages: number): CopyPart[] {
  if (splitPages <= 0 || pages <= splitPages) return [{ tableIndex }];
  const count = Math.ceil(pages / splitPages);
  const parts: CopyPart[] = [];
  for (let index = 0; index < count; index++) {
    const fromPage = index === 0 ? undefined : index * splitPages;
    const toPage = index === count - 1 ? undefined : (index + 1) * splitPages;
    parts.push({ tableIndex, ...(fromPage === undefined ? {} : { fromPage }), ...(toPage === undefined ? {} : { toPage }) });
  }
  return parts;
}

type BaselineEvent = BaselineRowsEvent | BaselineCompleteEvent;

/**
 * The baseline as events: batches of rows per table, then `baseline-complete` per table once all its
 * rows were emitted. Tables (and ctid ranges of big tables) are copied `parallelism` at a time, so
 * events of different tables interleave. Unsubscribing stops every COPY and closes the connections.
 *
 * The snapshot is imported on every connection before the first COPY: an exported snapshot lives only
 * until the exporting (replication) connection runs its next command, and the caller must not run
 * START_REPLICATION there before this Observable completed.
 */
export function baselineRows(options: BaselineOptions): Observable<BaselineEvent> {
  return new Observable<BaselineEvent>((subscriber) => {
    const parallelism = Math.max(1, Math.floor(options.parallelism ?? BASELINE_DEFAULTS.parallelism));
    const batchSize = Math.max(1, Math.floor(options.batchSize ?? BASELINE_DEFAULTS.batchSize));
    const splitPages = Math.max(0, Math.floor(options.splitPages ?? BASELINE_DEFAULTS.splitPages));
    const clientConfig = pgClientConfig(options.connection, { applicationName: options.applicationName ?? 'laredo baseline' });
    const context = (action: string): PgErrorContext => ({
      action,
      server: describeConnection(clientConfig),
      secrets: typeof clientConfig.password === 'string' ? [clientConfig.password] : [],
    });
    const clients: pg.Client[] = [];
    const activeCopies = new Set<Readable>();
    // A batch is also handed on once it holds this many bytes: rows larger than the budget would
    // otherwise sit in a batch while the COPY is paused waiting for their release (a deadlock).
    const maxBatchBytes =
      options.budget === undefined ? 4 * 1024 * 1024 : Math.max(64 * 1024, Math.floor(options.budget.lowWaterMark / (2 * parallelism)));
    // Bytes added to the budget and not yet handed on in an event: released if the baseline stops early.
    const held = { bytes: 0 };
    let budgetSubscription: Subscription | undefined;
    // An object, not a `let`: it is flipped from callbacks the compiler cannot follow.
    const state = { stopped: false };
    const stopped = () => state.stopped;

    const closeAll = async () => {
      budgetSubscription?.unsubscribe();
      if (held.bytes > 0) {
        options.budget?.release(held.bytes);
        held.bytes = 0;
      }
      for (const copy of activeCopies) copy.destroy();
      activeCopies.clear();
      // end() destroys the socket when a COPY is still running; the server then ends the COPY itself.
      await Promise.allSettled(clients.map((client) => client.end()));
    };

    const openConnection = async (): Promise<pg.Client> => {
      const client = new pg.Client(clientConfig);
      clients.push(client);
      // Socket errors reach the running query; this listener keeps an idle client's error from crashing.
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        if (options.snapshotName !== null) await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(options.snapshotName)}`);
      } catch (error) {
        const mapped = fromPgError(error, context(options.snapshotName === null ? 'opening a baseline connection' : `importing snapshot ${options.snapshotName}`));
        if ('sqlstate' in mapped && (mapped.sqlstate === '42704' || mapped.sqlstate === '22023') && options.snapshotName !== null) {
          // undefined_object (or invalid_parameter_value for a malformed name): the exporting
          // connection ran another command or closed, which ends an exported snapshot.
          throw fromPgError(
            error,
            context(
              `importing snapshot ${options.snapshotName}: it no longer exists (the replication connection that exported it ran another command or closed); start again with a new slot`,
            ),
          );
        }
        throw mapped;
      }
      return client;
    };

    const progress = (plan: TablePlan) => {
      options.onProgress?.({
        table: plan.table.key,
        rowsCopied: plan.rows,
        bytes: plan.bytes,
        estimatedRows: plan.estimatedRows,
        partsDone: plan.partsDone,
        parts: plan.parts,
        done: plan.partsDone === plan.parts,
      });
    };

    const copyPart = (client: pg.Client, plan: TablePlan, part: CopyPart) =>
      new Promise<void>((resolve, reject) => {
        const sql = copyStatement(plan.table, {
          relkind: plan.relkind,
          ...(plan.where === undefined ? {} : { where: plan.where }),
          ...(part.fromPage === undefined ? {} : { fromPage: part.fromPage }),
          ...(part.toPage === undefined ? {} : { toPage: part.toPage }),
        });
        const decoder = new CopyTextDecoder(plan.table.columns, options.values);
        const copy = client.query(copyTo(sql));
        activeCopies.add(copy);
        if (options.budget?.paused === true) copy.pause();
        let batch: Row[] = [];
        let pendingBytes = 0;
        let settled = false;
        const emit = () => {
          if (stopped()) return;
          const rows = batch;
          batch = [];
          plan.rows += rows.length;
          const bytes = pendingBytes;
          pendingBytes = 0;
          held.bytes -= bytes;
          subscriber.next({ kind: 'baseline', table: plan.table, rows, bytes });
          progress(plan);
        };
        const finish = (error?: unknown) => {
          if (settled) return;
          settled = true;
          activeCopies.delete(copy);
          if (error === undefined) resolve();
          else reject(fromPgError(error, context(`copying ${formatTableName(plan.table)}`)));
        };
        copy.on('data', (chunk: Buffer) => {
          if (stopped() || settled) return;
          options.budget?.add(chunk.length);
          held.bytes += chunk.length;
          plan.bytes += chunk.length;
          pendingBytes += chunk.length;
          try {
            const rows = decoder.push(chunk);
            for (const row of rows) {
              batch.push(row);
              if (batch.length >= batchSize) emit();
            }
            // Possibly with no row at all (one row larger than the limit): its bytes are released
            // and the row, held by the decoder, goes on in a later batch.
            if (pendingBytes >= maxBatchBytes) emit();
          } catch (error) {
            copy.destroy();
            finish(error);
          }
        });
        copy.on('error', (error) => {
          finish(error);
        });
        copy.on('end', () => {
          try {
            decoder.end();
          } catch (error) {
            finish(error);
            return;
          }
          if (batch.length > 0) emit();
          plan.partsDone += 1;
          if (plan.partsDone === plan.parts && !stopped()) {
            held.bytes -= pendingBytes;
            subscriber.next({ kind: 'baseline-complete', table: plan.table, rows: plan.rows, bytes: pendingBytes });
            pendingBytes = 0;
            progress(plan);
          } else if (pendingBytes > 0 && !stopped()) {
            // A part that ended with bytes no row carried (never with well-formed COPY data, which ends
            // in a newline): hand them on so the budget is released.
            held.bytes -= pendingBytes;
            subscriber.next({ kind: 'baseline', table: plan.table, rows: [], bytes: pendingBytes });
            pendingBytes = 0;
          }
          finish();
        });
      });

    const run = async () => {
      const first = await openConnection();
      if (stopped()) return;
      const oids = options.tables.map((t) => t.table.relationId);
      const sizes =
        oids.length === 0
          ? []
          : (
              await first
                .query<{ oid: string; relkind: string; pages: string; reltuples: string }>(
                  `SELECT c.oid::int8::text AS oid, c.relkind::text AS relkind,
                          (pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::int8)::text AS pages,
                          c.reltuples::text AS reltuples
                     FROM pg_catalog.pg_class c WHERE c.oid IN (${oidList(oids)})`,
                )
                .catch((error: unknown) => {
                  throw fromPgError(error, context('sizing the baseline tables'));
                })
            ).rows;
      const plans: TablePlan[] = options.tables.map((t) => {
        const size = sizes.find((s) => Number(s.oid) === t.table.relationId);
        if (size === undefined) {
          throw new TableError('TABLE_MISSING', t.table.key, `table ${quoteQualifiedName(t.table)} (oid ${t.table.relationId}) no longer exists: describe the tables again`);
        }
        const reltuples = Number(size.reltuples);
        return {
          table: t.table,
          ...(t.where === undefined ? {} : { where: t.where }),
          relkind: size.relkind,
          pages: Number(size.pages),
          estimatedRows: reltuples >= 0 ? reltuples : null,
          parts: 0,
          partsDone: 0,
          rows: 0,
          bytes: 0,
        };
      });
      // Biggest tables first, so the long COPYs start early and small ones fill the gaps.
      const queue = plans
        .map((plan, index) => ({ plan, index }))
        .sort((a, b) => b.plan.pages - a.plan.pages)
        .flatMap(({ plan, index }) => {
          const parts = planParts(index, plan.relkind === 'r' ? plan.pages : 0, splitPages);
          plan.parts = parts.length;
          return parts;
        });
      const connectionCount = Math.max(1, Math.min(parallelism, queue.length));
      // Every connection imports the snapshot before any COPY starts (see the TSDoc above).
      const connections = [first, ...(await Promise.all(Array.from({ length: connectionCount - 1 }, openConnection)))];
      if (stopped()) return;
      if (options.budget !== undefined) {
        budgetSubscription = options.budget.paused$.subscribe((paused) => {
          for (const copy of activeCopies) {
            if (paused) copy.pause();
            else copy.resume();
          }
        });
      }
      for (const plan of plans) progress(plan);
      const worker = async (client: pg.Client) => {
        for (let part = queue.shift(); part !== undefined && !stopped(); part = queue.shift()) {
          await copyPart(client, plans[part.tableIndex]!, part);
        }
      };
      await Promise.all(connections.map(worker));
      if (stopped()) return;
      // Read-only: the transactions have nothing to commit; COMMIT ends them cleanly before closing.
      await Promise.all(connections.map((client) => client.query('COMMIT')));
    };

    run().then(
      async () => {
        if (stopped()) return;
        state.stopped = true;
        await closeAll();
        subscriber.complete();
      },
      async (error: unknown) => {
        if (stopped()) return;
        state.stopped = true;
        await closeAll();
        subscriber.error(fromPgError(error, context('copying the baseline')));
      },
    );

    return () => {
      if (stopped()) return;
      state.stopped = true;
      void closeAll();
    };
  });
}
