import { describe, expect, it } from 'vitest';
import { evaluatePreflight, type PreflightFacts, type PreflightTableFacts } from '../../src/streams/preflight.js';

const table = (name: string, overrides: Partial<PreflightTableFacts> = {}): PreflightTableFacts => ({
  schema: 'public',
  name,
  key: `public.${name}`,
  exists: true,
  canSelect: true,
  hasPrimaryKey: true,
  replicaIdentity: 'd',
  hasIdentityIndex: false,
  ...overrides,
});

const healthy: PreflightFacts = {
  serverVersion: 180001,
  walLevel: 'logical',
  role: 'laredo',
  canReplicate: true,
  maxReplicationSlots: 10,
  usedReplicationSlots: 2,
  slotExists: false,
  maxWalSenders: 10,
  usedWalSenders: 1,
  publication: null,
  publicationName: null,
  tables: [table('docs')],
};

const codes = (facts: PreflightFacts) => evaluatePreflight(facts).problems.map((p) => p.code);

describe('evaluatePreflight', () => {
  it('finds nothing wrong on a healthy server', () => {
    expect(evaluatePreflight(healthy)).toEqual({ problems: [], warnings: [] });
  });

  it('reports one problem per cause, each saying what to do', () => {
    expect(codes({ ...healthy, walLevel: 'replica' })).toEqual(['WAL_LEVEL']);
    expect(evaluatePreflight({ ...healthy, walLevel: 'replica' }).problems[0]!.message).toMatch(/ALTER SYSTEM SET wal_level = logical and restart/);
    expect(codes({ ...healthy, canReplicate: false })).toEqual(['REPLICATION_ROLE']);
    expect(codes({ ...healthy, usedReplicationSlots: 10 })).toEqual(['NO_FREE_SLOT']);
    expect(evaluatePreflight({ ...healthy, usedReplicationSlots: 10 }).problems[0]!.message).toMatch(/max_replication_slots/);
    expect(codes({ ...healthy, usedReplicationSlots: 10, slotExists: true })).toEqual([]);
    expect(codes({ ...healthy, usedWalSenders: 10 })).toEqual(['NO_FREE_WAL_SENDER']);
    expect(codes({ ...healthy, serverVersion: 130011 })).toEqual(['SERVER_VERSION']);
    expect(codes({ ...healthy, tables: [table('a', { exists: false, canSelect: false, replicaIdentity: null }), table('b', { canSelect: false })] })).toEqual([
      'TABLE_MISSING',
      'TABLE_PRIVILEGE',
    ]);
    expect(
      codes({ ...healthy, walLevel: 'minimal', canReplicate: false, usedReplicationSlots: 10, usedWalSenders: 10, serverVersion: 120000 }),
    ).toEqual(['SERVER_VERSION', 'WAL_LEVEL', 'REPLICATION_ROLE', 'NO_FREE_SLOT', 'NO_FREE_WAL_SENDER']);
  });

  it('warns about tables whose updates and deletes PostgreSQL would refuse, only when those are published', () => {
    const tables = [
      table('keyless', { hasPrimaryKey: false }),
      table('nothing', { replicaIdentity: 'n' }),
      table('lost_index', { replicaIdentity: 'i', hasIdentityIndex: false }),
      table('full', { replicaIdentity: 'f', hasPrimaryKey: false }),
      table('indexed', { replicaIdentity: 'i', hasIdentityIndex: true }),
    ];
    const { warnings } = evaluatePreflight({ ...healthy, tables });
    expect(warnings.map((w) => [w.code, w.table])).toEqual([
      ['NO_REPLICA_IDENTITY', 'public.keyless'],
      ['REPLICA_IDENTITY_NOTHING', 'public.nothing'],
      ['REPLICA_IDENTITY_NOTHING', 'public.lost_index'],
    ]);
    expect(warnings[0]!.message).toContain('ALTER TABLE "public"."keyless" REPLICA IDENTITY FULL');
    const insertOnly = evaluatePreflight({ ...healthy, tables, publication: { name: 'p', publishesUpdateOrDelete: false }, publicationName: 'p' });
    expect(insertOnly.warnings).toEqual([]);
  });

  it('notes a publication that does not exist yet', () => {
    expect(evaluatePreflight({ ...healthy, publicationName: 'p' }).warnings.map((w) => w.code)).toEqual(['PUBLICATION_MISSING']);
  });
});
