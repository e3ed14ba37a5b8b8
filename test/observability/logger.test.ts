import { describe, expect, it } from 'vitest';
import { createLogger, type LoggerOptions } from '../../src/observability/logger.js';

function capture(options: Omit<LoggerOptions, 'destination'> = {}) {
  const lines: string[] = [];
  const logger = createLogger({ ...options, destination: { write: (line: string) => void lines.push(line) } });
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it('writes one JSON object per line, with level, time and message', () => {
    const { logger, lines, records } = capture({ name: 'laredo' });
    logger.info({ source: 'pg_main' }, 'streaming from %s', '0/16B3748');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/\n$/);
    expect(records()[0]).toMatchObject({ level: 30, name: 'laredo', source: 'pg_main', msg: 'streaming from 0/16B3748' });
    expect(records()[0]?.['time']).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('logs at the configured level and above only', () => {
    const { logger, records } = capture({ level: 'warn' });
    logger.info('hidden');
    logger.debug('hidden');
    logger.warn('shown');
    logger.error('shown too');
    expect(records().map((record) => record['msg'])).toEqual(['shown', 'shown too']);
  });

  it('never writes a password: not from the message, a logged object, child bindings or an error', () => {
    const { logger, lines } = capture({ level: 'trace' });
    const connection = 'postgresql://laredo:hunter2@db:5432/app';
    logger.info(`connecting to ${connection}`);
    logger.info('connecting to %s', connection);
    logger.info({ connection, password: 'hunter2', options: { headers: { authorization: 'Bearer hunter2' } } }, 'options');
    logger.child({ connection }).warn('child');
    logger.child({ source: 'pg_main' }).child({ password: 'hunter2' }).info('grandchild');
    const cause = new Error(`auth failed for ${connection}`);
    const error = new Error(`could not connect to ${connection}`, { cause });
    logger.error(error);
    logger.error({ err: error }, 'failed');
    logger.error(error, 'failed with %s', 'password=hunter2');
    const text = lines.join('');
    expect(lines).toHaveLength(8);
    expect(JSON.parse(lines[4]!)).toMatchObject({ source: 'pg_main', password: '***', msg: 'grandchild' });
    expect(text).not.toContain('hunter2');
    expect(text).toContain('postgresql://laredo:***@db:5432/app');
    const errorRecord = JSON.parse(lines[5]!) as { err: { message: string; stack: string; type: string } };
    expect(errorRecord.err.type).toBe('Error');
    // pino appends the cause's message.
    expect(errorRecord.err.message).toBe('could not connect to postgresql://laredo:***@db:5432/app: auth failed for postgresql://laredo:***@db:5432/app');
    expect(errorRecord.err.stack).toContain('could not connect to postgresql://laredo:***@db');
  });
});
