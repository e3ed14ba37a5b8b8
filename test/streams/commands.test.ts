import { describe, expect, it } from 'vitest';
import { copyStatement, planParts } from '../../src/streams/baseline.js';
import { UnsupportedOptionError } from '../../src/streams/errors.js';
import { createSlotCommand, parsePostgresDuration } from '../../src/streams/replication-client.js';
import { maxProtoVersion, startReplicationCommand } from '../../src/streams/replication-frames.js';
import type { TableSchema } from '../../src/model/table.js';

describe('createSlotCommand', () => {
  it('uses the keyword syntax on 14 and the options list on 15+', () => {
    expect(createSlotCommand('s1', { temporary: true }, 140011)).toBe('CREATE_REPLICATION_SLOT "s1" TEMPORARY LOGICAL "pgoutput" EXPORT_SNAPSHOT');
    expect(createSlotCommand('s1', { snapshot: 'nothing' }, 140011)).toBe('CREATE_REPLICATION_SLOT "s1" LOGICAL "pgoutput" NOEXPORT_SNAPSHOT');
    expect(createSlotCommand('s1', { temporary: true, snapshot: 'export' }, 150000)).toBe(`CREATE_REPLICATION_SLOT "s1" TEMPORARY LOGICAL "pgoutput" (SNAPSHOT 'export')`);
    expect(createSlotCommand('s1', { snapshot: 'use', twoPhase: true }, 180001)).toBe(`CREATE_REPLICATION_SLOT "s1" LOGICAL "pgoutput" (SNAPSHOT 'use', TWO_PHASE true)`);
  });

  it('refuses two-phase on 14 and bad slot names', () => {
    expect(() => createSlotCommand('s1', { twoPhase: true }, 140011)).toThrow(UnsupportedOptionError);
    expect(() => createSlotCommand('Bad Name', {}, 180000)).toThrow(/slot name/);
  });
});

describe('startReplicationCommand', () => {
  it('defaults proto_version to the newest the server speaks and quotes publication names', () => {
    expect(maxProtoVersion(140011)).toBe(2);
    expect(maxProtoVersion(150000)).toBe(3);
    expect(maxProtoVersion(160000)).toBe(4);
    expect(maxProtoVersion(180001)).toBe(4);
    expect(startReplicationCommand('slot_a', 0x1_0000_00a0n, { publicationNames: ['pub', 'My "Pub"'] }, 140011)).toBe(
      `START_REPLICATION SLOT "slot_a" LOGICAL 1/A0 ("proto_version" '2', "publication_names" '"pub","My ""Pub"""')`,
    );
  });

  it('adds the pgoutput options the server major supports', () => {
    expect(
      startReplicationCommand('s', 0n, { publicationNames: ['p'], messages: true, binary: true, streaming: 'parallel', origin: 'none', twoPhase: true }, 180001),
    ).toBe(
      `START_REPLICATION SLOT "s" LOGICAL 0/0 ("proto_version" '4', "publication_names" '"p"', "messages" 'true', "binary" 'true', "streaming" 'parallel', "origin" 'none', "two_phase" 'on')`,
    );
    expect(startReplicationCommand('s', 0n, { publicationNames: ['p'], streaming: true }, 140011)).toContain(`"streaming" 'on'`);
  });

  it('refuses options the server or the protocol version lacks, naming them', () => {
    const cases: [Parameters<typeof startReplicationCommand>[2], number, RegExp][] = [
      [{ publicationNames: ['p'], protoVersion: 3 }, 140011, /proto_version 3 is not supported by PostgreSQL 14: use 1 to 2/],
      [{ publicationNames: ['p'], origin: 'none' }, 150000, /origin option needs PostgreSQL 16/],
      [{ publicationNames: ['p'], streaming: 'parallel' }, 150000, /streaming = parallel needs PostgreSQL 16/],
      [{ publicationNames: ['p'], streaming: true, protoVersion: 1 }, 180000, /streaming needs proto_version 2/],
      [{ publicationNames: ['p'], twoPhase: true }, 140011, /two_phase needs PostgreSQL 15/],
      [{ publicationNames: [] }, 180000, /at least one publication/],
    ];
    for (const [options, version, message] of cases) {
      expect(() => startReplicationCommand('s', 0n, options, version)).toThrow(message);
      expect(() => startReplicationCommand('s', 0n, options, version)).toThrow(UnsupportedOptionError);
    }
  });
});

describe('copyStatement and planParts', () => {
  const table: TableSchema = {
    key: 'My Schema.Tab"le',
    schema: 'My Schema',
    name: 'Tab"le',
    relationId: 1,
    replicaIdentity: 'default',
    columns: [
      { name: 'id', isKey: true, typeOid: 23, typeMod: -1 },
      { name: 'Mixed Case', isKey: false, typeOid: 25, typeMod: -1 },
    ],
    keyColumns: ['id'],
  };

  it('copies a whole table directly, and ranges or filters through a SELECT on ONLY that table', () => {
    expect(copyStatement(table, {})).toBe('COPY "My Schema"."Tab""le" ("id", "Mixed Case") TO STDOUT');
    expect(copyStatement(table, { where: "status = 'a'", fromPage: 10, toPage: 20 })).toBe(
      `COPY (SELECT "id", "Mixed Case" FROM ONLY "My Schema"."Tab""le" WHERE (status = 'a') AND ctid >= '(10,0)'::tid AND ctid < '(20,0)'::tid) TO STDOUT`,
    );
    expect(copyStatement(table, { relkind: 'p' })).toBe('COPY (SELECT "id", "Mixed Case" FROM "My Schema"."Tab""le") TO STDOUT');
  });

  it('splits pages into ranges whose first and last are open, covering every page once', () => {
    expect(planParts(0, 100, 0)).toEqual([{ tableIndex: 0 }]);
    expect(planParts(0, 100, 100)).toEqual([{ tableIndex: 0 }]);
    expect(planParts(2, 250, 100)).toEqual([
      { tableIndex: 2, toPage: 100 },
      { tableIndex: 2, fromPage: 100, toPage: 200 },
      { tableIndex: 2, fromPage: 200 },
    ]);
  });
});

describe('parsePostgresDuration', () => {
  it('reads SHOW output of time settings', () => {
    expect(parsePostgresDuration('1min')).toBe(60_000);
    expect(parsePostgresDuration('2s')).toBe(2000);
    expect(parsePostgresDuration('500ms')).toBe(500);
    expect(parsePostgresDuration('0')).toBe(0);
    expect(parsePostgresDuration('1h')).toBe(3_600_000);
    expect(() => parsePostgresDuration('soon')).toThrow(RangeError);
  });
});
