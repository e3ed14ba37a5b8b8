import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/load-config.js';

const FIXTURES = path.join('test', 'fixtures', 'config');
const BAD = path.join(FIXTURES, 'bad');
const dir = mkdtempSync(path.join(tmpdir(), 'laredo-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(text: string): string {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(file, text);
  return file;
}

async function configError(file: string, env: Record<string, string> = {}): Promise<ConfigError> {
  const error: unknown = await loadConfig(file, env).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('loadConfig on the specification\'s configs', () => {
  it('maps the ephemeral example onto source options, leaving unset options to the library defaults', async () => {
    const config = await loadConfig(path.join(FIXTURES, 'good', 'ephemeral.conf'), {});
    expect(config).toEqual({
      file: path.join(FIXTURES, 'good', 'ephemeral.conf'),
      sources: { pg_main: { connection: 'postgresql://user:pass@host:5432/dbname', slotMode: 'ephemeral', stateDir: '.laredo-state' } },
      tables: [],
      health: {},
      observability: { metrics: { path: '/metrics' }, logging: { level: 'info' } },
      stateDir: '.laredo-state',
    });
  });

  it('maps the stateful example, with durations in milliseconds and publish as a list', async () => {
    const config = await loadConfig(path.join(FIXTURES, 'good', 'stateful.conf'), {});
    expect(config.sources['pg_main']).toEqual({
      connection: 'postgresql://user:pass@host:5432/dbname',
      slotMode: 'stateful',
      slotName: 'laredo_warden_01',
      publication: { name: 'laredo_warden_01_pub', create: true, publish: ['insert', 'update', 'delete', 'truncate'] },
      reconnect: { maxAttempts: 10, initialBackoff: 1000, maxBackoff: 60_000, multiplier: 2 },
      stateDir: '.laredo-state',
    });
  });

  it('keeps the publication example\'s row filter and column list by quoted table key', async () => {
    const config = await loadConfig(path.join(FIXTURES, 'good', 'publication-filters.conf'), {});
    expect(config.sources['pg_main']?.publication).toEqual({
      create: true,
      tables: {
        'public.config_document': { where: "status = 'active'" },
        'public.rules': { columns: ['instance_id', 'key', 'data'] },
      },
    });
  });
});

describe('loadConfig on a config using every key', () => {
  const file = path.join(FIXTURES, 'good', 'full.conf');

  it('reads includes and ${vars} substitutions, and maps every source option', async () => {
    const config = await loadConfig(file, {});
    expect(config.sources['pg_main']).toEqual({
      connection: 'postgresql://laredo@db.internal:5432/app?sslmode=require',
      slotMode: 'stateful',
      slotName: 'laredo_app_01',
      alwaysBaseline: false,
      publication: {
        name: 'laredo_app_01_pub',
        create: true,
        publish: ['insert', 'update', 'delete'],
        tables: {
          'public.orders': { where: "status <> 'draft'" },
          'public.customers': { columns: ['id', 'name', 'email'] },
          'sales.invoices': {},
        },
      },
      reconnect: { maxAttempts: 5, initialBackoff: 500, maxBackoff: 300_000, multiplier: 1.5, jitter: false },
      onSlotInvalidated: 'error',
      baselineParallelism: 2,
      baselineBatchSize: 5000,
      maxInFlightBytes: 128 * 1024 * 1024,
      statusInterval: 5000,
      messages: true,
      streaming: true,
      binary: false,
      origin: 'none',
      stopTimeout: 30_000,
      stateDir: '/var/lib/laredo',
    });
    expect(config.health).toEqual({ httpPort: 8080 });
    expect(config.observability).toEqual({ metrics: { port: 9464, path: '/prometheus' }, logging: { level: 'debug' } });
    expect(config.stateDir).toBe('/var/lib/laredo');
  });

  it('publishes for each source the union of its publication.tables and the tables[] entries naming it', async () => {
    const config = await loadConfig(file, {});
    expect(Object.keys(config.sources['pg_main']?.publication?.tables ?? {}).sort()).toEqual(['public.customers', 'public.orders', 'sales.invoices']);
    expect(config.sources['pg_reports']?.publication).toEqual({ tables: { 'public.daily': {} } });
  });

  it('spells a table one way whether written schema.table, table (public) or with a quoted part', async () => {
    const config = await loadConfig(
      configFile(`
        sources.db {
          type = postgresql
          connection = "postgresql://db/app"
          publication.tables {
            orders { where = "total > 0" }
            "\\"eu.sales\\".invoices" { columns = [id] }
          }
        }
        tables = [
          { table = orders, targets = [ { type = jsonl, path = "-" } ] }
          { schema = eu.sales, table = invoices, targets = [ { type = jsonl, path = "-" } ] }
          { schema = audit, table = log, targets = [ { type = jsonl, path = "-" } ] }
        ]
      `),
      {},
    );
    expect(config.sources['db']?.publication?.tables).toEqual({
      'public.orders': { where: 'total > 0' },
      '"eu.sales".invoices': { columns: ['id'] },
      'audit.log': {},
    });
  });

  it('types every target with camelCase fields and the documented defaults', async () => {
    const config = await loadConfig(file, {});
    expect(config.tables.map((table) => [table.source, table.schema, table.table])).toEqual([
      ['pg_main', 'public', 'orders'],
      ['pg_main', 'sales', 'invoices'],
      ['pg_reports', 'public', 'daily'],
    ]);
    expect(config.tables[0]?.targets).toEqual([
      { type: 'jsonl', path: '-', flushIntervalMs: 200 },
      { type: 'jsonl', path: 'out/orders.jsonl', flushIntervalMs: 1000 },
      {
        type: 'http-sync',
        baseUrl: 'https://sync.example.com/orders',
        batchSize: 100,
        flushIntervalMs: 50,
        timeoutMs: 2000,
        retryCount: 5,
        retryBackoffMs: 250,
        authHeader: 'Bearer abc.def',
        headers: { 'X-Laredo-Source': 'pg_main' },
      },
    ]);
    expect(config.tables[1]?.targets).toEqual([
      { type: 'indexed-memory', lookupFields: ['id'], additionalIndexes: [['customer_id'], ['customer_id', 'status']] },
    ]);
  });

  it('applies the http-sync defaults when only base_url is given', async () => {
    const config = await loadConfig(
      configFile(`
        sources.db { type = postgresql, connection = "postgresql://db/app" }
        tables = [ { table = t, targets = [ { type = http-sync, base_url = "http://localhost:9000/in" } ] } ]
      `),
      {},
    );
    expect(config.tables[0]).toEqual({
      source: 'db',
      schema: 'public',
      table: 't',
      targets: [
        { type: 'http-sync', baseUrl: 'http://localhost:9000/in', batchSize: 500, flushIntervalMs: 200, timeoutMs: 5000, retryCount: 3, retryBackoffMs: 1000, headers: {} },
      ],
    });
  });
});

describe('loadConfig with the environment', () => {
  const file = path.join(FIXTURES, 'good', 'full.conf');

  it('substitutes ${?VAR} from the env argument, never from process.env', async () => {
    process.env['LAREDO_TEST_CONNECTION'] = 'postgresql://from-process-env/app';
    try {
      expect((await loadConfig(file, {})).sources['pg_main']?.connection).toBe('postgresql://laredo@db.internal:5432/app?sslmode=require');
      const env = { LAREDO_TEST_CONNECTION: 'postgresql://laredo:secret@other/app' };
      expect((await loadConfig(file, env)).sources['pg_main']?.connection).toBe('postgresql://laredo:secret@other/app');
    } finally {
      delete process.env['LAREDO_TEST_CONNECTION'];
    }
  });

  it('overrides source keys with LAREDO_SOURCES_<ID>_<KEY>, converting text to the key\'s type', async () => {
    const config = await loadConfig(file, {
      LAREDO_SOURCES_PG_MAIN_CONNECTION: 'postgresql://laredo:secret@primary/app',
      LAREDO_SOURCES_PG_MAIN_SLOT_NAME: 'laredo_override',
      LAREDO_SOURCES_PG_MAIN_RECONNECT_MAX_ATTEMPTS: '7',
      LAREDO_SOURCES_PG_MAIN_PUBLICATION_NAME: 'other_pub',
      LAREDO_SOURCES_PG_REPORTS_PUBLICATION_CREATE: 'no',
      LAREDO_SOURCES_PG_MAIN_MAX_IN_FLIGHT_BYTES: '16MiB',
      LAREDO_SOURCES_PG_REPORTS_SLOT_MODE: 'ephemeral',
      LAREDO_SOURCES_PG_REPORTS_STATUS_INTERVAL: '', // empty: ignored, as container setups often pass unset values
    });
    const main = config.sources['pg_main']!;
    expect(main.connection).toBe('postgresql://laredo:secret@primary/app');
    expect(main.slotName).toBe('laredo_override');
    expect(main.reconnect?.maxAttempts).toBe(7);
    expect(main.publication?.name).toBe('other_pub');
    expect(config.sources['pg_reports']?.publication).toEqual({ create: false, tables: { 'public.daily': {} } });
    expect(main.maxInFlightBytes).toBe(16 * 1024 * 1024);
    expect(config.sources['pg_reports']?.slotMode).toBe('ephemeral');
    expect(config.sources['pg_reports']?.statusInterval).toBeUndefined();
  });

  it('splits a variable name against the file\'s source ids when ids contain underscores', async () => {
    const ids = configFile(`
      sources {
        pg { type = postgresql, connection = "postgresql://db/a" }
        pg_main { type = postgresql, connection = "postgresql://db/b" }
      }
    `);
    const config = await loadConfig(ids, {
      LAREDO_SOURCES_PG_MAIN_SLOT_NAME: 'main_slot',
      LAREDO_SOURCES_PG_SLOT_NAME: 'pg_slot',
      LAREDO_SOURCES_PG_PUBLICATION_NAME: 'pg_pub',
    });
    expect(config.sources['pg']).toMatchObject({ slotName: 'pg_slot', publication: { name: 'pg_pub' } });
    expect(config.sources['pg_main']).toMatchObject({ slotName: 'main_slot' });
    expect(config.sources['pg_main']?.publication).toBeUndefined();
  });

  it('names the variable, not the file, when an overridden value is wrong', async () => {
    const error = await configError(path.join(FIXTURES, 'good', 'stateful.conf'), { LAREDO_SOURCES_PG_MAIN_SLOT_NAME: 'Bad-Name' });
    expect(error.issues).toEqual([
      { path: 'sources.pg_main.slot_name', envVar: 'LAREDO_SOURCES_PG_MAIN_SLOT_NAME', message: expect.stringContaining('not a valid slot name') },
    ]);
    expect(error.message).toMatch(/^config error at sources\.pg_main\.slot_name \(from LAREDO_SOURCES_PG_MAIN_SLOT_NAME\): /);
  });
});

describe('loadConfig errors', () => {
  it('reports a missing file as a ConfigError naming it', async () => {
    const error = await configError(path.join(dir, 'nope.conf'));
    expect(error.code).toBe('CONFIG');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('nope.conf');
    expect(error.message).toContain('does not exist');
  });

  it('refuses a file that is not a set of settings', async () => {
    const error = await configError(configFile('[1, 2]\n'));
    expect(error.message).toMatch(/must contain settings/);
  });

  it('formats an error as the style guide shows: key path, file and line, then what to do', async () => {
    const file = configFile('sources {\n  pg_main {\n    type = postgresql\n    connection = "postgresql://db/app"\n    slot_mode = stateful\n  }\n}\n');
    const error = await configError(file);
    expect(error.message).toBe(
      `config error at sources.pg_main.slot_name (${file}:2): is required when slot_mode = stateful: name the persistent slot, e.g. slot_name = laredo_pg_main`,
    );
  });

  it('never puts a password into a message, whatever key it was written in', async () => {
    const file = configFile(`
      sources.pg_main {
        type = postgresql
        connection = "postgresql://laredo:Sup3rSecret@db:99999/app"
        slot_name = "postgresql://laredo:Sup3rSecret@db/app"
        publication.name = "password=Sup3rSecret"
      }
      tables = [ { table = t, targets = [ { type = http-sync, base_url = "ftp://u:Sup3rSecret@x", auth_header = [Sup3rSecret] } ] } ]
    `);
    const error = await configError(file);
    expect(error.issues.length).toBeGreaterThanOrEqual(4);
    expect(error.message).not.toContain('Sup3rSecret');
  });
});

/** The header of a bad fixture: what its error must name. */
interface FixtureExpectations {
  readonly keys: string[];
  readonly line?: number;
  readonly messages: string[];
  readonly env: Record<string, string>;
}

function expectationsOf(file: string): FixtureExpectations {
  const text = readFileSync(file, 'utf8');
  const expectations: FixtureExpectations = { keys: [], messages: [], env: {} };
  let line: number | undefined;
  for (const match of text.matchAll(/^# (expect|expect-line|message|env): (.*)$/gm)) {
    const [, kind, value] = match as unknown as [string, string, string];
    if (kind === 'expect') expectations.keys.push(value.trim());
    else if (kind === 'expect-line') line = Number(value);
    else if (kind === 'message') expectations.messages.push(value.trim());
    else {
      const equals = value.indexOf('=');
      expectations.env[value.slice(0, equals)] = value.slice(equals + 1);
    }
  }
  return line === undefined ? expectations : { ...expectations, line };
}

export const BAD_FIXTURES = readdirSync(BAD)
  .filter((name) => name.endsWith('.conf'))
  .sort();

describe('bad config fixtures', () => {
  it('has at least 30 malformed configs, each saying which key its error names', () => {
    expect(BAD_FIXTURES.length).toBeGreaterThanOrEqual(30);
    for (const name of BAD_FIXTURES) expect(expectationsOf(path.join(BAD, name)).keys, name).not.toEqual([]);
  });

  it.each(BAD_FIXTURES)('%s fails with an error naming the expected key', async (name) => {
    const file = path.join(BAD, name);
    const expected = expectationsOf(file);
    const error = await configError(file, expected.env);
    expect(error.code).toBe('CONFIG');
    for (const key of expected.keys) {
      const issue = error.issues.find((candidate) => (key === '<file>' ? candidate.path === '' && candidate.envVar === undefined : candidate.path === key || candidate.envVar === key));
      expect(issue, `${name}: no issue names ${key}; got\n${error.message}`).toBeDefined();
      if (issue?.envVar === undefined) expect(issue?.file).toBe(file);
    }
    if (expected.line !== undefined) expect(error.issues[0]?.line, error.message).toBe(expected.line);
    for (const text of expected.messages) expect(error.message).toContain(text);
    // Every fixture's connection string carries this password.
    expect(error.message).not.toContain('hunter2');
  });
});
