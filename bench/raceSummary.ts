/** What one round of bench/registryRace.ts saw. */
export interface RaceRound {
  /** Every answer that was not the protocol's success, as `<request> <status> <error codes>`. */
  readonly errors: readonly string[];
  /** Tags that, read back after the round, did not point at the round's manifest. */
  readonly wrongTags: number;
}

/**
 * The run in a few lines: totals, rounds with a problem, and the distinct errors by count, with
 * the upload ids and digests that differ between rounds left out so the same failure adds up.
 */
export function raceSummary(
  rounds: readonly RaceRound[],
  run: { readonly requests: number; readonly seconds: number; readonly registry: string },
): string {
  const errors = rounds.flatMap((r) => r.errors);
  const wrongTags = rounds.reduce((sum, r) => sum + r.wrongTags, 0);
  const failed = rounds.filter((r) => r.errors.length > 0 || r.wrongTags > 0).length;
  const byKind = new Map<string, number>();
  for (const error of errors) {
    const kind = error
      .replace(/sha256:[0-9a-f]{64}/g, "<digest>")
      .replace(/[0-9a-f-]{36}/g, "<id>");
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  const lines = [
    `${run.registry}: ${rounds.length} rounds, ${run.requests} requests in ${run.seconds.toFixed(1)} s: ` +
      `${errors.length} client-visible errors, ${wrongTags} tags left wrong, ${failed} rounds with a problem`,
    ...[...byKind]
      .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
      .map(([kind, count]) => `  ${count} x ${kind}`),
  ];
  return lines.join("\n");
}
