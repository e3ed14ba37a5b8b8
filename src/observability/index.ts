export { createMetrics, SOURCE_STATES, type LaredoMetrics, type MetricsOptions, type ChangeOperation } from './metrics.js';
export { startHttpServer, HttpServerError, type HttpServerOptions, type LaredoHttpServer } from './http-server.js';
export { createLogger, type Logger, type LoggerOptions, type LogLevel } from './logger.js';
export { redactSecrets, redactDeep, REDACTED } from './redact.js';
export { redactConnectionString } from '../streams/connection.js';
