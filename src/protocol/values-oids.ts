/**
 * OIDs of the built-in types laredo converts. Built-in OIDs are fixed by PostgreSQL's catalog
 * (pg_type.dat) and identical on every major laredo supports; user types (enums, domains, composites,
 * extension types) get OIDs >= 16384 that differ per database, so they cannot be known here.
 */
export const TypeOid = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  xml: 142,
  float4: 700,
  float8: 701,
  unknown: 705,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const;

/** How an array type is printed: its element type and the element delimiter (`;` for box, else `,`). */
export interface ArrayTypeInfo {
  readonly elementOid: number;
  readonly delimiter: string;
}

// Every built-in array type (pg_type.typcategory = 'A', typelem <> 0) of PostgreSQL 14-18, array OID ->
// element OID. int2vector (22) and oidvector (30) are excluded: they are category A but print as
// space-separated lists, not `{...}`.
const BUILTIN_ARRAY_ELEMENTS: readonly (readonly [number, number])[] = [
  [1000, 16], [1001, 17], [1002, 18], [1003, 19], [1016, 20], [1005, 21], [1006, 22], [1007, 23],
  [1008, 24], [1009, 25], [1028, 26], [1010, 27], [1011, 28], [1012, 29], [1013, 30], [210, 71],
  [270, 75], [272, 81], [273, 83], [199, 114], [143, 142], [1017, 600], [1018, 601], [1019, 602],
  [1020, 603], [1027, 604], [629, 628], [651, 650], [1021, 700], [1022, 701], [719, 718],
  [775, 774], [791, 790], [1040, 829], [1041, 869], [1034, 1033], [1014, 1042], [1015, 1043],
  [1182, 1082], [1183, 1083], [1115, 1114], [1185, 1184], [1187, 1186], [1270, 1266], [1561, 1560],
  [1563, 1562], [1231, 1700], [2201, 1790], [2207, 2202], [2208, 2203], [2209, 2204], [2210, 2205],
  [2211, 2206], [1263, 2275], [2951, 2950], [2949, 2970], [3221, 3220], [3643, 3614], [3645, 3615],
  [3644, 3642], [3735, 3734], [3770, 3769], [3807, 3802], [3905, 3904], [3907, 3906], [3909, 3908],
  [3911, 3910], [3913, 3912], [3927, 3926], [4073, 4072], [4090, 4089], [4097, 4096], [4192, 4191],
  [6150, 4451], [6151, 4532], [6152, 4533], [6153, 4534], [6155, 4535], [6157, 4536], [5039, 5038],
  [271, 5069],
];

const BOX_ARRAY = 1020;

const ARRAY_TYPES: ReadonlyMap<number, ArrayTypeInfo> = new Map(
  BUILTIN_ARRAY_ELEMENTS.map(([arrayOid, elementOid]) => [arrayOid, { elementOid, delimiter: arrayOid === BOX_ARRAY ? ';' : ',' }]),
);

/** The element type of a built-in array type, or undefined for any other type. */
export function arrayTypeInfo(typeOid: number): ArrayTypeInfo | undefined {
  return ARRAY_TYPES.get(typeOid);
}
