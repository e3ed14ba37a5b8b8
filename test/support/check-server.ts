// Starts and stops each PostgreSQL major installed from npm: proof that a clean `npm ci` gives servers
// that run. Used by .ci/run before the tests.
import pg from 'pg';
import { EmbeddedPostgres, installedPostgresMajors } from '../../src/embedded/postgres-server.js';

for (const { major } of installedPostgresMajors()) {
  const server = new EmbeddedPostgres({ major });
  await server.start();
  try {
    const client = new pg.Client({ connectionString: server.connectionString() });
    await client.connect();
    const { rows } = await client.query<{ version: string; wal_level: string }>(
      `SELECT version() AS version, current_setting('wal_level') AS wal_level`,
    );
    await client.end();
    console.log(`PostgreSQL ${major} from npm: ${rows[0]?.version.split(' on ')[0] ?? '?'}, wal_level=${rows[0]?.wal_level ?? '?'}`);
  } finally {
    await server.stop();
  }
}
