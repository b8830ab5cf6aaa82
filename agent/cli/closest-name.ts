// "did you mean" for mistyped commands and options.

import { editDistance } from '../../policy/index.js';

/** The candidate nearest to `word`, if it is close enough to be a plausible typo. */
export function closestName(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  // Two edits catch most typos (`valdate`, `--polices`); more suggests unrelated words.
  return bestDistance <= Math.min(2, Math.floor(word.length / 2)) ? best : undefined;
}
