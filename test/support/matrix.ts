// Runs the integration tests once per PostgreSQL major installed from npm (or once against
// LAREDO_TEST_PG_BIN), each against its own throwaway server.
import { spawnSync } from 'node:child_process';
import { installedPostgresMajors } from '../../src/embedded/postgres-server.js';

const installed = installedPostgresMajors().map((m) => String(m.major));
// CI runs `npm test` (the default, newest major) first; LAREDO_TEST_MATRIX_SKIP_DEFAULT=1 then runs
// only the other majors instead of the default one a second time.
const skipDefault = process.env['LAREDO_TEST_MATRIX_SKIP_DEFAULT'] === '1';
const majors: string[] = process.env['LAREDO_TEST_PG_BIN'] ? ['bin'] : skipDefault ? installed.slice(1) : installed;
if (majors.length === 0) {
  console.error('test:matrix: no PostgreSQL binaries installed from npm');
  process.exit(1);
}
const failed: string[] = [];
for (const major of majors) {
  console.log(`\n== integration tests on PostgreSQL ${major} ==`);
  const env = { ...process.env };
  if (major !== 'bin') env['LAREDO_TEST_PG'] = major;
  const run = spawnSync('npx', ['vitest', 'run', '--project', 'integration', ...process.argv.slice(2)], { stdio: 'inherit', env });
  if (run.status !== 0) failed.push(major);
}
if (failed.length > 0) console.error(`test:matrix: failed on PostgreSQL ${failed.join(', ')}`);
process.exit(failed.length > 0 ? 1 : 0);
