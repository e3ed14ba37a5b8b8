import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatPath, locateKeys } from '../../src/config/paths.js';

const dir = mkdtempSync(path.join(tmpdir(), 'laredo-paths-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fileWith(text: string): string {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(file, text);
  return file;
}

describe('formatPath', () => {
  it('quotes keys with dots and writes list positions in brackets', () => {
    expect(formatPath(['sources', 'pg_main', 'publication', 'tables', 'public.rules', 'columns'])).toBe(
      'sources.pg_main.publication.tables."public.rules".columns',
    );
    expect(formatPath(['tables', 0, 'targets', 1, 'type'])).toBe('tables[0].targets[1].type');
    expect(formatPath([])).toBe('');
  });
});

describe('locateKeys', () => {
  const file = fileWith(
    [
      '# comment', //                                      1
      'sources {', //                                      2
      '  pg_main {', //                                    3
      '    connection = ${?X} // substitution', //         4
      '    publication.tables {', //                       5
      '      "public.rules" { columns = [a, b] }', //      6
      '    }', //                                          7
      '  }', //                                            8
      '}', //                                              9
      'tables = [', //                                     10
      '  { table = t, targets = [', //                     11
      '      { type = jsonl }', //                         12
      '      { type = http-sync', //                       13
      '        base_url = "x" } ] }', //                   14
      '  {', //                                            15
      '    table = u', //                                  16
      '  }', //                                            17
      ']', //                                              18
      'include "missing.conf"', //                         19
      'state_dir = """a', //                               20
      'b"""', //                                           21
      'health { http_port = 1 }', //                       22
    ].join('\n'),
  );
  const locator = locateKeys(file);

  it('finds keys in nested objects, dotted keys, quoted keys and lists of objects', () => {
    expect(locator.lineOf(['sources', 'pg_main', 'connection'])).toBe(4);
    expect(locator.lineOf(['sources', 'pg_main', 'publication'])).toBe(5);
    expect(locator.lineOf(['sources', 'pg_main', 'publication', 'tables', 'public.rules', 'columns'])).toBe(6);
    expect(locator.lineOf(['tables', 0, 'targets', 1, 'base_url'])).toBe(14);
    expect(locator.lineOf(['tables', 0, 'targets', 1])).toBe(13);
    expect(locator.lineOf(['tables', 1, 'table'])).toBe(16);
  });

  it('counts lines through multi-line strings and past include statements', () => {
    expect(locator.lineOf(['state_dir'])).toBe(20);
    expect(locator.lineOf(['health', 'http_port'])).toBe(22);
  });

  it('reports a missing key at its nearest parent written in the file', () => {
    expect(locator.lineOf(['sources', 'pg_main', 'slot_name'])).toBe(3);
    expect(locator.lineOf(['tables', 1, 'targets'])).toBe(15);
    expect(locator.lineOf(['observability', 'logging'])).toBeUndefined();
  });

  it('yields no lines, rather than failing, for a file it cannot read or tokenize', () => {
    expect(locateKeys(path.join(dir, 'absent.conf')).lineOf(['a'])).toBeUndefined();
    expect(locateKeys(fileWith('a = "unterminated\n')).lineOf(['a'])).toBeUndefined();
  });
});
