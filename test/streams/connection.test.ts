import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SESSION_SETTINGS } from '../../src/protocol/values.js';
import { describeConnection, parseConnectionString, pgClientConfig, redactConnectionString, replicationClientConfig } from '../../src/streams/connection.js';
import { ConnectionStringError } from '../../src/streams/errors.js';

describe('parseConnectionString', () => {
  it('reads a URL with percent-encoded parts and libpq parameters', () => {
    expect(parseConnectionString('postgresql://us%40er:p%3Ass%2Fw@db.example.com:6543/my%20db?application_name=app&connect_timeout=5&sslmode=disable')).toEqual({
      user: 'us@er',
      password: 'p:ss/w',
      host: 'db.example.com',
      port: 6543,
      database: 'my db',
      applicationName: 'app',
      connectTimeoutMs: 5000,
      sslMode: 'disable',
      ssl: false,
    });
    expect(parseConnectionString('postgres://[::1]:5433/db')).toEqual({ host: '::1', port: 5433, database: 'db' });
    expect(parseConnectionString('postgresql:///db?host=/var/run/postgresql')).toEqual({ host: '/var/run/postgresql', database: 'db' });
    expect(parseConnectionString('postgresql://user:p@ss@host/db')).toMatchObject({ user: 'user', password: 'p@ss', host: 'host' });
  });

  it('reads key=value strings with quoted values and escapes', () => {
    expect(parseConnectionString(`host=localhost port = 5432 dbname='my db' user=laredo password='it\\'s a \\\\ secret' options='-c statement_timeout=0'`)).toEqual({
      host: 'localhost',
      port: 5432,
      database: 'my db',
      user: 'laredo',
      password: "it's a \\ secret",
      options: '-c statement_timeout=0',
    });
  });

  it('maps sslmode like libpq: require encrypts without verifying, verify-full verifies', () => {
    expect(parseConnectionString('host=h sslmode=require').ssl).toEqual({ rejectUnauthorized: false });
    expect(parseConnectionString('host=h sslmode=verify-full').ssl).toEqual({ rejectUnauthorized: true });
    expect(parseConnectionString('host=h sslmode=allow').ssl).toBe(false);
    const dir = mkdtempSync(path.join(tmpdir(), 'laredo-ssl-'));
    const ca = path.join(dir, 'ca.pem');
    writeFileSync(ca, 'CERT');
    const verifyCa = parseConnectionString(`host=h sslmode=verify-ca sslrootcert=${ca}`).ssl;
    expect(verifyCa).toMatchObject({ rejectUnauthorized: true, ca: 'CERT' });
    expect(typeof (verifyCa as { checkServerIdentity?: unknown }).checkServerIdentity).toBe('function');
  });

  it('refuses bad strings with a ConnectionStringError naming the problem and never the password', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['postgresql://u:pw@h:notaport/db', /port must be a whole number/],
      ['postgresql://u:pw@h:70000/db', /port must be between/],
      ['postgresql://u:pw@h1,h2/db', /several hosts/],
      ['postgresql://u:pw@h/db?bogus=1', /unknown parameter "bogus"/],
      ['postgresql://u:pw@h/db?replication=database', /replication/],
      ['host=h password=pw sslmode=sometimes', /sslmode "sometimes"/],
      ["host=h password='pw", /not terminated/],
      ['host h', /expected "="/],
      ['postgresql://u:%zz@h/db', /malformed %-escape/],
      ['host=h sslrootcert=/no/such/file', /sslrootcert: cannot read/],
    ];
    for (const [text, message] of cases) {
      let error: unknown;
      try {
        parseConnectionString(text);
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(ConnectionStringError);
      expect((error as Error).message, text).toMatch(message);
      expect((error as Error).message).not.toContain('pw');
    }
  });
});

describe('pgClientConfig', () => {
  it('sends the session settings as startup options, after which the string’s own options follow', () => {
    const config = pgClientConfig("host=h dbname=d options='-c work_mem=64MB'");
    expect(config.options).toBe(`-c client_encoding=UTF8 -c DateStyle=ISO,\\ YMD -c TimeZone=UTC -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex -c work_mem=64MB`);
    expect(Object.keys(SESSION_SETTINGS)).toContain('DateStyle');
    expect(config.application_name).toBe('laredo');
    expect(config.connectionTimeoutMillis).toBe(10_000);
    expect(config.keepAlive).toBe(true);
    expect((config as { replication?: string }).replication).toBeUndefined();
  });

  it('opens a walsender with replication = database, keeping an application_name the string sets', () => {
    const config = replicationClientConfig('postgresql://u:pw@h/db?application_name=mine', { applicationName: 'laredo slot' });
    expect((config as { replication?: string }).replication).toBe('database');
    expect(config.application_name).toBe('mine');
    expect(config.password).toBe('pw');
  });
});

describe('redactConnectionString and describeConnection', () => {
  it.each([
    ['postgresql://laredo:hunter2@db:5432/app', 'postgresql://laredo:***@db:5432/app'],
    ['postgres://laredo:p%40ss@db/app?sslmode=require', 'postgres://laredo:***@db/app?sslmode=require'],
    ['postgresql://laredo:p@ss/w@rd@db/app', 'postgresql://laredo:***@db/app'],
    ['postgresql://laredo:p?s#s@db/app', 'postgresql://laredo:***@db/app'],
    ['postgresql://db/app?user=laredo&password=hunter2&sslmode=require', 'postgresql://db/app?user=laredo&password=***&sslmode=require'],
    ["host=db user=laredo password='hunter 2' dbname=app", 'host=db user=laredo password=*** dbname=app'],
    ['host=db password=hunter2 dbname=app', 'host=db password=*** dbname=app'],
    ['postgresql://laredo@db/app', 'postgresql://laredo@db/app'],
  ])('masks the password of %s', (connection, redacted) => {
    expect(redactConnectionString(connection)).toBe(redacted);
  });

  it('masks the password in URLs, URL parameters and key/value strings', () => {
    expect(redactConnectionString('postgresql://user:pass@host:5432/dbname')).toBe('postgresql://user:***@host:5432/dbname');
    expect(redactConnectionString('postgresql://user:pa/ss@host/db')).toBe('postgresql://user:***@host/db');
    expect(redactConnectionString('postgresql://user@host/db?password=s3cret&sslmode=require')).toBe('postgresql://user@host/db?password=***&sslmode=require');
    expect(redactConnectionString("host=h password='a b\\' c' user=u")).toBe('host=h password=*** user=u');
    expect(redactConnectionString('host=h PASSWORD = x user=u')).toBe('host=h PASSWORD = *** user=u');
    expect(describeConnection('postgresql://user:pass@host:5432/dbname')).toBe('user@host:5432/dbname');
    expect(describeConnection({ host: '::1', port: 5, database: 'd', user: 'u', password: 'p' })).toBe('u@[::1]:5/d');
  });

  it('never lets a password through, whatever it is made of, encoded or not, quoted or not', () => {
    // Printable ASCII, and more often the characters that break naive patterns: @ / : ? & = # ' " \ and
    // spaces. The prefix keeps a secret from being a word of the rest of the string ("host", "user").
    const password = fc
      .oneof(
        fc.string({ minLength: 1, maxLength: 20 }).filter((text) => /^[\x21-\x7e]+$/.test(text)),
        fc.string({ minLength: 1, maxLength: 20, unit: fc.constantFrom(...'abcXYZ019@/:?&=#%\'"\\ !$'.split('')) }),
      )
      .map((text) => `Pw9${text}`);
    fc.assert(
      fc.property(password, (secret) => {
        const encoded = encodeURIComponent(secret);
        const url = `postgresql://user:${encoded}@host:5432/db`;
        expect(redactConnectionString(url)).not.toContain(encoded);
        expect(describeConnection(url)).not.toContain(encoded);
        const quoted = `'${secret.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
        expect(redactConnectionString(`host=h password=${quoted} user=u`)).not.toContain(secret);
        expect(redactConnectionString(`host=h password=${encoded} user=u`)).not.toContain(encoded);
        if (!/[\s"'`]/.test(secret)) expect(redactConnectionString(`postgresql://user:${secret}@host/db`)).not.toContain(secret);
      }),
    );
  });
});
