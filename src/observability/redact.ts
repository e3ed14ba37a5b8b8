// Secrets must never reach a log line, an error message or a metric label. Connection strings are the
// usual carrier (a password in the URL's userinfo, or `password=` in libpq's key/value form), followed by
// HTTP authorization headers. Everything that prints text laredo did not write itself goes through here.
// A connection string on its own is redacted by `redactConnectionString` (src/streams/connection.ts),
// which knows its two forms exactly; this file masks secrets wherever they stand in free text.

/** What replaces a secret. Short and obviously not a real value. */
export const REDACTED = '***';

// `scheme://user:password@host`: the password runs to the last `@` before white space, because an
// unencoded password may itself contain `@`, `/` or quotes (encodeURIComponent leaves `'` alone) and
// must be masked whole.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/"'`]*:)\S*@/gi;
// `password=...` in a libpq key/value string or a URL query, `"password": "..."` in JSON-ish text,
// `PGPASSWORD=...` in an environment dump; also tokens and secrets named the same way.
const SECRET_ASSIGNMENT =
  /\b(\w*(?:password|passwd|secret|token|apikey|api_key)\w*"?\s*[=:]\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s,&;'"}]+)/gi;
// `Authorization: Bearer abc`, `authorization=Basic abc`, `auth_header = "Bearer abc"`.
const AUTHORIZATION =
  /\b((?:proxy-)?authorization|auth_?header)("?\s*[=:]\s*"?)((?:bearer|basic|token|digest)\s+)?[^\s,"'}]+/gi;

/** Masks everything in `text` that looks like a password, a token or an authorization header. */
export function redactSecrets(text: string): string {
  return text
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(SECRET_ASSIGNMENT, (_match, prefix: string, value: string) => `${prefix}${quoteLike(value)}`)
    .replace(
      AUTHORIZATION,
      (_match, name: string, separator: string, scheme: string | undefined) => `${name}${separator}${scheme ?? ''}${REDACTED}`,
    );
}

function quoteLike(value: string): string {
  const quote = value.startsWith("'") || value.startsWith('"') ? value[0]! : '';
  return `${quote}${REDACTED}${quote}`;
}

/**
 * Deep copy of `value` with every string passed through `redactSecrets` and every property whose name
 * says it holds a secret replaced whole. For log records and error details; stops at `maxDepth` so a
 * cyclic or huge object cannot stall the caller.
 */
export function redactDeep(value: unknown, maxDepth = 8): unknown {
  return redactValue(value, maxDepth, new WeakSet());
}

const SECRET_KEY = /password|passwd|secret|token|api_?key|authorization|auth_?header|^auth$|cookie/i;

function redactValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value === null || typeof value !== 'object') return value;
  // Errors are left to the logger's error serializer, which redacts their message, stack and cause.
  if (Buffer.isBuffer(value) || value instanceof Date || value instanceof Error) return value;
  if (seen.has(value) || depth <= 0) return '[…]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((item: unknown) => redactValue(item, depth - 1, seen));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] = SECRET_KEY.test(key) && item !== undefined && item !== null ? REDACTED : redactValue(item, depth - 1, seen);
  }
  return copy;
}
