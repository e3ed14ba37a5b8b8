import type { TestProject } from 'vitest/node';
import { EmbeddedPostgres, type EmbeddedPostgresInfo } from '../../src/embedded/postgres-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: EmbeddedPostgresInfo;
  }
}

/** One throwaway server per test run (`LAREDO_TEST_PG=14|18`, or `LAREDO_TEST_PG_BIN`). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = new EmbeddedPostgres();
  const info = await server.start();
  project.provide('postgres', info);
  process.stdout.write(`laredo tests: PostgreSQL ${info.major} on port ${info.port} (${info.binDir})\n`);
  return async () => {
    await server.stop();
  };
}
