// Levenshtein distance for "did you mean" hints: the loader's unknown-field hints and the CLI's
// mistyped commands and options share it. Hand-written: a dozen lines over short names, not worth
// a dependency.

/** Edits (insert, delete, substitute) turning `a` into `b`; `cap` when it is at least `cap`. */
export function editDistance(a: string, b: string, cap = Infinity): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return Math.min(prev[b.length] ?? cap, cap);
}
