import type { SchedulerLike } from 'rxjs';
import { HttpSyncError } from './errors.js';

export interface HttpSyncClientOptions {
  readonly baseUrl: URL;
  readonly headers: Headers;
  readonly timeoutMs: number;
  readonly retryCount: number;
  readonly retryBackoffMs: number;
  readonly maxRetryBackoffMs: number;
  readonly scheduler: SchedulerLike;
}

/** One attempt's outcome when it was not a 2xx. */
interface Failure {
  readonly retryable: boolean;
  readonly problem: string;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

const BODY_SNIPPET_CHARS = 200;

/**
 * POSTs JSON bodies to `{baseUrl}{path}` with a timeout per attempt and retries: 5xx, 408, 429, a
 * timeout or a network error are retried after `retryBackoffMs`, doubling each time (at least what a
 * Retry-After header asks, both capped at `maxRetryBackoffMs`); any other status is final at once.
 */
export class HttpSyncClient {
  readonly #options: HttpSyncClientOptions;

  constructor(options: HttpSyncClientOptions) {
    this.#options = options;
  }

  /** The endpoint as messages show it: no credentials, no query string. */
  display(path: string): string {
    const url = this.#url(path);
    return `${url.origin}${url.pathname}`;
  }

  /** Resolves on a 2xx answer; rejects with an {@link HttpSyncError} once the request cannot succeed. */
  async post(path: string, body: string): Promise<void> {
    const url = this.#url(path);
    for (let attempt = 1; ; attempt++) {
      const failure = await this.#attempt(url, body);
      if (failure === undefined) return;
      const endpoint = this.display(path);
      if (!failure.retryable) {
        throw new HttpSyncError('HTTP_SYNC_REJECTED', endpoint, `the receiver refused the request (${failure.problem}); sending it again cannot help. Fix the receiver or the data, then restart`, {
          ...(failure.status === undefined ? {} : { status: failure.status }),
          attempts: attempt,
          cause: failure.cause,
        });
      }
      if (attempt > this.#options.retryCount) {
        throw new HttpSyncError(
          'HTTP_SYNC_RETRIES_EXHAUSTED',
          endpoint,
          `failed after ${attempt} attempt${attempt === 1 ? '' : 's'} (last: ${failure.problem}); check that the receiver is up and healthy, or raise retry_count / timeout_ms`,
          { ...(failure.status === undefined ? {} : { status: failure.status }), attempts: attempt, cause: failure.cause },
        );
      }
      await this.#wait(this.#backoff(attempt, failure.retryAfterMs));
    }
  }

  #url(path: string): URL {
    const url = new URL(this.#options.baseUrl);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
    return url;
  }

  async #attempt(url: URL, body: string): Promise<Failure | undefined> {
    // Only the timeout aborts: an aborted signal means the attempt ran out of time.
    const controller = new AbortController();
    const timer = this.#options.scheduler.schedule(() => {
      controller.abort();
    }, this.#options.timeoutMs);
    try {
      const response = await fetch(url, { method: 'POST', headers: this.#options.headers, body, signal: controller.signal });
      // Read the whole answer (inside the timeout) so the connection can be reused.
      const text = await response.text();
      if (response.ok) return undefined;
      const status = response.status;
      const problem = `HTTP ${status}${response.statusText === '' ? '' : ` ${response.statusText}`}${snippet(text)}`;
      const retryable = status >= 500 || status === 408 || status === 429;
      const retryAfterMs = retryAfter(response.headers.get('retry-after'));
      return { retryable, problem, status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    } catch (error) {
      if (controller.signal.aborted) return { retryable: true, problem: `no answer within timeout_ms = ${this.#options.timeoutMs} ms`, cause: error };
      return { retryable: true, problem: `network error: ${networkProblem(error)}`, cause: error };
    } finally {
      timer.unsubscribe();
    }
  }

  #backoff(attempt: number, retryAfterMs: number | undefined): number {
    const exponential = this.#options.retryBackoffMs * 2 ** (attempt - 1);
    return Math.min(this.#options.maxRetryBackoffMs, Math.max(exponential, retryAfterMs ?? 0));
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => this.#options.scheduler.schedule(resolve, ms));
  }
}

function snippet(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, ' ');
  if (trimmed === '') return '';
  return `: ${trimmed.length > BODY_SNIPPET_CHARS ? `${trimmed.slice(0, BODY_SNIPPET_CHARS)}…` : trimmed}`;
}

/** Retry-After as delay-seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfter(header: string | null): number | undefined {
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** undici reports network failures as `TypeError: fetch failed` with the system error as its cause. */
function networkProblem(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code === undefined ? cause.message : `${code} (${cause.message})`;
  }
  return error instanceof Error ? error.message : String(error);
}
