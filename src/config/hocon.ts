// Reads a HOCON file into plain data with @pushcorn/hocon-parser, hardened for a config that must be
// data: strict mode, substitutions looked up in the given environment (not process.env), and the
// parser's extensions that run code or fetch from the network switched off. An `include` may still read
// other local files (.conf, .json, .properties), which is what HOCON's include is for.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import hocon from '@pushcorn/hocon-parser';
import { ConfigError, type ConfigIssue } from './errors.js';

const TRANSFORMS = [
  'Base64DecodeTransform', 'Base64EncodeTransform', 'EvalTransform', 'FilterTransform', 'HashTransform',
  'InvokeTransform', 'MapTransform', 'QueryTransform', 'ReduceTransform', 'SliceTransform', 'SortTransform',
  'TrimTransform', 'UniqueTransform',
];

let hardened = false;

/**
 * Replaces, in the parser's (process-wide) registry, every component that evaluates code (`| eval`,
 * `| map`, `include "x.js"`) or loads from somewhere other than a local file (`include url("http://...")`,
 * `classpath(...)`) by one that refuses. Strict mode alone does not disable the `|` transforms.
 */
function hardenParser(): void {
  if (hardened) return;
  hardened = true;
  const refuse = (what: string): never => {
    throw new Error(`${what} are not supported in a laredo config`);
  };
  const named = <T extends object>(name: string, cls: T): T => Object.defineProperty(cls, 'name', { value: name });
  for (const name of TRANSFORMS) {
    hocon.registerComponent(
      named(name, class extends hocon.TransformAdapter {
        apply(): never {
          return refuse('"|" transforms');
        }
      }),
    );
  }
  hocon.registerComponent(
    named('ScriptBuilder', class extends hocon.BuilderAdapter {
      build(): never {
        return refuse('script includes (.js)');
      }
    }),
  );
  for (const name of ['HttpSource', 'HttpsSource', 'ModulepathSource']) {
    const source = named(name, class extends hocon.SourceAdapter {
      load(): never {
        return refuse('includes from URLs or the module path');
      }
    });
    // ModulepathSource is also registered as `classpath`.
    Object.defineProperty(source, 'aliases', { value: name === 'ModulepathSource' ? ['classpath'] : [] });
    hocon.registerComponent(source);
  }
}

/**
 * The content of `file` as plain data. `${VAR}` and `${?VAR}` fall back to `env` (only string values).
 * Throws `ConfigError` for a missing file or a syntax error, located by line when the parser says.
 */
export async function readHoconFile(file: string, env: Readonly<Record<string, string | undefined>>): Promise<unknown> {
  hardenParser();
  const absolute = path.resolve(file);
  if (!existsSync(absolute)) throw new ConfigError([{ path: '', file, message: 'the config file does not exist' }]);
  if (!statSync(absolute).isFile()) throw new ConfigError([{ path: '', file, message: 'is not a file' }]);
  const scope: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) scope[name] = value;
  try {
    return await hocon({ url: absolute, strict: true, env: false, scope, required: true, builder: 'config' });
  } catch (error) {
    throw new ConfigError([parserIssue(error, file, absolute)], undefined, { cause: error });
  }
}

const LOCATION = /line: (\d+), col: -?\d+(?:, file: (file:\/\/[^\s,)}]+))?/;
const NOISE = / \(Source: | Token: | \(text: | \(line: /;

/** Turns the parser's message (`X (Source: ObjectNode.2@ab, Token: { ..., line: 1, ... })`) into an issue. */
function parserIssue(error: unknown, file: string, absolute: string): ConfigIssue {
  const raw = error instanceof Error ? error.message : String(error);
  const noise = NOISE.exec(raw);
  let message = (noise === null ? raw : raw.slice(0, noise.index)).trim();
  const location = LOCATION.exec(raw);
  let issueFile = file;
  if (location?.[2] !== undefined) {
    const where = fileURLToPath(location[2]);
    issueFile = where === absolute ? file : path.relative(process.cwd(), where);
  }
  const unresolved = /^Unable to resolve '([^']+)'\.$/.exec(message);
  if (unresolved !== null) {
    const name = unresolved[1]!;
    message = `\${${name}} is not set: define ${name} in the file or the environment, or write \${?${name}} to leave the key out when it is not set`;
  } else if (/^Source '.*' not found\.$/.test(message)) {
    message = 'the config file could not be read';
  } else if (!message.endsWith('in a laredo config')) {
    message = `is not valid HOCON: ${message.replace(/[.!]$/, '')}`;
  }
  return {
    path: '',
    message,
    file: issueFile,
    ...(location === null ? {} : { line: Number(location[1]) }),
  };
}
