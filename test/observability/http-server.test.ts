import { request as httpRequest, Agent } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpServerError, startHttpServer, type LaredoHttpServer } from '../../src/observability/http-server.js';
import { createMetrics } from '../../src/observability/metrics.js';

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

function request(url: string, method = 'GET', agent?: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, { method, ...(agent === undefined ? {} : { agent }) }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, headers: response.headers }));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

const started: LaredoHttpServer[] = [];
async function start(options: Parameters<typeof startHttpServer>[0]): Promise<LaredoHttpServer> {
  const server = await startHttpServer(options);
  started.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.close()));
});

describe('startHttpServer', () => {
  it('answers /health/live with 200 while the process runs', async () => {
    const server = await start({ port: 0, host: '127.0.0.1', ready: () => false });
    expect(await request(`${server.url}/health/live`)).toMatchObject({ status: 200, body: 'ok\n' });
  });

  it('answers /health/ready with 503 until ready() says so, then 200', async () => {
    let ready = false;
    const server = await start({ port: 0, host: '127.0.0.1', ready: () => ready });
    expect(await request(`${server.url}/health/ready`)).toMatchObject({ status: 503, body: 'not ready\n' });
    ready = true;
    expect(await request(`${server.url}/health/ready`)).toMatchObject({ status: 200, body: 'ready\n' });
  });

  it('treats a readiness check that throws as not ready', async () => {
    const server = await start({
      port: 0,
      host: '127.0.0.1',
      ready: () => {
        throw new Error('boom');
      },
    });
    expect((await request(`${server.url}/health/ready`)).status).toBe(503);
    expect((await request(`${server.url}/health/live`)).status).toBe(200);
  });

  it('serves the Prometheus exposition at the configured path', async () => {
    const metrics = createMetrics();
    metrics.countChanges('pg_main', 'public.orders', 'update', 3);
    const server = await start({ port: 0, host: '127.0.0.1', metrics, metricsPath: '/prometheus', ready: () => true });
    const answer = await request(`${server.url}/prometheus?x=1`);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe(metrics.contentType);
    expect(answer.body).toContain('laredo_changes_total{source="pg_main",table="public.orders",op="update"} 3');
    expect((await request(`${server.url}/metrics`)).status).toBe(404);
  });

  it('answers 404 for unknown paths, 405 for other methods, and HEAD without a body', async () => {
    const server = await start({ port: 0, host: '127.0.0.1', ready: () => true });
    expect((await request(`${server.url}/`)).status).toBe(404);
    expect((await request(`${server.url}/metrics`)).status).toBe(404); // no metrics given
    const post = await request(`${server.url}/health/live`, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers['allow']).toBe('GET, HEAD');
    expect(await request(`${server.url}/health/live`, 'HEAD')).toMatchObject({ status: 200, body: '' });
  });

  it('closes promptly even while a scraper holds a keep-alive connection', async () => {
    const server = await startHttpServer({ port: 0, host: '127.0.0.1', ready: () => true });
    const agent = new Agent({ keepAlive: true });
    try {
      expect((await request(`${server.url}/health/live`, 'GET', agent)).status).toBe(200);
      const closed = server.close();
      const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 5000, 'hung'))]);
      expect(outcome).toBe('closed');
      await expect(request(`${server.url}/health/live`)).rejects.toThrow();
    } finally {
      agent.destroy();
    }
  });

  it('fails with an HttpServerError naming the config key when the port is taken', async () => {
    const first = await start({ port: 0, host: '127.0.0.1', ready: () => true });
    const second = startHttpServer({ port: first.port, host: '127.0.0.1', ready: () => true });
    await expect(second).rejects.toBeInstanceOf(HttpServerError);
    await expect(second).rejects.toThrow(/port is in use.*health\.http_port/);
  });
});
