// Sizes in bytes as HOCON writes them: `64MB` is 64 × 10^6, `64MiB` (or `64M`) is 64 × 2^20. A plain
// number is bytes. The HOCON spec's spellings are followed exactly so a file means the same to laredo as
// to any other HOCON reader; `KB`, which the spec does not define, is refused with both readings offered.
import { ConfigValueError } from './errors.js';
import { describeInput } from './describe.js';
import { scaleExactly } from './duration.js';
import { didYouMean } from './suggest.js';

const KB = 1000;
const KIB = 1024;

/**
 * Bytes per unit, spelled as the HOCON spec spells them (case matters: `m` is MiB, `mB` is nothing). A
 * Map, so that `0toString` finds nothing rather than Object.prototype.toString.
 */
const SIZE_UNITS: ReadonlyMap<string, number> = new Map(Object.entries({
  B: 1,
  b: 1,
  byte: 1,
  bytes: 1,
  kB: KB,
  kilobyte: KB,
  kilobytes: KB,
  MB: KB ** 2,
  megabyte: KB ** 2,
  megabytes: KB ** 2,
  GB: KB ** 3,
  gigabyte: KB ** 3,
  gigabytes: KB ** 3,
  TB: KB ** 4,
  terabyte: KB ** 4,
  terabytes: KB ** 4,
  K: KIB,
  k: KIB,
  Ki: KIB,
  KiB: KIB,
  kibibyte: KIB,
  kibibytes: KIB,
  M: KIB ** 2,
  m: KIB ** 2,
  Mi: KIB ** 2,
  MiB: KIB ** 2,
  mebibyte: KIB ** 2,
  mebibytes: KIB ** 2,
  G: KIB ** 3,
  g: KIB ** 3,
  Gi: KIB ** 3,
  GiB: KIB ** 3,
  gibibyte: KIB ** 3,
  gibibytes: KIB ** 3,
  T: KIB ** 4,
  t: KIB ** 4,
  Ti: KIB ** 4,
  TiB: KIB ** 4,
  tebibyte: KIB ** 4,
  tebibytes: KIB ** 4,
}));

const SIZE_SYNTAX = /^(\d{1,20})(?:\.(\d{1,9}))?\s*([a-z]*)$/i;
const SIZE_HINT = 'a number of bytes or a number and a unit, e.g. 512KiB, 64MiB, 64MB, 1GiB (kB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024)';

/** Bytes in a size such as `64MiB`, `64MB`, `1.5GiB` or `65536`. Throws `ConfigValueError` otherwise. */
export function parseByteSize(input: unknown): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) throw new ConfigValueError(`${describeInput(input)} is not a whole, non-negative number of bytes`);
    return input;
  }
  if (typeof input !== 'string') throw new ConfigValueError(`must be a size: ${SIZE_HINT}`);
  const text = input.trim();
  if (text.startsWith('-')) throw new ConfigValueError(`${describeInput(input)} is negative: a size is at least 0 bytes`);
  const match = SIZE_SYNTAX.exec(text);
  if (match === null) throw new ConfigValueError(`${describeInput(input)} is not a size: write ${SIZE_HINT}`);
  const [, whole, fraction = '', unit] = match as unknown as [string, string, string | undefined, string];
  const factor = unit === '' ? 1 : SIZE_UNITS.get(unit);
  if (factor === undefined) {
    const hint = unit.toUpperCase() === 'KB' ? ' (write kB for 1000 bytes or KiB for 1024)' : didYouMean(unit, [...SIZE_UNITS.keys()]);
    throw new ConfigValueError(`${describeInput(input)} has an unknown unit "${unit}"${hint}: write ${SIZE_HINT}`);
  }
  const bytes = scaleExactly(whole, fraction, factor);
  if (bytes === undefined) throw new ConfigValueError(`${describeInput(input)} is not a whole number of bytes`);
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConfigValueError(`${describeInput(input)} is too large`);
  return Number(bytes);
}

/** The shortest exact text for `bytes` in binary units (`67108864` → `64MiB`). */
export function formatByteSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new ConfigValueError(`${bytes} is not a whole, non-negative number of bytes`);
  for (const [unit, factor] of [['TiB', KIB ** 4], ['GiB', KIB ** 3], ['MiB', KIB ** 2], ['KiB', KIB]] as const) {
    if (bytes !== 0 && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}B`;
}
