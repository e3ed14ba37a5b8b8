import { LaredoError } from '../../errors.js';

export type HttpSyncErrorCode =
  | 'HTTP_SYNC_INVALID_OPTION' // an option the target cannot work with (raised by httpSyncTarget())
  | 'HTTP_SYNC_REJECTED' // the receiver answered 4xx (other than 408/429): sending it again cannot help
  | 'HTTP_SYNC_RETRIES_EXHAUSTED' // 5xx, 408, 429, timeouts or network errors on every attempt
  | 'HTTP_SYNC_CLOSED'; // write after close

/**
 * The http-sync target could not deliver a request. Never retryable: the target instance is failed for
 * good once its own retries are spent (or the receiver refused the request); fix the receiver and
 * restart, and every change not acknowledged is delivered again.
 */
export class HttpSyncError extends LaredoError {
  declare readonly code: HttpSyncErrorCode;
  /** The endpoint, without credentials or query string. */
  readonly endpoint: string;
  /** The last HTTP status, when there was an answer. */
  readonly status: number | undefined;
  readonly attempts: number;

  constructor(code: HttpSyncErrorCode, endpoint: string, message: string, details: { status?: number; attempts?: number; cause?: unknown } = {}) {
    super(code, `laredo: http-sync target ${endpoint}: ${message}`, {
      retryable: false,
      ...(details.cause === undefined ? {} : { cause: details.cause }),
    });
    this.endpoint = endpoint;
    this.status = details.status;
    this.attempts = details.attempts ?? 0;
  }
}
