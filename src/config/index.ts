export { loadConfig } from './load-config.js';
export { ConfigError, ConfigValueError, formatConfigIssue, type ConfigIssue } from './errors.js';
export { parseDuration, parseMillis, formatDuration, MAX_DURATION_MS } from './duration.js';
export { parseByteSize, formatByteSize } from './byte-size.js';
export { SOURCE_ENV_PREFIX } from './env-overrides.js';
export { TARGET_DEFAULTS, OBSERVABILITY_DEFAULTS } from './schema.js';
export type {
  LaredoConfig,
  TableConfig,
  TargetConfig,
  TargetType,
  JsonlTargetConfig,
  HttpSyncTargetConfig,
  IndexedMemoryTargetConfig,
  HealthConfig,
  ObservabilityConfig,
  LogLevel,
} from './types.js';
