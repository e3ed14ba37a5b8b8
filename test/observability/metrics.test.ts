import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';

describe('createMetrics', () => {
  it('exports one source state series per state, 1 for the current one', async () => {
    const metrics = createMetrics();
    metrics.setSourceState('pg_main', 'BASELINING');
    metrics.setSourceState('pg_main', 'STREAMING');
    const text = await metrics.scrape();
    expect(text).toContain('laredo_source_state{source="pg_main",state="STREAMING"} 1');
    expect(text).toContain('laredo_source_state{source="pg_main",state="BASELINING"} 0');
    expect(text).toContain('laredo_source_state{source="pg_main",state="ERROR"} 0');
  });

  it('adds a state it did not know, and keeps sources apart', async () => {
    const metrics = createMetrics();
    metrics.setSourceState('a', 'paused');
    metrics.setSourceState('b', 'ERROR');
    const text = await metrics.scrape();
    expect(text).toContain('laredo_source_state{source="a",state="paused"} 1');
    expect(text).toContain('laredo_source_state{source="b",state="ERROR"} 1');
    expect(text).toContain('laredo_source_state{source="b",state="paused"} 0');
  });

  it('records lag, confirmed LSN, changes, baselines, reconnects, apply latency and bytes in flight', async () => {
    const metrics = createMetrics();
    metrics.setLagBytes('pg_main', 4096n);
    metrics.setConfirmedLsn('pg_main', 0x16b3748n);
    metrics.countChanges('pg_main', 'public.orders', 'insert');
    metrics.countChanges('pg_main', 'public.orders', 'insert', 4);
    metrics.countChanges('pg_main', 'public.orders', 'delete');
    metrics.countBaselineRows('pg_main', 'public.orders', 1000);
    metrics.setBaselineDuration('pg_main', 'public.orders', 1.25);
    metrics.countReconnect('pg_main');
    metrics.observeTargetApply('pg_main', 'jsonl', 0.003);
    metrics.setInFlightBytes('pg_main', 65_536);
    const text = await metrics.scrape();
    expect(text).toContain('laredo_source_lag_bytes{source="pg_main"} 4096');
    expect(text).toContain('laredo_source_confirmed_lsn_bytes{source="pg_main"} 23803720');
    expect(text).toContain('laredo_changes_total{source="pg_main",table="public.orders",op="insert"} 5');
    expect(text).toContain('laredo_changes_total{source="pg_main",table="public.orders",op="delete"} 1');
    expect(text).toContain('laredo_baseline_rows_total{source="pg_main",table="public.orders"} 1000');
    expect(text).toContain('laredo_baseline_duration_seconds{source="pg_main",table="public.orders"} 1.25');
    expect(text).toContain('laredo_reconnects_total{source="pg_main"} 1');
    expect(text).toContain('laredo_target_apply_seconds_bucket{le="0.005",source="pg_main",target="jsonl"} 1');
    expect(text).toContain('laredo_target_apply_seconds_count{source="pg_main",target="jsonl"} 1');
    expect(text).toContain('laredo_in_flight_bytes{source="pg_main"} 65536');
  });

  it('never puts a password into a label, even in a target named after its URL', async () => {
    const metrics = createMetrics();
    metrics.observeTargetApply('pg_main', 'http-sync https://sync:hunter2@example.com/in', 0.1);
    const text = await metrics.scrape();
    expect(text).toContain('target="http-sync https://sync:***@example.com/in"');
    expect(text).not.toContain('hunter2');
  });

  it('registers in the registry it is given, with process metrics on request', async () => {
    const registry = new Registry();
    const metrics = createMetrics(registry, { processMetrics: true });
    expect(metrics.registry).toBe(registry);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE laredo_changes_total counter');
    expect(text).toContain('laredo_process_cpu_seconds_total');
    expect(metrics.contentType).toMatch(/^text\/plain/);
  });
});
