import { describe, expect, it } from 'vitest';
import * as laredo from '../src/index.js';

describe('the public entry point', () => {
  it('exports what the README uses', () => {
    for (const name of [
      'pg',
      'memoryTarget',
      'jsonlTarget',
      'httpSyncTarget',
      'recordingTarget',
      'routeTables',
      'reconnect',
      'acknowledge',
      'decodePgoutput',
      'baselineThenStream',
      'replicationFrames',
      'ReconnectExhaustedError',
      'LaredoError',
      'Lsn',
      'UNCHANGED_TOAST',
      'PgoutputDecoder',
      'loadConfig',
    ]) {
      expect(laredo, name).toHaveProperty(name);
    }
  });

  it('builds a source with the specification defaults', () => {
    const source = laredo.pg.source({
      connection: 'postgresql://user:pass@host:5432/dbname',
      slotMode: 'stateful',
      slotName: 'laredo_warden_01',
      publication: { tables: { 'public.rules': {} } },
    });
    expect(source.options.publication.name).toBe('laredo_warden_01_pub');
    expect(source.options.reconnect).toMatchObject({ maxAttempts: 10, initialBackoff: 1000, maxBackoff: 60_000, multiplier: 2 });
    expect(source.state).toBe('CLOSED');
  });
});
