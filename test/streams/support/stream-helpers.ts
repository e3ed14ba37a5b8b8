// Helpers shared by the streams integration tests: a slot plus publication to stream from, and a
// frame collector that decodes what arrives.
import { BehaviorSubject, type Subscription } from 'rxjs';
import type { PgoutputMessage } from '../../../src/protocol/pgoutput-messages.js';
import { PgoutputDecoder, type PgoutputProtocolVersion } from '../../../src/protocol/pgoutput.js';
import { Lsn } from '../../../src/protocol/lsn.js';
import { parseReplicationMessage, type ReplicationMessage } from '../../../src/protocol/replication-messages.js';
import { ReplicationClient, type CreatedSlot } from '../../../src/streams/replication-client.js';
import { replicationFrames, type ReplicationFramesOptions } from '../../../src/streams/replication-frames.js';
import { uniqueName, type TestDatabase } from '../../support/postgres.js';
import { waitFor } from '../../support/wait.js';

export interface StreamSetup {
  readonly client: ReplicationClient;
  readonly slot: CreatedSlot;
  readonly publication: string;
}

/** A publication for `tables` (SQL names, already quoted) and a slot on a fresh walsender. */
export async function createSlotAndPublication(
  db: TestDatabase,
  tables: string,
  options: { temporary?: boolean; snapshot?: 'export' | 'nothing' } = {},
): Promise<StreamSetup> {
  const publication = uniqueName('pub');
  await db.query(`CREATE PUBLICATION ${publication} FOR TABLE ${tables}`);
  const client = await ReplicationClient.connect(db.connectionString, { applicationName: 'laredo_test' });
  const slot = await client.createSlot(uniqueName('slot'), { temporary: options.temporary ?? true, snapshot: options.snapshot ?? 'nothing' });
  return { client, slot, publication };
}

export interface Collected {
  readonly frames: Buffer[];
  readonly messages: ReplicationMessage[];
  /** pgoutput messages of the XLogData frames, in order. */
  readonly pgoutput: PgoutputMessage[];
  readonly confirmed$: BehaviorSubject<Lsn>;
  readonly subscription: Subscription;
  error?: unknown;
  completed: boolean;
}

/** Subscribes to replicationFrames and decodes every frame as it arrives. */
export function collectFrames(options: Omit<ReplicationFramesOptions, 'confirmed$'> & { confirmed$?: BehaviorSubject<Lsn> }): Collected {
  const confirmed$ = options.confirmed$ ?? new BehaviorSubject<Lsn>(Lsn.ZERO);
  const decoder = new PgoutputDecoder({ protocolVersion: (options.protoVersion ?? 4) as PgoutputProtocolVersion, binary: options.binary ?? false });
  const collected: Collected = {
    frames: [],
    messages: [],
    pgoutput: [],
    confirmed$,
    completed: false,
    subscription: undefined as unknown as Subscription,
  };
  (collected as { subscription: Subscription }).subscription = replicationFrames({ ...options, confirmed$ }).subscribe({
    next: (frame) => {
      collected.frames.push(frame);
      const message = parseReplicationMessage(frame);
      collected.messages.push(message);
      if (message.tag === 'w') collected.pgoutput.push(decoder.decode(message.data));
    },
    error: (error: unknown) => {
      collected.error = error;
    },
    complete: () => {
      collected.completed = true;
    },
  });
  return collected;
}

/** Waits until a walsender with `pid` shows in pg_stat_replication (streaming has begun). */
export async function waitForWalsender(db: TestDatabase, pid: number): Promise<void> {
  await waitFor(async () => (await db.query('SELECT 1 FROM pg_stat_replication WHERE pid = $1', [pid])).rowCount === 1, {
    timeoutMs: 10_000,
    what: `walsender ${pid} in pg_stat_replication`,
  });
}

/**
 * Commits of transactions that changed rows. PostgreSQL 14's pgoutput also sends empty transactions
 * (BEGIN and COMMIT with nothing between) for any transaction of the database, autovacuum's ANALYZE
 * included, so tests count only these.
 */
export function commits(messages: readonly PgoutputMessage[]): Extract<PgoutputMessage, { tag: 'commit' }>[] {
  const result: Extract<PgoutputMessage, { tag: 'commit' }>[] = [];
  let changes = 0;
  for (const message of messages) {
    if (message.tag === 'begin') changes = 0;
    else if (message.tag === 'insert' || message.tag === 'update' || message.tag === 'delete' || message.tag === 'truncate') changes++;
    else if (message.tag === 'commit' && changes > 0) result.push(message);
  }
  return result;
}

/** The messages without PostgreSQL 14's empty transactions (a BEGIN directly followed by its COMMIT). */
export function withoutEmptyTransactions(messages: readonly PgoutputMessage[]): PgoutputMessage[] {
  const result: PgoutputMessage[] = [];
  for (let index = 0; index < messages.length; index++) {
    if (messages[index]!.tag === 'begin' && messages[index + 1]?.tag === 'commit') {
      index++;
      continue;
    }
    result.push(messages[index]!);
  }
  return result;
}
