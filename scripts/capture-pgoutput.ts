/**
 * Captures real pgoutput bytes for the golden tests (test/protocol/pgoutput.golden.test.ts).
 *
 *   npx tsx scripts/capture-pgoutput.ts            # PostgreSQL 14 and 18 -> test/fixtures/pgoutput/pg14.json, pg18.json
 *   npx tsx scripts/capture-pgoutput.ts 18         # one major
 *
 * For each major it starts a throwaway server (src/embedded/postgres-server.ts) with
 * logical_decoding_work_mem = 64kB, so a transaction of ~100 kB of changes is streamed, and
 * max_prepared_transactions, for two-phase. Each capture gets its own database (logical decoding is
 * per database, so captures cannot see each other's changes), a slot, and a walsender connection
 * (START_REPLICATION) that records every XLogData payload while a scripted workload runs one step at a
 * time. After each step the script waits until the walsender has decoded past the step's WAL, so every
 * step owns an exact range of messages: the fixture records it (`steps[].from/to`) together with the
 * facts the golden tests check against (xids, subtransaction xids, relation and type OIDs, times
 * around each step).
 *
 * Why a walsender and not pg_logical_slot_peek_binary_changes: recent PostgreSQL (seen on 18) does not
 * stream a transaction that is already aborted by the time decoding reaches it, and the SQL functions
 * decode after the fact, so a streamed abort only shows up when the transaction is streamed while
 * still open, as a walsender does. The workload waits for the Stream Stop of an open transaction
 * before rolling it back. `streaming = parallel` (16+, protocol 4, which adds the abort LSN and time
 * to Stream Abort) is accepted by the SQL functions as well as by the walsender.
 *
 * Streamed transactions are made of a few published rows plus ~100 kB of rows in an unpublished
 * `ballast` table: the reorder buffer counts every change against logical_decoding_work_mem, but
 * pgoutput sends only published ones, which keeps the fixtures small.
 *
 * Captures: `main` (text, newest protocol, streaming on, messages, two-phase on 15+), `binary` (binary
 * tuples) and `binary_as_text` (the same WAL decoded again in text), `v1` (protocol 1), `parallel`
 * (16+: streaming = parallel). Regenerate after changing the workload, then update the golden tests.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { EmbeddedPostgres } from '../src/embedded/postgres-server.js';
import { Lsn } from '../src/protocol/lsn.js';
import { ReplicationCapture } from '../bench/support/replication-capture.js';

const FIXTURE_DIR = path.join(import.meta.dirname, '..', 'test', 'fixtures', 'pgoutput');

/** One workload step and the facts the golden tests check its messages against. */
export interface CapturedStep {
  readonly name: string;
  /** Messages `[from, to)` of the capture belong to this step. */
  readonly from: number;
  readonly to: number;
  /** Top-level xid of the step's transaction, when it has one. */
  readonly xid?: number;
  /** A subtransaction's xid (the aborted savepoint of a streamed transaction). */
  readonly subXid?: number;
  /** Microseconds since 2000-01-01 UTC (server clock) before the step began and after it ended. */
  readonly startedAt: string;
  readonly endedAt: string;
  /** Anything else the step wants to remember (returned LSNs, gids), as strings. */
  readonly facts?: Readonly<Record<string, string>>;
}

export interface CapturedStream {
  readonly database: string;
  readonly protocolVersion: number;
  readonly binary: boolean;
  /** The START_REPLICATION plugin options used. */
  readonly options: Readonly<Record<string, string>>;
  /** Relation and type OIDs by name. */
  readonly oids: Readonly<Record<string, number>>;
  readonly steps: readonly CapturedStep[];
  /** `[walStart, hex pgoutput message]` per XLogData, in order. */
  readonly messages: readonly (readonly [string, string])[];
}

export interface PgoutputFixture {
  readonly major: number;
  readonly serverVersion: string;
  readonly captures: Readonly<Record<string, CapturedStream>>;
}

const NOW_MICROS = `((extract(epoch FROM clock_timestamp()) - 946684800) * 1000000)::bigint::text`;
const CURRENT_LSN = 'pg_current_wal_insert_lsn()::text';

/** A step's client session: a pg.Client with a `sql` shorthand. */
interface Session {
  sql<R extends pg.QueryResultRow = Record<string, string>>(text: string): Promise<R[]>;
  one(text: string): Promise<string>;
  xid(): Promise<number>;
}

function session(client: pg.Client): Session {
  return {
    async sql<R extends pg.QueryResultRow>(text: string) {
      return (await client.query<R>(text)).rows;
    },
    async one(text: string) {
      const { rows } = await client.query<{ v: string }>(`SELECT (${text})::text AS v`);
      return rows[0]!.v;
    },
    async xid() {
      // txid_current() is epoch << 32 | xid; pgoutput sends the 32-bit xid.
      const { rows } = await client.query<{ v: string }>(`SELECT (txid_current() % 4294967296)::text AS v`);
      return Number(rows[0]!.v);
    },
  };
}

class Workload {
  readonly steps: CapturedStep[] = [];
  readonly #capture: ReplicationCapture;
  readonly #admin: Session;

  constructor(capture: ReplicationCapture, admin: Session) {
    this.#capture = capture;
    this.#admin = admin;
  }

  /** Runs `body`, then waits until the walsender has sent everything the step wrote. */
  async step(name: string, body: () => Promise<Omit<CapturedStep, 'name' | 'from' | 'to' | 'startedAt' | 'endedAt'> | undefined>): Promise<void> {
    const from = this.#capture.messages.length;
    const startedAt = await this.#admin.one(NOW_MICROS);
    const facts = (await body()) ?? {};
    const endedAt = await this.#admin.one(NOW_MICROS);
    await this.#capture.catchUp(Lsn.parse(await this.#admin.one(CURRENT_LSN)));
    this.steps.push({ name, from, to: this.#capture.messages.length, startedAt, endedAt, ...facts });
  }

  /** Waits for a Stream Stop after message `from`: the open transaction has been streamed. */
  async streamed(from: number): Promise<void> {
    await this.#capture.waitForMessage((m) => this.#capture.messages.indexOf(m) >= from && m.data[0] === 0x45, 'Stream Stop');
  }

  get received(): number {
    return this.#capture.messages.length;
  }
}

async function withClient<T>(connectionString: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** The walsender of a stopped capture exits a moment after its connection closes; until then the slot is busy. */
async function slotReleased(s: Session, slot: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await s.one(`SELECT active FROM pg_replication_slots WHERE slot_name = '${slot}'`)) === 'true') {
    if (Date.now() > deadline) throw new Error(`slot ${slot} still active 30 s after its walsender was stopped`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function oidsOf(s: Session, names: Record<string, string>): Promise<Record<string, number>> {
  const oids: Record<string, number> = {};
  for (const [key, expression] of Object.entries(names)) oids[key] = Number(await s.one(expression));
  return oids;
}

interface CaptureSpec {
  readonly database: string;
  readonly protocolVersion: number;
  readonly binary: boolean;
  readonly options: Readonly<Record<string, string>>;
  readonly twoPhaseSlot: boolean;
  readonly setup: string;
  readonly oids: Readonly<Record<string, string>>;
  readonly workload: (w: Workload, connectionString: string) => Promise<void>;
  /** Read the same slot again with other options after the workload (e.g. binary, then text). */
  readonly alsoAs?: readonly { readonly name: string; readonly binary: boolean; readonly options: Readonly<Record<string, string>> }[];
}

async function runCapture(server: EmbeddedPostgres, spec: CaptureSpec): Promise<Record<string, CapturedStream>> {
  await withClient(server.connectionString(), (c) => c.query(`CREATE DATABASE ${spec.database}`));
  const connectionString = server.connectionString(spec.database);
  return withClient(connectionString, async (client) => {
    const admin = session(client);
    await client.query(spec.setup);
    const oids = await oidsOf(admin, spec.oids);
    const slot = `${spec.database}_slot`;
    await client.query(
      spec.twoPhaseSlot
        ? `SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput', false, true)`
        : `SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput')`,
    );
    const capture = await ReplicationCapture.start(connectionString, slot, spec.options);
    let steps: CapturedStep[];
    try {
      const workload = new Workload(capture, admin);
      await spec.workload(workload, connectionString);
      steps = workload.steps;
    } finally {
      await capture.stop();
    }
    const hex = (c: ReplicationCapture): [string, string][] => c.messages.map((m) => [Lsn.format(m.walStart), m.data.toString('hex')]);
    const result: Record<string, CapturedStream> = {
      [spec.database.replace(/^laredo_/, '')]: {
        database: spec.database,
        protocolVersion: spec.protocolVersion,
        binary: spec.binary,
        options: spec.options,
        oids,
        steps,
        messages: hex(capture),
      },
    };
    // Status updates never confirmed anything, so the slot replays the same WAL with other options.
    const end = Lsn.parse(await admin.one(CURRENT_LSN));
    for (const again of spec.alsoAs ?? []) {
      await slotReleased(admin, slot);
      const replay = await ReplicationCapture.start(connectionString, slot, again.options);
      try {
        await replay.catchUp(end);
      } finally {
        await replay.stop();
      }
      result[again.name] = { database: spec.database, protocolVersion: spec.protocolVersion, binary: again.binary, options: again.options, oids, steps, messages: hex(replay) };
    }
    return result;
  });
}

const BALLAST = `INSERT INTO ballast (payload) SELECT repeat('x', 1000) FROM generate_series(1, 100)`;

const MAIN_SETUP = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE TYPE pair AS (a int, b text);
  CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, note text, mood mood, pair pair, big text);
  -- EXTERNAL: stored out of line uncompressed, so a 3000-byte value is TOASTed and an update that does
  -- not touch it sends 'u'.
  ALTER TABLE items ALTER COLUMN big SET STORAGE EXTERNAL;
  CREATE TABLE full_rows (id int, label text);
  ALTER TABLE full_rows REPLICA IDENTITY FULL;
  CREATE TABLE parent (id int PRIMARY KEY, label text);
  CREATE TABLE child (id bigserial PRIMARY KEY, parent_id int REFERENCES parent (id), label text);
  CREATE TABLE bulk (id int PRIMARY KEY, label text);
  CREATE TABLE ballast (id bigserial PRIMARY KEY, payload text);
  CREATE PUBLICATION laredo_pub FOR TABLE items, full_rows, parent, child, bulk;
  SELECT pg_replication_origin_create('laredo_origin');
`;

const MAIN_OIDS = {
  items: `'items'::regclass::oid`,
  full_rows: `'full_rows'::regclass::oid`,
  parent: `'parent'::regclass::oid`,
  child: `'child'::regclass::oid`,
  bulk: `'bulk'::regclass::oid`,
  mood: `'mood'::regtype::oid`,
  pair: `'pair'::regtype::oid`,
};

/** Streams the open transaction of `s`, waiting for its Stream Stop; returns nothing. */
async function streamOpenTransaction(w: Workload, s: Session): Promise<void> {
  const from = w.received;
  await s.sql(BALLAST);
  await w.streamed(from);
}

/** The xid of the innermost open subtransaction of `s`: the transactionid lock it holds besides the top one. */
async function subtransactionXid(s: Session, topXid: number): Promise<number> {
  const rows = await s.sql<{ xid: string }>(
    `SELECT transactionid::text AS xid FROM pg_locks WHERE locktype = 'transactionid' AND pid = pg_backend_pid() AND granted`,
  );
  const xids = rows.map((r) => Number(r.xid)).filter((x) => x !== topXid);
  if (xids.length !== 1) throw new Error(`expected one subtransaction xid, got ${JSON.stringify(xids)}`);
  return xids[0]!;
}

async function mainWorkload(w: Workload, connectionString: string): Promise<void> {
  await withClient(connectionString, async (client) => {
    const s = session(client);
    await w.step('insert_with_toast_and_types', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`INSERT INTO items VALUES (1, 'one', NULL, 'happy', ROW(7, 'seven'), repeat('0123456789', 300))`);
      await s.sql('COMMIT');
      return { xid };
    });
    await w.step('update_unchanged_toast', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`UPDATE items SET name = 'uno', note = 'first' WHERE id = 1`);
      await s.sql('COMMIT');
      return { xid };
    });
    await w.step('update_key', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`UPDATE items SET id = 2 WHERE id = 1`);
      await s.sql('COMMIT');
      return { xid };
    });
    await w.step('delete_key', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`DELETE FROM items WHERE id = 2`);
      await s.sql('COMMIT');
      return { xid };
    });
    await w.step('replica_identity_full', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`INSERT INTO full_rows VALUES (1, 'a')`);
      await s.sql(`UPDATE full_rows SET label = 'b' WHERE id = 1`);
      await s.sql(`DELETE FROM full_rows WHERE id = 1`);
      await s.sql('COMMIT');
      return { xid };
    });
    await w.step('truncate_setup', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`INSERT INTO parent VALUES (1, 'p')`);
      await s.sql(`INSERT INTO child (parent_id, label) VALUES (1, 'c')`);
      await s.sql('COMMIT');
      return { xid };
    });
    for (const [name, statement] of [
      ['truncate_cascade', 'TRUNCATE parent CASCADE'],
      ['truncate_restart_identity', 'TRUNCATE child RESTART IDENTITY'],
      ['truncate_restart_identity_cascade', 'TRUNCATE parent RESTART IDENTITY CASCADE'],
      ['truncate_plain', 'TRUNCATE full_rows'],
    ] as const) {
      await w.step(name, async () => {
        await s.sql('BEGIN');
        const xid = await s.xid();
        await s.sql(statement);
        await s.sql('COMMIT');
        return { xid };
      });
    }
    await w.step('message_transactional', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      const endLsn = await s.one(`pg_logical_emit_message(true, 'laredo', 'in a transaction')`);
      await s.sql(`INSERT INTO full_rows VALUES (2, 'with message')`);
      await s.sql('COMMIT');
      return { xid, facts: { endLsn } };
    });
    await w.step('message_non_transactional', async () => {
      const endLsn = await s.one(`pg_logical_emit_message(false, 'laredo.raw', '\\x00ff10'::bytea)`);
      return { facts: { endLsn } };
    });
    await w.step('origin', async () => {
      await s.sql(`SELECT pg_replication_origin_session_setup('laredo_origin')`);
      await s.sql('BEGIN');
      const xid = await s.xid();
      // The origin's timestamp replaces the commit time in the commit record, and so in Begin/Commit.
      await s.sql(`SELECT pg_replication_origin_xact_setup('1/2345678', '2020-01-02 03:04:05.678901+00')`);
      await s.sql(`INSERT INTO full_rows VALUES (3, 'from elsewhere')`);
      await s.sql('COMMIT');
      await s.sql(`SELECT pg_replication_origin_session_reset()`);
      return { xid };
    });
    await w.step('streamed_commit', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`INSERT INTO bulk VALUES (1, 'first')`);
      await s.sql(BALLAST);
      await s.sql(`INSERT INTO bulk VALUES (2, 'last')`);
      await s.sql('COMMIT');
      return { xid };
    });
    await w.step('streamed_abort', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`INSERT INTO bulk VALUES (11, 'aborted')`);
      await streamOpenTransaction(w, s);
      await s.sql('ROLLBACK');
      return { xid };
    });
    await w.step('streamed_subtransaction_abort', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`INSERT INTO bulk VALUES (21, 'kept')`);
      await s.sql('SAVEPOINT doomed');
      await s.sql(`INSERT INTO bulk VALUES (22, 'rolled back to savepoint')`);
      const subXid = await subtransactionXid(s, xid);
      await streamOpenTransaction(w, s);
      await s.sql('ROLLBACK TO SAVEPOINT doomed');
      await s.sql(`INSERT INTO bulk VALUES (23, 'after savepoint')`);
      await s.sql('COMMIT');
      return { xid, subXid };
    });
    // Two-phase: with a two-phase slot and two_phase = on (15+), the transaction is decoded at PREPARE;
    // on 14 it is decoded as an ordinary transaction at COMMIT PREPARED.
    await w.step('prepare', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`INSERT INTO full_rows VALUES (10, 'prepared')`);
      await s.sql(`PREPARE TRANSACTION 'laredo_commit'`);
      return { xid, facts: { gid: 'laredo_commit' } };
    });
    await w.step('commit_prepared', async () => {
      await s.sql(`COMMIT PREPARED 'laredo_commit'`);
      return { facts: { gid: 'laredo_commit' } };
    });
    await w.step('prepare_to_roll_back', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`INSERT INTO full_rows VALUES (11, 'rolled back')`);
      await s.sql(`PREPARE TRANSACTION 'laredo_rollback'`);
      return { xid, facts: { gid: 'laredo_rollback' } };
    });
    await w.step('rollback_prepared', async () => {
      await s.sql(`ROLLBACK PREPARED 'laredo_rollback'`);
      return { facts: { gid: 'laredo_rollback' } };
    });
    await w.step('streamed_prepare', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`INSERT INTO bulk VALUES (31, 'streamed and prepared')`);
      await s.sql(BALLAST);
      await s.sql(`PREPARE TRANSACTION 'laredo_streamed'`);
      return { xid, facts: { gid: 'laredo_streamed' } };
    });
    await w.step('commit_streamed_prepared', async () => {
      await s.sql(`COMMIT PREPARED 'laredo_streamed'`);
      return { facts: { gid: 'laredo_streamed' } };
    });
  });
}

const BINARY_SETUP = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE TABLE typed (
    id int PRIMARY KEY, flag bool, small int2, large int8, amount numeric(12,2), ratio float8, label text,
    raw bytea, doc jsonb, at timestamptz, day date, uid uuid, tags int4[], mood mood, nothing text
  );
  CREATE PUBLICATION laredo_pub FOR TABLE typed;
`;

async function binaryWorkload(w: Workload, connectionString: string): Promise<void> {
  await withClient(connectionString, async (client) => {
    const s = session(client);
    await w.step('insert_typed', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`INSERT INTO typed VALUES (
        1, true, -2, 9007199254740993, 1234.50, 0.25, 'héllo', '\\x00ff'::bytea, '{"a": [1, 2]}',
        '2024-01-02 03:04:05.123456+00', '2024-02-29', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,NULL,3}', 'ok', NULL)`);
      await s.sql('COMMIT');
      return { xid };
    });
    await w.step('update_typed', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`UPDATE typed SET flag = false, label = NULL, nothing = 'something' WHERE id = 1`);
      await s.sql('COMMIT');
      return { xid };
    });
    await w.step('delete_typed', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`DELETE FROM typed WHERE id = 1`);
      await s.sql('COMMIT');
      return { xid };
    });
  });
}

const V1_SETUP = `
  CREATE TABLE plain (id int PRIMARY KEY, label text);
  CREATE PUBLICATION laredo_pub FOR TABLE plain;
`;

async function v1Workload(w: Workload, connectionString: string): Promise<void> {
  await withClient(connectionString, async (client) => {
    const s = session(client);
    await w.step('insert_update_delete', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`INSERT INTO plain VALUES (1, 'one'), (2, NULL)`);
      await s.sql(`UPDATE plain SET label = 'uno' WHERE id = 1`);
      await s.sql(`DELETE FROM plain WHERE id = 2`);
      const endLsn = await s.one(`pg_logical_emit_message(true, 'laredo', 'v1')`);
      await s.sql('COMMIT');
      return { xid, facts: { endLsn } };
    });
    await w.step('truncate', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`TRUNCATE plain`);
      await s.sql('COMMIT');
      return { xid };
    });
  });
}

const PARALLEL_SETUP = `
  CREATE TABLE bulk (id int PRIMARY KEY, label text);
  CREATE TABLE ballast (id bigserial PRIMARY KEY, payload text);
  CREATE PUBLICATION laredo_pub FOR TABLE bulk;
`;

async function parallelWorkload(w: Workload, connectionString: string): Promise<void> {
  await withClient(connectionString, async (client) => {
    const s = session(client);
    await w.step('streamed_abort', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`INSERT INTO bulk VALUES (1, 'aborted')`);
      await streamOpenTransaction(w, s);
      await s.sql('ROLLBACK');
      return { xid };
    });
    await w.step('streamed_subtransaction_abort', async () => {
      await s.sql('BEGIN');
      const xid = await s.xid();
      await s.sql(`INSERT INTO bulk VALUES (2, 'kept')`);
      await s.sql('SAVEPOINT doomed');
      await s.sql(`INSERT INTO bulk VALUES (3, 'rolled back to savepoint')`);
      const subXid = await subtransactionXid(s, xid);
      await streamOpenTransaction(w, s);
      await s.sql('ROLLBACK TO SAVEPOINT doomed');
      await s.sql('COMMIT');
      return { xid, subXid };
    });
  });
}

async function captureMajor(major: number): Promise<PgoutputFixture> {
  const server = new EmbeddedPostgres({ major, settings: { logical_decoding_work_mem: '64kB', max_prepared_transactions: 10 } });
  await server.start();
  try {
    const serverVersion = await withClient(server.connectionString(), async (c) => (await c.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version);
    const newest = major >= 16 ? 4 : major >= 15 ? 3 : 2;
    const twoPhase = major >= 15;
    const base = { publication_names: 'laredo_pub' };
    const captures: Record<string, CapturedStream> = {};
    Object.assign(
      captures,
      await runCapture(server, {
        database: 'laredo_main',
        protocolVersion: newest,
        binary: false,
        options: {
          proto_version: String(newest),
          ...base,
          messages: 'true',
          streaming: 'on',
          ...(twoPhase ? { two_phase: 'on' } : {}),
        },
        twoPhaseSlot: twoPhase,
        setup: MAIN_SETUP,
        oids: MAIN_OIDS,
        workload: mainWorkload,
      }),
    );
    Object.assign(
      captures,
      await runCapture(server, {
        database: 'laredo_binary',
        protocolVersion: newest,
        binary: true,
        options: { proto_version: String(newest), ...base, binary: 'true' },
        twoPhaseSlot: false,
        setup: BINARY_SETUP,
        oids: { typed: `'typed'::regclass::oid`, mood: `'mood'::regtype::oid` },
        workload: binaryWorkload,
        alsoAs: [{ name: 'binary_as_text', binary: false, options: { proto_version: String(newest), ...base, binary: 'false' } }],
      }),
    );
    Object.assign(
      captures,
      await runCapture(server, {
        database: 'laredo_v1',
        protocolVersion: 1,
        binary: false,
        options: { proto_version: '1', ...base, messages: 'true' },
        twoPhaseSlot: false,
        setup: V1_SETUP,
        oids: { plain: `'plain'::regclass::oid` },
        workload: v1Workload,
      }),
    );
    if (major >= 16) {
      Object.assign(
        captures,
        await runCapture(server, {
          database: 'laredo_parallel',
          protocolVersion: 4,
          binary: false,
          options: { proto_version: '4', ...base, streaming: 'parallel' },
          twoPhaseSlot: false,
          setup: PARALLEL_SETUP,
          oids: { bulk: `'bulk'::regclass::oid` },
          workload: parallelWorkload,
        }),
      );
    }
    return { major, serverVersion, captures };
  } finally {
    await server.stop();
  }
}

/** Indented JSON, but one line per step and per message, so a diff of two captures stays readable. */
function formatFixture(fixture: PgoutputFixture): string {
  return `${JSON.stringify(fixture, null, 1)
    .replace(/\{\n\s+"name"(?:[^{}]|\{[^{}]*\})*\}/g, (step) => step.replace(/\n\s*/g, ' ').replaceAll('{ ', '{').replaceAll(' }', '}'))
    .replace(/\[\n\s+("[0-9A-F]+\/[0-9A-F]+"),\n\s+("[0-9a-f]*")\n\s+\]/g, '[$1, $2]')}\n`;
}

const majors = process.argv.slice(2).map(Number);
mkdirSync(FIXTURE_DIR, { recursive: true });
for (const major of majors.length > 0 ? majors : [14, 18]) {
  const fixture = await captureMajor(major);
  const file = path.join(FIXTURE_DIR, `pg${major}.json`);
  writeFileSync(file, formatFixture(fixture));
  const counts = Object.entries(fixture.captures).map(([name, c]) => `${name}: ${c.messages.length}`);
  process.stdout.write(`${file}: PostgreSQL ${fixture.serverVersion}, ${counts.join(', ')} messages\n`);
}
