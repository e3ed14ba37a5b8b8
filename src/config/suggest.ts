// "Did you mean" for keys and enumerated values. A suggestion is only offered when it is clearly the
// intended word: same letters ignoring case and `_`/`-` (slotName, SLOT-NAME), or a few typos away.

/** The candidate `word` most likely meant, or undefined when none is close enough. */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  const normalized = normalize(word);
  const exact = candidates.find((candidate) => normalize(candidate) === normalized);
  if (exact !== undefined) return exact;
  // One edit in four, at least one: `slot_nmae` → `slot_name`, but `port` is not a typo of `path`.
  const budget = Math.max(1, Math.floor(word.length / 4));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(normalized, normalize(candidate));
    if (distance <= budget && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best !== undefined) return best;
  // A shortened key (`batch_size` for `baseline_batch_size`): offered when exactly one candidate ends
  // or starts with it.
  if (normalized.length >= 5) {
    const containing = candidates.filter((candidate) => normalize(candidate).endsWith(normalized) || normalize(candidate).startsWith(normalized));
    if (containing.length === 1) return containing[0];
  }
  return undefined;
}

/** ` (did you mean slot_name?)`, or nothing: ready to append to a message. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const match = closestMatch(word, candidates);
  return match === undefined ? '' : ` (did you mean ${match}?)`;
}

function normalize(word: string): string {
  return word.toLowerCase().replace(/[_-]/g, '');
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j]!;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, at(i - 2, j - 2) + 1);
      d[i * cols + j] = value;
    }
  }
  return at(rows - 1, cols - 1);
}
