import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PgoutputDecoder } from '../../src/protocol/pgoutput.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { UNCHANGED_TOAST, type PgValue } from '../../src/protocol/row.js';
import { textParser, TypeOid, type ValueOptions } from '../../src/protocol/values.js';
import { encodePgoutput, relationMessage, type TupleColumn } from '../support/pgoutput-builder.js';

// The decoder reads typical rows with a reader compiled per column list (src/protocol/tuple-reader.ts)
// and falls back to its general loop for anything else. Whichever path runs, a row must be exactly
// what converting each column with its text converter gives: that is the oracle here, independent of
// both paths.

/** Column types with text as PostgreSQL prints it under laredo's session settings. */
const COLUMN_TYPES: readonly { readonly oid: number; readonly text: fc.Arbitrary<string> }[] = [
  { oid: TypeOid.int2, text: fc.integer({ min: -32768, max: 32767 }).map(String) },
  { oid: TypeOid.int4, text: fc.integer().map(String) },
  { oid: TypeOid.int8, text: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String) },
  { oid: TypeOid.bool, text: fc.constantFrom('t', 'f') },
  { oid: TypeOid.text, text: fc.string({ maxLength: 40 }) },
  {
    oid: TypeOid.numeric,
    text: fc
      .tuple(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: 0, max: 6 }))
      .map(([digits, scale]) => {
        const negative = digits < 0n;
        const body = (negative ? -digits : digits).toString().padStart(scale + 1, '0');
        const text = scale === 0 ? body : `${body.slice(0, -scale)}.${body.slice(-scale)}`;
        return negative ? `-${text}` : text;
      }),
  },
  {
    oid: TypeOid.jsonb,
    // jsonb_out's canonical form: `": "` after keys, `", "` between members.
    text: fc
      .dictionary(fc.constantFrom('a', 'qty', 'sku', 'gift', 'b c', 'é'), fc.oneof(fc.integer(), fc.boolean(), fc.string({ maxLength: 8 }), fc.constant(null)), {
        maxKeys: 4,
      })
      .map((object) => `{${Object.entries(object).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')}}`),
  },
  {
    oid: TypeOid.timestamptz,
    text: fc
      .tuple(fc.integer({ min: 1, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 }), fc.integer({ min: 0, max: 86_399 }), fc.integer({ min: 0, max: 999_999 }))
      .map(([y, mo, d, seconds, micros]) => {
        const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
        const time = `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}`;
        const fraction = micros === 0 ? '' : `.${pad(micros, 6)}`.replace(/0+$/, '');
        return `${pad(y, 4)}-${pad(mo)}-${pad(d)} ${time}${fraction}+00`;
      }),
  },
];

const tableArbitrary = fc.array(fc.constantFrom(...COLUMN_TYPES.keys()), { minLength: 1, maxLength: 12 }).chain((types) =>
  fc.tuple(
    fc.constant(types),
    fc.array(
      fc.tuple(...types.map((type) => fc.oneof({ weight: 8, arbitrary: COLUMN_TYPES[type]!.text }, { weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constant<'u'>('u') }))),
      { minLength: 1, maxLength: 5 },
    ),
  ),
);

function expectedRow(names: readonly string[], oids: readonly number[], tuple: readonly (string | null)[], options: ValueOptions): Record<string, PgValue> {
  const row: Record<string, PgValue> = {};
  tuple.forEach((value, index) => {
    row[names[index]!] = value === null ? null : value === 'u' ? UNCHANGED_TOAST : textParser(oids[index]!, options)(value);
  });
  return row;
}

describe('rows decoded by the compiled tuple reader', () => {
  for (const options of [{}, { json: 'text' }, { int8: 'bigint' }] as const) {
    it(`equal each column converted on its own, for random tables and rows (${JSON.stringify(options)})`, () => {
      fc.assert(
        fc.property(tableArbitrary, ([types, rows]) => {
          const names = types.map((type, index) => `c${index}_${COLUMN_TYPES[type]!.oid}`);
          const oids = types.map((type) => COLUMN_TYPES[type]!.oid);
          const decoder = new PgoutputDecoder({ protocolVersion: 4, values: options });
          decoder.decode(encodePgoutput(relationMessage(16_384, 'public', 'random', names.map((name, i) => [name, oids[i]!] as const))));
          for (const tuple of rows) {
            const encoded: TupleColumn[] = tuple.map((value) => (value === 'u' ? UNCHANGED_TOAST : value));
            const message = decoder.decode(encodePgoutput({ tag: 'insert', relationId: 16_384, new: encoded }));
            expect(message.tag).toBe('insert');
            if (message.tag !== 'insert') return;
            expect(message.new).toEqual(expectedRow(names, oids, tuple, options));
            // Key order is the table's column order (integer-like names aside, which are not used here).
            expect(Object.keys(message.new)).toEqual(names);
          }
        }),
        { numRuns: 400, seed: 20_261_126 },
      );
    });
  }

  it('reports a bad value the way the general loop does: a ProtocolError naming the column', () => {
    const decoder = new PgoutputDecoder({ protocolVersion: 4 });
    decoder.decode(encodePgoutput(relationMessage(1, 'public', 't', [['id', TypeOid.int4], ['at', TypeOid.timestamptz]])));
    const bad = encodePgoutput({ tag: 'insert', relationId: 1, new: ['12', 'not a timestamp'] });
    expect(() => decoder.decode(bad)).toThrow(ProtocolError);
    expect(() => decoder.decode(bad)).toThrow(/"at"/);
  });
});
