import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { shortDescription } from "../../lib/readme";
import { planTags } from "../../lib/tagPlan";
import { InvalidVersionError, tryParseVersion } from "../../lib/versions";
import { parseReference, RESOURCE_TYPES } from "../../lib/vocabulary";
import {
  checkBothPlatforms,
  checkImageNames,
  checkNonRoot,
  checkPinnedImages,
  checkPullPolicy,
  checkPullSecret,
  checkShortDescription,
  imageNameProblem,
  isVersion,
  pinnedImageProblem,
  RULES,
  type RuleResource,
  tagProblem,
  toPlain,
  UNKNOWN,
} from "../../policy/rules";
import { SERVICES } from "../../services/catalog";

const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;
const PINNED = `docker.io/battlescope/frontend:v3.0.1@${DIGEST}`;
const PINNED_FORM = "<registry>/<org>/<service>:<version>@sha256:<manifest list digest>";
const NON_ROOT_FIX =
  "fix: set securityContext.runAsNonRoot: true and a non-zero runAsUser (10001, the images' USER) on the pod or the container";

const messages = (violations: ReadonlyArray<{ message: string }>) =>
  violations.map((violation) => violation.message);

// ---------------------------------------------------------------------------------------------
// Deployments as the release renders them, and ways to break them

interface ContainerSpec {
  name: string;
  image?: unknown;
  imagePullPolicy?: unknown;
  securityContext?: Record<string, unknown>;
}

function deployment(
  options: {
    containers?: ContainerSpec[];
    initContainers?: ContainerSpec[];
    podSecurity?: Record<string, unknown> | null;
    pullSecrets?: unknown;
  } = {},
): RuleResource {
  const pod: Record<string, unknown> = {
    containers: options.containers ?? [
      { name: "frontend", image: PINNED, imagePullPolicy: "IfNotPresent" },
    ],
    imagePullSecrets:
      options.pullSecrets === undefined ? [{ name: "docker-hub-creds" }] : options.pullSecrets,
  };
  if (options.initContainers !== undefined) pod.initContainers = options.initContainers;
  if (options.podSecurity !== null) {
    pod.securityContext = options.podSecurity ?? { runAsNonRoot: true, runAsUser: 10001 };
  }
  if (pod.imagePullSecrets === null) delete pod.imagePullSecrets;
  return {
    type: RESOURCE_TYPES.deployment,
    name: "frontend",
    props: { metadata: { name: "frontend" }, spec: { template: { spec: pod } } },
  };
}

const container = (overrides: Partial<ContainerSpec> = {}): ContainerSpec => ({
  name: "frontend",
  image: PINNED,
  imagePullPolicy: "IfNotPresent",
  ...overrides,
});

describe("image references", () => {
  it.each([
    { reference: PINNED, name: "docker.io/battlescope/frontend", tag: "v3.0.1", digest: DIGEST },
    {
      reference: "127.0.0.1:5000/battlescope/init:v3.0.0-amd64",
      name: "127.0.0.1:5000/battlescope/init",
      tag: "v3.0.0-amd64",
    },
    { reference: "127.0.0.1:5000/battlescope/init", name: "127.0.0.1:5000/battlescope/init" },
    {
      reference: `localhost:5000/a/b@${DIGEST}`,
      name: "localhost:5000/a/b",
      digest: DIGEST,
    },
  ])("parses $reference", ({ reference, ...expected }) => {
    expect(parseReference(reference)).toEqual(expected);
  });
});

describe("versions agree with the release's own version grammar", () => {
  it.each([
    "v3.0.1",
    "v0.0.0",
    "v3.10.12",
    "v3.1.0-rc.1",
    "v4.0.0-beta.2",
    "v3.0.2-dev-a1b2c3d",
    "3.0.1",
    "v3.0",
    "v3",
    "latest",
    "v03.0.0",
    "v3.0.0.1",
    "v3.0.0-dev-",
    "v3.0.0-dev-xyz1234",
    "v3.0.0-amd64",
    "v3.0.0-rc.1-arm64",
    "v3.0.0+build.1",
    "",
  ])("%s", (tag) => {
    expect(isVersion(tag)).toBe(!(tryParseVersion(tag) instanceof InvalidVersionError));
  });

  it("for generated version-like strings", () => {
    const number = fc.oneof(fc.nat({ max: 20 }).map(String), fc.constantFrom("01", "00", "x"));
    const prerelease = fc.oneof(
      fc.constant(""),
      fc.constantFrom("-rc.1", "-beta.2", "-dev-a1b2c3d", "-dev-", "-dev", "-amd64", "-rc.01"),
      fc.stringMatching(/^-[0-9a-z.-]{1,12}$/),
    );
    fc.assert(
      fc.property(
        fc.constantFrom("v", "", "V"),
        number,
        number,
        number,
        prerelease,
        (prefix, major, minor, patch, pre) => {
          const tag = `${prefix}${major}.${minor}.${patch}${pre}`;
          expect(isVersion(tag), tag).toBe(!(tryParseVersion(tag) instanceof InvalidVersionError));
        },
      ),
    );
  });
});

describe("tags and image names: <registry>/<org>/<service>:<version>[-<arch>]", () => {
  const ACCEPTED =
    "<version>[-<arch>] with <version> vX.Y.Z, vX.Y.Z-<prerelease>, vX.Y.Z-dev-<git sha>, or the floating vX.Y, vX, latest, and <arch> amd64 or arm64";

  it.each([
    "v3.0.1",
    "v3.0.1-amd64",
    "v3.0.1-arm64",
    "v3.1.0-rc.1",
    "v3.1.0-rc.1-amd64",
    "v3.0.2-dev-a1b2c3d-arm64",
    "v3.0",
    "v3-amd64",
    "latest",
    "latest-arm64",
  ])("accepts the tag %s", (tag) => {
    expect(tagProblem(tag)).toBeUndefined();
  });

  it.each([
    { tag: "3.0.1" },
    { tag: "stable" },
    { tag: "v3.0.1_amd64" },
    { tag: "build-42" },
    { tag: "main" },
    { tag: "latest-amd64-arm64" },
  ])("refuses the tag $tag", ({ tag }) => {
    expect(tagProblem(tag)).toBe(`the tag "${tag}" is not ${ACCEPTED}`);
  });

  it("refuses a tag longer than Docker allows", () => {
    const tag = `v3.0.1-rc.${"1".repeat(130)}`;
    expect(tagProblem(tag)).toBe(`the tag "${tag}" is ${tag.length} characters; Docker allows 128`);
  });

  it.each([
    { reference: "docker.io/battlescope/frontend:v3.0.1", tagRequired: true },
    { reference: "127.0.0.1:5000/battlescope/frontend:v3.0.1-amd64", tagRequired: true },
    { reference: "localhost/battlescope/frontend:latest", tagRequired: true },
    { reference: "registry.example.org:443/battle-scope/frontend-bff:v3", tagRequired: true },
    { reference: "docker.io/battlescope/frontend", tagRequired: false },
    { reference: `docker.io/battlescope/frontend:v3.0.1@${DIGEST}`, tagRequired: true },
  ])("accepts $reference", ({ reference, tagRequired }) => {
    expect(imageNameProblem(reference, { tagRequired })).toBeUndefined();
  });

  it.each([
    {
      name: "no registry",
      reference: "battlescope/frontend:v3.0.1",
      problem:
        '"battlescope/frontend" has 2 path components; an image name is <registry>/<org>/<service>, all three spelled out (e.g. docker.io/battlescope/frontend)',
    },
    {
      name: "a bare name",
      reference: "frontend",
      problem:
        '"frontend" has 1 path component; an image name is <registry>/<org>/<service>, all three spelled out (e.g. docker.io/battlescope/frontend)',
    },
    {
      name: "a nested path",
      reference: "docker.io/battlescope/team/frontend:v3.0.1",
      problem:
        '"docker.io/battlescope/team/frontend" has 4 path components; an image name is <registry>/<org>/<service>, all three spelled out (e.g. docker.io/battlescope/frontend)',
    },
    {
      name: "a first component Docker reads as a Docker Hub namespace",
      reference: "myregistry/battlescope/frontend:v3.0.1",
      problem:
        '"myregistry" in "myregistry/battlescope/frontend" is not a registry host: an image name is <registry>/<org>/<service>, starting with a host such as docker.io or 127.0.0.1:5000',
    },
    {
      name: "an uppercase organization",
      reference: "docker.io/BattleScope/frontend:v3.0.1",
      problem:
        'the organization "BattleScope" in "docker.io/BattleScope/frontend" is not a repository name: use lowercase letters and digits separated by ".", "_" or "-"',
    },
    {
      name: "a service with a trailing dash",
      reference: "docker.io/battlescope/frontend-:v3.0.1",
      problem:
        'the service "frontend-" in "docker.io/battlescope/frontend-" is not a repository name: use lowercase letters and digits separated by ".", "_" or "-"',
    },
    {
      name: "no tag where one is required",
      reference: "docker.io/battlescope/frontend",
      problem:
        '"docker.io/battlescope/frontend" has no tag; it must be <registry>/<org>/<service>:<version>[-<arch>]',
    },
    {
      name: "a short digest",
      reference: "docker.io/battlescope/frontend:v3.0.1@sha256:abc",
      problem:
        'the digest "sha256:abc" in "docker.io/battlescope/frontend:v3.0.1@sha256:abc" is not sha256:<64 hex characters>',
    },
    {
      name: "a bad tag",
      reference: "docker.io/battlescope/frontend:nightly",
      problem: `the tag "nightly" is not ${ACCEPTED}`,
    },
  ])("refuses $name ($reference)", ({ reference, problem }) => {
    expect(imageNameProblem(reference, { tagRequired: true })).toBe(problem);
  });
});

describe("deployment-image-pinned", () => {
  it.each([
    PINNED,
    `127.0.0.1:5000/battlescope/frontend:v3.1.0-rc.1@${DIGEST}`,
    `docker.io/battlescope/frontend:v3.0.2-dev-a1b2c3d@${DIGEST}`,
  ])("accepts %s", (image) => {
    expect(pinnedImageProblem(image)).toBeUndefined();
    expect(checkPinnedImages(deployment({ containers: [container({ image })] }))).toEqual([]);
  });

  it.each([
    {
      name: "latest",
      image: "docker.io/battlescope/frontend:latest",
      problem: '"docker.io/battlescope/frontend:latest" uses the floating tag "latest"',
    },
    {
      name: "latest, even with a digest",
      image: `docker.io/battlescope/frontend:latest@${DIGEST}`,
      problem: `"docker.io/battlescope/frontend:latest@${DIGEST}" uses the floating tag "latest"`,
    },
    {
      name: "untagged",
      image: "docker.io/battlescope/frontend",
      problem: '"docker.io/battlescope/frontend" is untagged (it means latest)',
    },
    {
      name: "a digest without a version",
      image: `docker.io/battlescope/frontend@${DIGEST}`,
      problem: `"docker.io/battlescope/frontend@${DIGEST}" has a digest but no version tag, so nobody can tell which release runs`,
    },
    {
      name: "a version without a digest",
      image: "docker.io/battlescope/frontend:v3.0.1",
      problem: '"docker.io/battlescope/frontend:v3.0.1" is not pinned by digest',
    },
    {
      name: "a floating minor tag",
      image: `docker.io/battlescope/frontend:v3.0@${DIGEST}`,
      problem: `"docker.io/battlescope/frontend:v3.0@${DIGEST}" uses the floating tag "v3.0", not a release version`,
    },
    {
      name: "an arch tag",
      image: `docker.io/battlescope/frontend:v3.0.1-amd64@${DIGEST}`,
      problem: `"docker.io/battlescope/frontend:v3.0.1-amd64@${DIGEST}" has the tag "v3.0.1-amd64", not a release version (vX.Y.Z, vX.Y.Z-<prerelease>, vX.Y.Z-dev-<sha>)`,
    },
    {
      name: "a short digest",
      image: "docker.io/battlescope/frontend:v3.0.1@sha256:abc",
      problem:
        '"docker.io/battlescope/frontend:v3.0.1@sha256:abc" has the digest "sha256:abc", not sha256:<64 hex characters>',
    },
    {
      name: "no registry",
      image: `battlescope/frontend:v3.0.1@${DIGEST}`,
      problem:
        '"battlescope/frontend" has 2 path components; an image name is <registry>/<org>/<service>, all three spelled out (e.g. docker.io/battlescope/frontend)',
    },
  ])("refuses $name, naming the Deployment, the container and the fix", ({ image, problem }) => {
    expect(pinnedImageProblem(image)).toBe(problem);
    expect(messages(checkPinnedImages(deployment({ containers: [container({ image })] })))).toEqual(
      [
        `Deployment "frontend", container "frontend": ${problem}; fix: set image to ${PINNED_FORM} (the release's pinned ref), never latest or an untagged name`,
      ],
    );
  });

  it("checks init containers and containers without an image", () => {
    const result = checkPinnedImages(
      deployment({
        containers: [container({ name: "app", image: undefined })],
        initContainers: [
          container({ name: "migrate", image: "docker.io/battlescope/db-migrator" }),
        ],
      }),
    );
    expect(messages(result)).toEqual([
      `Deployment "frontend", container "app": no image; fix: set image to ${PINNED_FORM}`,
      `Deployment "frontend", init container "migrate": "docker.io/battlescope/db-migrator" is untagged (it means latest); fix: set image to ${PINNED_FORM} (the release's pinned ref), never latest or an untagged name`,
    ]);
  });

  it("leaves an image unknown during preview to pulumi up", () => {
    expect(checkPinnedImages(deployment({ containers: [container({ image: UNKNOWN })] }))).toEqual(
      [],
    );
    const unknownSpec: RuleResource = {
      type: RESOURCE_TYPES.deployment,
      name: "frontend",
      props: { spec: { template: UNKNOWN } },
    };
    expect(checkPinnedImages(unknownSpec)).toEqual([]);
  });
});

describe("deployment-pull-policy", () => {
  it("accepts IfNotPresent", () => {
    expect(checkPullPolicy(deployment())).toEqual([]);
  });

  it.each([
    { policy: "Always", found: 'is "Always"' },
    { policy: "Never", found: 'is "Never"' },
    { policy: undefined, found: "is not set" },
  ])("refuses $policy", ({ policy, found }) => {
    expect(
      messages(
        checkPullPolicy(deployment({ containers: [container({ imagePullPolicy: policy })] })),
      ),
    ).toEqual([
      `Deployment "frontend", container "frontend": imagePullPolicy ${found}; fix: set imagePullPolicy: IfNotPresent (a pinned digest never changes, so the node's copy is the right one)`,
    ]);
  });

  it("skips a policy unknown during preview", () => {
    expect(
      checkPullPolicy(deployment({ containers: [container({ imagePullPolicy: UNKNOWN })] })),
    ).toEqual([]);
  });
});

describe("deployment-pull-secret", () => {
  const fix =
    'fix: add imagePullSecrets: [{ name: "docker-hub-creds" }] to spec.template.spec (the registry-credentials Secret)';

  it.each([
    { name: "the secret alone", pullSecrets: [{ name: "docker-hub-creds" }] },
    {
      name: "the secret among others",
      pullSecrets: [{ name: "other" }, { name: "docker-hub-creds" }],
    },
    { name: "a name unknown during preview", pullSecrets: [{ name: UNKNOWN }] },
    { name: "a list unknown during preview", pullSecrets: UNKNOWN },
  ])("accepts $name", ({ pullSecrets }) => {
    expect(checkPullSecret(deployment({ pullSecrets }))).toEqual([]);
  });

  it.each([
    { name: "none", pullSecrets: null, found: "has no imagePullSecrets" },
    { name: "an empty list", pullSecrets: [], found: "has no imagePullSecrets" },
    {
      name: "another secret",
      pullSecrets: [{ name: "regcred" }],
      found: 'pulls with "regcred", not "docker-hub-creds"',
    },
  ])("refuses $name", ({ pullSecrets, found }) => {
    expect(messages(checkPullSecret(deployment({ pullSecrets })))).toEqual([
      `Deployment "frontend" ${found}; ${fix}`,
    ]);
  });
});

describe("containers-non-root", () => {
  it.each([
    {
      name: "pod runAsNonRoot and runAsUser",
      podSecurity: { runAsNonRoot: true, runAsUser: 10001 },
    },
    { name: "pod runAsNonRoot only", podSecurity: { runAsNonRoot: true } },
    { name: "pod runAsUser only", podSecurity: { runAsUser: 10001 } },
    {
      name: "container level only",
      podSecurity: null,
      securityContext: { runAsNonRoot: true, runAsUser: 10001 },
    },
    {
      name: "container runAsUser over pod runAsNonRoot false",
      podSecurity: { runAsNonRoot: false },
      securityContext: { runAsUser: 1000 },
    },
    { name: "unknown during preview", podSecurity: { runAsUser: UNKNOWN } },
  ])("accepts $name", ({ podSecurity, securityContext }) => {
    const containers = [container(securityContext === undefined ? {} : { securityContext })];
    expect(checkNonRoot(deployment({ podSecurity, containers }))).toEqual([]);
  });

  it.each([
    {
      name: "pod runAsUser 0",
      podSecurity: { runAsUser: 0 },
      problem: "runs as root (runAsUser: 0 at pod level)",
    },
    {
      name: "container runAsUser 0 over a non-root pod",
      podSecurity: { runAsNonRoot: true, runAsUser: 10001 },
      securityContext: { runAsUser: 0 },
      problem: "runs as root (runAsUser: 0 at container level)",
    },
    {
      name: "no security context",
      podSecurity: null,
      problem: "may run as root: neither runAsNonRoot: true nor a non-zero runAsUser is set",
    },
    {
      name: "container runAsNonRoot false over the pod's true",
      podSecurity: { runAsNonRoot: true },
      securityContext: { runAsNonRoot: false },
      problem: "may run as root: runAsNonRoot is false (container level) and no runAsUser is set",
    },
  ])("refuses $name", ({ podSecurity, securityContext, problem }) => {
    const containers = [container(securityContext === undefined ? {} : { securityContext })];
    expect(messages(checkNonRoot(deployment({ podSecurity, containers })))).toEqual([
      `Deployment "frontend", container "frontend": ${problem}; ${NON_ROOT_FIX}`,
    ]);
  });

  it("checks every container and init container", () => {
    const result = checkNonRoot(
      deployment({
        podSecurity: null,
        containers: [
          container({ name: "app", securityContext: { runAsNonRoot: true } }),
          container({ name: "sidecar" }),
        ],
        initContainers: [container({ name: "setup", securityContext: { runAsUser: 0 } })],
      }),
    );
    expect(messages(result)).toEqual([
      `Deployment "frontend", container "sidecar": may run as root: neither runAsNonRoot: true nor a non-zero runAsUser is set; ${NON_ROOT_FIX}`,
      `Deployment "frontend", init container "setup": runs as root (runAsUser: 0 at container level); ${NON_ROOT_FIX}`,
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Images, manifest lists, registry tags

function image(name: string, props: Record<string, unknown>): RuleResource {
  return { type: RESOURCE_TYPES.image, name, urn: `urn:${name}`, props };
}

const nameFix = (example: string) =>
  `fix: name images <registry>/<org>/<service>:<version>[-<arch>] (e.g. ${example})`;

describe("image-names", () => {
  it.each([
    {
      name: "a tagged single-platform image",
      resource: image("frontend-amd64", {
        platforms: ["linux/amd64"],
        tags: ["docker.io/battlescope/frontend:v3.0.1-amd64"],
      }),
    },
    {
      name: "an image pushed by digest to its repository",
      resource: image("frontend-arm64", {
        platforms: ["linux/arm64"],
        exports: [
          {
            raw: "type=image,name=127.0.0.1:5000/battlescope/frontend,push=true,push-by-digest=true",
          },
        ],
      }),
    },
    {
      name: "a multi-platform image",
      resource: image("frontend", {
        platforms: ["linux/amd64", "linux/arm64"],
        tags: ["docker.io/battlescope/frontend:v3.0.1"],
        exports: [{ registry: { names: ["docker.io/battlescope/frontend:v3.0.1"] } }],
      }),
    },
    {
      name: "tags unknown during preview",
      resource: image("frontend-amd64", { platforms: ["linux/amd64"], tags: UNKNOWN }),
    },
    {
      name: "a manifest list",
      resource: {
        type: RESOURCE_TYPES.index,
        name: "frontend-v3.0",
        props: { tag: "docker.io/battlescope/frontend:v3.0" },
      },
    },
    {
      name: "a floating arch tag",
      resource: {
        type: RESOURCE_TYPES.registryTagSet,
        name: "frontend-floating-arch-tags",
        props: {
          registry: "docker.io",
          repository: "battlescope/frontend",
          tags: [{ tag: "latest-arm64", digest: "sha256:1" }],
        },
      },
    },
    {
      name: "a resource of another type",
      resource: { type: "kubernetes:core/v1:Service", name: "frontend", props: { tag: "x" } },
    },
  ])("accepts $name", ({ resource }) => {
    expect(checkImageNames(resource)).toEqual([]);
  });

  it.each([
    {
      name: "an Image tag without a registry",
      resource: image("frontend-amd64", {
        platforms: ["linux/amd64"],
        tags: ["battlescope/frontend:v3.0.1-amd64"],
      }),
      message: `Image "frontend-amd64" tag "battlescope/frontend:v3.0.1-amd64": "battlescope/frontend" has 2 path components; an image name is <registry>/<org>/<service>, all three spelled out (e.g. docker.io/battlescope/frontend); ${nameFix("docker.io/battlescope/frontend:v3.0.1-amd64")}`,
    },
    {
      name: "a single-platform Image tagged without its arch",
      resource: image("frontend-amd64", {
        platforms: ["linux/amd64"],
        tags: ["docker.io/battlescope/frontend:v3.0.1"],
      }),
      message: `Image "frontend-amd64" tag "docker.io/battlescope/frontend:v3.0.1": the image is built for linux/amd64 only, so its tags end in -amd64; ${nameFix("docker.io/battlescope/frontend:v3.0.1-amd64")}`,
    },
    {
      name: "a single-platform Image tagged with the other arch",
      resource: image("frontend-arm64", {
        platforms: ["linux/arm64"],
        tags: ["docker.io/battlescope/frontend:v3.0.1-amd64"],
      }),
      message: `Image "frontend-arm64" tag "docker.io/battlescope/frontend:v3.0.1-amd64": the image is built for linux/arm64 only, so its tags end in -arm64; ${nameFix("docker.io/battlescope/frontend:v3.0.1-arm64")}`,
    },
    {
      name: "a multi-platform Image tagged with an arch",
      resource: image("frontend", {
        platforms: ["linux/amd64", "linux/arm64"],
        tags: ["docker.io/battlescope/frontend:v3.0.1-arm64"],
      }),
      message: `Image "frontend" tag "docker.io/battlescope/frontend:v3.0.1-arm64": the image holds 2 platforms, so its tags carry no -arm64 suffix; ${nameFix("docker.io/battlescope/frontend:v3.0.1")}`,
    },
    {
      name: "an Image exported to a name without a registry",
      resource: image("frontend-amd64", {
        platforms: ["linux/amd64"],
        exports: [{ raw: "type=image,name=frontend,push=true" }],
      }),
      message: `Image "frontend-amd64" export name "frontend": "frontend" has 1 path component; an image name is <registry>/<org>/<service>, all three spelled out (e.g. docker.io/battlescope/frontend); ${nameFix("docker.io/battlescope/frontend")}`,
    },
    {
      name: "a manifest list with a build number",
      resource: {
        type: RESOURCE_TYPES.index,
        name: "frontend-build-42",
        props: { tag: "docker.io/battlescope/frontend:build-42" },
      },
      message: `manifest list "frontend-build-42" tag "docker.io/battlescope/frontend:build-42": the tag "build-42" is not <version>[-<arch>] with <version> vX.Y.Z, vX.Y.Z-<prerelease>, vX.Y.Z-dev-<git sha>, or the floating vX.Y, vX, latest, and <arch> amd64 or arm64; ${nameFix("docker.io/battlescope/frontend:v3.0.1")}`,
    },
    {
      name: "a manifest list tagged with an arch",
      resource: {
        type: RESOURCE_TYPES.index,
        name: "frontend-v3.0.1-amd64",
        props: { tag: "docker.io/battlescope/frontend:v3.0.1-amd64" },
      },
      message: `manifest list "frontend-v3.0.1-amd64" tag "docker.io/battlescope/frontend:v3.0.1-amd64": a manifest list covers every platform, so its tag carries no -amd64 suffix; ${nameFix("docker.io/battlescope/frontend:v3.0.1")}`,
    },
    {
      name: "a registry tag in a nested repository",
      resource: {
        type: RESOURCE_TYPES.registryTagSet,
        name: "frontend-floating-arch-tags",
        props: {
          registry: "docker.io",
          repository: "battlescope/web/frontend",
          tags: [{ tag: "v3-amd64", digest: "sha256:1" }],
        },
      },
      message: `registry tag "frontend-floating-arch-tags" (docker.io/battlescope/web/frontend:v3-amd64): "docker.io/battlescope/web/frontend" has 4 path components; an image name is <registry>/<org>/<service>, all three spelled out (e.g. docker.io/battlescope/frontend); ${nameFix("docker.io/battlescope/frontend:v3.0-amd64")}`,
    },
  ])("refuses $name", ({ resource, message }) => {
    expect(messages(checkImageNames(resource))).toEqual([message]);
  });
});

describe("images-both-platforms", () => {
  const pair = (service: string, platforms: string[][]) =>
    platforms.map((list, i) =>
      image(`${service}-${list[0]?.split("/")[1] ?? i}`, {
        platforms: list,
        exports: [{ raw: `type=image,name=docker.io/battlescope/${service},push=true` }],
      }),
    );

  it.each([
    {
      name: "one Image per platform",
      resources: pair("frontend", [["linux/amd64"], ["linux/arm64"]]),
    },
    { name: "one Image for both", resources: pair("frontend", [["linux/amd64", "linux/arm64"]]) },
    {
      name: "platforms unknown during preview",
      resources: [image("frontend-amd64", { platforms: UNKNOWN })],
    },
    {
      name: "two images, each complete",
      resources: [
        ...pair("frontend", [["linux/amd64"], ["linux/arm64"]]),
        ...pair("init", [["linux/arm64"], ["linux/amd64"]]),
      ],
    },
    { name: "no Image at all", resources: [deployment()] },
  ])("accepts $name", ({ resources }) => {
    expect(checkBothPlatforms(resources)).toEqual([]);
  });

  const fix =
    "fix: build every image for linux/amd64 and linux/arm64, one Image per platform (leave battlescope:platforms unset, or list both)";

  it.each([
    {
      name: "amd64 only",
      resources: pair("frontend", [["linux/amd64"]]),
      violations: [
        {
          message: `image docker.io/battlescope/frontend (Image "frontend-amd64") is built for linux/amd64 only, missing linux/arm64; ${fix}`,
          urn: "urn:frontend-amd64",
        },
      ],
    },
    {
      name: "one service complete, the other arm64 only",
      resources: [
        ...pair("frontend", [["linux/amd64"], ["linux/arm64"]]),
        ...pair("init", [["linux/arm64"]]),
      ],
      violations: [
        {
          message: `image docker.io/battlescope/init (Image "init-arm64") is built for linux/arm64 only, missing linux/amd64; ${fix}`,
          urn: "urn:init-arm64",
        },
      ],
    },
    {
      name: "two Images of one platform",
      resources: pair("frontend", [["linux/amd64"], ["linux/amd64"]]),
      violations: [
        {
          message: `image docker.io/battlescope/frontend (Image "frontend-amd64", "frontend-amd64") is built for linux/amd64 only, missing linux/arm64; ${fix}`,
          urn: "urn:frontend-amd64",
        },
      ],
    },
    {
      name: "no platforms (the builder's own)",
      resources: [image("frontend-amd64", {})],
      violations: [
        {
          message: `image frontend (Image "frontend-amd64") is built for no platform (the builder's default), missing linux/amd64 and linux/arm64; ${fix}`,
          urn: "urn:frontend-amd64",
        },
      ],
    },
    {
      name: "another platform",
      resources: [
        image("frontend-s390x", {
          platforms: ["linux/s390x"],
          tags: ["docker.io/battlescope/frontend:v3.0.1"],
        }),
      ],
      violations: [
        {
          message: `image docker.io/battlescope/frontend (Image "frontend-s390x") is built for linux/s390x only, missing linux/amd64 and linux/arm64; ${fix}`,
          urn: "urn:frontend-s390x",
        },
      ],
    },
  ])("refuses $name", ({ resources, violations }) => {
    expect(checkBothPlatforms(resources)).toEqual(violations);
  });
});

describe("docker-hub-short-description", () => {
  const hub = (description: unknown): RuleResource => ({
    type: RESOURCE_TYPES.hubRepository,
    name: "frontend",
    props: { namespace: "battlescope", repository: "frontend", description },
  });

  it.each([
    { name: "short", description: "BattleScope V3 - Frontend - Web UI" },
    { name: "exactly 100", description: "x".repeat(100) },
    { name: "25 four-byte emoji (100 UTF-8 bytes)", description: "🚀".repeat(25) },
    { name: "unknown during preview", description: UNKNOWN },
  ])("accepts $name", ({ description }) => {
    expect(checkShortDescription(hub(description))).toEqual([]);
  });

  it.each([
    { name: "101 characters", description: "x".repeat(101), length: 101 },
    { name: "26 four-byte emoji", description: "🚀".repeat(26), length: 104 },
    { name: "100 emoji", description: "🛡".repeat(100), length: 400 },
  ])("refuses $name", ({ description, length }) => {
    expect(messages(checkShortDescription(hub(description)))).toEqual([
      `Docker Hub repository battlescope/frontend ("frontend"): short description is ${length} bytes, Docker Hub allows 100 (UTF-8 bytes, not characters); fix: shorten the service's one-line description in services/catalog.ts ("BattleScope V3 - <Service Name> - <one line>" within 100 bytes)`,
    ]);
  });

  it.each(SERVICES.map((service) => ({ name: service.name, service })))(
    "the catalog's $name description passes",
    ({ service }) => {
      expect(checkShortDescription(hub(shortDescription(service)))).toEqual([]);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// The pack's plumbing

describe("toPlain", () => {
  class Unknown extends Error {}
  /** Throws like the policy SDK's proxy for every property whose value is "?". */
  const unknownChecking = (value: unknown): unknown => {
    if (value === null || typeof value !== "object") return value;
    return new Proxy(value as object, {
      get(target, key) {
        const field = (target as Record<string | symbol, unknown>)[key];
        if (field === "?") throw new Unknown(String(key));
        return unknownChecking(field);
      },
    });
  };

  it("copies known values and marks unknown ones", () => {
    const props = unknownChecking({
      spec: { containers: [{ image: "?", name: "frontend" }, "?"], replicas: 1 },
      tag: "?",
      list: [],
    });
    expect(toPlain(props, (error) => error instanceof Unknown)).toEqual({
      spec: { containers: [{ image: UNKNOWN, name: "frontend" }, UNKNOWN], replicas: 1 },
      tag: UNKNOWN,
      list: [],
    });
  });

  it("lets other errors through", () => {
    const props = unknownChecking({ tag: "?" });
    expect(() => toPlain(props, () => false)).toThrow(Unknown);
  });
});

describe("the pack", () => {
  it("type-checks with its own dependencies (policy/node_modules, installed by npm test)", () => {
    const policyDir = path.join(__dirname, "../../policy");
    execFileSync(path.join(policyDir, "node_modules/.bin/tsc"), ["--noEmit", "-p", policyDir], {
      stdio: "pipe",
    });
  }, 60_000);
});

describe("the pack's rules", () => {
  it("have unique names the policy SDK accepts, and descriptions", () => {
    const names = RULES.map((rule) => rule.name);
    expect(new Set(names).size).toBe(names.length);
    for (const rule of RULES) {
      expect(rule.name).toMatch(/^[a-zA-Z0-9-_.]{1,100}$/);
      expect(rule.description.length).toBeGreaterThan(10);
    }
    expect(names).toEqual([
      "deployment-image-pinned",
      "deployment-pull-policy",
      "deployment-pull-secret",
      "containers-non-root",
      "images-both-platforms",
      "image-names",
      "docker-hub-short-description",
      "releases-signed",
      "releases-scanned",
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// The release's own resources, declared under mocks with known digests (what `pulumi up` checks)

interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

const recorded: Recorded[] = [];
const sha = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;

describe("the release's resources under mocks pass every rule", () => {
  beforeAll(async () => {
    pulumi.runtime.setMocks(
      {
        newResource(args) {
          recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
          const state: Record<string, unknown> = { ...args.inputs };
          if (args.type === RESOURCE_TYPES.image) {
            state.digest = sha(args.name);
            state.ref = `${args.name}@${state.digest}`;
          }
          if (args.type === RESOURCE_TYPES.registryTagSet) {
            const targets = args.inputs.tags as Array<{ tag: string; digest?: string }>;
            state.digests = Object.fromEntries(
              targets.map(({ tag, digest }) => [tag, digest ?? sha(`${args.name}:${tag}`)]),
            );
          }
          return { id: `${args.name}-id`, state };
        },
        call: (args) => args.inputs,
      },
      "battlescope",
      "policy",
      false,
    );
    const { ServiceRelease } = await import("../../components/serviceRelease");
    for (const service of SERVICES) {
      new ServiceRelease(service.name, {
        service,
        registry: "docker.io",
        organization: "battlescope",
        version: "v3.1.0",
        existingTags: ["v3.0.0", "v3.0", "v3", "latest"],
        sourceHash: sha(service.name),
        tagPlan: planTags({
          version: "v3.1.0",
          existingTags: ["v3.0.0", "v3.0", "v3", "latest"],
          architectures: ["amd64", "arm64"],
          moveFloatingTags: true,
        }),
        platforms: ["linux/amd64", "linux/arm64"],
        context: path.join(__dirname, "../../fixtures/battlescope", service.buildContext),
        registryCache: true,
        buildOnPreview: false,
        dockerHub: { url: "http://127.0.0.1:9", username: "bot", token: pulumi.secret("t") },
        deployment: { namespace: "battlescope", replicas: 2, pullSecretName: "docker-hub-creds" },
      });
    }
    // Every registered resource, down to the Deployments' resolved images, reaches the mocks:
    // disconnecting waits for the runtime's queue of registrations to drain.
    await pulumi.runtime.disconnect();
  });

  it("declares what the rules look at", () => {
    const count = (type: string) => recorded.filter((resource) => resource.type === type).length;
    expect(count(RESOURCE_TYPES.deployment)).toBe(7);
    expect(count(RESOURCE_TYPES.image)).toBe(18);
    expect(count(RESOURCE_TYPES.index)).toBe(0);
    expect(count(RESOURCE_TYPES.registryTagSet)).toBe(18);
    expect(count(RESOURCE_TYPES.hubRepository)).toBe(9);
  });

  it("with no violation", () => {
    const resources: RuleResource[] = recorded.map((resource) => ({
      type: resource.type,
      name: resource.name,
      props: resource.inputs,
    }));
    const found: string[] = [];
    for (const rule of RULES) {
      const violations =
        rule.kind === "stack"
          ? rule.check(resources)
          : resources
              .filter((resource) => rule.types.includes(resource.type))
              .flatMap((resource) => rule.check(resource));
      found.push(...violations.map((violation) => `${rule.name}: ${violation.message}`));
    }
    expect(found).toEqual([]);
    const images = resources
      .filter((resource) => resource.type === RESOURCE_TYPES.deployment)
      .map((resource) => JSON.stringify(resource.props));
    for (const text of images) expect(text).toMatch(/:v3\.1\.0@sha256:[0-9a-f]{64}/);
  });
});
