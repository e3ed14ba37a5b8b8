#!/usr/bin/env node
// The `laredo` command: parses flags, loads and validates the config (exit 2 before anything touches a
// server when it is wrong), then hands over to the command in ./commands.
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ConfigError, formatConfigIssue, type ConfigIssue } from '../config/errors.js';
import { loadConfig } from '../config/load-config.js';
import type { LaredoConfig } from '../config/types.js';
import { LaredoError } from '../errors.js';
import { redactSecrets } from '../observability/redact.js';
import { resolveSourceOptions } from '../source/defaults.js';
import { preflightCommand, summarizeConfig } from './commands/check.js';
import type { CommandContext } from './commands/context.js';
import { demoCommand } from './commands/demo.js';
import { resetSourceCommand } from './commands/reset-source.js';
import { runCommand } from './commands/run.js';
import { statusCommand } from './commands/status.js';
import { EXIT_CODES } from './exit-codes.js';

/** The process around a CLI run; tests pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted when the user asks the process to stop. Default: never. */
  readonly signal?: AbortSignal;
}

/** A source id given on the command line that the config does not define. */
class UnknownSourceError extends LaredoError {
  constructor(id: string, config: LaredoConfig) {
    const ids = Object.keys(config.sources);
    super('UNKNOWN_SOURCE', `${config.file} defines no source "${id}"; its sources are: ${ids.join(', ')}`, { retryable: false });
  }
}

const PACKAGE_VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** Runs `laredo <argv...>` and resolves to the process exit code. Never throws. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const context: CommandContext = { stdout: io.stdout, stderr: io.stderr, env: io.env, signal: io.signal ?? new AbortController().signal };
  let exitCode: number = EXIT_CODES.ok;
  const load = (file: string): Promise<LaredoConfig> => loadConfig(file, io.env);

  const program = new Command('laredo')
    .description('PostgreSQL logical replication (pgoutput) to targets: a consistent baseline, then every change.')
    .version(PACKAGE_VERSION, '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(laredo --help lists the commands; laredo <command> --help their flags)')
    .allowExcessArguments(false);

  program
    .command('run')
    .description('replicate every source of the config into its targets until stopped')
    .requiredOption('-c, --config <file>', 'config file (HOCON)')
    .option('--until-caught-up', 'exit once every source has finished its baseline and reached the current WAL position', false)
    .action(async (options: { config: string; untilCaughtUp: boolean }) => {
      const config = await load(options.config);
      assertRunnable(config);
      exitCode = await runCommand(config, { untilCaughtUp: options.untilCaughtUp }, context);
    });

  program
    .command('check')
    .description('validate the config, then check each source server (wal_level, privileges, tables)')
    .requiredOption('-c, --config <file>', 'config file (HOCON)')
    .option('--config-only', 'validate the file only; do not connect to any server', false)
    .action(async (options: { config: string; configOnly: boolean }) => {
      const config = await load(options.config);
      io.stdout(`laredo: ${options.config} is valid: ${summarizeConfig(config)}\n`);
      if (!options.configOnly) exitCode = await preflightCommand(config, context);
    });

  program
    .command('status')
    .description('show each source\'s slot, publication, confirmed position and lag')
    .requiredOption('-c, --config <file>', 'config file (HOCON)')
    .option('--json', 'print one JSON document', false)
    .action(async (options: { config: string; json: boolean }) => {
      const config = await load(options.config);
      exitCode = await statusCommand(config, { json: options.json }, context);
    });

  program
    .command('reset-source')
    .description('drop a source\'s slot and state so the next run starts with a full baseline')
    .argument('<source>', 'source id, as in the config\'s sources { ... }')
    .requiredOption('-c, --config <file>', 'config file (HOCON)')
    .option('--drop-publication', 'also drop the publication laredo manages for the source', false)
    .action(async (source: string, options: { config: string; dropPublication: boolean }) => {
      const config = await load(options.config);
      if (!Object.hasOwn(config.sources, source)) throw new UnknownSourceError(source, config);
      exitCode = await resetSourceCommand(config, { source, dropPublication: options.dropPublication }, context);
    });

  program
    .command('demo')
    .description('start an embedded PostgreSQL under writes and print its baseline and changes')
    .option('--duration <seconds>', 'stop after this many seconds (default: run until Ctrl-C)')
    .option('--rows <count>', 'rows in the demo table before the baseline', '1000')
    .action(async (options: { duration?: string; rows: string }) => {
      const durationSeconds = options.duration === undefined ? undefined : Number(options.duration);
      const rows = Number(options.rows);
      if ((durationSeconds !== undefined && !(durationSeconds > 0)) || !(Number.isInteger(rows) && rows >= 0)) {
        io.stderr('laredo: demo: --duration must be a number of seconds > 0 and --rows a whole number >= 0\n');
        exitCode = EXIT_CODES.usage;
        return;
      }
      exitCode = await demoCommand(context, { rows, ...(durationSeconds === undefined ? {} : { durationSeconds }) });
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    return report(error, io);
  }
}

/**
 * What `laredo run` needs beyond a valid file: every source publishes at least one table, and the
 * library accepts each source's options. Checked before anything starts, so such a file exits 2 having
 * touched no server, like any other config error.
 */
function assertRunnable(config: LaredoConfig): void {
  const issues: ConfigIssue[] = [];
  for (const [id, options] of Object.entries(config.sources)) {
    const at = { path: `sources.${id}`, file: config.file };
    if (Object.keys(options.publication?.tables ?? {}).length === 0) {
      issues.push({ ...at, message: `publishes no table, so there is nothing to run: add a tables[] entry with source = ${id}, or list a table in its publication.tables` });
      continue;
    }
    try {
      resolveSourceOptions(options);
    } catch (error) {
      if (!(error instanceof LaredoError)) throw error;
      issues.push({ ...at, message: error.message });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
}

/** Prints `error` for the user and picks the exit code. Messages are redacted once more, to be safe. */
function report(error: unknown, io: CliIo): number {
  if (error instanceof CommanderError) {
    // Commander has already printed help, the version, or its error message.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_CODES.ok;
    if (error.code === 'commander.help') return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
    return EXIT_CODES.usage;
  }
  if (error instanceof ConfigError) {
    for (const issue of error.issues) io.stderr(`laredo: ${redactSecrets(formatConfigIssue(issue))}\n`);
    if (error.issues.length > 1) io.stderr(`laredo: ${error.issues.length} config errors; nothing was started\n`);
    return EXIT_CODES.usage;
  }
  if (error instanceof LaredoError) {
    io.stderr(`laredo: ${redactSecrets(error.message)}\n`);
    return error.code === 'UNKNOWN_SOURCE' ? EXIT_CODES.usage : EXIT_CODES.failure;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr(`laredo: unexpected error: ${redactSecrets(message)}\n`);
  return EXIT_CODES.failure;
}

/** The real process: stdout/stderr, process.env, and SIGINT/SIGTERM as a graceful stop (a second one exits at once). */
function processIo(): CliIo {
  const controller = new AbortController();
  const onSignal = (): void => {
    if (controller.signal.aborted) process.exit(EXIT_CODES.interrupted);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    signal: controller.signal,
  };
}

function isEntryPoint(): boolean {
  const invoked = process.argv[1];
  if (invoked === undefined) return false;
  try {
    // The npm bin is a symlink to this file.
    return realpathSync(invoked) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // exitCode rather than exit(): stdout may still be flushing to a pipe.
  process.exitCode = await main(process.argv.slice(2));
}
