/**
 * Retention (docs/rules.md#retention) as a pure planner: tags in, a keep/delete
 * decision with its reason for every tag out. Nothing here reads a registry or the clock: the
 * caller passes the tags, their push dates and digests, and `now`.
 *
 * Rules, in the order a keep reason is chosen (the first that applies is reported):
 * - `latest` and every floating tag (`vX`, `vX.Y`) are kept, with their arch twins;
 * - tags named with `--protect`, then tags a stack has deployed;
 * - the newest stable release of every major;
 * - the newest patch of each of the `keepMinors` newest minors of the current major;
 * - the `keepPatches` newest patches of the current minor;
 * - dev builds and prereleases younger than `maxAgeDays` (or whose age is unknown).
 * Every other stable release is deleted (superseded), and so are dev builds and prereleases
 * older than `maxAgeDays`. The current major and minor are those of the highest stable release.
 * A per-arch tag (`v3.1.2-amd64`) follows its release. Tags that are not release tags
 * (`buildcache-amd64`, `main`) are left alone. Versions are ordered as semver, never by date.
 *
 * Once digests are known, {@link planManifests} turns the tag plan into manifests to delete:
 * an index with its per-arch and attestation manifests is one unit, and nothing a kept tag (or
 * a kept index's children) reaches is ever deleted.
 */
import semver from "semver";
import { attachmentSubject } from "./attestation";
import {
  ARCHITECTURES,
  InvalidVersionError,
  splitArchSuffix,
  tryParseVersion,
  type Version,
} from "./versions";

export interface RetentionPolicy {
  /** How many of the current major's newest minors keep their newest patch. Default 10. */
  readonly keepMinors: number;
  /** How many of the current minor's newest patches are kept. Default 5. */
  readonly keepPatches: number;
  /** Dev builds and prereleases older than this many days are deleted. Default 30. */
  readonly maxAgeDays: number;
}

export const DEFAULT_RETENTION_POLICY: RetentionPolicy = Object.freeze({
  keepMinors: 10,
  keepPatches: 5,
  maxAgeDays: 30,
});

/** One tag as a registry, the Hub or a tags file lists it. */
export interface TagRecord {
  readonly name: string;
  /** When the tag was last pushed, ISO 8601; absent when the source does not say. */
  readonly lastUpdated?: string | undefined;
  /** The manifest (list) digest the tag resolves to. */
  readonly digest?: string | undefined;
}

/** A tag (and optionally the digest) a stack has deployed. */
export interface DeployedRef {
  readonly tag: string;
  readonly digest?: string | undefined;
  /** Where it was read, used in the reason: `stack prod`, `outputs.json`. */
  readonly source: string;
}

export interface RetentionInput {
  readonly tags: readonly TagRecord[];
  /** The clock, passed in: a Date or milliseconds since the epoch. */
  readonly now: Date | number;
  readonly policy?: Partial<RetentionPolicy>;
  /** Tags never to delete; a release's name protects its arch twins too. */
  readonly protect?: readonly string[];
  readonly deployed?: readonly DeployedRef[];
}

export interface TagDecision {
  readonly tag: string;
  readonly reason: string;
}

/** The plan in the command's JSON shape: every tag exactly once, in one of the two lists. */
export interface RetentionPlan {
  readonly keep: TagDecision[];
  readonly delete: TagDecision[];
}

const DAY_MS = 24 * 60 * 60 * 1000;
const FLOATING = /^v(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?$/;

type Group =
  | { readonly kind: "latest"; readonly base: string; readonly tags: string[] }
  | {
      readonly kind: "floating";
      readonly base: string;
      readonly tags: string[];
      readonly major: number;
      readonly minor: number;
    }
  | {
      readonly kind: "version";
      readonly base: string;
      readonly tags: string[];
      readonly version: Version;
      newest: number | undefined;
    }
  | { readonly kind: "other"; readonly base: string; readonly tags: string[] };

type VersionGroup = Extract<Group, { kind: "version" }>;

const RANK: Record<Group["kind"], number> = { latest: 0, floating: 1, version: 2, other: 3 };
const ARCH_ORDER = new Map<string, number>(ARCHITECTURES.map((arch, i) => [`-${arch}`, i + 1]));

/** The complete policy with defaults; a count or age that is not a non-negative integer throws. */
export function retentionPolicy(policy: Partial<RetentionPolicy> = {}): RetentionPolicy {
  const merged = { ...DEFAULT_RETENTION_POLICY, ...policy };
  for (const [key, value] of Object.entries(merged)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`retention ${key} must be a non-negative integer, got ${value}`);
    }
  }
  return merged;
}

/**
 * Parses an ISO 8601 date (`2026-05-01`, UTC midnight) or date-time with a zone
 * (`2026-05-01T12:00:00Z`, `...+02:00`) to milliseconds, or undefined when it is not one
 * (including impossible dates such as February 30, which `Date.parse` would roll over).
 */
export function parseIsoDate(value: string): number | undefined {
  const match =
    /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/.exec(
      value,
    );
  if (match === null) return undefined;
  const [, year, month, day, hour = "00", minute = "00", second = "00"] = match;
  const y = Number(year);
  const m = Number(month);
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = m === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31;
  if (
    m < 1 ||
    m > 12 ||
    Number(day) < 1 ||
    Number(day) > days ||
    Number(hour) > 23 ||
    Number(minute) > 59 ||
    Number(second) > 59
  ) {
    return undefined;
  }
  const time = Date.parse(match[4] === undefined ? `${value}T00:00:00Z` : value);
  return Number.isNaN(time) ? undefined : time;
}

/** Groups tags by release: `v3.1.2`, `v3.1.2-amd64` and `v3.1.2-arm64` are one group. */
function groupTags(tags: readonly TagRecord[]): Group[] {
  const groups = new Map<string, Group>();
  for (const record of tags) {
    const { base } = splitArchSuffix(record.name);
    let group = groups.get(base);
    if (group === undefined) {
      group = newGroup(base);
      groups.set(base, group);
    }
    if (group.tags.includes(record.name)) continue;
    group.tags.push(record.name);
    // Only dev builds and prereleases are judged by age.
    if (
      group.kind === "version" &&
      group.version.kind !== "stable" &&
      record.lastUpdated !== undefined
    ) {
      const time = parseIsoDate(record.lastUpdated);
      if (time !== undefined && (group.newest === undefined || time > group.newest)) {
        group.newest = time;
      }
    }
  }
  return [...groups.values()];
}

function newGroup(base: string): Group {
  if (base === "latest") return { kind: "latest", base, tags: [] };
  const floating = FLOATING.exec(base);
  if (floating !== null) {
    return {
      kind: "floating",
      base,
      tags: [],
      major: Number(floating[1]),
      // `vX` sorts before its own `vX.Y` tags.
      minor: floating[2] === undefined ? Number.POSITIVE_INFINITY : Number(floating[2]),
    };
  }
  const version = tryParseVersion(base);
  if (version instanceof InvalidVersionError) return { kind: "other", base, tags: [] };
  return {
    kind: "version",
    base,
    tags: [],
    version,
    newest: undefined,
  };
}

/**
 * Output order: `latest`, floating tags (highest first, `vX` before `vX.Y`), releases by
 * semver (highest first), then other tags by name; each group's own tag before its arch twins.
 */
function compareGroups(a: Group, b: Group): number {
  if (a.kind !== b.kind) return RANK[a.kind] - RANK[b.kind];
  if (a.kind === "floating" && b.kind === "floating") {
    return b.major - a.major || b.minor - a.minor;
  }
  if (a.kind === "version" && b.kind === "version") return compareReleases(b.version, a.version);
  return a.base < b.base ? -1 : a.base > b.base ? 1 : 0;
}

/**
 * Semver order, as `compareVersions` gives it, without parsing again for the common case: the
 * numbers decide, and only two prereleases of the same version go through semver.
 */
function compareReleases(a: Version, b: Version): number {
  const main = a.major - b.major || a.minor - b.minor || a.patch - b.patch;
  if (main !== 0) return main;
  const aStable = a.kind === "stable";
  const bStable = b.kind === "stable";
  if (aStable || bStable) return aStable === bStable ? 0 : aStable ? 1 : -1;
  return semver.compare(a.semver, b.semver);
}

function orderWithinGroup(group: Group): string[] {
  const suffixRank = (tag: string) => ARCH_ORDER.get(tag.slice(group.base.length)) ?? 0;
  return [...group.tags].sort((a, b) => suffixRank(a) - suffixRank(b));
}

/** Tags in the order plans list them (see {@link compareGroups}). */
export function orderTags(tags: readonly string[]): string[] {
  return groupTags(tags.map((name) => ({ name })))
    .sort(compareGroups)
    .flatMap(orderWithinGroup);
}

/** "10 newest minors", "newest minor" (for a count of one). */
function newest(count: number, one: string, many: string): string {
  return count === 1 ? `newest ${one}` : `${count} newest ${many}`;
}

const kindLabel = (version: Version) => (version.kind === "dev" ? "dev build" : "prerelease");

/** Why each stable release is kept or deleted, by the policy's counts. */
interface StableReasons {
  readonly keep: Map<VersionGroup, string>;
  readonly delete: Map<VersionGroup, string>;
}

/**
 * The stable releases' reasons, highest first: the first of each major, minor or line met is its
 * newest. The current major and minor are the highest release's.
 */
function stableReasons(stable: readonly VersionGroup[], policy: RetentionPolicy): StableReasons {
  const keepReason = new Map<VersionGroup, string>();
  const deleteReason = new Map<VersionGroup, string>();
  const keepOnce = (group: VersionGroup, reason: string) => {
    if (!keepReason.has(group)) keepReason.set(group, reason);
  };
  const top = stable[0]?.version;
  const newestOfMajor = new Map<number, VersionGroup>();
  const newestOfMinor = new Map<string, VersionGroup>();
  const minors = newest(policy.keepMinors, "minor", "minors");
  const patches = newest(policy.keepPatches, "patch", "patches");
  const currentMinors: number[] = [];
  let currentPatches = 0;
  for (const group of stable) {
    const { major, minor } = group.version;
    const line = `v${major}.${minor}`;
    if (!newestOfMajor.has(major)) newestOfMajor.set(major, group);
    keepOnce(newestOfMajor.get(major) as VersionGroup, `newest release of v${major}`);
    const firstOfMinor = !newestOfMinor.has(line);
    if (firstOfMinor) newestOfMinor.set(line, group);
    if (top === undefined || major !== top.major) {
      const newestBase = (newestOfMajor.get(major) as VersionGroup).base;
      if (!keepReason.has(group)) {
        deleteReason.set(group, `superseded by ${newestBase}, the newest release of v${major}`);
      }
      continue;
    }
    if (firstOfMinor) currentMinors.push(minor);
    const inMinorWindow = currentMinors.indexOf(minor) < policy.keepMinors;
    if (firstOfMinor && inMinorWindow) {
      keepOnce(group, `newest patch of ${line}, one of the ${minors} of v${major}`);
    }
    if (minor === top.minor) {
      currentPatches += 1;
      if (currentPatches <= policy.keepPatches) keepOnce(group, `one of the ${patches} of ${line}`);
      else if (!keepReason.has(group))
        deleteReason.set(group, `older than the ${patches} of ${line}`);
      continue;
    }
    if (keepReason.has(group)) continue;
    const newestBase = (newestOfMinor.get(line) as VersionGroup).base;
    deleteReason.set(
      group,
      inMinorWindow
        ? `superseded by ${newestBase}, the newest patch of ${line}`
        : `${line} is older than the ${minors} of v${major}`,
    );
  }
  return { keep: keepReason, delete: deleteReason };
}

interface Judging {
  readonly policy: RetentionPolicy;
  readonly now: number;
  readonly protect: ReadonlySet<string>;
  readonly deployed: ReadonlyMap<string, string>;
  readonly stable: StableReasons;
}

/** A release group's fate (its arch twins follow it unless protected or deployed themselves). */
function judge(group: Group, judging: Judging): { keep: boolean; reason: string } {
  const { protect, deployed, policy } = judging;
  const explicit = protect.has(group.base) ? "protected by --protect" : deployed.get(group.base);
  if (group.kind === "latest") return { keep: true, reason: "latest" };
  if (group.kind === "floating") return { keep: true, reason: "floating tag" };
  if (explicit !== undefined) return { keep: true, reason: explicit };
  if (group.kind === "other") {
    const subject = attachmentSubject(group.base);
    return {
      keep: true,
      reason:
        subject === undefined
          ? "not a release tag: left alone"
          : `attached to ${subject}: kept while it is`,
    };
  }
  if (group.version.kind === "stable") {
    const kept = judging.stable.keep.get(group);
    return kept === undefined
      ? { keep: false, reason: judging.stable.delete.get(group) ?? "superseded" }
      : { keep: true, reason: kept };
  }
  const label = kindLabel(group.version);
  if (group.newest === undefined) return { keep: true, reason: `${label} of unknown age` };
  if (judging.now - group.newest > policy.maxAgeDays * DAY_MS) {
    return { keep: false, reason: `${label} older than ${policy.maxAgeDays} days` };
  }
  return { keep: true, reason: `${label} from the last ${policy.maxAgeDays} days` };
}

/** Plans what to keep and delete; every input tag appears exactly once in the result. */
export function planRetention(input: RetentionInput): RetentionPlan {
  const policy = retentionPolicy(input.policy);
  const now = typeof input.now === "number" ? input.now : input.now.getTime();
  if (Number.isNaN(now)) throw new RangeError("retention needs a valid clock (now)");
  const protect = new Set(input.protect ?? []);
  const deployed = new Map<string, string>();
  for (const ref of input.deployed ?? []) {
    if (!deployed.has(ref.tag)) deployed.set(ref.tag, `deployed by ${ref.source}`);
  }
  const groups = groupTags(input.tags).sort(compareGroups);
  const stable = groups.filter(
    (group): group is VersionGroup => group.kind === "version" && group.version.kind === "stable",
  );
  const judging = { policy, now, protect, deployed, stable: stableReasons(stable, policy) };
  const keep: TagDecision[] = [];
  const remove: TagDecision[] = [];
  for (const group of groups) {
    const decision = judge(group, judging);
    for (const tag of orderWithinGroup(group)) {
      // A per-arch tag follows its release, unless it is protected or deployed itself.
      const own = protect.has(tag) ? "protected by --protect" : deployed.get(tag);
      if (!decision.keep && own !== undefined) keep.push({ tag, reason: own });
      else (decision.keep ? keep : remove).push({ tag, reason: decision.reason });
    }
  }
  return { keep, delete: remove };
}

// ------------------------------------------------------------------ manifests

export interface BlobRef {
  readonly digest: string;
  readonly size: number;
}

/** What a manifest or index references, as far as retention cares. */
export interface ManifestInfo {
  readonly digest: string;
  /** Manifests an index lists: per-arch and attestation manifests. Empty for an image. */
  readonly children: readonly string[];
  /** Config and layer blobs of an image (or attestation) manifest. */
  readonly blobs: readonly BlobRef[];
  /** Size of the manifest itself in bytes, when known. */
  readonly size?: number | undefined;
}

export interface ManifestUnit {
  /** The manifest a deleted tag resolves to: usually an index. Deleted first. */
  readonly digest: string;
  /** The deleted tags behind this unit (on its root or one of its members). */
  readonly tags: readonly string[];
  /**
   * Its descendants that nothing kept reaches, deleted after the root. Two units may share a
   * child (buildx per-arch indexes and the version index list the same images): it goes once
   * both roots are gone.
   */
  readonly children: readonly string[];
}

export interface ManifestPlanInput {
  readonly plan: RetentionPlan;
  /** Tag -> digest, for every tag of the repository whose digest is known. */
  readonly digests: ReadonlyMap<string, string>;
  readonly manifests: ReadonlyMap<string, ManifestInfo>;
  /** Digests that must survive whatever their tags (deployed refs), with why. */
  readonly protectedDigests?: ReadonlyMap<string, string>;
}

export interface ManifestPlan {
  /** Delete order: every unit's root, then the unit's children. */
  readonly units: ManifestUnit[];
  /**
   * Tags the plan deletes whose manifest a kept tag also reaches. On an OCI registry a tag goes
   * only with its manifest, so these tags stay ({@link keepSharedTags}).
   */
  readonly shared: TagDecision[];
  /** Every manifest a kept tag or protected digest reaches (never deleted). */
  readonly reached: ReadonlySet<string>;
  /**
   * Attachment tags (signatures, SBOMs, attestations: `sha256-<hex>`…) whose subject the plan
   * deletes: they go with it, before it ({@link deleteAttachmentTags}). Their units lead `units`.
   */
  readonly attachments: TagDecision[];
}

/** The manifests a set of roots reaches, roots included. */
export function reachable(
  roots: Iterable<string>,
  manifests: ReadonlyMap<string, ManifestInfo>,
): Set<string> {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const digest = stack.pop() as string;
    if (seen.has(digest)) continue;
    seen.add(digest);
    for (const child of manifests.get(digest)?.children ?? []) stack.push(child);
  }
  return seen;
}

/**
 * The manifests the plan's deleted tags leave unreached, as units (an index with its per-arch
 * and attestation manifests); a manifest a kept tag or a protected digest reaches, directly or
 * as a kept index's child, is never in a unit.
 */
export function planManifests(input: ManifestPlanInput): ManifestPlan {
  const reachedBy = new Map<string, string>();
  const mark = (root: string, label: string) => {
    for (const digest of reachable([root], input.manifests)) {
      if (!reachedBy.has(digest)) reachedBy.set(digest, label);
    }
  };
  // Attachments are judged by their subject, once the subjects' fate is known.
  const attachmentTags = input.plan.keep.filter(({ tag }) => attachmentSubject(tag) !== undefined);
  for (const { tag } of input.plan.keep) {
    const digest = input.digests.get(tag);
    if (digest !== undefined && attachmentSubject(tag) === undefined)
      mark(digest, `kept tag ${tag}`);
  }
  for (const [digest, why] of input.protectedDigests ?? []) mark(digest, why);

  const shared: TagDecision[] = [];
  const rootTags = new Map<string, string[]>();
  for (const { tag } of input.plan.delete) {
    const digest = input.digests.get(tag);
    if (digest === undefined) continue;
    const by = reachedBy.get(digest);
    if (by !== undefined) {
      shared.push({ tag, reason: `its manifest is also reached by ${by}` });
      continue;
    }
    rootTags.set(digest, [...(rootTags.get(digest) ?? []), tag]);
  }
  const units = deletionUnits(rootTags, input.manifests, reachedBy);
  const { attachments, attachmentUnits } = planAttachments(
    input,
    attachmentTags,
    units,
    mark,
    reachedBy,
  );
  return {
    units: [...attachmentUnits, ...units],
    shared,
    reached: new Set(reachedBy.keys()),
    attachments,
  };
}

/**
 * One unit per deleted root with what it alone reaches; a deleted root inside another deleted
 * root's tree joins that unit as a member.
 */
function deletionUnits(
  rootTags: ReadonlyMap<string, string[]>,
  manifests: ReadonlyMap<string, ManifestInfo>,
  reachedBy: ReadonlyMap<string, string>,
): ManifestUnit[] {
  const descendants = new Map<string, Set<string>>();
  for (const root of rootTags.keys()) {
    const tree = reachable([root], manifests);
    tree.delete(root);
    descendants.set(root, tree);
  }
  const nested = new Set<string>();
  for (const [root, tree] of descendants) {
    for (const other of rootTags.keys()) if (other !== root && tree.has(other)) nested.add(other);
  }
  const units: ManifestUnit[] = [];
  for (const [root, tags] of rootTags) {
    if (nested.has(root)) continue;
    const tree = descendants.get(root) as Set<string>;
    const children = [...tree].filter((digest) => !reachedBy.has(digest));
    const memberTags = [...tags];
    for (const member of nested) {
      if (tree.has(member)) memberTags.push(...(rootTags.get(member) ?? []));
    }
    units.push({ digest: root, tags: memberTags, children });
  }
  return units;
}

/**
 * Attachments whose subject a unit deletes become units of their own (deleted first, so an
 * interrupted cleanup never leaves one without its subject); the others are kept, with what
 * they reach.
 */
function planAttachments(
  input: ManifestPlanInput,
  tags: readonly TagDecision[],
  units: readonly ManifestUnit[],
  mark: (root: string, label: string) => void,
  reachedBy: ReadonlyMap<string, string>,
): { attachments: TagDecision[]; attachmentUnits: ManifestUnit[] } {
  const deleted = new Set(units.flatMap((unit) => [unit.digest, ...unit.children]));
  const attachments: TagDecision[] = [];
  const attachmentUnits: ManifestUnit[] = [];
  const leaving: Array<{ tag: string; digest: string }> = [];
  for (const { tag } of tags) {
    const subject = attachmentSubject(tag) as string;
    const digest = input.digests.get(tag);
    if (digest === undefined) continue;
    if (deleted.has(subject)) leaving.push({ tag, digest });
    else mark(digest, `kept tag ${tag}`);
  }
  for (const { tag, digest } of leaving) {
    if (reachedBy.has(digest)) continue;
    const tree = reachable([digest], input.manifests);
    tree.delete(digest);
    attachments.push({ tag, reason: `attached to ${attachmentSubject(tag)}, deleted with it` });
    attachmentUnits.push({
      digest,
      tags: [tag],
      children: [...tree].filter((child) => !reachedBy.has(child)),
    });
  }
  return { attachments, attachmentUnits };
}

/** The plan with the attachments of deleted manifests moved to delete. */
export function deleteAttachmentTags(
  plan: RetentionPlan,
  attachments: readonly TagDecision[],
): RetentionPlan {
  if (attachments.length === 0) return plan;
  const leaving = new Set(attachments.map(({ tag }) => tag));
  return {
    keep: plan.keep.filter(({ tag }) => !leaving.has(tag)),
    delete: [...plan.delete, ...attachments],
  };
}

/** The plan with the shared tags moved to keep (an OCI registry cannot remove them alone). */
export function keepSharedTags(plan: RetentionPlan, shared: readonly TagDecision[]): RetentionPlan {
  if (shared.length === 0) return plan;
  const moved = new Map(shared.map((decision) => [decision.tag, decision.reason]));
  const keep = new Map(plan.keep.map((decision) => [decision.tag, decision]));
  const remove: TagDecision[] = [];
  for (const decision of plan.delete) {
    const reason = moved.get(decision.tag);
    if (reason === undefined) remove.push(decision);
    else keep.set(decision.tag, { tag: decision.tag, reason });
  }
  const ordered = orderTags([...keep.keys()]).map((tag) => keep.get(tag) as TagDecision);
  return { keep: ordered, delete: remove };
}

/**
 * An estimate of what deleting these manifests frees after garbage collection: the manifests
 * themselves and the blobs (config, layers) that only deleted manifests reference. Blobs that
 * other repositories or untagged manifests also use are freed only if nothing else holds them.
 */
export function freedBlobs(
  deleted: Iterable<string>,
  kept: Iterable<string>,
  manifests: ReadonlyMap<string, ManifestInfo>,
): { count: number; bytes: number } {
  const held = new Set<string>();
  for (const digest of kept) {
    held.add(digest);
    for (const blob of manifests.get(digest)?.blobs ?? []) held.add(blob.digest);
  }
  const freed = new Map<string, number>();
  for (const digest of deleted) {
    const manifest = manifests.get(digest);
    if (manifest === undefined) continue;
    if (!held.has(digest) && manifest.size !== undefined) freed.set(digest, manifest.size);
    for (const blob of manifest.blobs) {
      if (!held.has(blob.digest)) freed.set(blob.digest, blob.size);
    }
  }
  let bytes = 0;
  for (const size of freed.values()) bytes += size;
  return { count: freed.size, bytes };
}
