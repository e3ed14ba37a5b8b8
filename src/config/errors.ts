import { LaredoError } from '../errors.js';

/** One thing wrong with a config file, located as precisely as the file allows. */
export interface ConfigIssue {
  /** Key path as written in the file: `sources.pg_main.slot_name`, `tables[0].targets[1].type`. Empty for the whole file. */
  readonly path: string;
  /** What is wrong and what is allowed; never contains a secret. */
  readonly message: string;
  /** The config file the key is in (as the user named it). */
  readonly file?: string;
  /** 1-based line of the key in `file`, when it could be found. */
  readonly line?: number;
  /** The environment variable the value came from, when an override set it. */
  readonly envVar?: string;
}

/** Formats one issue the way the CLI prints it: `config error at <path> (<file>:<line>): <message>`. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where = issue.path === '' ? '' : ` at ${issue.path}`;
  let origin = '';
  if (issue.envVar !== undefined) origin = ` (from ${issue.envVar})`;
  else if (issue.file !== undefined) origin = ` (${issue.file}${issue.line === undefined ? '' : `:${issue.line}`})`;
  return `config error${where}${origin}: ${issue.message}`;
}

/**
 * A config file that cannot be used. Carries every issue found, not only the first, so one run of
 * `laredo check` shows everything to fix. Never retryable: the same file fails the same way.
 */
export class ConfigError extends LaredoError {
  declare readonly code: 'CONFIG';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[] | string, message?: string, options?: { cause?: unknown }) {
    const list: readonly ConfigIssue[] = typeof issues === 'string' ? [{ path: issues, message: message ?? 'is invalid' }] : issues;
    super('CONFIG', list.map(formatConfigIssue).join('\n'), { retryable: false, ...options });
    this.issues = list;
  }
}

/**
 * A single value that does not parse (a duration, a size, a connection string, a name). Raised by the
 * pure parsers of this folder; the loader turns it into a `ConfigIssue` at the key the value came from.
 */
export class ConfigValueError extends LaredoError {
  declare readonly code: 'CONFIG_VALUE';

  constructor(message: string) {
    super('CONFIG_VALUE', message, { retryable: false });
  }
}
