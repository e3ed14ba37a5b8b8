// JSON-lines logging with pino. Every part of a record that laredo did not write itself (the message
// after interpolation, logged objects, child bindings, errors with their stack and cause) is redacted,
// so a connection string with a password can be logged as it is and come out masked.
import { pino, type Bindings, type ChildLoggerOptions, type DestinationStream, type Logger } from 'pino';
import { redactDeep, redactSecrets } from './redact.js';

export type { Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  /** Default `info`. */
  readonly level?: LogLevel;
  /**
   * Where the JSON lines go. Default: stderr, because stdout may carry data (a jsonl target with
   * `path = "-"`) and log lines must not interleave with it.
   */
  readonly destination?: DestinationStream;
  /** Added to every record as `name`. */
  readonly name?: string;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const logger = pino(
    {
      level: options.level ?? 'info',
      ...(options.name === undefined ? {} : { name: options.name }),
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        log: (record) => redactDeep(record) as Record<string, unknown>,
        bindings: (bindings) => redactDeep(bindings) as Record<string, unknown>,
      },
      serializers: {
        msg: (message: unknown) => (typeof message === 'string' ? redactSecrets(message) : message),
        err: serializeError,
        error: serializeError,
      },
    },
    options.destination ?? pino.destination({ dest: 2, sync: false }),
  );
  return redactChildBindings(logger);
}

type ChildFunction = (this: Logger, bindings: Bindings, options?: ChildLoggerOptions) => Logger;

/**
 * pino applies `formatters.bindings` to the root logger's bindings only (a child resets it), so the
 * bindings of `logger.child({ connection })` are redacted here. Children inherit this `child` through
 * their prototype (pino creates a child with `Object.create(parent)`), so grandchildren are covered too.
 */
function redactChildBindings(logger: Logger): Logger {
  const pinoChild = (Object.getPrototypeOf(logger) as { child: ChildFunction }).child;
  Object.defineProperty(logger, 'child', {
    value: function redactingChild(this: Logger, bindings: Bindings, childOptions?: ChildLoggerOptions): Logger {
      return pinoChild.call(this, redactDeep(bindings) as Bindings, childOptions);
    },
  });
  return logger;
}

/** pino's error serializer (type, message, stack, code, cause chain), then redacted. */
function serializeError(error: unknown): unknown {
  return redactDeep(error instanceof Error ? pino.stdSerializers.err(error) : error);
}
