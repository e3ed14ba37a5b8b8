import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TargetMessage } from '../../../src/model/events.js';
import { UNCHANGED_TOAST, type Row } from '../../../src/protocol/row.js';
import {
  JsonlFormatError,
  JsonlReplayError,
  jsonlTarget,
  parseJsonlLine,
  readJsonl,
  rebuildTables,
  type JsonlLine,
} from '../../../src/targets/jsonl/index.js';
import { baseline, baselineComplete, begin, commit, durable, insert, INT4, remove, reset, rollback, table, TEXT, truncate, update } from '../fixtures.js';

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'laredo-jsonl-read-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

const docs = table('docs', [
  ['id', INT4, true],
  ['title', TEXT],
  ['body', TEXT],
]);

function lines(...text: string[]): JsonlLine[] {
  return text.map((line, index) => parseJsonlLine(line, index + 1));
}

const schemaLine = JSON.stringify({
  op: 'schema',
  source: 's',
  table: 'public.docs',
  relation_id: 1,
  replica_identity: 'default',
  columns: [
    { name: 'id', type_oid: 23, type_mod: -1, key: true },
    { name: 'title', type_oid: 25, type_mod: -1, key: false },
    { name: 'body', type_oid: 25, type_mod: -1, key: false },
  ],
  key: ['id'],
});
const change = (op: string, fields: object): string =>
  JSON.stringify({ op, source: 's', table: 'public.docs', lsn: '0/10', xid: 1, ...fields, commit_lsn: '0/20', commit_time: '2024-01-01T00:00:00.000000Z' });

describe('rebuildTables', () => {
  it('applies baseline, insert, update (merging unchanged TOASTed columns), key changes and deletes', () => {
    const tables = rebuildTables(
      lines(
        schemaLine,
        JSON.stringify({ op: 'baseline', source: 's', table: 'public.docs', row: { id: 1, title: 'one', body: 'long body' } }),
        change('insert', { row: { id: 2, title: 'two', body: 'b2' } }),
        change('update', { row: { id: 1, title: 'one!' }, unchanged: ['body'] }),
        change('update', { row: { id: 20, title: 'two', body: 'b2' }, old: { id: 2 } }),
        change('delete', { old: { id: 20 } }),
        change('insert', { row: { id: 3, title: 'three', body: 'b3' } }),
      ),
    );
    expect([...tables.get('public.docs')!.entries()]).toEqual([
      ['[1]', { id: 1, title: 'one!', body: 'long body' }],
      ['[3]', { id: 3, title: 'three', body: 'b3' }],
    ]);
  });

  it('empties a table on reset and truncate, and lists a table whose baseline was empty', () => {
    const tables = rebuildTables(
      lines(
        schemaLine,
        JSON.stringify({ op: 'baseline', source: 's', table: 'public.docs', row: { id: 1, title: 'x', body: 'y' } }),
        JSON.stringify({ op: 'reset', source: 's', table: 'public.docs' }),
        JSON.stringify({ op: 'baseline_complete', source: 's', table: 'public.other', rows: 0 }),
        change('insert', { row: { id: 2, title: 'x', body: 'y' } }),
        change('truncate', { cascade: false, restart_identity: false }),
      ),
    );
    expect(tables.get('public.docs')?.size).toBe(0);
    expect(tables.get('public.other')?.size).toBe(0);
  });

  it('keys a table without key columns by the whole row', () => {
    const tables = rebuildTables(
      lines(
        JSON.stringify({ op: 'schema', source: 's', table: 'public.log', relation_id: 2, replica_identity: 'full', columns: [], key: [] }),
        JSON.stringify({ op: 'insert', source: 's', table: 'public.log', lsn: '0/1', xid: 1, row: { a: 1 }, commit_lsn: '0/2', commit_time: 't' }),
        JSON.stringify({ op: 'delete', source: 's', table: 'public.log', lsn: '0/1', xid: 1, old: { a: 1 }, commit_lsn: '0/2', commit_time: 't' }),
      ),
    );
    expect(tables.get('public.log')?.size).toBe(0);
  });

  it('refuses an update with unchanged columns of a row it does not have', () => {
    expect(() => rebuildTables(lines(schemaLine, change('update', { row: { id: 9, title: 'x' }, unchanged: ['body'] })))).toThrow(JsonlReplayError);
  });

  it('replays only the lines of the source asked for', () => {
    const other = JSON.stringify({ op: 'baseline', source: 'other', table: 'public.docs', row: { id: 5, title: 'x', body: 'y' } });
    expect(rebuildTables(lines(schemaLine, other), { source: 's' }).size).toBe(0);
  });

  it('rebuilds exactly the tables a random history of transactions leaves, from what the target wrote', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(history, fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 8 }), async ({ messages, expected }, splits) => {
        const path = join(directory, `history-${run++}.jsonl`);
        const jsonl = jsonlTarget({ path, source: 's', flushIntervalMs: 0, transactionMemoryBytes: 300 });
        // Batches of random sizes, each handed over before the previous one is durable.
        const writes: Promise<unknown>[] = [];
        for (let start = 0, split = 0; start < messages.length; split++) {
          const size = splits[split % splits.length]!;
          writes.push(durable(jsonl.write(messages.slice(start, start + size))));
          start += size;
        }
        await Promise.all(writes);
        await jsonl.close();
        const rebuilt = rebuildTables(await readJsonl(path));
        expect(Object.fromEntries(rebuilt.get('public.docs') ?? [])).toEqual(Object.fromEntries(expected));
        // A crash between writing and acknowledging makes PostgreSQL send the transactions again:
        // replaying the file's changes twice gives the same tables.
        const all = await readJsonl(path);
        const replayedTwice = rebuildTables([...all, ...all.filter((line) => line.op !== 'reset' && line.op !== 'baseline')]);
        expect(Object.fromEntries(replayedTwice.get('public.docs') ?? [])).toEqual(Object.fromEntries(expected));
      }),
      { numRuns: 60 },
    );
  });
});

describe('readJsonl', () => {
  it('skips a torn last line and reports any other bad line with its number', async () => {
    const torn = join(directory, 'torn.jsonl');
    await writeFile(torn, `${JSON.stringify({ op: 'reset', source: 's', table: 'public.docs' })}\n{"op":"bas`);
    expect(await readJsonl(torn)).toHaveLength(1);
    const bad = join(directory, 'bad.jsonl');
    await writeFile(bad, `${JSON.stringify({ op: 'reset', source: 's', table: 'public.docs' })}\n{"op":"reset"}\n`);
    await expect(readJsonl(bad)).rejects.toThrow(/bad\.jsonl line 2: "source" of a reset line must be a string, and is missing/);
  });

  it('answers any text with a line or a JsonlFormatError, never anything else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.constantFrom('{"op":"insert"}', '{"op":"message","source":"s"}', '[]', 'null')), (text) => {
        try {
          const line = parseJsonlLine(text, 3);
          expect(typeof line.op).toBe('string');
        } catch (error) {
          expect(error).toBeInstanceOf(JsonlFormatError);
          expect((error as JsonlFormatError).line).toBe(3);
        }
      }),
    );
  });
});

/**
 * A random history on public.docs: an initial baseline, then transactions of inserts, updates (some
 * moving the key, some leaving the TOASTed body unchanged), deletes and truncates, some rolled back,
 * some interrupted and sent again, with the rows the table must end up holding.
 */
const history = fc
  .record({
    baselineIds: fc.uniqueArray(fc.integer({ min: 1, max: 30 }), { maxLength: 8 }),
    transactions: fc.array(
      fc.record({
        outcome: fc.constantFrom('commit', 'commit', 'commit', 'rollback'),
        operations: fc.array(
          fc.record({
            kind: fc.constantFrom('insert', 'update', 'update', 'move', 'delete', 'truncate'),
            pick: fc.nat(),
            id: fc.integer({ min: 1, max: 30 }),
            title: fc.string({ maxLength: 12 }),
            body: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
          }),
          { maxLength: 8 },
        ),
      }),
      { maxLength: 10 },
    ),
  })
  .map(({ baselineIds, transactions }) => {
    const state = new Map<number, { id: number; title: string; body: string }>();
    const messages: TargetMessage[] = [reset(docs)];
    const baselineRows = baselineIds.map((id) => ({ id, title: `t${id}`, body: `body of ${id}` }));
    for (const row of baselineRows) state.set(row.id, row);
    messages.push(baseline(docs, baselineRows), baselineComplete(docs, baselineRows.length));
    let xid = 100;
    for (const transaction of transactions) {
      xid++;
      const working = new Map(state);
      const changes: TargetMessage[] = [];
      for (const operation of transaction.operations) {
        const ids = [...working.keys()];
        const existing = ids.length === 0 ? undefined : ids[operation.pick % ids.length]!;
        if (operation.kind === 'insert' && !working.has(operation.id)) {
          const row = { id: operation.id, title: operation.title, body: operation.body ?? '' };
          working.set(row.id, row);
          changes.push(insert(xid, docs, row));
        } else if (operation.kind === 'update' && existing !== undefined) {
          const stored = working.get(existing)!;
          const row = { id: existing, title: operation.title, body: operation.body ?? stored.body };
          working.set(existing, row);
          const sent: Row = operation.body === undefined ? { id: existing, title: operation.title, body: UNCHANGED_TOAST } : row;
          changes.push(update(xid, docs, sent));
        } else if (operation.kind === 'move' && existing !== undefined && !working.has(operation.id)) {
          const stored = working.get(existing)!;
          const row = { ...stored, id: operation.id, title: operation.title };
          working.delete(existing);
          working.set(row.id, row);
          changes.push(update(xid, docs, row, { id: existing, title: null, body: null }, 'key'));
        } else if (operation.kind === 'delete' && existing !== undefined) {
          working.delete(existing);
          changes.push(remove(xid, docs, { id: existing, title: null, body: null }));
        } else if (operation.kind === 'truncate') {
          working.clear();
          changes.push(truncate(xid, docs));
        }
      }
      messages.push(begin(xid), ...changes);
      if (transaction.outcome === 'rollback') {
        messages.push(rollback(xid));
        continue;
      }
      messages.push(commit(xid));
      state.clear();
      for (const [id, row] of working) state.set(id, row);
    }
    const expected = new Map([...state.values()].map((row) => [JSON.stringify([row.id]), row] as const));
    return { messages, expected };
  });
