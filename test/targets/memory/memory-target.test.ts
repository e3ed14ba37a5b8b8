import fc from 'fast-check';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { TargetMessage } from '../../../src/model/events.js';
import type { TableSchema } from '../../../src/model/table.js';
import { UNCHANGED_TOAST, type PgValue } from '../../../src/protocol/row.js';
import { MemoryTargetError, memoryTarget, type MemoryChange, type MemoryTarget } from '../../../src/targets/memory/index.js';
import { encodeKey } from '../../../src/targets/memory/row-key.js';
import { begin, commit, insert, itemsTable, remove, rollback, update } from '../../operators/events.js';

const users: TableSchema = {
  key: 'public.users',
  schema: 'public',
  name: 'users',
  relationId: 16500,
  replicaIdentity: 'default',
  columns: [
    { isKey: true, name: 'id', typeOid: 23, typeMod: -1 },
    { isKey: false, name: 'email', typeOid: 25, typeMod: -1 },
    { isKey: false, name: 'team', typeOid: 25, typeMod: -1 },
    { isKey: false, name: 'bio', typeOid: 25, typeMod: -1 },
  ],
  keyColumns: ['id'],
};
const fullNoKey: TableSchema = { ...users, key: 'public.log', name: 'log', replicaIdentity: 'full', keyColumns: [] };

async function write(target: MemoryTarget, ...batch: TargetMessage[]): Promise<void> {
  await lastValueFrom(target.write(batch), { defaultValue: undefined });
}

function withIndexes(): MemoryTarget {
  return memoryTarget({ tables: { 'public.users': { lookupFields: ['email'], additionalIndexes: [['team']] } } });
}

/** `public.members (id key, org, email, team, role)`: unique by (org, email), indexed by (org, team) and (role). */
const members: TableSchema = {
  ...users,
  key: 'public.members',
  name: 'members',
  columns: ['id', 'org', 'email', 'team', 'role'].map((name, index) => ({ isKey: index === 0, name, typeOid: name === 'id' ? 23 : 25, typeMod: -1 })),
};

function withCompositeIndexes(): MemoryTarget {
  return memoryTarget({ tables: { 'public.members': { lookupFields: ['org', 'email'], additionalIndexes: [['org', 'team'], ['role']] } } });
}

/** Members of two organisations; one email in both, so only (org, email) together identify a row. */
async function withMembers(): Promise<MemoryTarget> {
  const target = withCompositeIndexes();
  const rows = [
    { id: 1, org: 'acme', email: 'a@x', team: 'red', role: 'dev' },
    { id: 2, org: 'acme', email: 'b@x', team: 'red', role: 'ops' },
    { id: 3, org: 'initech', email: 'a@x', team: 'red', role: 'dev' },
    { id: 4, org: 'acme', email: 'd@x', team: null, role: 'dev' },
  ];
  await write(target, { kind: 'baseline', table: members, rows, bytes: 0 });
  return target;
}

describe('memoryTarget', () => {
  it('stores baseline rows keyed by primary key', async () => {
    const target = memoryTarget();
    await write(target, { kind: 'baseline', table: users, rows: [{ id: 1, email: 'a@x' }, { id: 2, email: 'b@x' }], bytes: 0 });
    expect(target.size('public.users')).toBe(2);
    expect(target.get('public.users', 1)).toEqual({ id: 1, email: 'a@x' });
    expect(target.get('public.users', { id: 2 })).toEqual({ id: 2, email: 'b@x' });
    expect(target.get('public.users', [2])).toEqual({ id: 2, email: 'b@x' });
    expect(target.get('public.users', '1')).toBeUndefined();
    expect(target.rows('public.users')).toHaveLength(2);
    expect(target.tables()).toEqual(['public.users']);
  });

  it('applies a transaction only at its commit', async () => {
    const target = memoryTarget();
    await write(target, begin(1), insert(1, { id: 1, email: 'a@x' }, users));
    expect(target.size('public.users')).toBe(0);
    await write(target, commit(1, 100n));
    expect(target.get('public.users', 1)).toEqual({ id: 1, email: 'a@x' });
  });

  it('discards a rolled back transaction', async () => {
    const target = memoryTarget();
    await write(target, begin(1), insert(1, { id: 1 }, users), rollback(1), begin(2), insert(2, { id: 2 }, users), commit(2, 200n));
    expect(target.rows('public.users')).toEqual([{ id: 2 }]);
  });

  it('discards only the changes from a rolled back subtransaction on', async () => {
    const target = memoryTarget();
    await write(
      target,
      begin(1),
      insert(1, { id: 1 }, users),
      { ...insert(1, { id: 2 }, users), subXid: 5 },
      { ...insert(1, { id: 3 }, users), subXid: 6 },
      { kind: 'rollback', xid: 1, subXid: 5, bytes: 0 },
      insert(1, { id: 4 }, users),
      commit(1, 100n),
    );
    expect(target.rows('public.users').map((r) => r['id'])).toEqual([1, 4]);
  });

  it('keeps interleaved transactions apart and applies each at its own commit', async () => {
    const target = memoryTarget();
    await write(target, begin(1), begin(2), insert(2, { id: 2 }, users), insert(1, { id: 1 }, users), commit(2, 100n));
    expect(target.rows('public.users')).toEqual([{ id: 2 }]);
    await write(target, commit(1, 200n));
    expect(target.size('public.users')).toBe(2);
  });

  it('starts a transaction over when its begin arrives again', async () => {
    const target = memoryTarget();
    await write(target, begin(1), insert(1, { id: 9 }, users), begin(1), insert(1, { id: 1 }, users), commit(1, 100n));
    expect(target.rows('public.users')).toEqual([{ id: 1 }]);
  });

  it('updates in place, and moves a row whose key changed', async () => {
    const target = memoryTarget();
    await write(target, { kind: 'baseline', table: users, rows: [{ id: 1, email: 'a@x' }], bytes: 0 });
    await write(target, begin(1), update(1, { id: 1, email: 'new@x' }, users), commit(1, 100n));
    expect(target.get('public.users', 1)).toEqual({ id: 1, email: 'new@x' });
    await write(target, begin(2), update(2, { id: 7, email: 'new@x' }, users, { id: 1, email: null }), commit(2, 200n));
    expect(target.get('public.users', 1)).toBeUndefined();
    expect(target.get('public.users', 7)).toEqual({ id: 7, email: 'new@x' });
    expect(target.size('public.users')).toBe(1);
  });

  it('merges unchanged TOAST columns from the stored row', async () => {
    const target = memoryTarget();
    await write(target, { kind: 'baseline', table: users, rows: [{ id: 1, email: 'a@x', team: null, bio: 'long text' }], bytes: 0 });
    await write(target, begin(1), update(1, { id: 1, email: 'b@x', team: UNCHANGED_TOAST, bio: UNCHANGED_TOAST }, users), commit(1, 100n));
    expect(target.get('public.users', 1)).toEqual({ id: 1, email: 'b@x', team: null, bio: 'long text' });
  });

  it('deletes by key', async () => {
    const target = memoryTarget();
    await write(target, { kind: 'baseline', table: users, rows: [{ id: 1 }, { id: 2 }], bytes: 0 });
    await write(target, begin(1), remove(1, { id: 1, email: null }, users), commit(1, 100n));
    expect(target.rows('public.users')).toEqual([{ id: 2 }]);
  });

  it('keys a REPLICA IDENTITY FULL table without a key by the whole row', async () => {
    const target = memoryTarget();
    await write(target, { kind: 'baseline', table: fullNoKey, rows: [{ id: 1, email: 'a' }, { id: 1, email: 'b' }], bytes: 0 });
    expect(target.size('public.log')).toBe(2);
    await write(
      target,
      begin(1),
      { kind: 'update', table: fullNoKey, row: { id: 1, email: 'c' }, old: { id: 1, email: 'a' }, oldKind: 'full', lsn: 1n, xid: 1, bytes: 0 },
      { kind: 'delete', table: fullNoKey, old: { id: 1, email: 'b' }, oldKind: 'full', lsn: 1n, xid: 1, bytes: 0 },
      commit(1, 100n),
    );
    expect(target.rows('public.log')).toEqual([{ id: 1, email: 'c' }]);
  });

  it('empties a table on truncate and drops it on reset', async () => {
    const target = memoryTarget();
    await write(target, { kind: 'baseline', table: users, rows: [{ id: 1 }], bytes: 0 });
    await write(target, { kind: 'baseline', table: itemsTable, rows: [{ id: 1 }], bytes: 0 });
    await write(target, begin(1), { kind: 'truncate', tables: [users], cascade: false, restartIdentity: false, lsn: 1n, xid: 1, bytes: 0 }, commit(1, 100n));
    expect(target.size('public.users')).toBe(0);
    expect(target.size('public.items')).toBe(1);
    await write(target, { kind: 'reset', tables: ['public.items'], bytes: 0 });
    expect(target.tables()).toEqual(['public.users']);
    expect(target.schema('public.items')).toBeUndefined();
  });

  it('re-keys stored rows when a schema event changes the key', async () => {
    const target = memoryTarget();
    await write(target, { kind: 'baseline', table: users, rows: [{ id: 1, email: 'a@x' }], bytes: 0 });
    const byEmail: TableSchema = { ...users, keyColumns: ['email'] };
    await write(target, { kind: 'schema', table: byEmail, previous: users, bytes: 0 });
    expect(target.get('public.users', 'a@x')).toEqual({ id: 1, email: 'a@x' });
    expect(target.schema('public.users')).toBe(byEmail);
  });

  describe('lookups', () => {
    it('finds one row by a lookup field and many by an additional index, following changes', async () => {
      const target = withIndexes();
      await write(target, {
        kind: 'baseline',
        table: users,
        rows: [
          { id: 1, email: 'a@x', team: 'red' },
          { id: 2, email: 'b@x', team: 'red' },
          { id: 3, email: 'c@x', team: 'blue' },
        ],
        bytes: 0,
      });
      expect(target.lookup('public.users', 'email', 'b@x')).toEqual({ id: 2, email: 'b@x', team: 'red' });
      expect(target.lookupAll('public.users', 'team', 'red').map((r) => r['id'])).toEqual([1, 2]);
      await write(target, begin(1), update(1, { id: 2, email: 'z@x', team: 'blue' }, users), remove(1, { id: 1 }, users), commit(1, 100n));
      expect(target.lookup('public.users', 'email', 'b@x')).toBeUndefined();
      expect(target.lookup('public.users', 'email', 'z@x')).toMatchObject({ id: 2 });
      expect(target.lookupAll('public.users', 'team', 'red')).toEqual([]);
      expect(target.lookupAll('public.users', 'team', 'blue').map((r) => r['id'])).toEqual([3, 2]);
    });

    it('refuses lookups on fields without an index', async () => {
      const target = withIndexes();
      await write(target, { kind: 'baseline', table: users, rows: [{ id: 1, email: 'a@x', team: 'red' }], bytes: 0 });
      expect(() => target.lookup('public.users', 'team', 'red')).toThrow(MemoryTargetError);
      expect(() => target.lookupAll('public.users', 'bio', 'x')).toThrow(/no index/);
      expect(() => memoryTarget().lookup('public.users', 'email', 'a@x')).toThrow(/has no lookup key/);
    });

    it('finds one row by a composite lookup key, given in key order or by column, following changes', async () => {
      const target = await withMembers();
      expect(target.lookup('public.members', ['initech', 'a@x'])).toMatchObject({ id: 3 });
      expect(target.lookup('public.members', { email: 'a@x', org: 'acme' })).toMatchObject({ id: 1 });
      expect(target.lookup('public.members', ['a@x', 'acme'])).toBeUndefined();
      await write(target, begin(1), update(1, { id: 3, org: 'initech', email: 'b@x', team: 'red', role: 'dev' }, members), commit(1, 100n));
      expect(target.lookup('public.members', ['initech', 'a@x'])).toBeUndefined();
      expect(target.lookup('public.members', ['initech', 'b@x'])).toMatchObject({ id: 3 });
      expect(target.lookup('public.members', ['acme', 'b@x'])).toMatchObject({ id: 2 });
    });

    it('finds many rows by a composite additional index, and by the lookup key', async () => {
      const target = await withMembers();
      const ids = (rows: readonly Record<string, unknown>[]) => rows.map((row) => row['id']);
      expect(ids(target.lookupAll('public.members', ['org', 'team'], ['acme', 'red']))).toEqual([1, 2]);
      expect(ids(target.lookupAll('public.members', ['org', 'team'], { team: 'red', org: 'initech' }))).toEqual([3]);
      expect(ids(target.lookupAll('public.members', ['org', 'team'], ['acme', null]))).toEqual([4]);
      expect(ids(target.lookupAll('public.members', 'role', 'dev'))).toEqual([1, 3, 4]);
      expect(ids(target.lookupAll('public.members', ['role'], ['dev']))).toEqual([1, 3, 4]);
      expect(ids(target.lookupAll('public.members', ['org', 'email'], ['acme', 'b@x']))).toEqual([2]);
    });

    it('refuses a composite lookup it has no index for, or with the wrong number of values', () => {
      const target = withCompositeIndexes();
      expect(() => target.lookup('public.members', 'email', 'a@x')).toThrow(/not the table's lookup key \(org, email\); give the values of all its columns/);
      expect(() => target.lookupAll('public.members', ['team', 'org'], ['red', 'acme'])).toThrow(/no index on \(team, org\)/);
      expect(() => target.lookupAll('public.members', 'org', 'acme')).toThrow(/no index on \(org\)/);
      expect(() => target.lookup('public.members', ['acme'])).toThrow(/takes 2 values, got 1/);
      expect(() => target.lookupAll('public.members', ['org', 'team'], 'acme' as unknown as string[])).toThrow(MemoryTargetError);
    });

    it('refuses index options that name no columns when it is created', () => {
      expect(() => memoryTarget({ tables: { 'public.users': { additionalIndexes: [[]] } } })).toThrow(/additionalIndexes\[0\] must be a non-empty list of column names/);
      // A plain column name where a list of columns belongs (the shape before composite indexes).
      expect(() => memoryTarget({ tables: { 'public.users': { additionalIndexes: ['team'] as unknown as string[][] } } })).toThrow(MemoryTargetError);
      expect(() => memoryTarget({ tables: { 'public.users': { lookupFields: 'email' as unknown as string[] } } })).toThrow(/lookupFields must be/);
    });

    it('answers every composite lookup as a scan of the stored rows would (random histories)', async () => {
      const pick = fc.constantFrom('a', 'b', null);
      const change = fc.record({ id: fc.integer({ min: 1, max: 6 }), org: pick, email: pick, team: pick, role: pick, remove: fc.boolean() });
      await fc.assert(
        fc.asyncProperty(fc.array(change, { maxLength: 30 }), async (changes) => {
          const target = memoryTarget({ tables: { 'public.members': { additionalIndexes: [['org', 'team'], ['role']] } } });
          for (const [xid, { remove: removes, ...row }] of changes.entries()) {
            await write(target, begin(xid), removes ? remove(xid, { id: row.id }, members) : update(xid, row, members), commit(xid, BigInt(xid + 1)));
          }
          const rows = target.rows('public.members');
          for (const org of ['a', 'b', null]) {
            for (const team of ['a', 'b', null]) {
              const scanned = rows.filter((row) => row['org'] === org && row['team'] === team);
              expect(target.lookupAll('public.members', ['org', 'team'], [org, team])).toEqual(scanned);
            }
            expect(target.lookupAll('public.members', 'role', org)).toEqual(rows.filter((row) => row['role'] === org));
          }
        }),
      );
    });
  });

  it('reports what it applied, in order, on changes$', async () => {
    const target = memoryTarget();
    const seen: MemoryChange[] = [];
    target.changes$.subscribe((c) => seen.push(c));
    await write(target, begin(1), insert(1, { id: 1 }, users), remove(1, { id: 1 }, users), commit(1, 100n));
    expect(seen).toEqual([
      { kind: 'insert', table: 'public.users', row: { id: 1 } },
      { kind: 'delete', table: 'public.users', previous: { id: 1 } },
      { kind: 'commit', xid: 1, commitEndLsn: 100n },
    ]);
  });

  it('fails the write for a change whose transaction never began', async () => {
    const target = memoryTarget();
    await expect(write(target, insert(1, { id: 1 }, users))).rejects.toBeInstanceOf(MemoryTargetError);
    await expect(write(target, commit(1, 100n))).rejects.toThrow(/never began/);
  });

  it('completes changes$ on close', async () => {
    const target = memoryTarget();
    const all = lastValueFrom(target.changes$.pipe(toArray()));
    await lastValueFrom(target.close(), { defaultValue: undefined });
    expect(await all).toEqual([]);
  });

  it('ends with the same rows as applying the committed changes to a plain Map (random histories)', async () => {
    type Op = { op: 'insert' | 'update' | 'delete'; id: number; value: string };
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            ops: fc.array(
              fc.record({
                op: fc.constantFrom<'insert' | 'update' | 'delete'>('insert', 'update', 'delete'),
                id: fc.integer({ min: 1, max: 5 }),
                value: fc.string({ maxLength: 3 }),
              }),
              { maxLength: 5 },
            ),
            commits: fc.boolean(),
          }),
          { maxLength: 10 },
        ),
        async (transactions) => {
          const target = memoryTarget();
          const model = new Map<number, string>();
          let xid = 1;
          for (const { ops, commits } of transactions) {
            const batch: TargetMessage[] = [begin(xid)];
            const staged = new Map(model);
            for (const { op, id, value } of ops as Op[]) {
              if (op === 'delete') {
                batch.push(remove(xid, { id }, users));
                staged.delete(id);
              } else {
                batch.push(op === 'insert' ? insert(xid, { id, email: value }, users) : update(xid, { id, email: value }, users));
                staged.set(id, value);
              }
            }
            batch.push(commits ? commit(xid, BigInt(xid * 100)) : rollback(xid));
            if (commits) {
              model.clear();
              for (const [id, email] of staged) model.set(id, email);
            }
            await write(target, ...batch);
            xid++;
          }
          const stored = new Map(target.rows('public.users').map((r) => [r['id'] as number, r['email'] as string]));
          expect(stored).toEqual(model);
        },
      ),
    );
  });
});

describe('encodeKey', () => {
  it('gives distinct strings to values PostgreSQL would tell apart', () => {
    const values: PgValue[] = [null, '1', 1, 1n, true, 'true', Buffer.from('01', 'hex'), '01', [1], { a: 1 }, { a: '1' }, UNCHANGED_TOAST];
    const encoded = values.map((v) => encodeKey([v]));
    expect(new Set(encoded).size).toBe(values.length);
  });

  it('does not confuse column boundaries', () => {
    expect(encodeKey(['a', 'b'])).not.toBe(encodeKey(['a\u0000b']));
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 3 }), fc.array(fc.string(), { minLength: 1, maxLength: 3 }), (a, b) => {
        if (JSON.stringify(a) !== JSON.stringify(b)) expect(encodeKey(a)).not.toBe(encodeKey(b));
      }),
    );
  });

  it('encodes objects independently of key order', () => {
    expect(encodeKey([{ a: 1, b: 2 }])).toBe(encodeKey([{ b: 2, a: 1 }]));
  });
});
