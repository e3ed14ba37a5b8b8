import { Subscription } from 'rxjs';
import type { LaredoConfig } from '../../config/types.js';
import { startHttpServer, type LaredoHttpServer } from '../../observability/http-server.js';
import { createLogger, type Logger } from '../../observability/logger.js';
import { createMetrics, type LaredoMetrics } from '../../observability/metrics.js';
import { Lsn } from '../../protocol/lsn.js';
import { buildPipelines, type Pipeline } from '../pipeline.js';
import { createProgressReporter, type ProgressReporter } from '../progress.js';
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

/**
 * `laredo run`: starts every source of `config` with its tables' targets, serves health and metrics,
 * and runs until `context.signal` aborts (or, with `untilCaughtUp`, until caught up); then stops
 * gracefully: targets drain, the final position is confirmed, temporary slots go. Resolves to the
 * exit code: 0 after a clean stop, 1 when a source failed.
 */
export async function runCommand(config: LaredoConfig, options: RunOptions, context: CommandContext, dependencies: RunDependencies = {}): Promise<number> {
  const logger = dependencies.logger ?? createLogger({ level: config.observability.logging.level });
  const metrics = createMetrics();
  const pipelines = buildPipelines(config, metrics);
  const streamedOnce = new Set<string>();
  const tty = dependencies.tty ?? process.stderr.isTTY;
  const progress = createProgressReporter({
    write: (text) => process.stderr.write(text),
    tty,
    log: (line) => {
      logger.info(line);
    },
  });

  const servers = await startServers(config, metrics, () => pipelines.every((p) => streamedOnce.has(p.id)));
  dependencies.onListening?.(servers);
  const observers = new Subscription();
  for (const pipeline of pipelines) observers.add(observe(pipeline, metrics, logger, progress, streamedOnce));

  const outcome = { failed: false };
  const stopAll = (): void => {
    for (const pipeline of pipelines) pipeline.source.stop();
  };
  const onAbort = (): void => {
    logger.info('stopping: draining targets and confirming the final position');
    stopAll();
  };
  context.signal.addEventListener('abort', onAbort, { once: true });
  if (context.signal.aborted) onAbort();

  await Promise.all(
    pipelines.map(
      (pipeline) =>
        new Promise<void>((resolve) => {
          logger.info({ source: pipeline.id, tables: pipeline.tables, mode: pipeline.source.options.slotMode }, 'starting source');
          pipeline.source.run(pipeline.targets, { untilCaughtUp: options.untilCaughtUp }).subscribe({
            error: (error: unknown) => {
              outcome.failed = true;
              logger.error({ source: pipeline.id, err: error }, `source ${pipeline.id} failed: ${(error as Error).message}`);
              // One source down takes the process down, gracefully for the others.
              stopAll();
              resolve();
            },
            complete: () => {
              logger.info({ source: pipeline.id, confirmed: Lsn.format(pipeline.source.confirmed) }, `source ${pipeline.id} stopped`);
              resolve();
            },
          });
        }),
    ),
  );
  context.signal.removeEventListener('abort', onAbort);
  progress.close();
  observers.unsubscribe();
  await Promise.all(servers.map((server) => server.close()));
  logger.flush();
  return outcome.failed ? 1 : 0;
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

/** Logs and metrics of one source's life: states, reconnects, warnings, lag, baseline progress. */
function observe(pipeline: Pipeline, metrics: LaredoMetrics, logger: Logger, progress: ProgressReporter, streamedOnce: Set<string>): Subscription {
  const { id, source } = pipeline;
  const subscriptions = new Subscription();
  const baselineStarted = new Map<string, number>();
  subscriptions.add(
    source.state$.subscribe((state) => {
      metrics.setSourceState(id, state);
      if (state === 'STREAMING') streamedOnce.add(id);
      logger.info({ source: id, state }, `source ${id}: ${state}`);
    }),
  );
  subscriptions.add(
    source.retries$.subscribe((retry) => {
      metrics.countReconnect(id);
      logger.warn(
        { source: id, attempt: retry.attempt, delayMs: retry.delayMs, err: retry.error },
        `source ${id}: reconnecting in ${retry.delayMs} ms (attempt ${retry.attempt}): ${(retry.error as Error).message}`,
      );
    }),
  );
  subscriptions.add(
    source.warnings$.subscribe((warning) => {
      logger.warn({ source: id, code: warning.code, table: warning.table }, warning.message);
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
      if (p.done) metrics.setBaselineDuration(id, p.table, (performance.now() - (baselineStarted.get(p.table) ?? performance.now())) / 1000);
      progress.update(id, p);
    }),
  );
  return subscriptions;
}
