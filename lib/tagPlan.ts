import {
  ARCHITECTURES,
  type Architecture,
  compareVersions,
  majorTag,
  minorTag,
  parseVersion,
  type Version,
  type VersionKind,
  versionsInTags,
} from "./versions";

export type FloatingTag = "minor" | "major" | "latest";

export interface FloatingTagMove {
  readonly tag: string;
  /** The release the tag points at now, by the registry's tags; absent when it is new. */
  readonly from?: string;
  readonly to: string;
}

export interface WithheldFloatingTag {
  readonly tag: string;
  /** The higher release that keeps the tag. */
  readonly heldBy: string;
}

export interface TagPlan {
  readonly version: string;
  readonly kind: VersionKind;
  /** Multi-arch manifest list tags, ordered version, minor, major, latest. */
  readonly manifestTags: readonly string[];
  /** Per-architecture tags, in the same order as `manifestTags`. */
  readonly platformTags: Readonly<Partial<Record<Architecture, readonly string[]>>>;
  /** Floating tags this release moves, with the release each points at now. */
  readonly moves: readonly FloatingTagMove[];
  /** Floating tags a higher release keeps; this release leaves them alone. */
  readonly withheld: readonly WithheldFloatingTag[];
  /** The earlier release built from the same sources whose images this version points at. */
  readonly reusesFrom?: string;
}

export interface TagPlanInput {
  readonly version: string | Version;
  /** Tags as a registry lists them: arch twins, floating and dev tags may be among them. */
  readonly existingTags?: readonly string[];
  readonly architectures?: readonly Architecture[];
  /** False on stacks that must never move floating tags (dev): only the version is claimed. */
  readonly moveFloatingTags?: boolean;
  /** An earlier release with the same sources: its images are reused, nothing is built. */
  readonly reusesFrom?: string;
}

export function archTag(tag: string, arch: Architecture): string {
  return `${tag}-${arch}`;
}

/**
 * A stable release claims its own tag, then each floating tag only when it is the highest stable
 * release of that tag's group, so floating tags never move backwards
 * (docs/rules.md#the-tag-plan, docs/rules.md#forward-only-floating-tags).
 */
export function planTags(input: TagPlanInput): TagPlan {
  const version = typeof input.version === "string" ? parseVersion(input.version) : input.version;
  const architectures = sortArchitectures(input.architectures ?? ARCHITECTURES);
  const published = versionsInTags(input.existingTags ?? []).filter(
    (other) => other.kind === "stable" && other.tag !== version.tag,
  );

  const existing = new Set(input.existingTags ?? []);
  const manifestTags = [version.tag];
  const moves: FloatingTagMove[] = [];
  const withheld: WithheldFloatingTag[] = [];
  if (version.kind === "stable" && input.moveFloatingTags !== false) {
    const groups: Array<[string, (other: Version) => boolean]> = [
      [minorTag(version), (o) => o.major === version.major && o.minor === version.minor],
      [majorTag(version), (o) => o.major === version.major],
      ["latest", () => true],
    ];
    for (const [tag, inGroup] of groups) {
      const current = published.filter(inGroup).sort(compareVersions).at(-1);
      if (current !== undefined && compareVersions(current, version) > 0) {
        withheld.push({ tag, heldBy: current.tag });
        continue;
      }
      manifestTags.push(tag);
      // A re-run of a published release finds its floating tags already in place.
      if (existing.has(version.tag) && existing.has(tag)) continue;
      moves.push(
        current === undefined
          ? { tag, to: version.tag }
          : { tag, from: current.tag, to: version.tag },
      );
    }
  }

  const platformTags: Partial<Record<Architecture, string[]>> = {};
  for (const arch of architectures) {
    platformTags[arch] = manifestTags.map((tag) => archTag(tag, arch));
  }
  return {
    version: version.tag,
    kind: version.kind,
    manifestTags,
    platformTags,
    moves,
    withheld,
    ...(input.reusesFrom === undefined ? {} : { reusesFrom: input.reusesFrom }),
  };
}

function sortArchitectures(architectures: readonly Architecture[]): Architecture[] {
  return ARCHITECTURES.filter((arch) => architectures.includes(arch));
}

/** Every tag a plan writes: manifest lists first, then each architecture's. */
export function allPlannedTags(plan: TagPlan): string[] {
  return [...plan.manifestTags, ...Object.values(plan.platformTags).flat()];
}

/** One line for the preview: what a release creates, moves and leaves alone. */
export function describePlan(
  service: string,
  plan: TagPlan,
  existingTags: readonly string[],
): string {
  const arches = Object.keys(plan.platformTags).map((arch) => `-${arch}`);
  const parts: string[] = [];
  if (plan.reusesFrom !== undefined) {
    parts.push(`sources unchanged since ${plan.reusesFrom}, reuses its images`);
  }
  parts.push(
    existingTags.includes(plan.version)
      ? `${plan.version} is already published`
      : `creates ${plan.version} (with ${arches.join(", ")})`,
  );
  for (const move of plan.moves) {
    parts.push(
      move.from === undefined
        ? `creates ${move.tag}`
        : `moves ${move.tag} from ${move.from} to ${move.to}`,
    );
  }
  for (const held of plan.withheld) parts.push(`leaves ${held.tag} on ${held.heldBy}`);
  return `${service}: ${parts.join("; ")}`;
}
