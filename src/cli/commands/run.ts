import { Counter } from 'prom-client';
import { skip, Subscription } from 'rxjs';
import type { LaredoConfig } from '../../config/types.js';
import { startHttpServer, type LaredoHttpServer } from '../../observability/http-server.js';
import { createLogger, type Logger } from '../../observability/logger.js';
import { createMetrics, type ChangeOperation, type LaredoMetrics } from '../../observability/metrics.js';
import { Lsn } from '../../protocol/lsn.js';
import { buildPipelines, type Pipeline } from '../pipeline.js';
import { createProgressReporter, type ProgressReporter } from '../progress.js';
import { runSource } from '../run-source.js';
import type { CommandContext } from './context.js';

export interface RunOptions {
  /** Stop (exit 0) once every source has finished its baseline and streamed up to the server's current WAL position. */
  readonly untilCaughtUp: boolean;
}

/** What `run` needs besides the config; injectable for tests. */
export interface RunDependencies {
  readonly logger?: Logger;
  /** Whether stderr is a terminal (progress bars). Default: process.stderr.isTTY. */
  readonly tty?: boolean;
  /** Called once the HTTP servers listen (tests read the ports). */
  readonly onListening?: (servers: readonly LaredoHttpServer[]) => void;
}

const CHANGE_OPERATIONS: readonly ChangeOperation[] = ['insert', 'update', 'delete', 'truncate'];

/**
 * `laredo run`: starts every source of `config` with its tables' targets, serves health and metrics,
 * and runs until `context.signal` aborts (or, with `untilCaughtUp`, until caught up); then stops
 * gracefully: targets drain, the final position is confirmed, temporary slots go. Resolves to the
 * exit code: 0 after a clean stop, 1 when a source failed (the others are then stopped gracefully).
 */
export async function runCommand(config: LaredoConfig, options: RunOptions, context: CommandContext, dependencies: RunDependencies = {}): Promise<number> {
  const logger = dependencies.logger ?? createLogger({ level: config.observability.logging.level });
  const metrics = createMetrics();
  const pipelines = buildPipelines(config, metrics);
  const tty = dependencies.tty ?? process.stderr.isTTY;
  const progress = createProgressReporter({
    write: (text) => process.stderr.write(text),
    tty,
    log: (line) => {
      logger.info(line);
    },
  });

  // Ready once every source streams and its targets hold its baseline durably; a source baselining
  // again (an ephemeral reconnect resets its targets) is not ready until then again.
  const baselined = new Set<string>();
  const ready = (): boolean => pipelines.every((p) => baselined.has(p.id) && p.baselines.durable);
  const servers = await startServers(config, scrapeRefreshing(metrics, pipelines), ready);
  for (const server of servers) logger.info({ url: server.url }, `serving health and metrics on ${server.url}`);
  dependencies.onListening?.(servers);
  const observers = new Subscription();
  for (const pipeline of pipelines) {
    initializeSeries(pipeline, metrics);
    observers.add(observe(pipeline, metrics, logger, progress, baselined));
  }

  // One source failing stops the others too (gracefully): the process exits 1 and is restarted whole.
  const stopping = new AbortController();
  const onAbort = (): void => {
    logger.info('stopping: draining targets and confirming the final position');
    stopping.abort();
  };
  context.signal.addEventListener('abort', onAbort, { once: true });
  if (context.signal.aborted) onAbort();

  const outcomes = await Promise.all(
    pipelines.map(async (pipeline) => {
      logger.info({ source: pipeline.id, tables: pipeline.tables, mode: pipeline.source.options.slotMode }, 'starting source');
      const outcome = await runSource(pipeline.source, pipeline.targets, {
        untilCaughtUp: options.untilCaughtUp,
        signal: stopping.signal,
        onCloseError: (target, error) => {
          logger.warn({ source: pipeline.id, target: target.name, err: error }, `source ${pipeline.id}: closing target ${target.name} failed`);
        },
      });
      if (outcome.kind === 'failed') {
        const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
        logger.error({ source: pipeline.id, err: outcome.error }, `source ${pipeline.id} failed: ${message}`);
        stopping.abort();
      } else {
        logger.info({ source: pipeline.id, confirmed: Lsn.format(pipeline.source.confirmed) }, `source ${pipeline.id} stopped`);
      }
      return outcome;
    }),
  );
  context.signal.removeEventListener('abort', onAbort);
  progress.close();
  observers.unsubscribe();
  await Promise.all(servers.map((server) => server.close()));
  logger.flush();
  return outcomes.some((outcome) => outcome.kind === 'failed') ? 1 : 0;
}

async function startServers(config: LaredoConfig, metrics: LaredoMetrics, ready: () => boolean): Promise<LaredoHttpServer[]> {
  const healthPort = config.health.httpPort;
  const metricsPort = config.observability.metrics.port ?? healthPort;
  const servers: LaredoHttpServer[] = [];
  if (healthPort !== undefined) {
    servers.push(
      await startHttpServer({
        port: healthPort,
        ready,
        ...(metricsPort === healthPort ? { metrics, metricsPath: config.observability.metrics.path } : {}),
      }),
    );
  }
  if (metricsPort !== undefined && metricsPort !== healthPort) {
    servers.push(await startHttpServer({ port: metricsPort, ready, metrics, metricsPath: config.observability.metrics.path }));
  }
  return servers;
}

/** `metrics` whose scrape first reads what the sources only offer as a current value (the in-flight bytes). */
function scrapeRefreshing(metrics: LaredoMetrics, pipelines: readonly Pipeline[]): LaredoMetrics {
  return {
    ...metrics,
    scrape: () => {
      for (const pipeline of pipelines) metrics.setInFlightBytes(pipeline.id, pipeline.source.inFlightBytes);
      return metrics.scrape();
    },
  };
}

/**
 * Exports the counters of a source at 0 from the start: Prometheus computes `rate()` and `increase()`
 * only from a series it has seen before, so a first reconnect or a table's first delete that creates
 * its series would go unnoticed.
 */
function initializeSeries(pipeline: Pipeline, metrics: LaredoMetrics): void {
  for (const table of Object.keys(pipeline.source.options.publication.tables)) {
    metrics.countBaselineRows(pipeline.id, table, 0);
    for (const operation of CHANGE_OPERATIONS) metrics.countChanges(pipeline.id, table, operation, 0);
  }
  // LaredoMetrics has no way to add 0 reconnects; the counter itself does.
  const reconnects = metrics.registry.getSingleMetric('laredo_reconnects_total');
  if (reconnects instanceof Counter) reconnects.inc({ source: pipeline.id }, 0);
}

/** Logs and metrics of one source's life: states, reconnects, warnings, lag, baseline progress. */
function observe(pipeline: Pipeline, metrics: LaredoMetrics, logger: Logger, progress: ProgressReporter, baselined: Set<string>): Subscription {
  const { id, source } = pipeline;
  const subscriptions = new Subscription();
  const baselineStarted = new Map<string, number>();
  metrics.setSourceState(id, source.state);
  subscriptions.add(
    // The first state is the CLOSED of a source not started yet: exported, but not worth a log line.
    source.state$.pipe(skip(1)).subscribe((state) => {
      metrics.setSourceState(id, state);
      if (state === 'STREAMING') baselined.add(id);
      else if (state === 'BASELINING') baselined.delete(id);
      logger.info({ source: id, state }, `source ${id}: ${state}`);
    }),
  );
  subscriptions.add(
    source.retries$.subscribe((retry) => {
      metrics.countReconnect(id);
      const message = retry.error instanceof Error ? retry.error.message : String(retry.error);
      logger.warn(
        { source: id, attempt: retry.attempt, delayMs: retry.delayMs, err: retry.error },
        `source ${id}: reconnecting in ${retry.delayMs} ms (attempt ${retry.attempt}): ${message}`,
      );
    }),
  );
  subscriptions.add(
    source.warnings$.subscribe((warning) => {
      // A publication that does not exist yet is what a first run with publication.create expects.
      const expected = warning.code === 'PUBLICATION_MISSING' && source.options.publication.create;
      logger[expected ? 'info' : 'warn']({ source: id, code: warning.code, table: warning.table }, warning.message);
    }),
  );
  subscriptions.add(
    source.lag$.subscribe((lag) => {
      metrics.setLagBytes(id, lag.bytes);
      metrics.setConfirmedLsn(id, lag.confirmed);
    }),
  );
  subscriptions.add(
    source.baselineProgress$.subscribe((p) => {
      if (!baselineStarted.has(p.table)) baselineStarted.set(p.table, performance.now());
      if (p.done) {
        metrics.setBaselineDuration(id, p.table, (performance.now() - (baselineStarted.get(p.table) ?? performance.now())) / 1000);
        // A later baseline of the table (ephemeral reconnect, rebaseline) is timed from its own start.
        baselineStarted.delete(p.table);
      }
      progress.update(id, p);
    }),
  );
  return subscriptions;
}
