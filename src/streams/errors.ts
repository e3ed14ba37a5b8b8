import { LaredoError } from '../errors.js';

/**
 * Errors of the conversations with the server. Everything `pg` throws goes through `fromPgError`, so
 * callers only ever see LaredoErrors: `ConnectionError` when the socket failed (always worth a
 * reconnect), `PostgresServerError` when the server answered with an ErrorResponse (retryable by
 * SQLSTATE), and the specific slot / publication / preflight / name errors that say what to fix.
 */

/** The socket to PostgreSQL could not be opened, timed out, or was lost. */
export class ConnectionError extends LaredoError {
  declare readonly code: 'CONNECTION';

  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super('CONNECTION', message, { retryable: options.retryable ?? true, cause: options.cause });
  }
}

/** A connection string that cannot be parsed or names an option laredo does not support. */
export class ConnectionStringError extends LaredoError {
  declare readonly code: 'CONNECTION_STRING';

  constructor(problem: string) {
    super('CONNECTION_STRING', `invalid connection string: ${problem}`, { retryable: false });
  }
}

/** A slot, table, column or publication name that laredo refuses before it reaches SQL. */
export class InvalidNameError extends LaredoError {
  declare readonly code: 'INVALID_NAME';
  /** What was named: a config key such as `sources.pg_main.slot_name`, or `table name`. */
  readonly key: string;

  constructor(key: string, problem: string) {
    super('INVALID_NAME', `${key}: ${problem}`, { retryable: false });
    this.key = key;
  }
}

/** A replication option the server's major version does not have (e.g. `origin` before 16). */
export class UnsupportedOptionError extends LaredoError {
  declare readonly code: 'UNSUPPORTED_OPTION';

  constructor(message: string) {
    super('UNSUPPORTED_OPTION', message, { retryable: false });
  }
}

/** The fields of a PostgreSQL ErrorResponse laredo keeps. */
export interface ServerErrorFields {
  readonly sqlstate: string;
  /** ERROR, FATAL or PANIC. */
  readonly severity: string;
  /** The server's primary message, unchanged. */
  readonly serverMessage: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly schema?: string;
  readonly table?: string;
  readonly column?: string;
  readonly constraint?: string;
}

/**
 * SQLSTATEs after which the same request can succeed later: the server is shutting down, starting,
 * out of connections, or the conflict was transient. Everything else (authentication, missing
 * objects, syntax, privileges) fails the same way until someone changes something.
 */
export function isRetryableSqlstate(sqlstate: string): boolean {
  const errorClass = sqlstate.slice(0, 2);
  if (errorClass === '08') return true; // connection exception
  if (errorClass === '53') return sqlstate !== '53400'; // insufficient resources, except configuration limit exceeded
  return RETRYABLE_SQLSTATES.has(sqlstate);
}

const RETRYABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown: the server (or pg_terminate_backend) ended the session
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, shutting down, or in recovery
  '57P05', // idle_session_timeout
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55006', // object_in_use: e.g. a replication slot still held by a walsender that is exiting
  '55P03', // lock_not_available
  '58000', // system_error (I/O trouble on the server)
  '58030', // io_error
]);

/** What to do, by SQLSTATE, when the server's own hint says nothing. */
function adviceFor(sqlstate: string): string | undefined {
  if (sqlstate.startsWith('28')) return 'check the user name and password in the connection string and the server\'s pg_hba.conf';
  if (sqlstate === '3D000') return 'create the database or fix the database name in the connection string';
  if (sqlstate === '42501') return 'grant the missing privilege to the role laredo connects as';
  if (sqlstate === '42P01') return 'create the table or fix its name in the configuration';
  if (sqlstate === '42704') return 'create the object or fix its name in the configuration';
  if (sqlstate === '53300') return 'the server has no free connection: raise max_connections or max_wal_senders, or close idle sessions; laredo retries';
  if (sqlstate === '53400') return 'a server limit is reached: raise it (e.g. max_replication_slots or max_wal_senders) and restart PostgreSQL';
  if (sqlstate === '55000') return 'the server is not set up for this: check wal_level = logical and the object\'s state';
  if (sqlstate.startsWith('57P') || sqlstate.startsWith('08')) return 'the connection ended; laredo reconnects';
  return undefined;
}

/** The server answered with an ErrorResponse. `retryable` follows the SQLSTATE. */
export class PostgresServerError extends LaredoError implements ServerErrorFields {
  declare readonly code: 'POSTGRES';
  readonly sqlstate: string;
  readonly severity: string;
  readonly serverMessage: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly schema?: string;
  readonly table?: string;
  readonly column?: string;
  readonly constraint?: string;

  constructor(fields: ServerErrorFields, action: string, options: { cause?: unknown } = {}) {
    const parts = [`PostgreSQL error ${fields.sqlstate} while ${action}: ${fields.serverMessage}`];
    if (fields.detail !== undefined) parts.push(`detail: ${fields.detail}`);
    if (fields.hint !== undefined) parts.push(`hint: ${fields.hint}`);
    const advice = adviceFor(fields.sqlstate);
    if (advice !== undefined) parts.push(`what to do: ${advice}`);
    super('POSTGRES', parts.join('; '), { retryable: isRetryableSqlstate(fields.sqlstate), cause: options.cause });
    this.sqlstate = fields.sqlstate;
    this.severity = fields.severity;
    this.serverMessage = fields.serverMessage;
    if (fields.detail !== undefined) this.detail = fields.detail;
    if (fields.hint !== undefined) this.hint = fields.hint;
    if (fields.schema !== undefined) this.schema = fields.schema;
    if (fields.table !== undefined) this.table = fields.table;
    if (fields.column !== undefined) this.column = fields.column;
    if (fields.constraint !== undefined) this.constraint = fields.constraint;
  }
}

export type SlotErrorCode =
  | 'SLOT_MISSING'
  | 'SLOT_EXISTS'
  | 'SLOT_WRONG_TYPE'
  | 'SLOT_WRONG_PLUGIN'
  | 'SLOT_WRONG_DATABASE'
  | 'SLOT_ACTIVE'
  | 'SLOT_INVALIDATED';

/**
 * A replication slot laredo cannot use. Only `SLOT_ACTIVE` is retryable: after a reconnect the old
 * walsender can hold the slot for a moment until it notices its socket is gone.
 */
export class SlotError extends LaredoError {
  declare readonly code: SlotErrorCode;
  readonly slotName: string;

  constructor(code: SlotErrorCode, slotName: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { retryable: code === 'SLOT_ACTIVE', cause: options.cause });
    this.slotName = slotName;
  }
}

export type PublicationErrorCode =
  | 'PUBLICATION_MISSING'
  | 'PUBLICATION_TABLE_MISSING'
  | 'PUBLICATION_NO_SUCH_TABLE'
  | 'PUBLICATION_UNSUPPORTED'
  | 'PUBLICATION_ALL_TABLES'
  | 'PUBLICATION_INVALID';

/** A publication that is missing, lacks a configured table, or cannot be made equal to the config. */
export class PublicationError extends LaredoError {
  declare readonly code: PublicationErrorCode;
  readonly publication: string;
  /** `schema.table` when the problem is one table. */
  readonly table?: string;

  constructor(code: PublicationErrorCode, publication: string, message: string, options: { table?: string; cause?: unknown } = {}) {
    super(code, message, { retryable: false, cause: options.cause });
    this.publication = publication;
    if (options.table !== undefined) this.table = options.table;
  }
}

export type PreflightProblemCode =
  | 'SERVER_VERSION'
  | 'WAL_LEVEL'
  | 'REPLICATION_ROLE'
  | 'TABLE_MISSING'
  | 'TABLE_PRIVILEGE'
  | 'NO_FREE_SLOT'
  | 'NO_FREE_WAL_SENDER';

export interface PreflightProblem {
  readonly code: PreflightProblemCode;
  /** What is wrong and what to do about it. */
  readonly message: string;
  /** `schema.table` when the problem is one table. */
  readonly table?: string;
}

/**
 * The server is not ready for laredo. Holds every problem found, one message each; `code` is the
 * first problem's.
 */
export class PreflightError extends LaredoError {
  readonly problems: readonly PreflightProblem[];

  constructor(problems: readonly PreflightProblem[]) {
    const first = problems[0];
    const message =
      problems.length === 1 && first !== undefined
        ? `preflight: ${first.message}`
        : `preflight found ${problems.length} problems:\n${problems.map((p) => `  - ${p.message}`).join('\n')}`;
    super(`PREFLIGHT_${first?.code ?? 'FAILED'}`, message, { retryable: false });
    this.problems = problems;
  }
}

/** Where an error happened, for the message; `secrets` are scrubbed from anything the error carries. */
export interface PgErrorContext {
  /** What laredo was doing, as a phrase: `creating replication slot "laredo_1"`. */
  readonly action: string;
  /** The server, without password: `laredo@db.example:5432/app`. */
  readonly server?: string;
  /** Set while talking about one slot: SQLSTATE 55006 / 42704 then become SlotErrors. */
  readonly slotName?: string;
  /** Strings that must never appear in a message (the password). */
  readonly secrets?: readonly string[];
}

const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
  'ERR_SOCKET_CLOSED',
]);

// What node-postgres says, as plain Errors, when the socket goes away or never comes.
const PG_CONNECTION_MESSAGES = [
  /^Connection terminated/,
  /^timeout expired$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^Query read timeout$/,
];

function scrub(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length > 0) result = result.split(secret).join('***');
  }
  return result;
}

function stringField(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * Turns whatever `pg`, `pg-copy-streams` or a socket threw into a LaredoError: LaredoErrors pass
 * through, ErrorResponses become PostgresServerError (or SlotError when `context.slotName` is set and
 * the SQLSTATE says the slot is missing or in use), socket failures ConnectionError. Anything else
 * is a bug or an unexpected state, and becomes a non-retryable LaredoError with the original as cause.
 */
export function fromPgError(error: unknown, context: PgErrorContext | string): LaredoError {
  if (error instanceof LaredoError) return error;
  const ctx: PgErrorContext = typeof context === 'string' ? { action: context } : context;
  const secrets = ctx.secrets ?? [];
  const where = ctx.server === undefined ? '' : ` (${ctx.server})`;
  const record = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const rawMessage = scrub(error instanceof Error ? error.message : String(error), secrets);
  const code = stringField(record['code']);
  const severity = stringField(record['severity']);

  // pg-protocol's DatabaseError: an ErrorResponse (it always has a severity and a 5-character SQLSTATE).
  if (code !== undefined && severity !== undefined && /^[0-9A-Z]{5}$/.test(code)) {
    const fields: ServerErrorFields = {
      sqlstate: code,
      severity,
      serverMessage: rawMessage,
      ...optional('detail', stringField(record['detail']), secrets),
      ...optional('hint', stringField(record['hint']), secrets),
      ...optional('schema', stringField(record['schema']), secrets),
      ...optional('table', stringField(record['table']), secrets),
      ...optional('column', stringField(record['column']), secrets),
      ...optional('constraint', stringField(record['constraint']), secrets),
    };
    const slot = ctx.slotName;
    if (slot !== undefined && code === '55006') {
      return new SlotError(
        'SLOT_ACTIVE',
        slot,
        `replication slot "${slot}" is in use by another process${where}: ${rawMessage}; stop the other consumer ` +
          `(another laredo, a subscription, pg_recvlogical) or wait for it to exit; laredo retries`,
        { cause: new PostgresServerError(fields, ctx.action + where) },
      );
    }
    if (slot !== undefined && code === '42704' && /replication slot/.test(rawMessage)) {
      return new SlotError(
        'SLOT_MISSING',
        slot,
        `replication slot "${slot}" does not exist${where}: create it (stateful mode creates it on first start), or fix slot_name`,
        { cause: new PostgresServerError(fields, ctx.action + where) },
      );
    }
    return new PostgresServerError(fields, ctx.action + where, { cause: error });
  }

  if ((code !== undefined && NETWORK_ERROR_CODES.has(code)) || PG_CONNECTION_MESSAGES.some((pattern) => pattern.test(rawMessage))) {
    return new ConnectionError(`connection to PostgreSQL lost or refused while ${ctx.action}${where}: ${rawMessage}`, { cause: error });
  }
  if (/SSL/.test(rawMessage) && error instanceof Error) {
    return new ConnectionError(`TLS negotiation failed while ${ctx.action}${where}: ${rawMessage}; check sslmode and the server's ssl setting`, {
      cause: error,
      retryable: false,
    });
  }
  return new LaredoError('UNEXPECTED', `unexpected error while ${ctx.action}${where}: ${rawMessage}`, { retryable: false, cause: error });
}

function optional<K extends string>(key: K, value: string | undefined, secrets: readonly string[]): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: scrub(value, secrets) } as Partial<Record<K, string>>);
}

export type TableErrorCode = 'TABLE_MISSING' | 'TABLE_NOT_COPYABLE';

/** A configured table that does not exist (or is not a table laredo can copy and stream). */
export class TableError extends LaredoError {
  declare readonly code: TableErrorCode;
  /** `schema.table`. */
  readonly table: string;

  constructor(code: TableErrorCode, table: string, message: string) {
    super(code, message, { retryable: false });
    this.table = table;
  }
}
