import pg from 'pg';
import { skip } from 'rxjs';
import { EmbeddedPostgres } from '../../embedded/postgres-server.js';
import { pg as laredo } from '../../source/index.js';
import { jsonlTarget } from '../../targets/jsonl/index.js';
import { runSource } from '../run-source.js';
import type { CommandContext } from './context.js';

export interface DemoOptions {
  /** Rows in the demo table before the baseline. */
  readonly rows: number;
  /** Stop after this long; until interrupted when absent. */
  readonly durationSeconds?: number;
}

const SCHEMA = `
CREATE TABLE orders (
  id          bigserial PRIMARY KEY,
  customer    text NOT NULL,
  amount      numeric(12,2) NOT NULL,
  status      text NOT NULL DEFAULT 'new',
  tags        text[] NOT NULL DEFAULT '{}',
  details     jsonb,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
`;

const CUSTOMERS = ['ada', 'grace', 'linus', 'margaret', 'ken', 'barbara'];

/**
 * `laredo demo`: starts an embedded PostgreSQL from npm, creates a small `orders` table, keeps writing to
 * it (inserts, updates, deletes), and runs an ephemeral laredo source into a jsonl target on stdout:
 * the baseline first, then every live change. Everything it made is gone when it exits.
 */
export async function demoCommand(context: CommandContext, options: DemoOptions = { rows: 1000 }): Promise<number> {
  const say = (line: string): void => {
    context.stderr(`laredo demo: ${line}\n`);
  };
  say('starting an embedded PostgreSQL (binaries from npm)...');
  const server = new EmbeddedPostgres();
  let writer: ReturnType<typeof setInterval> | undefined;
  let client: pg.Client | undefined;
  try {
    const info = await server.start();
    client = new pg.Client({ connectionString: server.connectionString() });
    // In a terminal, Ctrl-C signals the whole process group, the embedded server included: the server
    // may end this connection while the source stops, which pg reports as an 'error' event (fatal when
    // nobody listens).
    client.on('error', (error) => {
      if (!context.signal.aborted) say(`writer connection lost: ${error.message}`);
    });
    const connection = client;
    say(`PostgreSQL ${info.major} is up on port ${info.port}; creating table orders with ${options.rows} rows`);
    await client.connect();
    await client.query(SCHEMA);
    await client.query(
      `INSERT INTO orders (customer, amount, tags, details)
       SELECT (ARRAY['ada','grace','linus','margaret','ken','barbara'])[1 + g % 6], round((random() * 1000)::numeric, 2),
              ARRAY['seed'], jsonb_build_object('seq', g)
       FROM generate_series(1, $1::int) g`,
      [options.rows],
    );

    const source = laredo.source({
      connection: server.connectionString(),
      slotMode: 'ephemeral',
      slotName: 'laredo_demo',
      publication: { name: 'laredo_demo_pub', tables: { 'public.orders': {} } },
      // The server is local: if it is gone, waiting minutes for it (the default) helps nobody.
      reconnect: { maxAttempts: 3, initialBackoff: 500, maxBackoff: 2000 },
    });
    let tick = 0;
    const write = async (): Promise<void> => {
      tick += 1;
      const customer = CUSTOMERS[tick % CUSTOMERS.length]!;
      await connection.query(
        `INSERT INTO orders (customer, amount, tags, details) VALUES ($1, round((random() * 1000)::numeric, 2), ARRAY['live'], jsonb_build_object('tick', $2::int))`,
        [customer, tick],
      );
      if (tick % 2 === 0) await connection.query(`UPDATE orders SET status = 'paid' WHERE id = (SELECT min(id) FROM orders WHERE status = 'new')`);
      if (tick % 5 === 0) await connection.query(`DELETE FROM orders WHERE id = (SELECT min(id) FROM orders)`);
    };

    // Stopped by the user or by --duration: the writer stops first, so the last changes are streamed.
    const stop = new AbortController();
    const onAbort = (): void => {
      stop.abort();
    };
    context.signal.addEventListener('abort', onAbort, { once: true });
    if (context.signal.aborted) onAbort();
    stop.signal.addEventListener('abort', () => {
      if (writer !== undefined) clearInterval(writer);
    });
    const states = source.state$.pipe(skip(1)).subscribe((state) => {
      say(`source state: ${state}`);
      if (state === 'STREAMING' && writer === undefined && !stop.signal.aborted) {
        say('baseline done; now writing to orders every 500 ms: live changes follow (Ctrl-C to stop)');
        writer = setInterval(() => {
          write().catch((error: unknown) => {
            if (!stop.signal.aborted) say(`writer: ${(error as Error).message}`);
          });
        }, 500);
      }
    });
    const timer = options.durationSeconds === undefined ? undefined : setTimeout(onAbort, options.durationSeconds * 1000);
    const outcome = await runSource(source, [jsonlTarget({ path: '-', source: 'demo', flushIntervalMs: 100 })], {
      untilCaughtUp: false,
      signal: stop.signal,
    });
    if (timer !== undefined) clearTimeout(timer);
    context.signal.removeEventListener('abort', onAbort);
    states.unsubscribe();
    if (outcome.kind === 'failed') {
      say(`failed: ${(outcome.error as Error).message}`);
      return 1;
    }
    return 0;
  } catch (error) {
    // Ctrl-C while the demo was still setting up took the embedded server down under it: a stop, not a failure.
    if (context.signal.aborted) return 0;
    throw error;
  } finally {
    if (writer !== undefined) clearInterval(writer);
    await client?.end().catch(() => undefined);
    say('stopping the embedded PostgreSQL');
    await server.stop();
  }
}
