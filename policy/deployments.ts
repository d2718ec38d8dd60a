/**
 * The rules on the Deployments a release rolls out: pinned images, the pull policy and secret,
 * containers that do not run as root.
 */
import { isFloating, isVersion, splitArch } from "./images";
import {
  field,
  isObject,
  type Plain,
  quote,
  type RuleResource,
  UNKNOWN,
  type Violation,
} from "./plain";
import { DIGEST, parseReference, repositoryNameProblem } from "./vocabulary";

export const PULL_SECRET_NAME = "docker-hub-creds";
export const PULL_POLICY = "IfNotPresent";

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
    return isFloating(splitArch(tag).base)
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
