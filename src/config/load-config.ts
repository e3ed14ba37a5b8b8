// Config file → validated, typed options. Nothing here touches a server: whether the tables exist, the
// user may replicate, or the server is new enough for row filters is for the preflight to find out.
import { resolve } from 'node:path';
import type { z } from 'zod';
import type { PostgresSourceOptions, PublicationTableOptions } from '../source/options.js';
import { parseDuration } from './duration.js';
import { applyEnvOverrides, isObject } from './env-overrides.js';
import { ConfigError, ConfigValueError, type ConfigIssue } from './errors.js';
import { bool } from './fields.js';
import type { UnknownKeyParams } from './fields.js';
import { readHoconFile } from './hocon.js';
import { canonicalTableKey, checkSourceId, parseTableKey } from './names.js';
import { formatPath, locateKeys, type PathSegment } from './paths.js';
import { configSchema, OBSERVABILITY_DEFAULTS, type ParsedConfig, type ParsedSource, type ParsedTarget } from './schema.js';
import { didYouMean } from './suggest.js';
import { describeInput } from './describe.js';
import type { LaredoConfig, TableConfig, TargetConfig } from './types.js';

/**
 * Reads, validates and maps the config `file`. `${VAR}` substitutions and `LAREDO_SOURCES_<ID>_<KEY>`
 * overrides come from `env`. Throws `ConfigError` listing every problem found, each with its key path
 * and line; no message contains a password.
 */
export async function loadConfig(file: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<LaredoConfig> {
  const content = await readHoconFile(file, env);
  if (!isObject(content)) {
    throw new ConfigError([{ path: '', file, message: 'must contain settings (key = value), e.g. sources { ... }' }]);
  }
  const overridden = applyEnvOverrides(content, env);
  const data = overridden.data;
  const parsed = configSchema.safeParse(data);
  const issues: PendingIssue[] = [...overridden.issues];
  if (!parsed.success) issues.push(...parsed.error.issues.map((issue) => fromZodIssue(issue, data)));
  issues.push(...crossCheck(data));
  if (parsed.success) issues.push(...checkJsonlWriters(parsed.data));

  if (issues.length > 0 || !parsed.success) {
    const locator = locateKeys(file);
    const located = dedupe(issues).map((issue): ConfigIssue & { sortLine: number } => {
      const envVar = issue.envVar ?? originOf(issue.path, overridden.origins);
      if (envVar !== undefined) return { path: issue.path, message: issue.message, envVar, sortLine: 0 };
      const line = issue.pathSegments === undefined ? undefined : locator.lineOf(issue.pathSegments);
      return { path: issue.path, message: issue.message, file, ...(line === undefined ? {} : { line }), sortLine: line ?? Number.MAX_SAFE_INTEGER };
    });
    located.sort((a, b) => a.sortLine - b.sortLine || a.path.localeCompare(b.path));
    throw new ConfigError(located.map(({ sortLine: _sortLine, ...issue }) => issue));
  }
  return toLaredoConfig(file, parsed.data);
}

type PendingIssue = Omit<ConfigIssue, 'file' | 'line'> & { readonly pathSegments?: readonly PathSegment[] };

function issueAt(path: readonly PathSegment[], message: string): PendingIssue {
  return { path: formatPath(path), pathSegments: path, message };
}

function dedupe(issues: readonly PendingIssue[]): PendingIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.envVar ?? ''}\u0000${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function originOf(path: string, origins: ReadonlyMap<string, string>): string | undefined {
  for (const [overridden, envVar] of origins) {
    if (path === overridden || path.startsWith(`${overridden}.`) || path.startsWith(`${overridden}[`)) return envVar;
  }
  return undefined;
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let node = data;
  for (const segment of path) {
    if (typeof segment === 'number') node = Array.isArray(node) ? (node[segment] as unknown) : undefined;
    else node = isObject(node) ? node[segment] : undefined;
  }
  return node;
}

function fromZodIssue(issue: z.core.$ZodIssue, data: unknown): PendingIssue {
  const path = issue.path.filter((segment): segment is string | number => typeof segment !== 'symbol');
  const input = valueAt(data, path);
  switch (issue.code) {
    case 'custom': {
      const params = issue.params as Partial<UnknownKeyParams> | undefined;
      if (params?.knownKeys !== undefined) {
        const key = String(path[path.length - 1]);
        return issueAt(path, `is not a known key${didYouMean(key, params.knownKeys)}; known keys here: ${params.knownKeys.join(', ')}`);
      }
      return issueAt(path, issue.message);
    }
    case 'invalid_union': {
      // A target whose `type` is missing or unknown (the discriminated union names its options).
      const options = 'options' in issue && Array.isArray(issue.options) ? issue.options.map(String) : [];
      if (options.length > 0) {
        if (input === undefined) return issueAt(path, `is required: one of ${options.join(', ')}`);
        const suggestion = typeof input === 'string' ? didYouMean(input, options) : '';
        return issueAt(path, `must be one of ${options.join(', ')} (got ${describeInput(input)})${suggestion}`);
      }
      return issueAt(path, issue.message);
    }
    case 'invalid_value':
      return issueAt(path, `must be ${issue.values.map(String).join(' or ')} (got ${describeInput(input)})`);
    default:
      return issueAt(path, issue.message);
  }
}

/** Rules that relate keys to each other; run on the raw data so they are reported alongside type errors. */
function crossCheck(data: Record<string, unknown>): PendingIssue[] {
  const issues: PendingIssue[] = [];
  const sources = isObject(data['sources']) ? data['sources'] : undefined;
  const ids = sources === undefined ? [] : Object.keys(sources);
  if (sources !== undefined && ids.length === 0) {
    issues.push(issueAt(['sources'], 'must define at least one source: sources { pg_main { type = postgresql, connection = "postgresql://..." } }'));
  }
  for (const id of ids) {
    const at = (...rest: PathSegment[]): PathSegment[] => ['sources', id, ...rest];
    attempt(issues, at(), () => {
      checkSourceId(id);
    });
    const source = sources![id];
    if (!isObject(source)) continue;
    if (source['slot_mode'] === 'stateful' && source['slot_name'] === undefined) {
      issues.push(issueAt(at('slot_name'), `is required when slot_mode = stateful: name the persistent slot, e.g. slot_name = laredo_${id}`));
    }
    const reconnect = source['reconnect'];
    if (isObject(reconnect)) {
      const initial = quietly(() => parseDuration(reconnect['initial_backoff']));
      const max = quietly(() => parseDuration(reconnect['max_backoff']));
      if (initial !== undefined && max !== undefined && max < initial) {
        issues.push(issueAt(at('reconnect', 'max_backoff'), 'must not be shorter than reconnect.initial_backoff'));
      }
    }
    const publication = source['publication'];
    if (!isObject(publication)) continue;
    const managed = quietly(() => bool(publication['create'])) ?? true;
    const tables = publication['tables'];
    if (!isObject(tables)) continue;
    for (const [key, options] of Object.entries(tables)) {
      attempt(issues, at('publication', 'tables', key), () => parseTableKey(key));
      if (managed || !isObject(options)) continue;
      for (const filter of ['where', 'columns'] as const) {
        if (options[filter] !== undefined) {
          issues.push(
            issueAt(
              at('publication', 'tables', key, filter),
              'only applies when laredo manages the publication (publication.create = true); otherwise set it on the existing publication',
            ),
          );
        }
      }
    }
  }

  const tables = data['tables'];
  if (Array.isArray(tables)) {
    const firstEntry = new Map<string, number>();
    tables.forEach((entry: unknown, index) => {
      if (!isObject(entry)) return;
      const source = entry['source'];
      let sourceId: string | undefined;
      if (source === undefined) {
        if (ids.length === 1) sourceId = ids[0];
        else if (ids.length > 1) {
          issues.push(issueAt(['tables', index, 'source'], `is required when the file defines more than one source (${ids.join(', ')})`));
        }
      } else if (typeof source === 'string') {
        if (sources !== undefined && !ids.includes(source)) {
          issues.push(
            issueAt(
              ['tables', index, 'source'],
              `names no source of this file${didYouMean(source, ids)}: define sources.${source}, or use one of ${ids.join(', ') || '(none defined)'}`,
            ),
          );
        } else sourceId = source;
      }
      const schema = typeof entry['schema'] === 'string' ? entry['schema'] : 'public';
      const table = entry['table'];
      if (sourceId === undefined || typeof table !== 'string') return;
      const key = `${sourceId}\u0000${schema}.${table}`;
      const first = firstEntry.get(key);
      if (first === undefined) firstEntry.set(key, index);
      else {
        issues.push(
          issueAt(['tables', index], `lists ${schema}.${table} of source ${sourceId} again (first at tables[${first}]): put all its targets in one entry`),
        );
      }
    });
  }
  return issues;
}

/**
 * One writer per jsonl file. Tables of one source that name the same file share a writer, which takes
 * one flush_interval; two sources would each open the file and append on their own, interleaving
 * partial writes and cutting each other's lines as torn when they start. `-` (stdout) takes whole
 * lines from anyone.
 */
function checkJsonlWriters(parsed: ParsedConfig): PendingIssue[] {
  const ids = Object.keys(parsed.sources);
  const writers = new Map<string, { readonly at: readonly PathSegment[]; readonly source: string; readonly flushIntervalMs: number }>();
  const issues: PendingIssue[] = [];
  (parsed.tables ?? []).forEach((entry, tableIndex) => {
    // crossCheck reports an entry whose source is missing where the file has several.
    const source = entry.source ?? (ids.length === 1 ? ids[0] : undefined);
    if (source === undefined) return;
    entry.targets.forEach((target, targetIndex) => {
      if (target.type !== 'jsonl' || target.path === '-') return;
      const at: PathSegment[] = ['tables', tableIndex, 'targets', targetIndex, 'path'];
      // `changes.jsonl` and `./changes.jsonl` are one file (relative paths are from the working directory).
      const file = resolve(target.path);
      const first = writers.get(file);
      if (first === undefined) {
        writers.set(file, { at, source, flushIntervalMs: target.flush_interval });
      } else if (first.source !== source) {
        issues.push(
          issueAt(
            at,
            `names the same file as ${formatPath(first.at)} (source ${first.source}): two writers on one file would corrupt it; give source ${source} its own file`,
          ),
        );
      } else if (first.flushIntervalMs !== target.flush_interval) {
        issues.push(
          issueAt(
            at,
            `names the same file as ${formatPath(first.at)} with another flush_interval (${target.flush_interval}ms, there ${first.flushIntervalMs}ms): tables of one source share one writer per file; give them the same flush_interval`,
          ),
        );
      }
    });
  });
  return issues;
}

function attempt(issues: PendingIssue[], path: readonly PathSegment[], check: () => unknown): void {
  try {
    check();
  } catch (error) {
    if (!(error instanceof ConfigValueError)) throw error;
    issues.push(issueAt(path, error.message));
  }
}

/** The value, or undefined when it does not parse (validation reports that elsewhere). */
function quietly<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch {
    return undefined;
  }
}

// ---- mapping onto the library's types ----

/** `{ a: 1, b: undefined }` → `{ a: 1 }`, typed so it fits options declared with exactOptionalPropertyTypes. */
type Defined<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

function definedOnly<T extends object>(value: T): Defined<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Defined<T>;
}

function toLaredoConfig(file: string, parsed: ParsedConfig): LaredoConfig {
  const ids = Object.keys(parsed.sources);
  const tables: TableConfig[] = (parsed.tables ?? []).map((entry) => ({
    // crossCheck guarantees a source: given and defined, or the file's only one.
    source: entry.source ?? ids[0]!,
    schema: entry.schema,
    table: entry.table,
    targets: entry.targets.map(toTargetConfig),
  }));

  const sources: Record<string, PostgresSourceOptions> = {};
  for (const [id, source] of Object.entries(parsed.sources)) {
    const tableNames = tables.filter((table) => table.source === id).map(canonicalTableKey);
    sources[id] = { ...toSourceOptions(source, tableNames), stateDir: parsed.state_dir };
  }

  const metricsPort = parsed.observability?.metrics?.port ?? parsed.health?.http_port;
  return {
    file,
    sources,
    tables,
    health: definedOnly({ httpPort: parsed.health?.http_port }),
    observability: {
      metrics: {
        ...(metricsPort === undefined ? {} : { port: metricsPort }),
        path: parsed.observability?.metrics?.path ?? OBSERVABILITY_DEFAULTS.metricsPath,
      },
      logging: { level: parsed.observability?.logging?.level ?? OBSERVABILITY_DEFAULTS.logLevel },
    },
    stateDir: parsed.state_dir,
  };
}

/**
 * The publication's table set is the union of `publication.tables` (which also carries row filters
 * and column lists) and the `tables[]` entries naming this source (published whole).
 */
function toSourceOptions(source: ParsedSource, tableNames: readonly string[]): PostgresSourceOptions {
  const publicationTables: Record<string, PublicationTableOptions> = {};
  for (const [key, options] of Object.entries(source.publication?.tables ?? {})) {
    // crossCheck has parsed every key; `orders` and `public.orders` become the same table.
    publicationTables[canonicalTableKey(parseTableKey(key))] = definedOnly({ where: options.where, columns: options.columns });
  }
  for (const name of tableNames) publicationTables[name] ??= {};
  const publication = source.publication;
  const hasTables = Object.keys(publicationTables).length > 0;
  const reconnect = source.reconnect;
  return definedOnly({
    connection: source.connection,
    slotMode: source.slot_mode,
    slotName: source.slot_name,
    alwaysBaseline: source.always_baseline,
    publication:
      publication === undefined && !hasTables
        ? undefined
        : definedOnly({
            name: publication?.name,
            create: publication?.create,
            publish: publication?.publish,
            tables: hasTables ? publicationTables : undefined,
          }),
    reconnect:
      reconnect === undefined
        ? undefined
        : definedOnly({
            maxAttempts: reconnect.max_attempts,
            initialBackoff: reconnect.initial_backoff,
            maxBackoff: reconnect.max_backoff,
            multiplier: reconnect.backoff_multiplier,
            jitter: reconnect.jitter,
          }),
    onSlotInvalidated: source.on_slot_invalidated,
    baselineParallelism: source.baseline_parallelism,
    baselineBatchSize: source.baseline_batch_size,
    maxInFlightBytes: source.max_in_flight_bytes,
    statusInterval: source.status_interval,
    messages: source.messages,
    streaming: source.streaming,
    binary: source.binary,
    origin: source.origin,
    stopTimeout: source.stop_timeout,
  });
}

function toTargetConfig(target: ParsedTarget): TargetConfig {
  switch (target.type) {
    case 'jsonl':
      return { type: 'jsonl', path: target.path, flushIntervalMs: target.flush_interval };
    case 'http-sync':
      return {
        type: 'http-sync',
        baseUrl: target.base_url,
        batchSize: target.batch_size,
        flushIntervalMs: target.flush_interval,
        timeoutMs: target.timeout_ms,
        retryCount: target.retry_count,
        retryBackoffMs: target.retry_backoff_ms,
        ...(target.auth_header === undefined ? {} : { authHeader: target.auth_header }),
        headers: target.headers ?? {},
      };
    case 'indexed-memory':
      return { type: 'indexed-memory', lookupFields: target.lookup_fields, additionalIndexes: target.additional_indexes ?? [] };
  }
}
