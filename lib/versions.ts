import semver from "semver";

import { ARCHITECTURES, type Architecture, MAX_TAG_LENGTH } from "./vocabulary";

export { ARCHITECTURES, type Architecture } from "./vocabulary";

export type VersionKind = "stable" | "prerelease" | "dev";

export interface Version {
  /** The version exactly as written, with its leading `v` (e.g. `v3.0.1`). */
  readonly tag: string;
  readonly kind: VersionKind;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** The semver form without the leading `v`, used for ordering. */
  readonly semver: string;
  /** The git short sha of a dev build. */
  readonly gitSha?: string;
}

export const ACCEPTED_VERSION_FORMS =
  "vMAJOR.MINOR.PATCH (e.g. v3.0.1), vMAJOR.MINOR.PATCH-<prerelease> (e.g. v3.1.0-rc.1) " +
  "or vMAJOR.MINOR.PATCH-dev-<git short sha> (e.g. v3.0.1-dev-a1b2c3d)";

/** Docker's tag grammar: https://github.com/distribution/reference (tag component). */
export const DOCKER_TAG_PATTERN = new RegExp(
  `^[A-Za-z0-9_][A-Za-z0-9_.-]{0,${MAX_TAG_LENGTH - 1}}$`,
);

const DEV_PRERELEASE = /^dev-([0-9a-f]{7,40})$/;
const ARCH_SUFFIX = new RegExp(`-(${ARCHITECTURES.join("|")})$`);
/** The longest suffix a version tag gets: its arch twin. */
const LONGEST_ARCH_SUFFIX = Math.max(...ARCHITECTURES.map((arch) => arch.length + 1));

export class InvalidVersionError extends Error {
  constructor(
    readonly value: string,
    reason?: string,
  ) {
    super(
      `invalid version ${JSON.stringify(value)}${reason ? ` (${reason})` : ""}: expected ${ACCEPTED_VERSION_FORMS}`,
    );
    this.name = "InvalidVersionError";
  }
}

/** Parses a release version, or returns the reason it is refused. */
export function tryParseVersion(value: string): Version | InvalidVersionError {
  if (!value.startsWith("v")) return new InvalidVersionError(value);
  const body = value.slice(1);
  // semver.parse without `loose` already refuses leading zeros and a fourth component.
  const parsed = semver.parse(body);
  if (parsed !== null && parsed.build.length > 0) {
    return new InvalidVersionError(value, "build metadata (+...) is not allowed in a Docker tag");
  }
  if (parsed === null || parsed.version !== body) return new InvalidVersionError(value);
  if (ARCH_SUFFIX.test(value)) {
    return new InvalidVersionError(value, "a version must not end in an architecture suffix");
  }
  if (value.length + LONGEST_ARCH_SUFFIX > MAX_TAG_LENGTH) {
    return new InvalidVersionError(
      value,
      `its arch tags would exceed ${MAX_TAG_LENGTH} characters`,
    );
  }
  const base = { tag: value, major: parsed.major, minor: parsed.minor, patch: parsed.patch };
  if (parsed.prerelease.length === 0) return { ...base, kind: "stable", semver: body };
  const prerelease = parsed.prerelease.join(".");
  if (prerelease === "dev" || prerelease.startsWith("dev-")) {
    const dev = DEV_PRERELEASE.exec(prerelease);
    if (dev === null) {
      return new InvalidVersionError(
        value,
        "a dev build needs the git short sha: 7 to 40 lowercase hex characters",
      );
    }
    return { ...base, kind: "dev", semver: body, gitSha: dev[1] as string };
  }
  return { ...base, kind: "prerelease", semver: body };
}

export function parseVersion(value: string): Version {
  const result = tryParseVersion(value);
  if (result instanceof InvalidVersionError) throw result;
  return result;
}

export function isArchitecture(value: string): value is Architecture {
  return (ARCHITECTURES as readonly string[]).includes(value);
}

/** Splits `v1.2.3-amd64` into its base tag and architecture; `v1.2.3-rc.1` has none. */
export function splitArchSuffix(tag: string): { base: string; arch?: Architecture } {
  const match = ARCH_SUFFIX.exec(tag);
  if (match === null) return { base: tag };
  return { base: tag.slice(0, match.index), arch: match[1] as Architecture };
}

/**
 * The versions among the tags a registry lists: arch twins are folded into their version,
 * floating tags (`v3`, `v3.1`, `latest`) and anything else that is not a version are ignored.
 */
export function versionsInTags(tags: readonly string[]): Version[] {
  const seen = new Map<string, Version>();
  for (const tag of tags) {
    const parsed = tryParseVersion(splitArchSuffix(tag).base);
    if (!(parsed instanceof InvalidVersionError)) seen.set(parsed.tag, parsed);
  }
  return sortVersions([...seen.values()]);
}

export function compareVersions(a: Version, b: Version): number {
  return semver.compare(a.semver, b.semver);
}

/** Ascending semver order, never push time. */
export function sortVersions(versions: readonly Version[]): Version[] {
  return [...versions].sort(compareVersions);
}

export function highestVersion(versions: readonly Version[]): Version | undefined {
  return sortVersions(versions).at(-1);
}

export function minorTag(version: Version): string {
  return `v${version.major}.${version.minor}`;
}

export function majorTag(version: Version): string {
  return `v${version.major}`;
}

export function nextPatch(version: Version): string {
  return `v${version.major}.${version.minor}.${version.patch + 1}`;
}

/** The next patch version that no published version takes, starting after `version`. */
export function nextFreePatch(version: Version, published: readonly Version[]): string {
  const sameLine = published.filter(
    (other) => other.major === version.major && other.minor === version.minor,
  );
  const highestPatch = Math.max(version.patch, ...sameLine.map((other) => other.patch));
  return `v${version.major}.${version.minor}.${highestPatch + 1}`;
}

/** Orders two version tags (`v1.2.3`) by semver. */
export function semverCompareTags(a: string, b: string): number {
  return compareVersions(parseVersion(a), parseVersion(b));
}

/**
 * The dev channel's version for a git commit: the next patch after the highest stable release
 * published, with the short sha (`v3.1.1-dev-a1b2c3d`); `v0.0.1-dev-<sha>` before any release.
 */
export function devVersion(publishedTags: readonly string[], gitSha: string): string {
  const highest = highestVersion(versionsInTags(publishedTags).filter((v) => v.kind === "stable"));
  const base = highest === undefined ? "v0.0.1" : nextPatch(highest);
  return parseVersion(`${base}-dev-${gitSha}`).tag;
}
