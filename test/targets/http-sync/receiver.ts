// A real HTTP receiver for the http-sync target tests (node:http on a free local port).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: any;
}

/** What to answer a request with; `drop` closes the connection without an answer. */
export type Answer = { status: number; headers?: Record<string, string>; body?: string; delayMs?: number; hold?: Promise<void> } | 'drop';

export interface Receiver {
  readonly url: string;
  /** Every request received, in arrival order (also those answered with an error). */
  readonly requests: ReceivedRequest[];
  /** Requests that got a 2xx, in order. */
  readonly accepted: ReceivedRequest[];
  /** Decides each answer; default 200. */
  answer: (request: ReceivedRequest, index: number) => Answer;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const accepted: ReceivedRequest[] = [];
  const receiver: Receiver = {
    url: '',
    requests,
    accepted,
    answer: () => ({ status: 200 }),
    close: () => Promise.resolve(),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      const request: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: text === '' ? undefined : JSON.parse(text) };
      requests.push(request);
      const answer = receiver.answer(request, requests.length - 1);
      if (answer === 'drop') {
        req.socket.destroy();
        return;
      }
      void (async () => {
        if (answer.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
        await answer.hold;
        if (res.destroyed) return;
        if (answer.status >= 200 && answer.status < 300) accepted.push(request);
        res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
        res.end(answer.body ?? '');
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  Object.assign(receiver, {
    url: `http://127.0.0.1:${port}/api/sync`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return receiver;
}
