/** One tag a release meant to write, and how far it got. */
export interface TagWrite {
  /** `<registry>/<org>/<service>`. */
  readonly repository: string;
  readonly tag: string;
  readonly published: boolean;
}

/** Splits a fully qualified `<registry>/<org>/<service>:<tag>` into repository and tag. */
export function splitReference(reference: string): { repository: string; tag: string } {
  const withoutDigest = reference.split("@")[0] as string;
  const colon = withoutDigest.lastIndexOf(":");
  const slash = withoutDigest.lastIndexOf("/");
  if (colon <= slash) return { repository: withoutDigest, tag: "" };
  return { repository: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1) };
}

/**
 * What a failed release did and did not publish, per repository, in the order tags are written:
 * the lines an engineer needs before re-running it.
 */
export function publicationReport(writes: readonly TagWrite[]): string {
  const byRepository = new Map<string, { published: string[]; missing: string[] }>();
  for (const write of writes) {
    const entry = byRepository.get(write.repository) ?? { published: [], missing: [] };
    (write.published ? entry.published : entry.missing).push(write.tag);
    byRepository.set(write.repository, entry);
  }
  const lines = ["what this run published and did not publish:"];
  for (const [repository, { published, missing }] of [...byRepository].sort(([a], [b]) =>
    a.localeCompare(b),
  )) {
    const done = published.length > 0 ? `published ${published.join(", ")}` : "nothing published";
    const left = missing.length > 0 ? `; not published: ${missing.join(", ")}` : "";
    lines.push(`  ${repository}: ${done}${left}`);
  }
  if (writes.some((write) => !write.published)) {
    lines.push(
      "tags not published keep what they pointed at before this run; floating tags move only after their version's manifest list exists. Run the same up again to finish the release.",
    );
  }
  return lines.join("\n");
}
