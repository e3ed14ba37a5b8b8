import { describe, expect, it } from 'vitest';
import { redactDeep, redactSecrets } from '../../src/observability/redact.js';

describe('redactSecrets', () => {
  it('masks connection strings inside longer text, and authorization headers', () => {
    expect(redactSecrets('connect to postgresql://u:hunter2@db/app failed: timeout')).toBe('connect to postgresql://u:***@db/app failed: timeout');
    expect(redactSecrets('Authorization: Bearer abc.def.ghi')).toBe('Authorization: Bearer ***');
    expect(redactSecrets('auth_header = "Basic dXNlcjpwYXNz"')).toBe('auth_header = "Basic ***"');
    expect(redactSecrets('{"password":"hunter2","user":"u"}')).toBe('{"password":"***","user":"u"}');
    expect(redactSecrets('PGPASSWORD=hunter2 psql')).toBe('PGPASSWORD=*** psql');
  });

  it('leaves text without secrets alone', () => {
    expect(redactSecrets('slot laredo_main confirmed 0/16B3748')).toBe('slot laredo_main confirmed 0/16B3748');
    expect(redactSecrets('https://example.com/sync')).toBe('https://example.com/sync');
  });
});

describe('redactDeep', () => {
  it('masks secret-named properties whole and secrets inside other strings, at any depth', () => {
    const record = {
      source: 'pg_main',
      options: { connection: 'postgresql://u:hunter2@db/app', password: 'hunter2', headers: { Authorization: 'Bearer t0ken' } },
      list: ['password=hunter2', 3, null],
      authHeader: 'Bearer t0ken',
    };
    const redacted = redactDeep(record);
    expect(redacted).toEqual({
      source: 'pg_main',
      options: { connection: 'postgresql://u:***@db/app', password: '***', headers: { Authorization: '***' } },
      list: ['password=***', 3, null],
      authHeader: '***',
    });
    expect(JSON.stringify(redacted)).not.toContain('hunter2');
    expect(record.options.password).toBe('hunter2');
  });

  it('stops at cycles and at the depth limit instead of recursing forever', () => {
    const cyclic: Record<string, unknown> = { name: 'a' };
    cyclic['self'] = cyclic;
    expect(redactDeep(cyclic)).toEqual({ name: 'a', self: '[…]' });
    expect(redactDeep({ a: { b: { c: 1 } } }, 2)).toEqual({ a: { b: '[…]' } });
  });
});
