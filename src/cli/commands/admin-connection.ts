import pg from 'pg';
import { resolveSourceOptions, type ResolvedSourceOptions } from '../../source/defaults.js';
import type { PostgresSourceOptions } from '../../source/options.js';
import { pgClientConfig, redactConnectionString } from '../../streams/connection.js';
import { fromPgError } from '../../streams/errors.js';
import type { SqlQueryable } from '../../streams/slot.js';

/** A short-lived catalog connection for the commands that inspect or change a source's server objects. */
export interface AdminConnection extends SqlQueryable {
  readonly options: ResolvedSourceOptions;
  readonly serverVersion: number;
  close(): Promise<void>;
}

export async function connectAdmin(options: PostgresSourceOptions): Promise<AdminConnection> {
  const resolved = resolveSourceOptions(options);
  const client = new pg.Client(pgClientConfig(resolved.connection, { applicationName: 'laredo-cli' }));
  const secrets = typeof client.password === 'string' ? [client.password] : [];
  const where = redactConnectionString(resolved.connection);
  try {
    await client.connect();
  } catch (error) {
    throw fromPgError(error, { action: `connecting to ${where}`, secrets });
  }
  const query = async (sql: string): Promise<{ rows: unknown[] }> => {
    try {
      return await client.query(sql);
    } catch (error) {
      throw fromPgError(error, { action: `querying ${where}`, secrets });
    }
  };
  const [row] = (await query(`SELECT current_setting('server_version_num') AS v`)).rows as { v: string }[];
  return {
    options: resolved,
    serverVersion: Number(row?.v),
    query,
    close: () => client.end().catch(() => undefined),
  };
}
