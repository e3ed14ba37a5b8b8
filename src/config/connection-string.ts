// Checks that a `connection` value is a connection string libpq would accept, without connecting: a
// `postgresql://` URL or `key=value` pairs. A misspelt parameter is an error rather than ignored, because
// the usual victim is `sslmode`, and a silently ignored `sslmod=require` means an unencrypted connection.
// Messages never contain the value: it usually holds a password.
import { parseConnectionString } from '../streams/connection.js';
import { ConnectionStringError } from '../streams/errors.js';
import { ConfigValueError } from './errors.js';
import { didYouMean } from './suggest.js';

/**
 * libpq's connection parameters (PostgreSQL 18), plus node-postgres' own `ssl` and `uselibpqcompat`.
 * Both forms take the same names; libpq rejects any other.
 */
export const CONNECTION_PARAMETERS: readonly string[] = [
  'host', 'hostaddr', 'port', 'dbname', 'user', 'password', 'passfile', 'require_auth', 'channel_binding',
  'connect_timeout', 'client_encoding', 'options', 'application_name', 'fallback_application_name',
  'keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout',
  'replication', 'gssencmode', 'sslmode', 'requiressl', 'sslnegotiation', 'sslcompression', 'sslcert',
  'sslkey', 'sslpassword', 'sslcertmode', 'sslrootcert', 'sslcrl', 'sslcrldir', 'sslsni', 'requirepeer',
  'ssl_min_protocol_version', 'ssl_max_protocol_version', 'min_protocol_version', 'max_protocol_version',
  'krbsrvname', 'gsslib', 'gssdelegation', 'service', 'target_session_attrs', 'load_balance_hosts',
  'scram_client_key', 'scram_server_key', 'oauth_issuer', 'oauth_client_id', 'oauth_client_secret',
  'oauth_scope', 'ssl', 'uselibpqcompat',
];

const URL_SCHEME = /^postgres(?:ql)?:\/\//i;
const KEYWORD_START = /^\s*[a-z_]+\s*=/i;
const FORMS = 'write a postgresql://user:password@host:5432/dbname URL or key=value pairs such as "host=db port=5432 dbname=app"';

/** What a valid connection string names; handy for messages because it has no password in it. */
export interface ConnectionSummary {
  readonly form: 'url' | 'keywords';
  /** Parameter names present (query parameters or keywords, plus those the URL's parts stand for). */
  readonly parameters: readonly string[];
}

/**
 * Throws `ConfigValueError` when `connection` is not a connection string laredo can use: first the
 * libpq syntax (with "did you mean" and without ever echoing a fragment of a malformed password), then
 * laredo's own connection layer (src/streams/connection.ts), so that a file `laredo check` accepts is
 * one `laredo run` can connect with (it supports a subset of libpq's parameters, one host).
 */
export function checkConnectionString(connection: string): ConnectionSummary {
  const summary = checkSyntax(connection);
  try {
    parseConnectionString(connection);
  } catch (error) {
    if (!(error instanceof ConnectionStringError)) throw error;
    throw new ConfigValueError(error.message.replace(/^invalid connection string: /, 'is not usable by laredo: '));
  }
  return summary;
}

function checkSyntax(connection: string): ConnectionSummary {
  const text = connection.trim();
  if (text === '') throw new ConfigValueError(`is empty: ${FORMS}`);
  if (URL_SCHEME.test(text)) return checkUrl(text);
  if (KEYWORD_START.test(text)) return checkKeywords(text);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new ConfigValueError(`has a URL scheme other than postgresql:// or postgres://: ${FORMS}`);
  }
  throw new ConfigValueError(`is not a connection string: ${FORMS}`);
}

function checkUrl(text: string): ConnectionSummary {
  const rest = text.replace(URL_SCHEME, '');
  const queryStart = rest.indexOf('?');
  const beforeQuery = queryStart === -1 ? rest : rest.slice(0, queryStart);
  const query = queryStart === -1 ? '' : rest.slice(queryStart + 1);
  if (/\s/.test(beforeQuery)) throw new ConfigValueError('contains white space in the URL: percent-encode it (%20)');
  // An `@` after the `?` means the `?` belongs to an unencoded password: the "query" would be part of it.
  if (query.includes('@')) throw new ConfigValueError('has a "?" before the "@": a password containing "?", "@", "/" or ":" must be percent-encoded');
  // As in libpq, the authority ends at the first `/`, and the userinfo at the authority's last `@`. An
  // unencoded `/` in a password therefore leaves `user:pass...` as the host list, reported as a bad port.
  const slash = beforeQuery.indexOf('/');
  const authority = slash === -1 ? beforeQuery : beforeQuery.slice(0, slash);
  const database = slash === -1 ? '' : beforeQuery.slice(slash + 1);
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? '' : authority.slice(0, at);
  const hostList = at === -1 ? authority : authority.slice(at + 1);
  const parameters: string[] = [];

  if (userinfo !== '') {
    const colon = userinfo.indexOf(':');
    decodeOrThrow(colon === -1 ? userinfo : userinfo.slice(0, colon), 'the user name');
    parameters.push('user');
    if (colon !== -1) {
      decodeOrThrow(userinfo.slice(colon + 1), 'the password');
      parameters.push('password');
    }
  }
  if (hostList !== '') {
    for (const hostPort of hostList.split(',')) checkHostPort(hostPort);
    parameters.push('host');
  }
  if (database !== '') {
    if (database.includes('/')) throw new ConfigValueError('has a "/" in the database name: percent-encode it (%2F)');
    decodeOrThrow(database, 'the database name');
    parameters.push('dbname');
  }
  if (query !== '') {
    for (const pair of query.split('&')) {
      if (pair === '') continue;
      const equals = pair.indexOf('=');
      if (equals <= 0) throw new ConfigValueError('has a URL query parameter without "name=value": separate parameters with &');
      const name = decodeOrThrow(pair.slice(0, equals), 'a query parameter name');
      decodeOrThrow(pair.slice(equals + 1), `the value of ${name}`);
      checkParameterName(name);
      parameters.push(name);
    }
  }
  return { form: 'url', parameters };
}

function checkHostPort(hostPort: string): void {
  let host = hostPort;
  let port: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close === -1) throw new ConfigValueError('has an IPv6 host without its closing "]"');
    host = hostPort.slice(1, close);
    const after = hostPort.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw new ConfigValueError('has text after an IPv6 host "[...]": write [::1]:5432');
    if (after !== '') port = after.slice(1);
  } else {
    const colon = hostPort.lastIndexOf(':');
    if (colon !== -1) {
      host = hostPort.slice(0, colon);
      port = hostPort.slice(colon + 1);
    }
  }
  decodeOrThrow(host, 'a host name');
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
    throw new ConfigValueError('has a port that is not a number from 1 to 65535 (a password containing ":", "/" or "@" must be percent-encoded)');
  }
}

function decodeOrThrow(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ConfigValueError(`has a bad %-escape in ${what}: write % as %25`);
  }
}

function checkKeywords(text: string): ConnectionSummary {
  const parameters: string[] = [];
  let index = 0;
  const skipSpace = (): void => {
    while (index < text.length && /\s/.test(text[index]!)) index++;
  };
  skipSpace();
  while (index < text.length) {
    const name = /^[a-z_]+/i.exec(text.slice(index))?.[0];
    if (name === undefined) throw new ConfigValueError(`is not a list of key=value pairs: ${FORMS}`);
    index += name.length;
    skipSpace();
    if (text[index] !== '=') throw new ConfigValueError(`has "${name}" without "=value": ${FORMS}`);
    index++;
    skipSpace();
    if (text[index] === "'") {
      index++;
      let closed = false;
      while (index < text.length) {
        const char = text[index]!;
        if (char === '\\') index += 2;
        else if (char === "'") {
          index++;
          closed = true;
          break;
        } else index++;
      }
      if (!closed) throw new ConfigValueError(`has an unterminated quoted value for ${name}: close it with '`);
    } else {
      while (index < text.length && !/\s/.test(text[index]!)) index++;
    }
    checkParameterName(name);
    parameters.push(name);
    skipSpace();
  }
  return { form: 'keywords', parameters };
}

function checkParameterName(name: string): void {
  if (CONNECTION_PARAMETERS.includes(name)) return;
  // The name is shown only when it is a typo of a real parameter: a "name" that is nothing like one may
  // be a fragment of a malformed password (`password=a b=c` makes `b` a name).
  const suggestion = didYouMean(name, CONNECTION_PARAMETERS);
  throw new ConfigValueError(
    suggestion === ''
      ? 'has an unknown parameter, which libpq refuses (a value with spaces must be quoted, a password in a URL percent-encoded)'
      : `has an unknown parameter "${name}"${suggestion}: libpq refuses unknown parameters`,
  );
}
