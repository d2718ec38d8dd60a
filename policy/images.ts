/**
 * Image references, tags and the images a release builds: the tag grammar
 * (`<registry>/<org>/<service>:<version>[-<arch>]`), and the rules on image names and platforms.
 */
import { field, quote, type RuleResource, stringList, UNKNOWN, type Violation } from "./plain";
import {
  ARCHITECTURES,
  DIGEST,
  MAX_TAG_LENGTH,
  PLATFORMS,
  parseReference,
  RESOURCE_TYPES,
  repositoryNameProblem,
} from "./vocabulary";

// ---------------------------------------------------------------------------------------------
// Image references: `<registry>/<org>/<service>:<tag>@<digest>`

const NUMBER = "(?:0|[1-9][0-9]*)";
const PRERELEASE_ID = "(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)";
const VERSION = new RegExp(
  `^v${NUMBER}\\.${NUMBER}\\.${NUMBER}(?:-(${PRERELEASE_ID}(?:\\.${PRERELEASE_ID})*))?$`,
);
const FLOATING = new RegExp(`^(?:v${NUMBER}(?:\\.${NUMBER})?|latest)$`);
const DEV_PRERELEASE = /^dev-[0-9a-f]{7,40}$/;
const ACCEPTED_TAGS =
  "<version>[-<arch>] with <version> vX.Y.Z, vX.Y.Z-<prerelease>, vX.Y.Z-dev-<git sha>, or the floating vX.Y, vX, latest, and <arch> amd64 or arm64";

/** A release version (`vX.Y.Z`, `vX.Y.Z-<prerelease>`, `vX.Y.Z-dev-<sha>`), never floating. */
export function isVersion(tag: string): boolean {
  const match = VERSION.exec(tag);
  if (match === null) return false;
  const prerelease = match[1];
  if (prerelease === undefined) return true;
  if (prerelease === "dev" || prerelease.startsWith("dev-")) return DEV_PRERELEASE.test(prerelease);
  return splitArch(tag).arch === undefined;
}

/** `v3.0.1-amd64` is `v3.0.1` for amd64; `v3.1.0-rc.1` has no architecture. */
export function splitArch(tag: string): { base: string; arch?: string } {
  for (const arch of ARCHITECTURES) {
    if (tag.endsWith(`-${arch}`)) return { base: tag.slice(0, -arch.length - 1), arch };
  }
  return { base: tag };
}

/** Why a tag is not `<version>[-<arch>]`, or undefined when it is. */
export function tagProblem(tag: string): string | undefined {
  if (tag.length > MAX_TAG_LENGTH) {
    return `the tag ${quote(tag)} is ${tag.length} characters; Docker allows ${MAX_TAG_LENGTH}`;
  }
  const { base } = splitArch(tag);
  if (isVersion(base) || FLOATING.test(base)) return undefined;
  return `the tag ${quote(tag)} is not ${ACCEPTED_TAGS}`;
}

/** Why a full reference is not `<registry>/<org>/<service>:<version>[-<arch>]`. */
export function imageNameProblem(
  reference: string,
  options: { tagRequired: boolean },
): string | undefined {
  const { name, tag, digest } = parseReference(reference);
  const nameProblem = repositoryNameProblem(name);
  if (nameProblem !== undefined) return nameProblem;
  if (digest !== undefined && !DIGEST.test(digest)) {
    return `the digest ${quote(digest)} in ${quote(reference)} is not sha256:<64 hex characters>`;
  }
  if (tag === undefined) {
    return options.tagRequired
      ? `${quote(reference)} has no tag; it must be <registry>/<org>/<service>:<version>[-<arch>]`
      : undefined;
  }
  return tagProblem(tag);
}

/** A floating tag without its architecture: `vX.Y`, `vX` or `latest`. */
export function isFloating(base: string): boolean {
  return FLOATING.test(base);
}

// ---------------------------------------------------------------------------------------------
// Images, manifest lists and tags

/** Repository names an Image exports to: `name=` of raw exports, `names` of image/registry exports. */
function exportNames(props: unknown): string[] {
  const exports = field(props, "exports");
  if (!Array.isArray(exports)) return [];
  const names: string[] = [];
  for (const entry of exports) {
    const raw = field(entry, "raw");
    if (typeof raw === "string") {
      for (const part of raw.split(",")) {
        const [key, value] = part.split("=", 2);
        if (key?.trim() === "name" && value !== undefined && value !== "") names.push(value.trim());
      }
    }
    for (const kind of ["image", "registry"]) {
      const list = field(entry, kind, "names");
      if (Array.isArray(list)) {
        for (const name of list) if (typeof name === "string") names.push(name);
      }
    }
  }
  return names;
}

function nameFix(example: string): string {
  return `fix: name images <registry>/<org>/<service>:<version>[-<arch>] (e.g. ${example})`;
}

export function checkImageNames(resource: RuleResource): Violation[] {
  const violations: Violation[] = [];
  const report = (what: string, problem: string, example: string) =>
    violations.push({ message: `${what}: ${problem}; ${nameFix(example)}` });

  if (resource.type === RESOURCE_TYPES.image) {
    const label = `Image ${quote(resource.name)}`;
    const platforms = stringList(field(resource.props, "platforms"));
    const arches =
      platforms === UNKNOWN ? undefined : platforms.map((platform) => platform.split("/")[1]);
    const tags = stringList(field(resource.props, "tags"));
    for (const tag of tags === UNKNOWN ? [] : tags) {
      const problem = imageNameProblem(tag, { tagRequired: true });
      if (problem !== undefined) {
        report(
          `${label} tag ${quote(tag)}`,
          problem,
          "docker.io/battlescope/frontend:v3.0.1-amd64",
        );
        continue;
      }
      const { arch } = splitArch(parseReference(tag).tag ?? "");
      if (arches === undefined || arches.length === 0) continue;
      if (arches.length === 1 && arch !== arches[0]) {
        report(
          `${label} tag ${quote(tag)}`,
          `the image is built for ${platforms === UNKNOWN ? "" : platforms[0]} only, so its tags end in -${arches[0]}`,
          `docker.io/battlescope/frontend:v3.0.1-${arches[0]}`,
        );
      } else if (arches.length > 1 && arch !== undefined) {
        report(
          `${label} tag ${quote(tag)}`,
          `the image holds ${arches.length} platforms, so its tags carry no -${arch} suffix`,
          "docker.io/battlescope/frontend:v3.0.1",
        );
      }
    }
    for (const name of exportNames(resource.props)) {
      const problem = imageNameProblem(name, { tagRequired: false });
      if (problem !== undefined) {
        report(`${label} export name ${quote(name)}`, problem, "docker.io/battlescope/frontend");
      }
    }
  } else if (resource.type === RESOURCE_TYPES.index) {
    const tag = field(resource.props, "tag");
    if (typeof tag === "string") {
      const label = `manifest list ${quote(resource.name)} tag ${quote(tag)}`;
      const problem = imageNameProblem(tag, { tagRequired: true });
      const arch = splitArch(parseReference(tag).tag ?? "").arch;
      if (problem !== undefined) {
        report(label, problem, "docker.io/battlescope/frontend:v3.0.1");
      } else if (arch !== undefined) {
        report(
          label,
          `a manifest list covers every platform, so its tag carries no -${arch} suffix`,
          "docker.io/battlescope/frontend:v3.0.1",
        );
      }
    }
  } else if (resource.type === RESOURCE_TYPES.registryTagSet) {
    const [registry, repository] = ["registry", "repository"].map((key) =>
      field(resource.props, key),
    );
    const targets = field(resource.props, "tags");
    if (typeof registry === "string" && typeof repository === "string" && Array.isArray(targets)) {
      for (const target of targets) {
        const tag = field(target, "tag");
        if (typeof tag !== "string") continue;
        const reference = `${registry}/${repository}:${tag}`;
        const problem = imageNameProblem(reference, { tagRequired: true });
        if (problem !== undefined) {
          report(
            `registry tag ${quote(resource.name)} (${reference})`,
            problem,
            "docker.io/battlescope/frontend:v3.0-amd64",
          );
        }
      }
    }
  }
  return violations;
}

/** Which image an Image resource builds: its repository, else its name without the arch. */
function imageKey(resource: RuleResource): string {
  const tags = stringList(field(resource.props, "tags"));
  const names = [...(tags === UNKNOWN ? [] : tags), ...exportNames(resource.props)];
  for (const reference of names) {
    const { name } = parseReference(reference);
    if (repositoryNameProblem(name) === undefined) return name;
  }
  return splitArch(resource.name).base;
}

export function checkBothPlatforms(resources: readonly RuleResource[]): Violation[] {
  const images = new Map<
    string,
    { built: Set<string>; resources: RuleResource[]; unknown: boolean }
  >();
  for (const resource of resources) {
    if (resource.type !== RESOURCE_TYPES.image) continue;
    const key = imageKey(resource);
    const entry = images.get(key) ?? { built: new Set<string>(), resources: [], unknown: false };
    images.set(key, entry);
    entry.resources.push(resource);
    const platforms = stringList(field(resource.props, "platforms"));
    if (platforms === UNKNOWN) entry.unknown = true;
    else for (const platform of platforms) entry.built.add(platform);
  }
  const violations: Violation[] = [];
  for (const [key, { built, resources: declared, unknown }] of images) {
    if (unknown) continue;
    const missing = PLATFORMS.filter((platform) => !built.has(platform));
    if (missing.length === 0) continue;
    const builds =
      built.size === 0
        ? "no platform (the builder's default)"
        : `${[...built].sort().join(", ")} only`;
    const names = declared.map((resource) => quote(resource.name)).join(", ");
    violations.push({
      message: `image ${key} (Image ${names}) is built for ${builds}, missing ${missing.join(" and ")}; fix: build every image for ${PLATFORMS.join(" and ")}, one Image per platform (leave battlescope:platforms unset, or list both)`,
      ...(declared[0]?.urn === undefined ? {} : { urn: declared[0].urn }),
    });
  }
  return violations;
}
