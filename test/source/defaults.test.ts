// "Library usage" of the specification (pg.New(...) in Go, pg.source({...}) here) and the defaults
// the issue fixes: ephemeral, publication `<slot_name>_pub`, reconnect 10 attempts, 1 s, 60 s, 2.0.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LaredoError } from '../../src/errors.js';
import { pg, resolveSourceOptions, SOURCE_DEFAULTS, SourceOptionError, type PostgresSourceOptions } from '../../src/source/index.js';
import { ConnectionStringError, InvalidNameError } from '../../src/streams/errors.js';

const connection = 'postgresql://user:s3cret-pass@host:5432/dbname';
const tables = { 'public.rules': {} };

describe('Library usage: pg.source({...}) takes what pg.New(...) takes', () => {
  it('connection, slot mode, slot name, publication name and create, reconnect (10, 1 s, 60 s, 2.0)', () => {
    const source = pg.source({
      connection,
      slotMode: 'stateful',
      slotName: 'laredo_warden_01',
      publication: { name: 'laredo_warden_01_pub', create: true, tables },
      reconnect: { maxAttempts: 10, initialBackoff: 1000, maxBackoff: 60_000, multiplier: 2.0 },
    });
    expect(source.options).toMatchObject({
      connection,
      slotMode: 'stateful',
      slotName: 'laredo_warden_01',
      publication: { name: 'laredo_warden_01_pub', create: true, publish: ['insert', 'update', 'delete', 'truncate'], tables: { 'public.rules': {} } },
      reconnect: { maxAttempts: 10, initialBackoff: 1000, maxBackoff: 60_000, multiplier: 2 },
    });
    // Nothing happens before run() is subscribed.
    expect(source.state).toBe('CLOSED');
  });

  it('defaults of the specification: ephemeral, publication <slot_name>_pub, reconnect 10 attempts from 1 s doubling to 60 s', () => {
    const options = resolveSourceOptions({ connection, slotName: 'my_slot', publication: { tables } });
    expect(options.slotMode).toBe('ephemeral');
    expect(options.publication.name).toBe('my_slot_pub');
    expect(options.publication.create).toBe(true);
    expect(options.publication.publish).toEqual(['insert', 'update', 'delete', 'truncate']);
    expect(options.reconnect).toEqual({ maxAttempts: 10, initialBackoff: 1000, maxBackoff: 60_000, multiplier: 2, jitter: true });
    expect(options.alwaysBaseline).toBe(false);
    expect(options.onSlotInvalidated).toBe('rebaseline');
    expect(options.stopTimeout).toBe(SOURCE_DEFAULTS.stopTimeout);
    expect(options.maxInFlightBytes).toBe(SOURCE_DEFAULTS.maxInFlightBytes);
  });

  it('an ephemeral source without a slot name gets a unique slot name, and a publication named after what it publishes', () => {
    const a = resolveSourceOptions({ connection, publication: { tables } });
    const b = resolveSourceOptions({ connection, publication: { tables: { 'public.rules': {} } } });
    expect(a.slotName).toMatch(/^laredo_[0-9a-f]{12}$/);
    expect(a.slotName).not.toBe(b.slotName);
    expect(a.slotNameGiven).toBe(false);
    // Stable across starts of the same config: nothing is left behind per run.
    expect(a.publication.name).toMatch(/^laredo_[0-9a-f]{16}_pub$/);
    expect(b.publication.name).toBe(a.publication.name);
    // Another table set, filter or operation list in the same database gets a publication of its own.
    const others = [
      { tables: { 'public.docs': {} } },
      { tables: { 'public.rules': { where: 'x > 1' } } },
      { tables: { 'public.rules': { columns: ['id'] } } },
      { tables, publish: ['insert' as const] },
    ].map((publication) => resolveSourceOptions({ connection, publication }).publication.name);
    expect(new Set([a.publication.name, ...others]).size).toBe(5);
  });

  it('table keys are normalised to schema.table (a bare name is in public)', () => {
    expect(Object.keys(resolveSourceOptions({ connection, publication: { tables: { rules: {}, 'app.docs': { where: 'x > 1' } } } }).publication.tables)).toEqual([
      'public.rules',
      'app.docs',
    ]);
  });
});

describe('options that cannot work fail when the source is made, naming the option and the fix', () => {
  const cases: [string, Partial<PostgresSourceOptions>, string][] = [
    ['stateful without a slot name', { slotMode: 'stateful' }, 'slotName'],
    ['an unknown slot mode', { slotMode: 'durable' as never }, 'slotMode'],
    ['no table', { publication: { tables: {} } }, 'publication.tables'],
    ['an unknown publish operation', { publication: { tables, publish: ['upsert' as never] } }, 'publication.publish'],
    ['max backoff below the initial one', { reconnect: { initialBackoff: 5000, maxBackoff: 1000 } }, 'reconnect'],
    ['a multiplier below 1', { reconnect: { multiplier: 0.5 } }, 'reconnect'],
    ['an unknown onSlotInvalidated', { onSlotInvalidated: 'ignore' as never }, 'onSlotInvalidated'],
    ['a fractional batch size', { baselineBatchSize: 1.5 }, 'baselineBatchSize'],
    ['a zero budget', { maxInFlightBytes: 0 }, 'maxInFlightBytes'],
    ['a negative stop timeout', { stopTimeout: -1 }, 'stopTimeout'],
  ];
  it.each(cases)('%s', (_name, extra, key) => {
    const error = (() => {
      try {
        resolveSourceOptions({ connection, publication: { tables }, ...extra });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(SourceOptionError);
    expect((error as SourceOptionError).key).toBe(key);
    expect((error as SourceOptionError).retryable).toBe(false);
  });

  it('a slot name PostgreSQL would refuse', () => {
    expect(() => resolveSourceOptions({ connection, slotName: 'Laredo-1', publication: { tables } })).toThrow(InvalidNameError);
  });

  it('a connection string that cannot be parsed, without showing its password', () => {
    const bad = 'postgresql://user:s3cret-pass@host:notaport/db';
    expect(() => resolveSourceOptions({ connection: bad, publication: { tables } })).toThrow(ConnectionStringError);
    try {
      resolveSourceOptions({ connection: bad, publication: { tables } });
    } catch (error) {
      expect((error as Error).message).not.toContain('s3cret-pass');
    }
  });

  it('property: any options object either resolves or throws a non-retryable LaredoError, never anything else', () => {
    const anything = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(undefined), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }));
    fc.assert(
      fc.property(
        fc.record(
          {
            connection: fc.oneof(fc.constant(connection), fc.string()),
            slotMode: fc.oneof(fc.constantFrom('ephemeral', 'stateful'), anything),
            slotName: fc.oneof(fc.stringMatching(/^[a-z0-9_]{1,63}$/), anything),
            alwaysBaseline: anything,
            publication: fc.oneof(
              fc.record({ name: anything, create: anything, publish: fc.array(fc.oneof(fc.constantFrom('insert', 'delete'), fc.string()), { maxLength: 3 }), tables: fc.dictionary(fc.string(), fc.constant({})) }, { requiredKeys: [] }),
              fc.constant({ tables }),
            ),
            reconnect: fc.record({ maxAttempts: anything, initialBackoff: anything, maxBackoff: anything, multiplier: anything, jitter: anything }, { requiredKeys: [] }),
            onSlotInvalidated: anything,
            baselineParallelism: anything,
            maxInFlightBytes: anything,
            stopTimeout: anything,
            statusInterval: anything,
          },
          { requiredKeys: ['connection'] },
        ),
        (options) => {
          try {
            resolveSourceOptions(options as unknown as PostgresSourceOptions);
          } catch (error) {
            expect(error).toBeInstanceOf(LaredoError);
            expect((error as LaredoError).retryable).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
