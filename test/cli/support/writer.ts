// A continuous write load on the CLI tests' `items` and `notes` tables: inserts, updates (also of a
// primary key), deletes and multi-statement transactions, back to back on one connection. The choice
// of operations follows a seeded generator; what the tests assert never depends on the timing.
import type pg from 'pg';
import type { TestDatabase } from '../../support/postgres.js';
import { seededRandom } from '../../support/random.js';

export const ITEMS_SCHEMA = `
  CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL, price numeric(10,2) NOT NULL, tags jsonb);
  CREATE TABLE notes (id int PRIMARY KEY, item int, body text);
`;

/** `rows` items and notes before the baseline. */
export function seedItems(rows: number): string {
  return `
    INSERT INTO items SELECT g, 'item ' || g, g % 7, (g * 1.25)::numeric(10,2), jsonb_build_object('g', g) FROM generate_series(1, ${rows}) g;
    INSERT INTO notes SELECT g, g, 'note ' || g FROM generate_series(1, ${rows}) g;
  `;
}

export interface WriteLoad {
  /** Transactions committed so far. */
  readonly committed: number;
  /** Stops after the transaction in progress; resolves with the number committed. */
  stop(): Promise<number>;
}

export async function startWriteLoad(db: TestDatabase, options: { firstId: number; seed?: number }): Promise<WriteLoad> {
  const client = await db.client();
  const random = seededRandom(options.seed ?? 1);
  const state = { running: true, committed: 0, nextId: options.firstId };
  const pick = (): number => 1 + Math.floor(random() * (state.nextId - 1));
  const step = async (connection: pg.Client): Promise<void> => {
    const roll = random();
    const id = state.nextId++;
    if (roll < 0.35) {
      await connection.query(`INSERT INTO items VALUES ($1, $2, 1, 9.99, jsonb_build_object('live', $1::int))`, [id, `live ${id}`]);
    } else if (roll < 0.55) {
      await connection.query(`UPDATE items SET qty = qty + 1, price = price + 0.5, name = name || '+' WHERE id = $1`, [pick()]);
    } else if (roll < 0.65) {
      await connection.query(`DELETE FROM items WHERE id = $1`, [pick()]);
    } else if (roll < 0.75) {
      await connection.query(`INSERT INTO notes VALUES ($1, $2, 'live note')`, [id, pick()]);
    } else if (roll < 0.8) {
      // A new primary key: the change carries the old key.
      await connection.query(`UPDATE notes SET id = $1 WHERE id = $2`, [id, pick()]);
    } else {
      await connection.query('BEGIN');
      await connection.query(`INSERT INTO items VALUES ($1, 'in a transaction', 2, 1.00, NULL)`, [id]);
      await connection.query(`UPDATE notes SET body = 'touched ' || $1::text WHERE id = $2`, [id, pick()]);
      await connection.query(`DELETE FROM notes WHERE id = $1`, [pick()]);
      await connection.query(`UPDATE items SET tags = '{"moved": true}' WHERE id = $1`, [pick()]);
      await connection.query('COMMIT');
    }
    state.committed++;
  };
  // A failed statement ends the load; stop() reports it (a writer bug must not pass as a quiet load).
  const loop = (async () => {
    while (state.running) await step(client);
  })();
  loop.catch(() => undefined);
  return {
    get committed() {
      return state.committed;
    },
    async stop() {
      state.running = false;
      await loop;
      return state.committed;
    },
  };
}
