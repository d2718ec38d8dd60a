import { createHash } from "node:crypto";
import {
  type Architecture,
  compareVersions,
  nextFreePatch,
  parseVersion,
  versionsInTags,
} from "./versions";

/** Image config label carrying the hash of the sources an image was built from. */
export const SOURCE_HASH_LABEL = "org.battlescope.source-hash";

export interface SourceFile {
  /** Path relative to the build context, with forward slashes. */
  readonly path: string;
  /** True for executables: the mode changes what the image runs. */
  readonly executable: boolean;
  readonly content: Buffer | string;
}

/**
 * A stable hash of a build context and what else decides the image's content: the same sources
 * give the same hash on any machine, whatever the file times or the order files were listed in.
 * The version is not part of it: an image does not carry its version, so unchanged sources under
 * a new version are the same images.
 */
export function sourceHash(
  files: readonly SourceFile[],
  extra: Readonly<Record<string, string>> = {},
): string {
  const hash = createHash("sha256");
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const content = typeof file.content === "string" ? Buffer.from(file.content) : file.content;
    hash.update(`${file.path}\0${file.executable ? "x" : "-"}\0${content.length}\0`);
    hash.update(content);
  }
  for (const key of Object.keys(extra).sort()) hash.update(`\0${key}=${extra[key]}`);
  return `sha256:${hash.digest("hex")}`;
}

/** What the registry holds for one architecture's version tag (`<version>-<arch>`). */
export interface PublishedPlatform {
  readonly digest: string;
  /** The source hash label of its image config; absent when it was not built by this stack. */
  readonly sourceHash?: string;
}

/** What the registry holds under a version, read before anything is built. */
export interface PublishedRelease {
  /** Digest of the version's manifest list, when that tag exists. */
  readonly indexDigest?: string;
  /** The image digest that manifest list names for each architecture (attestations left out). */
  readonly indexPlatforms?: Readonly<Partial<Record<Architecture, string>>>;
  readonly platforms: Readonly<Partial<Record<Architecture, PublishedPlatform>>>;
}

export type GuardDecision =
  /** Nothing is published under this version yet: build and push. */
  | { readonly kind: "new" }
  /** The same sources are already published (all or part): push only what is missing. */
  | { readonly kind: "unchanged" }
  | { readonly kind: "conflict"; readonly message: string };

export interface GuardInput {
  /** `<registry>/<org>/<service>`. */
  readonly repository: string;
  readonly version: string;
  readonly architectures: readonly Architecture[];
  /** The hash of the sources this run would build. */
  readonly sourceHash: string;
  readonly published: PublishedRelease;
  /** Every tag of the repository, to name the next free patch version. */
  readonly existingTags: readonly string[];
}

/**
 * Version tags are create-only (docs/rules.md#create-only-versions). Absent -> push; present from
 * the same sources -> nothing to rebuild; present with other content (or pushed out of band) ->
 * refuse before any push.
 */
export function guardVersion(input: GuardInput): GuardDecision {
  const { published } = input;
  const present = input.architectures.filter((arch) => published.platforms[arch] !== undefined);
  if (published.indexDigest === undefined && present.length === 0) return { kind: "new" };

  const next = nextFreePatch(parseVersion(input.version), versionsInTags(input.existingTags));
  const refuse = (tag: string, digest: string, why: string): GuardDecision => ({
    kind: "conflict",
    message:
      `refusing to overwrite ${input.repository}:${tag}: the registry already holds ${digest}, ${why}; ` +
      `version tags are create-only: release these sources as ${next}`,
  });

  for (const arch of present) {
    const platform = published.platforms[arch] as PublishedPlatform;
    const tag = `${input.version}-${arch}`;
    if (platform.sourceHash === undefined) {
      return refuse(
        tag,
        platform.digest,
        "which this stack did not build (it has no source hash label)",
      );
    }
    if (platform.sourceHash !== input.sourceHash) {
      return refuse(
        tag,
        platform.digest,
        `built from other sources (source hash ${platform.sourceHash}, these sources are ${input.sourceHash})`,
      );
    }
  }
  if (published.indexDigest !== undefined) {
    const listed = published.indexPlatforms ?? {};
    const sameImages =
      Object.keys(listed).length === input.architectures.length &&
      input.architectures.every(
        (arch) => listed[arch] !== undefined && listed[arch] === published.platforms[arch]?.digest,
      );
    if (!sameImages) {
      return refuse(
        input.version,
        published.indexDigest,
        `a manifest list of other images than ${input.architectures.map((arch) => `${input.version}-${arch}`).join(" and ")}`,
      );
    }
  }
  return { kind: "unchanged" };
}

/** The images a new version can point at instead of being built. */
export interface Reuse {
  /** The earlier release whose images these are. */
  readonly from: string;
  readonly platforms: Readonly<Partial<Record<Architecture, string>>>;
}

/**
 * A release from unchanged sources is not rebuilt: when the highest release published before
 * this version holds, for every architecture, an image built from the same source hash (and its
 * manifest list names exactly those images), the new version points at them.
 */
export function reusableRelease(input: {
  readonly architectures: readonly Architecture[];
  readonly sourceHash: string;
  readonly previous?: { readonly version: string; readonly published: PublishedRelease };
}): Reuse | undefined {
  const { previous } = input;
  if (previous === undefined || input.architectures.length === 0) return undefined;
  const platforms: Partial<Record<Architecture, string>> = {};
  for (const arch of input.architectures) {
    const platform = previous.published.platforms[arch];
    if (platform === undefined || platform.sourceHash !== input.sourceHash) return undefined;
    const listed = previous.published.indexPlatforms?.[arch];
    if (previous.published.indexDigest !== undefined && listed !== platform.digest)
      return undefined;
    platforms[arch] = platform.digest;
  }
  return { from: previous.version, platforms };
}

/** The highest version below `version` whose manifest list tag the repository holds. */
export function highestReleaseBelow(
  existingTags: readonly string[],
  version: string,
): string | undefined {
  const current = parseVersion(version);
  const tags = new Set(existingTags);
  return versionsInTags(existingTags)
    .filter((other) => tags.has(other.tag) && compareVersions(other, current) < 0)
    .sort(compareVersions)
    .at(-1)?.tag;
}
