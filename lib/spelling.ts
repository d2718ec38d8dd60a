/**
 * The known word a misspelt one most likely meant, for "did you mean" hints. Written here rather
 * than taken from npm: the project has no edit-distance package installed, and this is twenty
 * lines with its own tests.
 */

/** Levenshtein distance: the fewest single-character insertions, deletions and substitutions. */
export function editDistance(a: string, b: string): number {
  // One row of the dynamic-programming table at a time: row[j] is the distance of a's prefix
  // read so far to b's first j characters.
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      next.push(Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, substitution));
    }
    row = next;
  }
  return row[b.length] as number;
}

/**
 * The candidate nearest to `word`, when it is close enough to be what was meant: at most a third
 * of `word`'s length in edits, and at least one (rustc's rule for its suggestions). Ties go to
 * the candidate listed first. Undefined when none is that close: a far-fetched suggestion
 * ("scan": did you mean "sign"?) misleads more than none.
 */
export function nearestWord(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance <= limit && (best === undefined || distance < best.distance)) {
      best = { candidate, distance };
    }
  }
  return best?.candidate;
}
