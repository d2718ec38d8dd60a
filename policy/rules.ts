/**
 * The rules of the BattleScope policy pack, as pure functions over plain resource properties,
 * and the order `pulumi preview` lists them in.
 *
 * Nothing here imports `@pulumi/*`: the pack (index.ts) turns the engine's properties into plain
 * values with {@link toPlain} and reports what these functions return; the unit tests call them
 * directly with tables. A value the engine does not know yet (preview, before a digest exists) is
 * {@link UNKNOWN}: a rule skips what it cannot see, and `pulumi up` checks it again once known.
 * The rules live by what they look at: deployments.ts, images.ts, dockerHub.ts, releases.ts.
 */
import {
  checkNonRoot,
  checkPinnedImages,
  checkPullPolicy,
  checkPullSecret,
  PULL_SECRET_NAME,
} from "./deployments";
import { checkShortDescription } from "./dockerHub";
import { checkBothPlatforms, checkImageNames } from "./images";
import type { Rule } from "./plain";
import {
  checkScannedReleases,
  checkSignedReleases,
  SCANNED_FAIL_ON,
  SCANNED_STACKS,
  SIGNED_STACKS,
} from "./releases";
import { RESOURCE_TYPES, SHORT_DESCRIPTION_LIMIT } from "./vocabulary";

export * from "./deployments";
export * from "./dockerHub";
export * from "./images";
export * from "./plain";
export * from "./releases";

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
  {
    kind: "stack",
    name: "releases-scanned",
    description: `Releases of the ${SCANNED_STACKS.join(", ")} stack are scanned for vulnerabilities before any tag names them, refused at a ${SCANNED_FAIL_ON.join(" or ")} finding.`,
    check: checkScannedReleases,
  },
];
