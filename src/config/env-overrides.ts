// `LAREDO_SOURCES_<ID>_<KEY>=value` sets `sources.<id>.<key>` over what the file says, so a deployment
// can inject a connection string (with its password) without writing it into the file. Ids and keys
// both contain `_`, so the variable name is split against what the file defines: the id must be a
// source of the file and the rest must be a key a source has. A name that matches nothing is an error,
// not ignored: a typo would otherwise leave the file's value silently in force.
import type { ConfigIssue } from './errors.js';
import { formatPath } from './paths.js';
import { SOURCE_OVERRIDE_KEYS } from './schema.js';
import { closestMatch } from './suggest.js';

export const SOURCE_ENV_PREFIX = 'LAREDO_SOURCES_';

export interface EnvOverrides {
  /** The file's data with the overrides applied (the input is not modified). */
  readonly data: Record<string, unknown>;
  /** Formatted key path → the variable that set it. */
  readonly origins: ReadonlyMap<string, string>;
  readonly issues: readonly ConfigIssue[];
}

const KEY_BY_SUFFIX = new Map(SOURCE_OVERRIDE_KEYS.map((path) => [path.join('_').toUpperCase(), path] as const));

/** Applies every `LAREDO_SOURCES_*` variable of `env` to `data`. Empty variables are ignored. */
export function applyEnvOverrides(
  data: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
): EnvOverrides {
  const copy = structuredClone(data) as Record<string, unknown>;
  const origins = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  const sources = isObject(copy['sources']) ? copy['sources'] : undefined;
  const ids = sources === undefined ? [] : Object.keys(sources).filter((id) => isObject(sources[id]));

  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (!name.startsWith(SOURCE_ENV_PREFIX) || value === undefined || value === '') continue;
    const rest = name.slice(SOURCE_ENV_PREFIX.length);
    const matches: { id: string; key: readonly string[] }[] = [];
    for (const id of ids) {
      const prefix = `${id.toUpperCase()}_`;
      if (!rest.startsWith(prefix)) continue;
      const key = KEY_BY_SUFFIX.get(rest.slice(prefix.length));
      if (key !== undefined) matches.push({ id, key });
    }
    if (matches.length === 0) {
      issues.push({ path: '', envVar: name, message: unmatchedMessage(rest, ids) });
      continue;
    }
    if (matches.length > 1) {
      const readings = matches.map(({ id, key }) => formatPath(['sources', id, ...key])).join(' or ');
      issues.push({ path: '', envVar: name, message: `is ambiguous: it could set ${readings}; rename one of the sources` });
      continue;
    }
    const { id, key } = matches[0]!;
    setPath(sources!, [id, ...key], value);
    origins.set(formatPath(['sources', id, ...key]), name);
  }
  return { data: copy, origins, issues };
}

function unmatchedMessage(rest: string, ids: readonly string[]): string {
  const candidates = ids.flatMap((id) => [...KEY_BY_SUFFIX.keys()].map((suffix) => `${id.toUpperCase()}_${suffix}`));
  const suggestion = closestMatch(rest, candidates);
  const idList = ids.length === 0 ? 'the file defines no sources' : `<ID> is one of ${ids.map((id) => id.toUpperCase()).join(', ')}`;
  return (
    `names no source key: write ${SOURCE_ENV_PREFIX}<ID>_<KEY> where ${idList} and <KEY> one of ${[...KEY_BY_SUFFIX.keys()].join(', ')}` +
    (suggestion === undefined ? '' : ` (did you mean ${SOURCE_ENV_PREFIX}${suggestion}?)`)
  );
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: string): void {
  let node = target;
  for (const segment of path.slice(0, -1)) {
    const next = node[segment];
    if (isObject(next)) node = next;
    else {
      // A section the file does not have (or has as a scalar, which validation reports anyway).
      const created: Record<string, unknown> = {};
      node[segment] = created;
      node = created;
    }
  }
  node[path[path.length - 1]!] = value;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
