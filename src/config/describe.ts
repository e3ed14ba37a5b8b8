// How a value from the config file is shown in an error message. Values are echoed only short and
// redacted: a message must help find the mistake without ever printing a password that was put in the
// wrong key.
import { redactSecrets } from '../observability/redact.js';

const MAX_ECHO = 40;

/** `"5 mins"`, `10`, `true`, `a list`, `an object`: the value as a reader of the message needs it. */
export function describeInput(value: unknown): string {
  if (typeof value === 'string') {
    const redacted = redactSecrets(value);
    const shown = redacted.length > MAX_ECHO ? `${redacted.slice(0, MAX_ECHO)}…` : redacted;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return describeType(value);
}

/** The kind of a value, with its article: `a string`, `a number`, `a list`, `an object`, `null`. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'an object';
    default:
      return `a ${typeof value}`;
  }
}
