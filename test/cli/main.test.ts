import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

const BAD = path.join('test', 'fixtures', 'config', 'bad');
const GOOD = path.join('test', 'fixtures', 'config', 'good');
const BAD_FIXTURES = readdirSync(BAD).filter((name) => name.endsWith('.conf')).sort();
const GOOD_FIXTURES = readdirSync(GOOD).filter((name) => name.endsWith('.conf')).sort();

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function laredo(argv: string[], env: Record<string, string> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env,
  });
  return { code, stdout, stderr };
}

/** The keys (or environment variables) a bad fixture's error must name, and the variables it sets. */
function fixtureHeader(file: string): { keys: string[]; env: Record<string, string> } {
  const text = readFileSync(file, 'utf8');
  const keys = [...text.matchAll(/^# expect: (.*)$/gm)].map((match) => match[1]!.trim());
  const env: Record<string, string> = {};
  for (const match of text.matchAll(/^# env: ([A-Z0-9_]+)=(.*)$/gm)) env[match[1]!] = match[2]!;
  return { keys, env };
}

function expectNamesKeys(stderr: string, keys: readonly string[], file: string): void {
  for (const key of keys) {
    if (key === '<file>') expect(stderr).toContain(`laredo: config error (${file}`);
    else if (/^LAREDO_/.test(key)) expect(stderr).toContain(`(from ${key})`);
    else expect(stderr).toContain(`config error at ${key} (`);
  }
}

describe('laredo check on malformed configs', () => {
  it.each(BAD_FIXTURES)('%s: exits 2 naming the key, before touching a server', async (name) => {
    const file = path.join(BAD, name);
    const { keys, env } = fixtureHeader(file);
    const run = await laredo(['check', '--config', file], env);
    expect(run.code, run.stderr).toBe(2);
    expectNamesKeys(run.stderr, keys, file);
    // Exit 2 came from the config: the (not yet implemented) server preflight was never reached.
    expect(run.stderr).not.toContain('not implemented');
    expect(run.stdout).toBe('');
    expect(run.stderr).not.toContain('hunter2');
  });

  it('prints every error of a file, one per line, and how many there were', async () => {
    const run = await laredo(['check', '--config', path.join(BAD, 'many-errors.conf')]);
    expect(run.code).toBe(2);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(7);
    expect(lines.every((line) => line.startsWith('laredo: '))).toBe(true);
    expect(lines[6]).toBe('laredo: 6 config errors; nothing was started');
  });
});

describe('laredo commands load the config first', () => {
  it.each([
    ['run', ['run', '--config']],
    ['status', ['status', '--json', '--config']],
    ['reset-source', ['reset-source', 'pg_main', '--config']],
  ])('%s exits 2 on a config error without starting', async (_command, argv) => {
    const file = path.join(BAD, 'stateful-without-slot-name.conf');
    const run = await laredo([...argv, file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('config error at sources.pg_main.slot_name');
    expect(run.stderr).not.toContain('not implemented');
  });

  it.each(GOOD_FIXTURES)('check --config-only accepts %s and says what it defines', async (name) => {
    const run = await laredo(['check', '--config', path.join(GOOD, name), '--config-only']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/is valid: \d+ sources? \(/);
    expect(run.stderr).toBe('');
  });

  it('exits 2 when reset-source names a source the config does not define', async () => {
    const run = await laredo(['reset-source', '--config', path.join(GOOD, 'stateful.conf'), 'pg_other']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('defines no source "pg_other"; its sources are: pg_main');
    expect((await laredo(['reset-source', '--config', path.join(GOOD, 'stateful.conf'), 'constructor'])).code).toBe(2);
  });
});

describe('laredo usage', () => {
  it('exits 2 on an unknown command, a missing --config or an unknown flag', async () => {
    expect((await laredo(['chek'])).code).toBe(2);
    expect((await laredo(['chek'])).stderr).toContain('Did you mean check?');
    expect((await laredo(['run'])).stderr).toContain("required option '-c, --config <file>' not specified");
    expect((await laredo(['run'])).code).toBe(2);
    expect((await laredo(['status', '--config', 'x.conf', '--yaml'])).code).toBe(2);
  });

  it('exits 0 for --help and --version, writing to stdout', async () => {
    const help = await laredo(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: laredo');
    for (const command of ['run', 'check', 'status', 'reset-source', 'demo']) expect(help.stdout).toContain(command);
    const version = await laredo(['--version']);
    expect(version).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' });
  });
});

describe('laredo as a child process', () => {
  const run = promisify(execFile);
  const cli = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', path.join('src', 'cli', 'main.ts'), ...args], { timeout: 60_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: unknown) => {
        const failed = error as { code: number; stdout: string; stderr: string };
        return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
      },
    );

  it('exits 2 with the config errors on stderr, and 0 for a valid config', async () => {
    const bad = await cli(['check', '--config', path.join(BAD, 'unknown-source-key.conf')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('laredo: config error at sources.pg_main.slot_nmae (test/fixtures/config/bad/unknown-source-key.conf:8): is not a known key (did you mean slot_name?)');
    const good = await cli(['check', '--config', path.join(GOOD, 'stateful.conf'), '--config-only']);
    expect(good).toMatchObject({ code: 0, stderr: '' });
    expect(good.stdout).toContain('is valid: 1 source (pg_main), 0 tables, 0 targets');
  });
});

describe('laredo run checks what it needs before starting', () => {
  it('exits 2 on a source that publishes no table (the specification\'s block alone), touching no server', async () => {
    const run = await laredo(['run', '--config', path.join(GOOD, 'stateful.conf')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'laredo: config error at sources.pg_main (test/fixtures/config/good/stateful.conf): publishes no table, so there is nothing to run: add a tables[] entry with source = pg_main, or list a table in its publication.tables\n',
    );
  });
});
