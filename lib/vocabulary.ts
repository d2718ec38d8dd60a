/**
 * The project's vocabulary: the names, defaults, grammars and limits that several layers share
 * (the stack config, the components, the clients, the command line and the policy pack).
 * Everything here is a plain value or a pure function, written once.
 *
 * The policy pack is a separate package and cannot import this file: it holds a verbatim copy
 * (policy/vocabulary.ts), which a unit test keeps equal byte for byte. This file therefore
 * imports nothing and uses nothing beyond ES2022: no Buffer, no TextEncoder, no `node:` module.
 */

// ---------------------------------------------------------------------------------------------
// Registries, organizations and namespaces

/** The registry name that means Docker Hub (pushes go to registry-1.docker.io, pages to the Hub). */
export const DOCKER_HUB_REGISTRY = "docker.io";
/** Where the Docker Hub API lives (repositories, descriptions, tags). */
export const DEFAULT_HUB_URL = "https://hub.docker.com";
/**
 * The registry organization the images are published under: on Docker Hub the organization
 * (the Hub API calls it the repository's namespace), elsewhere the first path component.
 */
export const DEFAULT_ORGANIZATION = "battlescope";
/** The Kubernetes namespace the Deployments run in. */
export const DEFAULT_KUBERNETES_NAMESPACE = "battlescope";

// ---------------------------------------------------------------------------------------------
// Image references: `<registry>/<organization>/<service>:<tag>@<digest>`

/**
 * A registry host with an optional port: lowercase DNS labels joined by dots (`docker.io`,
 * `registry.example.org:443`, `127.0.0.1:5000`), or `localhost`, or one label with a port
 * (`registry:5000`). One label without a port is not a host: Docker reads `myregistry/org/app`
 * as the Docker Hub repository `myregistry/org/app`.
 */
export const REGISTRY_HOST =
  /^(?:(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+|localhost)(?::[0-9]{1,5})?$|^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?:[0-9]{1,5}$/;
export const REGISTRY_HOST_FORM =
  "a registry host with an optional port, such as docker.io or 127.0.0.1:5000";

/** An organization or repository name: lowercase letters and digits, single `.`, `_` or `-` between. */
export const PATH_COMPONENT = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
export const PATH_COMPONENT_FORM =
  "lowercase letters and digits, separated by single '.', '_' or '-'";

/** The longest tag Docker accepts (distribution/reference). */
export const MAX_TAG_LENGTH = 128;

/** A content digest as registries name manifests and blobs. */
export const DIGEST = /^sha256:[0-9a-f]{64}$/;

export interface ImageReference {
  /** Everything before the tag and digest: `<registry>/<organization>/<service>`. */
  readonly name: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** `<name>[:<tag>][@<digest>]` split; a colon before the last slash is a registry port. */
export function parseReference(reference: string): ImageReference {
  const at = reference.indexOf("@");
  const beforeDigest = at === -1 ? reference : reference.slice(0, at);
  const digest = at === -1 ? undefined : reference.slice(at + 1);
  const slash = beforeDigest.lastIndexOf("/");
  const colon = beforeDigest.lastIndexOf(":");
  const hasTag = colon > slash;
  return {
    name: hasTag ? beforeDigest.slice(0, colon) : beforeDigest,
    ...(hasTag ? { tag: beforeDigest.slice(colon + 1) } : {}),
    ...(digest === undefined ? {} : { digest }),
  };
}

/** Why `<registry>/<organization>/<service>` is not one, or undefined when it is. */
export function repositoryNameProblem(name: string): string | undefined {
  const quote = JSON.stringify;
  const parts = name.split("/");
  if (parts.length !== 3) {
    return `${quote(name)} has ${parts.length} path component${parts.length === 1 ? "" : "s"}; an image name is <registry>/<org>/<service>, all three spelled out (e.g. ${DOCKER_HUB_REGISTRY}/${DEFAULT_ORGANIZATION}/frontend)`;
  }
  const [registry, organization, service] = parts as [string, string, string];
  if (!REGISTRY_HOST.test(registry)) {
    return `${quote(registry)} in ${quote(name)} is not a registry host: an image name is <registry>/<org>/<service>, starting with a host such as ${DOCKER_HUB_REGISTRY} or 127.0.0.1:5000`;
  }
  for (const [what, value] of [
    ["organization", organization],
    ["service", service],
  ] as const) {
    if (!PATH_COMPONENT.test(value)) {
      return `the ${what} ${quote(value)} in ${quote(name)} is not a repository name: use lowercase letters and digits separated by ".", "_" or "-"`;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Platforms

/** The two architectures every image is built for, in the order tags are listed. */
export const ARCHITECTURES = ["amd64", "arm64"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export const PLATFORMS = ["linux/amd64", "linux/arm64"] as const;
export type Platform = (typeof PLATFORMS)[number];

/** `linux/arm64` -> `arm64`. */
export function platformArchitecture(platform: Platform): Architecture {
  return platform.slice("linux/".length) as Architecture;
}

// ---------------------------------------------------------------------------------------------
// Pulumi resource types

/** The types of the project's component resources, as the engine names them. */
export const COMPONENT_TYPES = {
  serviceRelease: "battlescope:release:ServiceRelease",
  multiArchImage: "battlescope:images:MultiArchImage",
  hubRepository: "battlescope:hub:DockerHubRepository",
  serviceDeployment: "battlescope:kubernetes:ServiceDeployment",
  registryCredentials: "battlescope:kubernetes:RegistryCredentials",
} as const;

/** The types of the resources the program registers and the policy pack looks at. */
export const RESOURCE_TYPES = {
  deployment: "kubernetes:apps/v1:Deployment",
  image: "docker-build:index:Image",
  index: "docker-build:index:Index",
  hubRepository: "pulumi-nodejs:dynamic/battlescope:DockerHubRepository",
  registryTagSet: "pulumi-nodejs:dynamic/battlescope:RegistryTagSet",
  releaseAttestations: "pulumi-nodejs:dynamic/battlescope:ReleaseAttestations",
  imageScan: "pulumi-nodejs:dynamic/battlescope:ImageScan",
} as const;

// ---------------------------------------------------------------------------------------------
// Docker Hub description limits

/*
 * Counted the way the Hub counts them: in UTF-8 bytes. The Hub's API description says
 * `maxLength` 100 and 25,000, but the Hub is observed to accept 25 emoji (100 bytes) as a short
 * description and refuse 26 (peter-evans/dockerhub-description #142), and to cut full
 * descriptions at 25,000 bytes (docker-library/docs #2465). Counting characters or UTF-16 units
 * lets through texts the Hub refuses.
 */

export const SHORT_DESCRIPTION_LIMIT = 100;
export const FULL_DESCRIPTION_LIMIT = 25_000;

export type DescriptionField = "description" | "fullDescription";

export const DESCRIPTION_LIMITS: Readonly<Record<DescriptionField, number>> = {
  description: SHORT_DESCRIPTION_LIMIT,
  fullDescription: FULL_DESCRIPTION_LIMIT,
};

const LABELS: Readonly<Record<DescriptionField, string>> = {
  description: "short description",
  fullDescription: "full description",
};

/** The length of a text in UTF-8 bytes; a lone surrogate counts 3, as its U+FFFD replacement. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (const character of text) {
    const point = character.codePointAt(0) ?? 0;
    bytes += point < 0x80 ? 1 : point < 0x800 ? 2 : point < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** 25000 -> "25,000", without relying on the runtime's locale data. */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** "short description is 104 bytes, Docker Hub allows 100 (UTF-8 bytes, not characters)". */
export function lengthMessage(field: DescriptionField, bytes: number): string {
  return `${LABELS[field]} is ${formatCount(bytes)} bytes, Docker Hub allows ${formatCount(DESCRIPTION_LIMITS[field])} (UTF-8 bytes, not characters)`;
}

export interface LengthProblem {
  readonly field: DescriptionField;
  readonly bytes: number;
  readonly limit: number;
  /** {@link lengthMessage}, without the repository's name. */
  readonly message: string;
}

/** Every text over its limit, short description first; empty when both fit. */
export function lengthProblems(texts: {
  readonly description?: string | undefined;
  readonly fullDescription?: string | undefined;
}): LengthProblem[] {
  const problems: LengthProblem[] = [];
  for (const field of ["description", "fullDescription"] as const) {
    const text = texts[field];
    if (text === undefined) continue;
    const bytes = utf8Length(text);
    const limit = DESCRIPTION_LIMITS[field];
    if (bytes > limit) problems.push({ field, bytes, limit, message: lengthMessage(field, bytes) });
  }
  return problems;
}
