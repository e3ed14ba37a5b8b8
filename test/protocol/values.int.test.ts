// The converters against the server of this run (LAREDO_TEST_PG=14|18): the wide table's documented
// values, binary = text for every decoded type, and random values of the types whose text the binary
// converters must reproduce digit for digit (float4, float8, numeric, dates, times, intervals).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryParser, SESSION_SETTINGS, sessionSettingsOptions, textParser, TypeOid } from '../../src/protocol/values.js';
import { BINARY_STAYS_BUFFER, captureWideTable, expectedRow, readBinaryCopy, type WideTableCapture } from '../fixtures/values/wide-table.js';
import { createTestDatabase, testServer, type TestDatabase } from '../support/postgres.js';
import { seededRandom } from '../support/random.js';

let database: TestDatabase;
let client: pg.Client;
let capture: WideTableCapture;

beforeAll(async () => {
  database = await createTestDatabase('laredo_values');
  capture = await captureWideTable(database.connectionString);
  client = new pg.Client({ connectionString: database.connectionString, options: sessionSettingsOptions() });
  await client.connect();
});

afterAll(async () => {
  await client.end();
  await database.drop();
});

interface PrintedAndSent {
  text: string;
  bytes: Buffer;
}

/** Runs `sql` (which selects `value` and `sent`, a send function's bytea) and returns each row's output text and bytes. */
async function printedAndSent(sql: string, params: unknown[]): Promise<PrintedAndSent[]> {
  const result = await client.query<{ value: string; sent: string }>({ text: sql, values: params, types: { getTypeParser: () => (text: string) => text } });
  return result.rows.map((row) => ({ text: row.value, bytes: Buffer.from(row.sent.slice(2), 'hex') }));
}

function expectBinaryEqualsText(typeOid: number, rows: readonly PrintedAndSent[]): void {
  expect(rows.length).toBeGreaterThan(0);
  const mismatches = rows.filter(({ text, bytes }) => !Object.is(textParser(typeOid)(text), binaryParser(typeOid)(bytes)));
  expect(mismatches.map(({ text, bytes }) => ({ text, binary: binaryParser(typeOid)(bytes) }))).toEqual([]);
}

describe(`value converters on PostgreSQL ${testServer().major}`, () => {
  it('gets every SESSION_SETTINGS value from the startup options string', async () => {
    const names = Object.keys(SESSION_SETTINGS);
    const { rows } = await client.query<{ name: string; value: string }>(`SELECT name, current_setting(name) AS value FROM unnest($1::text[]) name`, [names]);
    expect(Object.fromEntries(rows.map((row) => [row.name, row.value]))).toEqual(SESSION_SETTINGS);
  });

  it('converts every column of the wide table to the documented value', () => {
    expect(capture.major).toBe(testServer().major);
    for (const outputs of capture.outputs) {
      const id = Number(outputs[0]);
      const row = Object.fromEntries(capture.columns.map((column, index) => [column.name, outputs[index] === null ? null : textParser(column.typeOid)(outputs[index]!)]));
      expect(row).toEqual(expectedRow(capture.columns, id));
    }
  });

  it('gives the same values from the binary send format as from text', () => {
    const binaryRows = readBinaryCopy(capture.copyBinary);
    binaryRows.forEach((fields, rowIndex) => {
      capture.columns.forEach((column, index) => {
        const bytes = fields[index] ?? null;
        const text = capture.outputs[rowIndex]![index] ?? null;
        if (bytes === null || text === null) return expect(bytes).toBe(text);
        const binary = binaryParser(column.typeOid)(bytes);
        if (BINARY_STAYS_BUFFER.has(column.name)) return expect(binary).toEqual(bytes);
        expect(binary, column.name).toEqual(textParser(column.typeOid)(text));
      });
    });
  });

  it('reads every float4 from its send bytes as its shortest text reads: powers of two, ties, random bits', async () => {
    const next = seededRandom(4);
    const bits = Buffer.alloc(4);
    const floats: string[] = [];
    for (let exponent = -149; exponent <= 127; exponent++) floats.push((2 ** exponent).toPrecision(9), (-(2 ** exponent)).toPrecision(9));
    for (let index = 0; index < 20_000; index++) {
      bits.writeUInt32BE(Math.floor(next() * 4_294_967_296));
      const float = bits.readFloatBE(0);
      // 9 significant digits name a float4 exactly; PostgreSQL reads them back to the same float.
      if (Number.isFinite(float)) floats.push(float.toPrecision(9));
    }
    for (let index = 0; index < 5_000; index++) floats.push(Math.fround((next() - 0.5) * 10 ** Math.floor(next() * 16 - 4)).toPrecision(9));
    floats.push('NaN', 'Infinity', '-Infinity', '-0');
    expectBinaryEqualsText(TypeOid.float4, await printedAndSent(`SELECT x AS value, float4send(x) AS sent FROM unnest($1::float4[]) x`, [floats]));
  });

  it('reads every float8 from its send bytes as from its text', async () => {
    const next = seededRandom(8);
    const bits = Buffer.alloc(8);
    const doubles: string[] = [];
    for (let index = 0; index < 10_000; index++) {
      bits.writeUInt32BE(Math.floor(next() * 4_294_967_296), 0);
      bits.writeUInt32BE(Math.floor(next() * 4_294_967_296), 4);
      const double = bits.readDoubleBE(0);
      if (Number.isFinite(double)) doubles.push(String(double));
    }
    doubles.push('NaN', 'Infinity', '-Infinity', '-0', '5e-324', '1.7976931348623157e308');
    expectBinaryEqualsText(TypeOid.float8, await printedAndSent(`SELECT x AS value, float8send(x) AS sent FROM unnest($1::float8[]) x`, [doubles]));
  });

  it('prints numeric from its send bytes exactly as numeric_out, scale and every digit', async () => {
    const next = seededRandom(1700);
    const digits = (count: number) => Array.from({ length: count }, () => Math.floor(next() * 10)).join('');
    const numerics: string[] = ['0', '0.00', 'NaN', 'Infinity', '-Infinity', '1e-40', '-1e40', '10000', '0.0001', '99999999.99999999'];
    for (let index = 0; index < 5_000; index++) {
      const integer = digits(Math.floor(next() * 45)).replace(/^0+/, '');
      const fraction = digits(Math.floor(next() * 45));
      numerics.push(`${next() < 0.5 ? '-' : ''}${integer === '' ? '0' : integer}${fraction === '' ? '' : `.${fraction}`}`);
    }
    const rows = await printedAndSent(`SELECT x AS value, numeric_send(x) AS sent FROM unnest($1::numeric[]) x`, [numerics]);
    expectBinaryEqualsText(TypeOid.numeric, rows);
    // And the text is kept as printed: the typed scale survives.
    expect(rows.slice(0, 2).map(({ text }) => textParser(TypeOid.numeric)(text))).toEqual(['0', '0.00']);
  });

  it('formats timestamps, timestamptz and dates from their send bytes as from their text, 4713 BC to 294276 AD', async () => {
    const next = seededRandom(1114);
    // The first and last days of PostgreSQL's timestamp range: 4714-11-24 BC and 294276-12-31.
    const days: number[] = [-2_451_545, 106_751_982, 0, -1, -730_119, 2_914_635];
    const micros: number[] = [0, 86_399_999_999, 1, 500_000, 43_200_000_000, 86_399_999_999];
    for (let index = 0; index < 5_000; index++) {
      days.push(Math.floor(next() * (106_751_982 + 2_451_545)) - 2_451_545);
      micros.push(Math.floor(next() * 86_400_000_000));
    }
    const timestamps = `SELECT timestamp '2000-01-01' + d * interval '1 day' + us * interval '1 microsecond' AS ts FROM unnest($1::int8[], $2::int8[]) AS t(d, us)`;
    expectBinaryEqualsText(TypeOid.timestamp, await printedAndSent(`SELECT ts AS value, timestamp_send(ts) AS sent FROM (${timestamps}) s`, [days, micros]));
    expectBinaryEqualsText(
      TypeOid.timestamptz,
      await printedAndSent(`SELECT ts::timestamptz AS value, timestamptz_send(ts::timestamptz) AS sent FROM (${timestamps}) s`, [days, micros]),
    );
    const dates = [...days, 2_145_031_948, -2_451_545, 100_000_000].map(String);
    expectBinaryEqualsText(
      TypeOid.date,
      await printedAndSent(`SELECT date '2000-01-01' + d AS value, date_send(date '2000-01-01' + d) AS sent FROM unnest($1::int4[]) d`, [dates]),
    );
    expectBinaryEqualsText(
      TypeOid.timestamptz,
      await printedAndSent(`SELECT x AS value, timestamptz_send(x) AS sent FROM unnest(ARRAY['infinity', '-infinity']::timestamptz[]) x`, []),
    );
  });

  it('prints time, timetz and interval from their send bytes exactly as PostgreSQL prints them', async () => {
    const next = seededRandom(1186);
    const times: number[] = [0, 86_400_000_000, 1, 100_000, 43_200_000_000];
    const zones: string[] = ['+00', '-15:59:59', '+15:59', '+05:30', '-00:00:01'];
    const months: number[] = [0, 1, -1, 12, -14, 2_136_000_000];
    const dayCounts: number[] = [0, 1, -1, 3, 3, 0];
    const hours: number[] = [0, 0, 0, 4, -4, 0];
    const microseconds: number[] = [0, 0, 1, 6_500_000, -6_000_001, 0];
    for (let index = 0; index < 3_000; index++) {
      times.push(Math.floor(next() * 86_400_000_001));
      const zoneSeconds = Math.floor(next() * 115_199) - 57_599;
      const zone = Math.abs(zoneSeconds);
      zones.push(`${zoneSeconds < 0 ? '-' : '+'}${String(Math.floor(zone / 3600)).padStart(2, '0')}:${String(Math.floor(zone / 60) % 60).padStart(2, '0')}:${String(zone % 60).padStart(2, '0')}`);
      const sign = () => (next() < 0.5 ? -1 : 1);
      months.push(next() < 0.3 ? 0 : sign() * Math.floor(next() * 10 ** Math.floor(next() * 7)));
      dayCounts.push(next() < 0.3 ? 0 : sign() * Math.floor(next() * 10 ** Math.floor(next() * 6)));
      hours.push(next() < 0.3 ? 0 : sign() * Math.floor(next() * 10 ** Math.floor(next() * 7)));
      microseconds.push(next() < 0.3 ? 0 : sign() * Math.floor(next() * 10 ** Math.floor(next() * 10)));
    }
    expectBinaryEqualsText(
      TypeOid.time,
      await printedAndSent(`SELECT t AS value, time_send(t) AS sent FROM (SELECT time '00:00' + us * interval '1 microsecond' AS t FROM unnest($1::int8[]) us) s`, [times]),
    );
    expectBinaryEqualsText(TypeOid.time, await printedAndSent(`SELECT t AS value, time_send(t) AS sent FROM (SELECT time '24:00' AS t) s`, []));
    const timetz = `SELECT (time '00:00' + us * interval '1 microsecond')::text || z AS t FROM unnest($1::int8[], $2::text[]) AS u(us, z)`;
    expectBinaryEqualsText(
      TypeOid.timetz,
      await printedAndSent(`SELECT t::timetz AS value, timetz_send(t::timetz) AS sent FROM (${timetz}) s`, [times, zones]),
    );
    const intervals = `SELECT make_interval(0, m, 0, d, h) + us * interval '1 microsecond' AS i FROM unnest($1::int4[], $2::int4[], $3::int4[], $4::int8[]) AS u(m, d, h, us)`;
    expectBinaryEqualsText(TypeOid.interval, await printedAndSent(`SELECT i AS value, interval_send(i) AS sent FROM (${intervals}) s`, [months, dayCounts, hours, microseconds]));
  });

  it('decodes arrays of every decoded element type from their send bytes as from their text', async () => {
    const arrays = [
      [1000, `ARRAY[true, NULL, false]`],
      [1005, `'{{1,2},{3,4}}'::int2[]`],
      [1007, `'[0:2]={1,NULL,3}'::int4[]`],
      [1016, `ARRAY[9223372036854775807, -9223372036854775808]`],
      [1021, `ARRAY[1.1, 3.4028235e38, 'NaN']::float4[]`],
      [1231, `ARRAY[1.10, -0.000001, 'NaN', 'Infinity']::numeric[]`],
      [1009, `ARRAY['a b', NULL, 'NULL', '"', '\\', '']`],
      [1001, `ARRAY['\\x00ff'::bytea, NULL]`],
      [2951, `ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid]`],
      [1182, `ARRAY['0044-03-15 BC'::date, 'infinity']`],
      [1183, `ARRAY['24:00'::time, '12:00:00.5']`],
      [1270, `ARRAY['12:00+05:30'::timetz]`],
      [1115, `ARRAY['294276-12-31 23:59:59.999999'::timestamp]`],
      [1185, `ARRAY['2024-01-02 03:04:05.5+02'::timestamptz]`],
      [1187, `ARRAY['-1 years -2 mons +3 days -04:05:06.000001'::interval]`],
      [199, `ARRAY['{"a": 1}'::json]`],
      [3807, `ARRAY['{"a": [1, 2.50]}'::jsonb]`],
      [1014, `ARRAY['ab'::char(4)]`],
      [1015, `ARRAY['x'::varchar]`],
      [1003, `ARRAY['pg_class'::name]`],
      [1028, `ARRAY[4294967295::oid]`],
      [1022, `'{{1e300},{-0}}'::float8[]`],
    ] as const;
    for (const [typeOid, expression] of arrays) {
      const [row] = await printedAndSent(`SELECT ${expression} AS value, array_send(${expression}) AS sent`, []);
      expect(binaryParser(typeOid)(row!.bytes), expression).toEqual(textParser(typeOid)(row!.text));
    }
  });
});
