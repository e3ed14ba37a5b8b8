import { describe, expect, it } from 'vitest';
import { LaredoError } from '../../src/errors.js';
import { ConnectionError, fromPgError, isRetryableSqlstate, PostgresServerError, PreflightError, SlotError } from '../../src/streams/errors.js';

/** What pg-protocol's DatabaseError looks like. */
function serverError(code: string, message: string, extra: Record<string, string> = {}): Error {
  return Object.assign(new Error(message), { severity: 'ERROR', code, ...extra });
}

function networkError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('fromPgError', () => {
  it('keeps SQLSTATE, severity, detail, hint and the server message of an ErrorResponse', () => {
    const error = fromPgError(serverError('42P01', 'relation "x" does not exist', { detail: 'd', hint: 'h', table: 'x' }), {
      action: 'copying x',
      server: 'u@h:5432/db',
    });
    expect(error).toBeInstanceOf(PostgresServerError);
    expect(error).toMatchObject({ code: 'POSTGRES', sqlstate: '42P01', severity: 'ERROR', serverMessage: 'relation "x" does not exist', detail: 'd', hint: 'h', table: 'x', retryable: false });
    expect(error.message).toBe('PostgreSQL error 42P01 while copying x (u@h:5432/db): relation "x" does not exist; detail: d; hint: h; what to do: create the table or fix its name in the configuration');
  });

  it('decides retryable by SQLSTATE', () => {
    const retryable = ['57P01', '57P02', '57P03', '53300', '08006', '08001', '40001', '40P01', '55006'];
    const fatal = ['28P01', '28000', '3D000', '42501', '42704', '42601', '22023', '53400', 'XX000'];
    for (const code of retryable) expect(fromPgError(serverError(code, 'm'), 'x').retryable, code).toBe(true);
    for (const code of fatal) expect(fromPgError(serverError(code, 'm'), 'x').retryable, code).toBe(false);
    expect(isRetryableSqlstate('08P01')).toBe(true);
  });

  it('turns socket failures and node-postgres disconnects into retryable ConnectionErrors', () => {
    for (const error of [
      networkError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      networkError('ECONNRESET', 'read ECONNRESET'),
      networkError('ETIMEDOUT', 'connect ETIMEDOUT'),
      networkError('EPIPE', 'write EPIPE'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout expired'),
    ]) {
      const mapped = fromPgError(error, 'streaming');
      expect(mapped, error.message).toBeInstanceOf(ConnectionError);
      expect(mapped.retryable).toBe(true);
      expect(mapped.cause).toBe(error);
    }
  });

  it('maps object-in-use and a missing slot to SlotErrors when a slot is named', () => {
    const active = fromPgError(serverError('55006', 'replication slot "s" is active for PID 42'), { action: 'starting', slotName: 's' });
    expect(active).toBeInstanceOf(SlotError);
    expect(active).toMatchObject({ code: 'SLOT_ACTIVE', retryable: true, slotName: 's' });
    const missing = fromPgError(serverError('42704', 'replication slot "s" does not exist'), { action: 'starting', slotName: 's' });
    expect(missing).toMatchObject({ code: 'SLOT_MISSING', retryable: false });
  });

  it('passes LaredoErrors through and wraps anything unknown as a non-retryable LaredoError', () => {
    const own = new ConnectionError('x');
    expect(fromPgError(own, 'y')).toBe(own);
    const unknown = fromPgError(new TypeError('boom'), 'decoding');
    expect(unknown).toBeInstanceOf(LaredoError);
    expect(unknown).toMatchObject({ code: 'UNEXPECTED', retryable: false });
    expect(fromPgError('a string', 'z').message).toContain('a string');
  });

  it('scrubs secrets from every field it keeps', () => {
    const error = fromPgError(serverError('28P01', 'bad hunter2', { detail: 'hunter2 again' }), { action: 'connecting', secrets: ['hunter2'] });
    if (!(error instanceof PostgresServerError)) throw new Error('expected a PostgresServerError');
    expect(error.message).not.toContain('hunter2');
    expect(error.serverMessage).toBe('bad ***');
    expect(error.detail).toBe('*** again');
    expect(fromPgError(networkError('ECONNRESET', 'hunter2'), { action: 'x', secrets: ['hunter2'] }).message).not.toContain('hunter2');
  });
});

describe('PreflightError', () => {
  it('carries every problem and takes its code from the first', () => {
    const error = new PreflightError([
      { code: 'WAL_LEVEL', message: 'wal_level is replica' },
      { code: 'TABLE_PRIVILEGE', message: 'cannot read t', table: 'public.t' },
    ]);
    expect(error.code).toBe('PREFLIGHT_WAL_LEVEL');
    expect(error.problems).toHaveLength(2);
    expect(error.message).toBe('preflight found 2 problems:\n  - wal_level is replica\n  - cannot read t');
  });
});
