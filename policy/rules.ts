/**
 * The rules of the BattleScope policy pack, as pure functions over plain resource properties.
 *
 * Nothing here imports `@pulumi/*`: the pack (index.ts) turns the engine's properties into plain
 * values with {@link toPlain} and reports what these functions return; the unit tests call them
 * directly with tables. A value the engine does not know yet (preview, before a digest exists) is
 * {@link UNKNOWN}: a rule skips what it cannot see, and `pulumi up` checks it again once known.
 */
import {
  ARCHITECTURES,
  DIGEST,
  lengthProblems,
  MAX_TAG_LENGTH,
  PLATFORMS,
  parseReference,
  RESOURCE_TYPES,
  repositoryNameProblem,
  SHORT_DESCRIPTION_LIMIT,
} from "./vocabulary";

/** A value not known during preview. */
export const UNKNOWN: unique symbol = Symbol.for("battlescope.policy.unknown");

export const PULL_SECRET_NAME = "docker-hub-creds";
export const PULL_POLICY = "IfNotPresent";

/** Stacks whose releases must be signed and attested (docs/rules.md#signed-releases). */
export const SIGNED_STACKS = ["prod"] as const;

/** One resource as a rule sees it: plain properties, unknowns as {@link UNKNOWN}. */
export interface RuleResource {
  readonly type: string;
  readonly name: string;
  readonly urn?: string;
  readonly props: unknown;
}

export interface Violation {
  readonly message: string;
  /** The resource the violation is about, for stack rules. */
  readonly urn?: string;
}

interface RuleBase {
  /** The policy name shown by `pulumi preview` (letters, digits, `-`). */
  readonly name: string;
  readonly description: string;
}

export interface ResourceRule extends RuleBase {
  readonly kind: "resource";
  /** Resource types the rule applies to. */
  readonly types: readonly string[];
  check(resource: RuleResource): Violation[];
}

export interface StackRule extends RuleBase {
  readonly kind: "stack";
  check(resources: readonly RuleResource[]): Violation[];
}

export type Rule = ResourceRule | StackRule;

/**
 * A deep plain copy of a value read through accessors that may throw for unknown values (the
 * policy SDK's proxies): every value whose read throws an error `isUnknownError` accepts becomes
 * {@link UNKNOWN}; other errors propagate.
 */
export function toPlain(value: unknown, isUnknownError: (error: unknown) => boolean): unknown {
  if (value === null || typeof value !== "object") return value;
  const read = (container: Record<string | number, unknown>, key: string | number): unknown => {
    try {
      return toPlain(container[key], isUnknownError);
    } catch (error) {
      if (isUnknownError(error)) return UNKNOWN;
      throw error;
    }
  };
  const source = value as Record<string | number, unknown>;
  if (Array.isArray(value)) {
    return Array.from({ length: value.length }, (_, i) => read(source, i));
  }
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = read(source, key);
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Small readers over plain values

type Plain = Record<string, unknown>;

function isObject(value: unknown): value is Plain {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === UNKNOWN) return UNKNOWN;
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

function quote(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

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

// ---------------------------------------------------------------------------------------------
// Deployments

const PINNED_FORM = "<registry>/<org>/<service>:<version>@sha256:<manifest list digest>";

/** Why a Deployment image is not pinned to a version and a digest, or undefined when it is. */
export function pinnedImageProblem(image: string): string | undefined {
  const { name, tag, digest } = parseReference(image);
  const nameProblem = repositoryNameProblem(name);
  if (nameProblem !== undefined) return nameProblem;
  if (tag === undefined) {
    return digest === undefined
      ? `${quote(image)} is untagged (it means latest)`
      : `${quote(image)} has a digest but no version tag, so nobody can tell which release runs`;
  }
  if (tag === "latest" || splitArch(tag).base === "latest") {
    return `${quote(image)} uses the floating tag ${quote(tag)}`;
  }
  if (!isVersion(tag)) {
    return FLOATING.test(splitArch(tag).base)
      ? `${quote(image)} uses the floating tag ${quote(tag)}, not a release version`
      : `${quote(image)} has the tag ${quote(tag)}, not a release version (vX.Y.Z, vX.Y.Z-<prerelease>, vX.Y.Z-dev-<sha>)`;
  }
  if (digest === undefined) return `${quote(image)} is not pinned by digest`;
  if (!DIGEST.test(digest)) {
    return `${quote(image)} has the digest ${quote(digest)}, not sha256:<64 hex characters>`;
  }
  return undefined;
}

interface Container {
  readonly kind: "container" | "init container";
  readonly name: string;
  readonly spec: Plain;
}

/** The pod template's containers and init containers, or UNKNOWN when they are not known. */
function podContainers(
  deployment: unknown,
): { pod: unknown; containers: Container[] } | typeof UNKNOWN {
  const pod = field(deployment, "spec", "template", "spec");
  if (pod === UNKNOWN) return UNKNOWN;
  const containers: Container[] = [];
  for (const [key, kind] of [
    ["containers", "container"],
    ["initContainers", "init container"],
  ] as const) {
    const list = field(pod, key);
    if (list === UNKNOWN) return UNKNOWN;
    if (!Array.isArray(list)) continue;
    list.forEach((entry, i) => {
      if (!isObject(entry)) return;
      const name = typeof entry.name === "string" ? entry.name : `#${i}`;
      containers.push({ kind, name, spec: entry });
    });
  }
  return { pod, containers };
}

function deploymentLabel(resource: RuleResource): string {
  return `Deployment ${quote(resource.name)}`;
}

function forEachContainer(
  resource: RuleResource,
  check: (container: Container, pod: unknown) => string | undefined,
): Violation[] {
  const read = podContainers(resource.props);
  if (read === UNKNOWN) return [];
  const violations: Violation[] = [];
  for (const container of read.containers) {
    const problem = check(container, read.pod);
    if (problem !== undefined) {
      violations.push({
        message: `${deploymentLabel(resource)}, ${container.kind} ${quote(container.name)}: ${problem}`,
      });
    }
  }
  return violations;
}

export function checkPinnedImages(resource: RuleResource): Violation[] {
  return forEachContainer(resource, ({ spec }) => {
    const image = spec.image;
    if (image === UNKNOWN) return undefined; // the digest exists once the manifest list is pushed
    if (typeof image !== "string" || image === "") {
      return `no image; fix: set image to ${PINNED_FORM}`;
    }
    const problem = pinnedImageProblem(image);
    return problem === undefined
      ? undefined
      : `${problem}; fix: set image to ${PINNED_FORM} (the release's pinned ref), never latest or an untagged name`;
  });
}

export function checkPullPolicy(resource: RuleResource): Violation[] {
  return forEachContainer(resource, ({ spec }) => {
    const policy = spec.imagePullPolicy;
    if (policy === UNKNOWN || policy === PULL_POLICY) return undefined;
    const found = policy === undefined ? "is not set" : `is ${quote(policy)}`;
    return `imagePullPolicy ${found}; fix: set imagePullPolicy: ${PULL_POLICY} (a pinned digest never changes, so the node's copy is the right one)`;
  });
}

export function checkPullSecret(resource: RuleResource): Violation[] {
  const secrets = field(resource.props, "spec", "template", "spec", "imagePullSecrets");
  if (secrets === UNKNOWN) return [];
  const names = Array.isArray(secrets) ? secrets.map((secret) => field(secret, "name")) : [];
  if (names.includes(UNKNOWN) || names.includes(PULL_SECRET_NAME)) return [];
  const found =
    names.length === 0
      ? "has no imagePullSecrets"
      : `pulls with ${names.map(quote).join(", ")}, not ${quote(PULL_SECRET_NAME)}`;
  return [
    {
      message: `${deploymentLabel(resource)} ${found}; fix: add imagePullSecrets: [{ name: ${quote(PULL_SECRET_NAME)} }] to spec.template.spec (the registry-credentials Secret)`,
    },
  ];
}

/** The value a container runs with: its own securityContext, else the pod's. */
function effective(container: Plain, pod: unknown, key: string): { value: unknown; at: string } {
  const own = field(container, "securityContext", key);
  if (own !== undefined) return { value: own, at: "container" };
  return { value: field(pod, "securityContext", key), at: "pod" };
}

export function checkNonRoot(resource: RuleResource): Violation[] {
  return forEachContainer(resource, ({ spec }, pod) => {
    const user = effective(spec, pod, "runAsUser");
    const nonRoot = effective(spec, pod, "runAsNonRoot");
    if (user.value === UNKNOWN || nonRoot.value === UNKNOWN) return undefined;
    const fix =
      "fix: set securityContext.runAsNonRoot: true and a non-zero runAsUser (10001, the images' USER) on the pod or the container";
    if (user.value === 0) return `runs as root (runAsUser: 0 at ${user.at} level); ${fix}`;
    const numericUser = typeof user.value === "number";
    if (nonRoot.value === true || numericUser) return undefined;
    const found =
      nonRoot.value === false
        ? `runAsNonRoot is false (${nonRoot.at} level) and no runAsUser is set`
        : "neither runAsNonRoot: true nor a non-zero runAsUser is set";
    return `may run as root: ${found}; ${fix}`;
  });
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

function stringList(value: unknown): string[] | typeof UNKNOWN {
  if (value === UNKNOWN) return UNKNOWN;
  if (!Array.isArray(value)) return [];
  if (value.includes(UNKNOWN)) return UNKNOWN;
  return value.filter((entry): entry is string => typeof entry === "string");
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

// ---------------------------------------------------------------------------------------------
// Docker Hub

export function checkShortDescription(resource: RuleResource): Violation[] {
  const description = field(resource.props, "description");
  if (typeof description !== "string") return [];
  const [problem] = lengthProblems({ description });
  if (problem === undefined) return [];
  const namespace = field(resource.props, "namespace");
  const repository = field(resource.props, "repository");
  const fullName =
    typeof namespace === "string" && typeof repository === "string"
      ? ` ${namespace}/${repository}`
      : "";
  return [
    {
      message: `Docker Hub repository${fullName} (${quote(resource.name)}): ${problem.message}; fix: shorten the service's one-line description in services/catalog.ts ("BattleScope V3 - <Service Name> - <one line>" within ${SHORT_DESCRIPTION_LIMIT} bytes)`,
    },
  ];
}

/** The stack a resource belongs to, from its URN (`urn:pulumi:<stack>::<project>::…`). */
export function stackOfUrn(urn: string | undefined): string | undefined {
  return urn === undefined ? undefined : /^urn:pulumi:([^:]+)::/.exec(urn)?.[1];
}

/** On a signing stack, every version a stack writes has its signature and attestations. */
export function checkSignedReleases(resources: readonly RuleResource[]): Violation[] {
  const stack = resources.map((resource) => stackOfUrn(resource.urn)).find((name) => name);
  if (stack === undefined || !(SIGNED_STACKS as readonly string[]).includes(stack)) return [];
  const key = (props: unknown) => {
    const { registry, repository } = (props ?? {}) as { registry?: unknown; repository?: unknown };
    return typeof registry === "string" && typeof repository === "string"
      ? `${registry}/${repository}`
      : undefined;
  };
  const attested = new Set(
    resources.filter((r) => r.type === RESOURCE_TYPES.releaseAttestations).map((r) => key(r.props)),
  );
  return resources
    .filter(
      (r) =>
        r.type === RESOURCE_TYPES.registryTagSet &&
        (r.props as { createOnly?: unknown } | undefined)?.createOnly === true,
    )
    .flatMap((r) => {
      const repository = key(r.props);
      if (repository === undefined || attested.has(repository)) return [];
      return [
        {
          message: `stack ${stack} releases ${repository} unsigned (${quote(r.name)}): its releases are signed, with an SBOM and provenance per image; fix: set battlescope:sign to true with the secret config battlescope:cosignKey and battlescope:cosignPassword (the private half of keys/release.pub)`,
          ...(r.urn === undefined ? {} : { urn: r.urn }),
        },
      ];
    });
}

// ---------------------------------------------------------------------------------------------
// The pack's policies, in the order `pulumi preview` lists them

export const RULES: readonly Rule[] = [
  {
    kind: "resource",
    name: "deployment-image-pinned",
    description:
      "Deployment images are pinned to a version and a digest: <registry>/<org>/<service>:<version>@sha256:<digest>, never latest, never untagged.",
    types: [RESOURCE_TYPES.deployment],
    check: checkPinnedImages,
  },
  {
    kind: "resource",
    name: "deployment-pull-policy",
    description: "Deployment containers pull with imagePullPolicy: IfNotPresent.",
    types: [RESOURCE_TYPES.deployment],
    check: checkPullPolicy,
  },
  {
    kind: "resource",
    name: "deployment-pull-secret",
    description: `Deployments pull with the ${PULL_SECRET_NAME} image pull secret.`,
    types: [RESOURCE_TYPES.deployment],
    check: checkPullSecret,
  },
  {
    kind: "resource",
    name: "containers-non-root",
    description:
      "Deployment containers do not run as root: runAsNonRoot true or a non-zero runAsUser, on the pod or the container.",
    types: [RESOURCE_TYPES.deployment],
    check: checkNonRoot,
  },
  {
    kind: "stack",
    name: "images-both-platforms",
    description: "Every image is built for both linux/amd64 and linux/arm64.",
    check: checkBothPlatforms,
  },
  {
    kind: "resource",
    name: "image-names",
    description:
      "Image, manifest list and registry tags are named <registry>/<org>/<service>:<version>[-<arch>].",
    types: [RESOURCE_TYPES.image, RESOURCE_TYPES.index, RESOURCE_TYPES.registryTagSet],
    check: checkImageNames,
  },
  {
    kind: "resource",
    name: "docker-hub-short-description",
    description: `Docker Hub short descriptions are at most ${SHORT_DESCRIPTION_LIMIT} UTF-8 bytes.`,
    types: [RESOURCE_TYPES.hubRepository],
    check: checkShortDescription,
  },
  {
    kind: "stack",
    name: "releases-signed",
    description: `Releases of the ${SIGNED_STACKS.join(", ")} stack are signed with cosign and carry an SBOM and provenance per image.`,
    check: checkSignedReleases,
  },
];
