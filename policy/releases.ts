/**
 * The rules on how a production stack releases: every version it writes is signed and attested
 * (docs/rules.md#signed-releases) and was scanned for vulnerabilities before any tag named it
 * (docs/rules.md#scanned-releases).
 */
import { field, quote, type RuleResource, UNKNOWN, type Violation } from "./plain";
import { RESOURCE_TYPES } from "./vocabulary";

/** Stacks whose releases must be signed and attested (docs/rules.md#signed-releases). */
export const SIGNED_STACKS = ["prod"] as const;

/** Stacks whose releases must pass a vulnerability scan (docs/rules.md#scanned-releases). */
export const SCANNED_STACKS = ["prod"] as const;

/** The `failOn` a scanned stack may use: a finding at or above it refuses the release. */
export const SCANNED_FAIL_ON = ["high", "critical"] as const;

/** The stack a resource belongs to, from its URN (`urn:pulumi:<stack>::<project>::…`). */
export function stackOfUrn(urn: string | undefined): string | undefined {
  return urn === undefined ? undefined : /^urn:pulumi:([^:]+)::/.exec(urn)?.[1];
}

/** The stack the resources belong to when it is one of `stacks`, else undefined. */
function stackAmong(
  resources: readonly RuleResource[],
  stacks: readonly string[],
): string | undefined {
  const stack = resources.map((resource) => stackOfUrn(resource.urn)).find((name) => name);
  return stack !== undefined && stacks.includes(stack) ? stack : undefined;
}

/** `<registry>/<repository>` of a resource, UNKNOWN when either is, undefined when absent. */
function repositoryOf(resource: RuleResource): string | typeof UNKNOWN | undefined {
  const registry = field(resource.props, "registry");
  const repository = field(resource.props, "repository");
  if (registry === UNKNOWN || repository === UNKNOWN) return UNKNOWN;
  return typeof registry === "string" && typeof repository === "string"
    ? `${registry}/${repository}`
    : undefined;
}

/** The tag sets that write versions: create-only, never moved (floating tags are not). */
function versionTagSets(resources: readonly RuleResource[]): RuleResource[] {
  return resources.filter(
    (resource) =>
      resource.type === RESOURCE_TYPES.registryTagSet &&
      field(resource.props, "createOnly") === true,
  );
}

const urnOf = (resource: RuleResource) => (resource.urn === undefined ? {} : { urn: resource.urn });

/** On a signing stack, every version a stack writes has its signature and attestations. */
export function checkSignedReleases(resources: readonly RuleResource[]): Violation[] {
  const stack = stackAmong(resources, SIGNED_STACKS);
  if (stack === undefined) return [];
  const attested = new Set(
    resources
      .filter((resource) => resource.type === RESOURCE_TYPES.releaseAttestations)
      .map(repositoryOf),
  );
  return versionTagSets(resources).flatMap((tags) => {
    const repository = repositoryOf(tags);
    if (typeof repository !== "string" || attested.has(repository)) return [];
    return [
      {
        message: `stack ${stack} releases ${repository} unsigned (${quote(tags.name)}): its releases are signed, with an SBOM and provenance per image; fix: set battlescope:sign to true with the secret config battlescope:cosignKey and battlescope:cosignPassword (the private half of keys/release.pub)`,
        ...urnOf(tags),
      },
    ];
  });
}

/**
 * On a scanning stack, every version a stack writes has an image scan of its repository, and
 * every scan refuses a release at a high or critical finding. A `failOn` not known yet
 * (preview) is checked by `pulumi up`.
 */
export function checkScannedReleases(resources: readonly RuleResource[]): Violation[] {
  const stack = stackAmong(resources, SCANNED_STACKS);
  if (stack === undefined) return [];
  const scans = resources.filter((resource) => resource.type === RESOURCE_TYPES.imageScan);
  const scanned = new Set(scans.map(repositoryOf));
  const violations: Violation[] = [];
  // A scan whose repository is not known yet may be the one a tag set needs.
  if (!scanned.has(UNKNOWN)) {
    for (const tags of versionTagSets(resources)) {
      const repository = repositoryOf(tags);
      if (typeof repository !== "string" || scanned.has(repository)) continue;
      violations.push({
        message: `stack ${stack} releases ${repository} unscanned (${quote(tags.name)}): its releases are scanned for vulnerabilities before any tag names them; fix: set battlescope:scan to true and battlescope:vulnerabilityDb to the folder of the grype database (the workflows run grype db update into it)`,
        ...urnOf(tags),
      });
    }
  }
  for (const scan of scans) {
    const failOn = field(scan.props, "failOn");
    if (failOn === UNKNOWN || (SCANNED_FAIL_ON as readonly unknown[]).includes(failOn)) continue;
    const repository = repositoryOf(scan);
    const what = typeof repository === "string" ? ` ${repository}` : "";
    const found = failOn === undefined ? "no failOn" : `failOn ${quote(failOn)}`;
    violations.push({
      message: `stack ${stack} scans${what} with ${found} (${quote(scan.name)}): its releases are refused at a high or critical finding; fix: set battlescope:failOn to high or critical`,
      ...urnOf(scan),
    });
  }
  return violations;
}
