import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type pg from 'pg';
import { SESSION_SETTINGS, sessionSettingsOptions } from '../protocol/values.js';
import { ConnectionStringError } from './errors.js';

/**
 * Connection strings, libpq style: a URL (`postgresql://user:pass@host:5432/db?sslmode=require`) or
 * key/value pairs (`host=db user=laredo password='a b' dbname=app`). They turn into `pg` client
 * configs that set laredo's session settings at startup, so every value a connection returns (COPY,
 * pgoutput, queries) is text in the one format the value parsers read. The password never leaves
 * this module in a message: use `redactConnectionString` / `describeConnection` for anything shown.
 */

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

/** A parsed connection string. Absent fields fall back to node-postgres' defaults (PGHOST, PGUSER, ...). */
export interface ConnectionConfig {
  readonly host?: string;
  readonly port?: number;
  readonly database?: string;
  readonly user?: string;
  readonly password?: string;
  readonly applicationName?: string;
  /** The string's own `options` (startup `-c` settings); laredo's session settings are added to it. */
  readonly options?: string;
  readonly connectTimeoutMs?: number;
  readonly sslMode?: SslMode;
  readonly ssl?: false | TlsConnectionOptions;
  readonly keepAlive?: boolean;
  readonly keepAliveIdleMs?: number;
}

export interface ClientConfigOptions {
  /** `application_name` shown in pg_stat_activity; the connection string's wins when it has one. Default `laredo`. */
  readonly applicationName?: string;
  /** Open a walsender (`replication=database`): replication commands plus simple SQL queries. */
  readonly replication?: boolean;
  /** GUCs sent as startup `-c` options. Default: `SESSION_SETTINGS` from the value converters. */
  readonly sessionSettings?: Readonly<Record<string, string>>;
}

/** Seconds libpq would wait forever; laredo gives up and lets the reconnect policy decide. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** TCP keepalive so a peer that vanished without a FIN is noticed while the stream is idle. */
export const DEFAULT_KEEPALIVE_IDLE_MS = 30_000;

const URL_PREFIX = /^postgres(?:ql)?:\/\//i;

// libpq keywords laredo understands; anything else is refused rather than silently ignored.
const KNOWN_KEYS = new Set([
  'host',
  'hostaddr',
  'port',
  'dbname',
  'user',
  'password',
  'connect_timeout',
  'application_name',
  'fallback_application_name',
  'options',
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'keepalives',
  'keepalives_idle',
]);

/** Parses a URL or key/value connection string. Errors name the problem, never the password. */
export function parseConnectionString(text: string): ConnectionConfig {
  if (typeof text !== 'string' || text.trim().length === 0) throw new ConnectionStringError('it is empty');
  const trimmed = text.trim();
  const pairs = URL_PREFIX.test(trimmed) ? parseUrl(trimmed) : parseKeyValue(trimmed);
  return configFromPairs(pairs);
}

function decode(component: string, what: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    throw new ConnectionStringError(`the ${what} has a malformed %-escape`);
  }
}

function parseUrl(text: string): Map<string, string> {
  const pairs = new Map<string, string>();
  const rest = text.replace(URL_PREFIX, '');
  const hashAt = rest.indexOf('#');
  const withoutFragment = hashAt < 0 ? rest : rest.slice(0, hashAt);
  const queryAt = withoutFragment.indexOf('?');
  const beforeQuery = queryAt < 0 ? withoutFragment : withoutFragment.slice(0, queryAt);
  const query = queryAt < 0 ? '' : withoutFragment.slice(queryAt + 1);
  const slashAt = beforeQuery.indexOf('/');
  const authority = slashAt < 0 ? beforeQuery : beforeQuery.slice(0, slashAt);
  const path = slashAt < 0 ? '' : beforeQuery.slice(slashAt + 1);

  // The last @ separates user info from hosts: an unencoded @ in a password is common enough to allow.
  const atAt = authority.lastIndexOf('@');
  const userInfo = atAt < 0 ? '' : authority.slice(0, atAt);
  const hostPart = atAt < 0 ? authority : authority.slice(atAt + 1);
  if (userInfo.length > 0) {
    const colonAt = userInfo.indexOf(':');
    const user = colonAt < 0 ? userInfo : userInfo.slice(0, colonAt);
    if (user.length > 0) pairs.set('user', decode(user, 'user name'));
    if (colonAt >= 0) pairs.set('password', decode(userInfo.slice(colonAt + 1), 'password'));
  }
  if (hostPart.includes(',')) throw new ConnectionStringError('several hosts are not supported; name one host');
  if (hostPart.length > 0) {
    let host: string;
    let port: string | undefined;
    if (hostPart.startsWith('[')) {
      const close = hostPart.indexOf(']');
      if (close < 0) throw new ConnectionStringError('an IPv6 host is missing its closing "]"');
      host = hostPart.slice(1, close);
      const after = hostPart.slice(close + 1);
      if (after.length > 0) {
        if (!after.startsWith(':')) throw new ConnectionStringError(`unexpected text after the IPv6 host: ${JSON.stringify(after)}`);
        port = after.slice(1);
      }
    } else {
      const colonAt = hostPart.lastIndexOf(':');
      host = colonAt < 0 ? hostPart : hostPart.slice(0, colonAt);
      port = colonAt < 0 ? undefined : hostPart.slice(colonAt + 1);
    }
    if (host.length > 0) pairs.set('host', decode(host, 'host'));
    if (port !== undefined && port.length > 0) pairs.set('port', decode(port, 'port'));
  }
  if (path.length > 0) pairs.set('dbname', decode(path, 'database name'));
  if (query.length > 0) {
    for (const item of query.split('&')) {
      if (item.length === 0) continue;
      const eqAt = item.indexOf('=');
      if (eqAt < 0) throw new ConnectionStringError(`URL parameter ${JSON.stringify(decode(item, 'parameter'))} has no value`);
      const key = decode(item.slice(0, eqAt).replaceAll('+', ' '), 'parameter name');
      pairs.set(key, decode(item.slice(eqAt + 1).replaceAll('+', ' '), `value of ${key}`));
    }
  }
  return pairs;
}

function parseKeyValue(text: string): Map<string, string> {
  const pairs = new Map<string, string>();
  let index = 0;
  const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r';
  while (index < text.length) {
    while (isSpace(text[index])) index++;
    if (index >= text.length) break;
    const keyStart = index;
    while (index < text.length && text[index] !== '=' && !isSpace(text[index])) index++;
    const key = text.slice(keyStart, index);
    while (isSpace(text[index])) index++;
    if (text[index] !== '=') {
      throw new ConnectionStringError(`expected "=" after ${JSON.stringify(key)} (write key=value pairs, or a postgresql:// URL)`);
    }
    index++;
    while (isSpace(text[index])) index++;
    let value = '';
    if (text[index] === "'") {
      index++;
      for (;;) {
        if (index >= text.length) throw new ConnectionStringError(`the quoted value of ${JSON.stringify(key)} is not terminated`);
        const c = text[index]!;
        if (c === '\\' && index + 1 < text.length) {
          value += text[index + 1]!;
          index += 2;
        } else if (c === "'") {
          index++;
          break;
        } else {
          value += c;
          index++;
        }
      }
    } else {
      while (index < text.length && !isSpace(text[index])) {
        if (text[index] === '\\' && index + 1 < text.length) {
          value += text[index + 1]!;
          index += 2;
        } else {
          value += text[index]!;
          index++;
        }
      }
    }
    if (key.length === 0) throw new ConnectionStringError('a value has no key before its "="');
    pairs.set(key, value);
  }
  return pairs;
}

function integer(value: string, key: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new ConnectionStringError(`${key} must be a whole number, got ${JSON.stringify(value)}`);
  const number = Number(value);
  if (number < min || number > max) throw new ConnectionStringError(`${key} must be between ${min} and ${max}, got ${value}`);
  return number;
}

function readCertificate(path: string, key: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConnectionStringError(`${key}: cannot read ${JSON.stringify(path)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function configFromPairs(pairs: Map<string, string>): ConnectionConfig {
  for (const key of pairs.keys()) {
    if (key === 'replication') throw new ConnectionStringError('remove "replication": laredo opens replication connections itself');
    if (!KNOWN_KEYS.has(key)) {
      throw new ConnectionStringError(`unknown parameter ${JSON.stringify(key)}; supported: ${[...KNOWN_KEYS].join(', ')}`);
    }
  }
  const get = (key: string) => pairs.get(key);
  const config: {
    -readonly [K in keyof ConnectionConfig]: ConnectionConfig[K];
  } = {};
  const host = get('host') ?? get('hostaddr');
  if (host !== undefined && host.length > 0) config.host = host;
  const port = get('port');
  if (port !== undefined && port.length > 0) config.port = integer(port, 'port', 1, 65535);
  const database = get('dbname');
  if (database !== undefined && database.length > 0) config.database = database;
  const user = get('user');
  if (user !== undefined && user.length > 0) config.user = user;
  const password = get('password');
  if (password !== undefined) config.password = password;
  const applicationName = get('application_name') ?? get('fallback_application_name');
  if (applicationName !== undefined && applicationName.length > 0) config.applicationName = applicationName;
  const options = get('options');
  if (options !== undefined && options.trim().length > 0) config.options = options.trim();
  const timeout = get('connect_timeout');
  // libpq: 0 means wait forever; laredo keeps its default instead of hanging a reconnect loop.
  if (timeout !== undefined && timeout.length > 0) {
    const seconds = integer(timeout, 'connect_timeout', 0, 86_400);
    if (seconds > 0) config.connectTimeoutMs = seconds * 1000;
  }
  const keepalives = get('keepalives');
  if (keepalives !== undefined) config.keepAlive = integer(keepalives, 'keepalives', 0, 1) === 1;
  const keepalivesIdle = get('keepalives_idle');
  if (keepalivesIdle !== undefined) config.keepAliveIdleMs = integer(keepalivesIdle, 'keepalives_idle', 1, 86_400) * 1000;

  const sslMode = get('sslmode');
  if (sslMode !== undefined) {
    if (!['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(sslMode)) {
      throw new ConnectionStringError(`sslmode ${JSON.stringify(sslMode)} is not one of disable, allow, prefer, require, verify-ca, verify-full`);
    }
    config.sslMode = sslMode as SslMode;
  }
  const rootCert = get('sslrootcert');
  const cert = get('sslcert');
  const key = get('sslkey');
  const mode = config.sslMode ?? (rootCert !== undefined ? 'verify-full' : undefined);
  if (mode !== undefined) {
    // node-postgres cannot fall back from TLS to plain text, so `allow` means plain text and `prefer`
    // means TLS without verification (as libpq would do against a server that offers TLS).
    if (mode === 'disable' || mode === 'allow') {
      config.ssl = false;
    } else {
      const tls: { -readonly [K in keyof TlsConnectionOptions]: TlsConnectionOptions[K] } = {
        rejectUnauthorized: mode === 'verify-ca' || mode === 'verify-full',
      };
      if (rootCert !== undefined && rootCert.length > 0) tls.ca = readCertificate(rootCert, 'sslrootcert');
      if (cert !== undefined && cert.length > 0) tls.cert = readCertificate(cert, 'sslcert');
      if (key !== undefined && key.length > 0) tls.key = readCertificate(key, 'sslkey');
      if (mode === 'verify-ca') tls.checkServerIdentity = () => undefined;
      config.ssl = tls;
    }
  }
  return config;
}

/**
 * The `pg.Client` config for a connection string (or an already parsed one), with laredo's session
 * settings as startup options, an application_name, a connect timeout and TCP keepalive; with
 * `replication: true`, a walsender connection (`replication=database`).
 */
export function pgClientConfig(connection: string | ConnectionConfig, options: ClientConfigOptions = {}): pg.ClientConfig {
  const config = typeof connection === 'string' ? parseConnectionString(connection) : connection;
  const startup = [sessionSettingsOptions(options.sessionSettings ?? SESSION_SETTINGS), config.options]
    .filter((part): part is string => part !== undefined && part.length > 0)
    .join(' ');
  const clientConfig: pg.ClientConfig & { replication?: string } = {
    application_name: config.applicationName ?? options.applicationName ?? 'laredo',
    connectionTimeoutMillis: config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    keepAlive: config.keepAlive ?? true,
    keepAliveInitialDelayMillis: config.keepAliveIdleMs ?? DEFAULT_KEEPALIVE_IDLE_MS,
  };
  if (startup.length > 0) clientConfig.options = startup;
  if (config.host !== undefined) clientConfig.host = config.host;
  if (config.port !== undefined) clientConfig.port = config.port;
  if (config.database !== undefined) clientConfig.database = config.database;
  if (config.user !== undefined) clientConfig.user = config.user;
  if (config.password !== undefined) clientConfig.password = config.password;
  if (config.ssl !== undefined) clientConfig.ssl = config.ssl;
  if (options.replication === true) clientConfig.replication = 'database';
  return clientConfig;
}

/** `pgClientConfig(connection, { ...options, replication: true })`. */
export function replicationClientConfig(connection: string | ConnectionConfig, options: Omit<ClientConfigOptions, 'replication'> = {}): pg.ClientConfig {
  return pgClientConfig(connection, { ...options, replication: true });
}

/** `user@host:port/database` for messages; never the password. */
export function describeConnection(connection: string | ConnectionConfig | pg.ClientConfig): string {
  let config: { user?: string | undefined; host?: string | undefined; port?: number | string | undefined; database?: string | undefined };
  if (typeof connection === 'string') {
    try {
      config = parseConnectionString(connection);
    } catch {
      return redactConnectionString(connection);
    }
  } else {
    config = connection;
  }
  const user = config.user ?? process.env['PGUSER'] ?? '';
  const host = config.host ?? process.env['PGHOST'] ?? 'localhost';
  const port = config.port ?? process.env['PGPORT'] ?? 5432;
  const database = config.database ?? process.env['PGDATABASE'] ?? user;
  return `${user.length > 0 ? `${user}@` : ''}${host.includes(':') ? `[${host}]` : host}:${String(port)}/${database}`;
}

/**
 * The connection string with its password replaced by `***`, for logs and errors. Works on strings
 * that do not parse too (it never throws): the URL user-info password, a `password=` URL parameter,
 * and a key/value `password=...` (quoted or not) are all masked.
 */
export function redactConnectionString(text: string): string {
  if (typeof text !== 'string') return '';
  let result = text;
  const prefix = URL_PREFIX.exec(result.trimStart());
  if (prefix !== null) {
    const start = result.indexOf(prefix[0]) + prefix[0].length;
    const rest = result.slice(start);
    // To the last "@" before white space, not to the path or the query: a password with an unencoded
    // "/", "?", "#" or "@" must be masked whole, so masking too much (a query value holding "@") is
    // the safe side.
    const authorityEnd = rest.search(/\s/);
    const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
    const atAt = authority.lastIndexOf('@');
    if (atAt >= 0) {
      const userInfo = authority.slice(0, atAt);
      const colonAt = userInfo.indexOf(':');
      if (colonAt >= 0) {
        result = `${result.slice(0, start)}${userInfo.slice(0, colonAt)}:***${rest.slice(atAt)}`;
      }
    }
    result = result.replace(/([?&]password=)[^&#]*/gi, '$1***');
    return result;
  }
  return result.replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|(?:[^\s\\]|\\.)*)/gi, '$1***');
}
