import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPipelines } from '../../src/cli/pipeline.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createMetrics } from '../../src/observability/metrics.js';

const dir = mkdtempSync(path.join(tmpdir(), 'laredo-pipeline-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The pipelines of a config file with one source, `tables` being its `tables = [...]` entries. */
async function pipelinesOf(tables: string) {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(file, `sources { pg_main { type = postgresql, connection = "postgresql://laredo@db/app" } }\ntables = [\n${tables}\n]\n`);
  return buildPipelines(await loadConfig(file, {}), createMetrics());
}

/** The target names of the only pipeline, without the metrics counter every pipeline starts with. */
async function targetNamesOf(tables: string): Promise<string[]> {
  const [pipeline] = await pipelinesOf(tables);
  return pipeline!.targets.map((target) => target.name).filter((name) => name !== 'metrics');
}

describe('buildPipelines', () => {
  it('gives tables of one source that name the same jsonl file one writer, however the path is spelled', async () => {
    const names = await targetNamesOf(`
      { table = items, targets = [ { type = jsonl, path = "changes.jsonl" } ] }
      { table = notes, targets = [ { type = jsonl, path = "./changes.jsonl" } ] }
      { table = users, targets = [ { type = jsonl, path = "users.jsonl" } ] }`);
    expect(names).toEqual(['jsonl:changes.jsonl', 'jsonl:users.jsonl']);
  });

  it('builds an indexed-memory target per table with its composite lookup key and indexes as configured', async () => {
    // A flattened list of indexes (each column its own index) is refused by the memory target.
    const names = await targetNamesOf(`
      { table = orders, targets = [ { type = indexed-memory, lookup_fields = [org_id, number], additional_indexes = [[customer_id], [customer_id, status]] } ] }
      { table = invoices, targets = [ { type = indexed-memory, lookup_fields = [org_id, number], additional_indexes = [[customer_id], [customer_id, status]] } ] }`);
    expect(names).toEqual(['indexed-memory:public.orders', 'indexed-memory:public.invoices']);
  });
});
