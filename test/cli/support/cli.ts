// The `laredo` command as a child process, the way a user or an orchestrator runs it: its own process
// (so signals and SIGKILL are real), its own working directory (relative paths, .laredo-state), its
// configuration from a file plus LAREDO_* environment variables.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { waitFor } from '../../support/wait.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI_FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'cli');
const MAIN = path.join(REPO_ROOT, 'src', 'cli', 'main.ts');
// tsx by file URL: the child's working directory is a temporary one, where `--import tsx` would not resolve.
const TSX_LOADER = pathToFileURL(path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

export interface CliExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** stderr's JSON log records (other lines skipped). */
  logs(): LogRecord[];
  readonly exited: Promise<CliExit>;
  /** Waits until a log record matches. */
  waitForLog(match: (record: LogRecord) => boolean, what: string, timeoutMs?: number): Promise<LogRecord>;
  /** Waits until the source `source` reported `state` in the log. */
  waitForState(state: string, source?: string, timeoutMs?: number): Promise<void>;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<CliExit>;
}

export interface LogRecord {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface CliOptions {
  /** Working directory: relative paths of the config resolve here. */
  readonly cwd: string;
  /** Added to the test process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Start the child as the leader of a new process group (to signal the group, as a terminal's Ctrl-C does). */
  readonly processGroup?: boolean;
}

/** Every process started here, so a failed test cannot leave one running. */
const started = new Set<ChildProcess>();

/** SIGKILLs whatever is still running (afterEach). */
export function killAllCli(): void {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  started.clear();
}

function childEnvironment(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Only what this test sets: an override left in the developer's shell must not change the config.
    if (!key.startsWith('LAREDO_SOURCES_')) env[key] = value;
  }
  return { ...env, ...extra };
}

export function startCli(args: readonly string[], options: CliOptions): CliProcess {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, MAIN, ...args], {
    cwd: options.cwd,
    env: childEnvironment(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.processGroup === true,
  });
  started.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<CliExit>((resolve) => {
    child.on('close', (code, signal) => {
      started.delete(child);
      resolve({ code, signal });
    });
  });
  const logs = (): LogRecord[] => parseLogs(stderr);
  const waitForLog = (match: (record: LogRecord) => boolean, what: string, timeoutMs = 60_000): Promise<LogRecord> =>
    waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`laredo exited (${child.exitCode}) before ${what}; stderr:\n${stderr}`);
        return logs().find(match);
      },
      { timeoutMs, what: `${what} (stderr so far:\n${stderr})` },
    );
  return {
    child,
    pid: child.pid!,
    stdout: () => stdout,
    stderr: () => stderr,
    logs,
    exited,
    waitForLog,
    async waitForState(state, source = 'pg_main', timeoutMs = 60_000) {
      await waitForLog((record) => record['source'] === source && record['state'] === state, `source ${source} to be ${state}`, timeoutMs);
    },
    async stop(signal = 'SIGTERM', timeoutMs = 60_000) {
      child.kill(signal);
      return withTimeout(exited, timeoutMs, `laredo to exit after ${signal}; stderr:\n${stderr}`);
    },
  };
}

/** Runs laredo to its exit. */
export async function runCli(args: readonly string[], options: CliOptions & { timeoutMs?: number }): Promise<CliExit & { stdout: string; stderr: string }> {
  const cli = startCli(args, options);
  const exit = await withTimeout(cli.exited, options.timeoutMs ?? 90_000, `laredo ${args.join(' ')} to exit; stderr:\n${cli.stderr()}`).catch(
    (error: unknown) => {
      cli.child.kill('SIGKILL');
      throw error;
    },
  );
  return { ...exit, stdout: cli.stdout(), stderr: cli.stderr() };
}

export function parseLogs(stderr: string): LogRecord[] {
  const records: LogRecord[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      records.push(JSON.parse(line) as LogRecord);
    } catch {
      // A line still being written.
    }
  }
  return records;
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A fresh working directory for a laredo process; `remove()` in afterEach. */
export async function workingDirectory(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'laredo-cli-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
