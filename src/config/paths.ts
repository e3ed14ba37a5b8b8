// Key paths as error messages show them, and where in the file each key is.
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@pushcorn/hocon-parser/lib/core/Tokenizer.js';

export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/**
 * `sources.pg_main.publication.tables."public.rules".columns`, `tables[0].targets[1].type`: keys that
 * need it are quoted exactly as they are written in the file, list positions are `[i]`.
 */
export function formatPath(segments: readonly PathSegment[]): string {
  let text = '';
  for (const segment of segments) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else {
      const key = PLAIN_KEY.test(segment) ? segment : JSON.stringify(segment);
      text += text === '' ? key : `.${key}`;
    }
  }
  return text;
}

/** Finds the line of a key path in one file; best effort, for messages. */
export interface KeyLocator {
  /** Line of `path`, or of its nearest ancestor written in the file (a missing key is reported at its parent). */
  lineOf(path: readonly PathSegment[]): number | undefined;
}

/**
 * Maps every key written in `file` to its line by walking the parser's tokens. Keys that come from
 * includes or substitutions are not found (their parent or nothing is reported). Never throws: a file
 * the walk does not understand just yields fewer lines.
 */
export function locateKeys(file: string): KeyLocator {
  const lines = new Map<string, number>();
  try {
    walkTokens(new Tokenizer().tokenize(readFileSync(file, 'utf8'), true), (path, line) => {
      // A later assignment of the same key wins in HOCON, so its line is the one to report; the
      // parents of a dotted key (`a.b = 1` defines `a`) keep the line where they first appear.
      lines.set(formatPath(path), line);
      for (let length = path.length - 1; length > 0; length--) {
        const parent = formatPath(path.slice(0, length));
        if (!lines.has(parent)) lines.set(parent, line);
      }
    });
  } catch {
    // The parser reports syntax errors with their own lines; here a partial map is fine.
  }
  return {
    lineOf(path) {
      for (let length = path.length; length > 0; length--) {
        const line = lines.get(formatPath(path.slice(0, length)));
        if (line !== undefined) return line;
      }
      return undefined;
    },
  };
}

interface Token {
  readonly type: symbol;
  readonly value: string;
  readonly line: number;
  readonly quoted: boolean;
}

function walkTokens(all: readonly Token[], record: (path: readonly PathSegment[], line: number) => void): void {
  const tokens = all.filter((token) => kind(token) !== 'WHITESPACE' && kind(token) !== 'COMMENT');
  let index = 0;
  const peek = (): string | undefined => (index < tokens.length ? kind(tokens[index]!) : undefined);

  const skipSubstitution = (): void => {
    let depth = 0;
    while (index < tokens.length) {
      const current = peek();
      index++;
      if (current === 'SUBSTITUTION') depth++;
      else if (current === 'CLOSE_CURLY' && --depth === 0) return;
    }
  };

  const value = (path: readonly PathSegment[]): void => {
    for (;;) {
      switch (peek()) {
        case 'OPEN_CURLY':
          index++;
          object(path, true);
          break;
        case 'OPEN_SQUARE':
          index++;
          array(path);
          break;
        case 'SUBSTITUTION':
          skipSubstitution();
          break;
        case undefined:
        case 'NEWLINE':
        case 'COMMA':
        case 'CLOSE_CURLY':
        case 'CLOSE_SQUARE':
          return;
        default:
          index++;
      }
    }
  };

  const array = (path: readonly PathSegment[]): void => {
    let position = 0;
    let seen = false;
    for (;;) {
      const current = peek();
      if (current === undefined) return;
      if (current === 'CLOSE_SQUARE') {
        index++;
        return;
      }
      if (current === 'COMMA' || current === 'NEWLINE') {
        index++;
        if (seen) position++;
        seen = false;
        continue;
      }
      record([...path, position], tokens[index]!.line);
      value([...path, position]);
      seen = true;
    }
  };

  const object = (path: readonly PathSegment[], braced: boolean): void => {
    for (;;) {
      const current = peek();
      if (current === undefined) return;
      if (current === 'CLOSE_CURLY') {
        index++;
        if (braced) return;
        continue;
      }
      if (current === 'NEWLINE' || current === 'COMMA') {
        index++;
        continue;
      }
      if (current === 'OPEN_CURLY' && path.length === 0 && !braced) {
        // A root object written with braces.
        index++;
        object(path, true);
        continue;
      }
      if (current !== 'VALUE') {
        // A key made of a substitution, or something unexpected: skip the line.
        while (index < tokens.length && peek() !== 'NEWLINE') index++;
        continue;
      }
      const line = tokens[index]!.line;
      const keyTokens: Token[] = [];
      while (peek() === 'VALUE') keyTokens.push(tokens[index++]!);
      const next = peek();
      if (next === 'ASSIGN') index++;
      else if (next !== 'OPEN_CURLY') {
        // `include "other.conf"` (or a key without a value): nothing to record on this line.
        while (index < tokens.length && peek() !== 'NEWLINE' && peek() !== 'CLOSE_CURLY') index++;
        continue;
      }
      const keyPath = [...path, ...keySegments(keyTokens)];
      record(keyPath, line);
      value(keyPath);
    }
  };

  object([], false);
}

/** `a.b."c.d"` → `a`, `b`, `c.d`: unquoted parts split at dots, quoted parts kept whole. */
function keySegments(tokens: readonly Token[]): string[] {
  const segments: string[] = [];
  let current = '';
  for (const token of tokens) {
    if (token.quoted) current += token.value;
    else {
      const [first = '', ...rest] = token.value.split('.');
      current += first;
      for (const part of rest) {
        segments.push(current);
        current = part;
      }
    }
  }
  segments.push(current);
  return segments;
}

function kind(token: Token): string | undefined {
  return token.type.description;
}
