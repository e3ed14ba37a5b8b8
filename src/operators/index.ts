export { acknowledge, DEFAULT_STOP_TIMEOUT_MS, type AcknowledgeOptions, type DurableNotice } from './acknowledge.js';
export { backoffDelay, DEFAULT_BACKOFF_POLICY, JITTER_RATIO, resolveBackoffPolicy, type BackoffPolicy } from './backoff.js';
export { baselineThenStream, type BaselineThenStreamOptions } from './baseline-then-stream.js';
export { decodePgoutput, PgoutputEventDecoder, type DecodePgoutputOptions, type StreamedTransactions } from './decode-pgoutput.js';
export { InvalidOperatorOptionError, ReconnectExhaustedError, TargetFailedError } from './errors.js';
export { reconnect, type ReconnectOperatorOptions, type RetryInfo } from './reconnect.js';
export { rollbackOnInterrupt } from './rollback-on-interrupt.js';
export {
  checkTargetActorOptions,
  DEFAULT_MAX_BATCH,
  DEFAULT_MAX_IN_FLIGHT,
  DrainTimeoutError,
  TargetActor,
  type TargetActorOptions,
} from './target-actor.js';
