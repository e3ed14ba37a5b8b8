// The process's HTTP endpoints: Prometheus metrics and the two health checks an orchestrator asks.
// `/health/live` answers 200 while the process can answer at all (a hung event loop fails it by
// timeout); `/health/ready` answers 200 only once `ready()` says so, e.g. after the baseline, so no
// traffic is routed to an instance whose targets are still empty.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LaredoError } from '../errors.js';
import type { LaredoMetrics } from './metrics.js';

/** The HTTP server could not start (port in use, no permission). */
export class HttpServerError extends LaredoError {
  declare readonly code: 'HTTP_SERVER';

  constructor(message: string, options?: { cause?: unknown }) {
    super('HTTP_SERVER', message, { retryable: false, ...options });
  }
}

export interface HttpServerOptions {
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Interface to listen on; all interfaces when absent, as a scrape from another host needs. */
  readonly host?: string;
  /** Default `/metrics`. */
  readonly metricsPath?: string;
  /** Without metrics only the health checks are served. */
  readonly metrics?: LaredoMetrics;
  /** Whether the process is ready for traffic; asked on every `/health/ready`. */
  readonly ready: () => boolean;
}

export interface LaredoHttpServer {
  /** The port actually listened on. */
  readonly port: number;
  /** `http://host:port`, for logs and tests. */
  readonly url: string;
  /** Stops listening and ends open (keep-alive) connections. */
  close(): Promise<void>;
}

export async function startHttpServer(options: HttpServerOptions): Promise<LaredoHttpServer> {
  const metricsPath = options.metricsPath ?? '/metrics';
  const server = createServer((request, response) => {
    handle(request, response, metricsPath, options).catch(() => {
      // handle() answers every failure itself; this only guards against a response already sent.
      if (!response.headersSent) reply(response, 500, 'internal error\n');
      else response.destroy();
    });
  });
  await listen(server, options.port, options.host);
  const { port, address, family } = server.address() as AddressInfo;
  const host = options.host ?? (family === 'IPv6' && address === '::' ? 'localhost' : address);
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        // close() waits for keep-alive connections (a Prometheus scraper keeps one open) to end on their own.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const reason =
        error.code === 'EADDRINUSE'
          ? 'the port is in use by another process'
          : error.code === 'EACCES'
            ? 'permission denied (ports below 1024 need privileges)'
            : error.message;
      reject(new HttpServerError(`cannot listen on ${host ?? '*'}:${port}: ${reason}; choose another port in the config (health.http_port, observability.metrics.port)`, { cause: error }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

async function handle(request: IncomingMessage, response: ServerResponse, metricsPath: string, options: HttpServerOptions): Promise<void> {
  const path = (request.url ?? '/').split('?', 1)[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    reply(response, 405, 'method not allowed\n');
    return;
  }
  switch (path) {
    case '/health/live':
      reply(response, 200, 'ok\n');
      return;
    case '/health/ready': {
      let ready = false;
      try {
        ready = options.ready();
      } catch {
        // A readiness probe that throws means "not ready", never a crashed server.
      }
      reply(response, ready ? 200 : 503, ready ? 'ready\n' : 'not ready\n');
      return;
    }
    case metricsPath:
      if (options.metrics === undefined) break;
      try {
        const body = await options.metrics.scrape();
        reply(response, 200, body, options.metrics.contentType);
      } catch {
        reply(response, 500, 'collecting metrics failed\n');
      }
      return;
    default:
      break;
  }
  reply(response, 404, 'not found\n');
}

function reply(response: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  response.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
