import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkConnectionString } from '../../src/config/connection-string.js';
import { ConfigValueError } from '../../src/config/errors.js';

describe('checkConnectionString', () => {
  it.each([
    'postgresql://user:pass@host:5432/dbname',
    'postgres://host/db',
    'postgresql://',
    'postgresql:///app?host=%2Fvar%2Frun%2Fpostgresql',
    'postgresql://[::1]:5432/app',
    'postgresql://laredo:p%40ss%2Fword@db/app?sslmode=verify-full&application_name=laredo',
    'host=db port=5432 dbname=app user=laredo',
    "host=db password='with spaces and \\' a quote' sslmode=require",
    'dbname = app',
  ])('accepts %s', (connection) => {
    expect(() => checkConnectionString(connection)).not.toThrow();
  });

  it.each([
    ['', /is empty/],
    ['mysql://u@h/db', /scheme other than postgresql/],
    ['db.internal:5432', /is not a connection string/],
    ['postgresql://u@h:99999/db', /port/],
    ['postgresql://u@h:abc/db', /port/],
    ['postgresql://[::1/db', /IPv6/],
    ['postgresql://u@h/db?sslmod=require', /unknown parameter "sslmod" \(did you mean sslmode\?\)/],
    ['postgresql://u@h/db?sslmode', /without "name=value"/],
    ['postgresql://u@h/d%zzb', /bad %-escape/],
    ['postgresql://u@h/a/b', /"\/" in the database name/],
    ['postgresql://u@h/my db', /white space/],
    ['host=db dbnmae=app', /did you mean dbname\?/],
    ['host=db zzzz=1', /has an unknown parameter, which libpq refuses/],
    ['postgresql://laredo:pa?ss@db/app', /password containing "\?"/],
    ["host=db password='open", /unterminated quoted value/],
    ['host=db port', /without "=value"/],
    // libpq syntax, but beyond what laredo's connection layer supports:
    ['postgresql://h1:5432,h2:5433/app', /not usable by laredo: several hosts/],
    ['postgresql://db/app?target_session_attrs=read-write', /not usable by laredo: unknown parameter "target_session_attrs"/],
    ['postgresql://db/app?replication=database', /not usable by laredo: remove "replication"/],
    ['host=db sslmode=sometimes', /not usable by laredo: sslmode "sometimes"/],
  ])('refuses %s', (connection, message) => {
    expect(() => checkConnectionString(connection)).toThrow(ConfigValueError);
    expect(() => checkConnectionString(connection)).toThrow(message);
  });

  it('never shows the password, or a part of it, of a connection string it refuses', () => {
    const password = fc.string({ minLength: 4, maxLength: 24 }).map((text) => `Pw${text}`);
    const mistake = fc.constantFrom('?sslmod=require', ':99999/app', '/a/b', '?x', '/db name', '?zzzz=1');
    fc.assert(
      fc.property(password, mistake, (secret, suffix) => {
        const connections = [
          `postgresql://laredo:${encodeURIComponent(secret)}@db${suffix}`,
          `postgresql://laredo:${secret}@db${suffix}`,
          `host=db password='${secret.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}' sslmod=require`,
        ];
        for (const connection of connections) {
          try {
            checkConnectionString(connection);
          } catch (error) {
            expect(error).toBeInstanceOf(ConfigValueError);
            const message = (error as Error).message;
            // Any run of 4+ characters of the password, beyond the fixed prefix, must not appear.
            for (let start = 2; start + 4 <= secret.length; start++) {
              const fragment = secret.slice(start, start + 4);
              if (!/^[a-z ]+$/i.test(fragment)) expect(message).not.toContain(fragment);
            }
            expect(message).not.toContain(secret);
            expect(message).not.toContain(encodeURIComponent(secret));
          }
        }
      }),
    );
  });

  it('never crashes on arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((text) => `postgresql://${text}`), fc.string().map((text) => `host=${text}`)), (text) => {
        try {
          checkConnectionString(text);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigValueError);
        }
      }),
    );
  });
});
