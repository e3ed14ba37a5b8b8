/**
 * A bare walsender client for tools (scripts/capture-pgoutput.ts, bench/decode.ts): START_REPLICATION
 * on a logical slot, keep every XLogData payload in memory, and wait until the server has decoded up to
 * a given LSN. Never confirms anything (status updates carry 0/0), so the slot can be read again from
 * the start. Not the library's replication connection: no backpressure, no reconnect.
 */
import type { Duplex } from 'node:stream';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { Lsn } from '../../src/protocol/lsn.js';
import { encodeStandbyStatusUpdate, parseReplicationMessage } from '../../src/protocol/replication-messages.js';
import { sessionSettingsOptions } from '../../src/protocol/values.js';

export interface CapturedXLogData {
  readonly walStart: Lsn;
  /** The pgoutput message. */
  readonly data: Buffer;
}

// @types/pg-copy-streams lacks `both` (CopyBoth, what START_REPLICATION answers with).
const copyBoth = (copyStreams as unknown as { both: (text: string, options?: { alignOnCopyDataFrame?: boolean }) => Duplex & pg.Submittable })
  .both;

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export class ReplicationCapture {
  readonly messages: CapturedXLogData[] = [];
  /** Called for every XLogData payload, after it was stored. */
  onMessage: ((message: CapturedXLogData) => void) | undefined;
  #decodedUpTo: Lsn = 0n;
  #keepalives = 0;
  #failure: Error | undefined;
  #stopping = false;
  readonly #client: pg.Client;
  readonly #stream: Duplex;

  private constructor(client: pg.Client, stream: Duplex) {
    this.#client = client;
    this.#stream = stream;
    stream.on('data', (frame: Buffer) => {
      const message = parseReplicationMessage(frame);
      if (message.tag === 'w') {
        const captured = { walStart: message.walStart, data: Buffer.from(message.data) };
        this.messages.push(captured);
        this.onMessage?.(captured);
      } else {
        this.#keepalives++;
        this.#decodedUpTo = Lsn.max(this.#decodedUpTo, message.walEnd);
        if (message.replyRequested) this.#sendStatus(false);
      }
    });
    const fail = (error: Error): void => {
      if (!this.#stopping) this.#failure ??= error;
    };
    stream.on('error', fail);
    client.on('error', fail);
  }

  /** Connects in replication mode and starts streaming `slot` from its confirmed position. */
  static async start(connectionString: string, slot: string, pluginOptions: Readonly<Record<string, string>>): Promise<ReplicationCapture> {
    const url = new URL(connectionString);
    url.searchParams.set('replication', 'database');
    // The walsender prints text values with its session's settings: the ones laredo's own connections use.
    const client = new pg.Client({ connectionString: url.toString(), options: sessionSettingsOptions() });
    await client.connect();
    const options = Object.entries(pluginOptions)
      .map(([name, value]) => `"${name}" ${quoteLiteral(value)}`)
      .join(', ');
    const stream = client.query(copyBoth(`START_REPLICATION SLOT "${slot}" LOGICAL 0/0 (${options})`, { alignOnCopyDataFrame: true }));
    return new ReplicationCapture(client, stream);
  }

  #sendStatus(replyRequested: boolean): void {
    // 0/0 everywhere: "unknown", so the slot's confirmed position never moves.
    this.#stream.write(encodeStandbyStatusUpdate({ written: 0n, flushed: 0n, applied: 0n, replyRequested }));
  }

  /** Waits until the server has decoded (and sent everything for) the WAL before `lsn`. */
  async catchUp(lsn: Lsn, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#decodedUpTo < lsn) {
      this.#throwIfFailed();
      if (Date.now() > deadline) {
        throw new Error(`walsender did not decode up to ${Lsn.format(lsn)} within ${timeoutMs} ms (at ${Lsn.format(this.#decodedUpTo)})`);
      }
      // The walsender answers a status update that asks for a reply with a keepalive carrying how far
      // it has decoded; messages for earlier WAL were written to the socket before it.
      const seen = this.#keepalives;
      this.#sendStatus(true);
      await this.#until(() => this.#keepalives > seen, 200);
    }
  }

  /** Waits until `predicate` holds for a received message. */
  async waitForMessage(predicate: (message: CapturedXLogData) => boolean, what: string, timeoutMs = 60_000): Promise<CapturedXLogData> {
    let found: CapturedXLogData | undefined;
    await this.#until(() => (found = this.messages.find(predicate)) !== undefined, timeoutMs);
    if (found === undefined) throw new Error(`no ${what} within ${timeoutMs} ms`);
    return found;
  }

  async #until(condition: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition() && Date.now() < deadline) {
      this.#throwIfFailed();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#stream.destroy();
    await this.#client.end().catch(() => undefined);
  }
}
