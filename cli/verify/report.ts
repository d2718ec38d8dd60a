/**
 * What a check reports (a row of the table), and the report: the table, the counts and the
 * troubleshooting hints for the failures (docs/reference.md#troubleshooting-hints).
 */

import { registryApiHost } from "../../clients/ociRegistry";
import { allowanceLine, type PullAllowance } from "../../lib/pullLimit";
import { imageName } from "../../lib/readme";
import { DEFAULT_HUB_URL, DOCKER_HUB_REGISTRY } from "../../lib/vocabulary";
import type { ServiceImage } from "../../services/catalog";
import type { CliIo } from "../shared";

export type CheckStatus = "ok" | "FAIL" | "skip";

/** What a failed check means, to pick the troubleshooting hint. */
export type FailureKind =
  | "missing"
  | "architecture"
  | "stale"
  | "signature"
  | "attestation"
  | "description"
  | "hub"
  | "cluster";

export interface CheckRow {
  readonly check: string;
  readonly subject: string;
  readonly status: CheckStatus;
  readonly detail: string;
  readonly kind?: FailureKind;
}

/** The table, the counts and, when a check failed, the hints; a failure ends with exit code 1. */
export function report(io: CliIo, rows: readonly CheckRow[], context: HintContext): void {
  printTable(io, rows);
  const failed = rows.filter((row) => row.status === "FAIL");
  const skipped = rows.filter((row) => row.status === "skip").length;
  io.stdout(
    `\n${context.service.name} ${context.version}: ${rows.length - failed.length - skipped} ok, ${failed.length} failed${skipped > 0 ? `, ${skipped} skipped` : ""}.\n`,
  );
  if (context.pullAllowance !== undefined)
    io.stdout(`${allowanceLine(context.registry, context.pullAllowance)}.\n`);
  if (failed.length === 0) return;
  io.stdout(`\n${hints(failed, context)}`);
  const repository = `${context.organization}/${context.service.name}`;
  throw new Error(
    `verify: ${failed.length} ${failed.length === 1 ? "check" : "checks"} failed for ${repository} ${context.version} (hints above)`,
  );
}

function printTable(io: CliIo, rows: readonly CheckRow[]): void {
  const table = [
    ["CHECK", "SUBJECT", "STATUS", "DETAIL"],
    ...rows.map((row) => [row.check, row.subject, row.status, row.detail]),
  ];
  const widths = [0, 1, 2].map((column) =>
    Math.max(...table.map((row) => (row[column] ?? "").length)),
  );
  for (const row of table) {
    const cells = row.map((cell, column) => (column < 3 ? cell.padEnd(widths[column] ?? 0) : cell));
    io.stdout(`${cells.join("  ").trimEnd()}\n`);
  }
}

export interface HintContext {
  readonly service: ServiceImage;
  readonly registry: string;
  readonly organization: string;
  readonly version: string;
  readonly hubUrl: string | undefined;
  /** What the registry said is left of its pull limit (Docker Hub's ratelimit headers). */
  readonly pullAllowance?: PullAllowance | undefined;
}

/** The hints (docs/reference.md#troubleshooting-hints) for the kinds of failure found. */
export function hints(failed: readonly CheckRow[], context: HintContext): string {
  return HINT_ORDER.flatMap((kind) => {
    const rows = failed.filter((row) => row.kind === kind);
    if (rows.length === 0) return [];
    const tags = rows.map((row) => row.subject.slice(row.subject.lastIndexOf(":") + 1));
    return [...HINTS[kind](tags as [string, ...string[]], context), ""];
  }).join("\n");
}

const HINT_ORDER: readonly FailureKind[] = [
  "missing",
  "architecture",
  "stale",
  "signature",
  "attestation",
  "description",
  "cluster",
  "hub",
];

/** Each kind's hint, given the tags (or subjects' last parts) that failed that way. */
const HINTS: Record<FailureKind, (tags: [string, ...string[]], context: HintContext) => string[]> =
  {
    missing: (missing, context) => {
      const image = imageName(context);
      const repository = `${context.organization}/${context.service.name}`;
      const listTags =
        context.registry === DOCKER_HUB_REGISTRY
          ? `curl ${(context.hubUrl ?? DEFAULT_HUB_URL).replace(/\/+$/, "")}/v2/repositories/${repository}/tags | jq '.results[].name'`
          : `curl https://${registryApiHost(context.registry)}/v2/${repository}/tags/list | jq '.tags[]'`;
      return [
        `Image not found: ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} missing.`,
        "  # Verify the image exists",
        `  docker pull ${image}:${missing[0]}`,
        `  # Check the tag exists in the registry`,
        `  ${listTags}`,
      ];
    },
    architecture: (architecture, context) => {
      const image = imageName(context);
      const base = architecture[0].replace(/-(amd64|arm64)$/, "");
      return [
        `Architecture mismatch: ${architecture.join(", ")} ${architecture.length === 1 ? "does" : "do"} not hold the expected platform images.`,
        "  # Pull the multi-arch manifest (not the architecture-specific tag)",
        `  docker pull ${image}:${context.version}  # multi-arch manifest`,
        `  # NOT: ${image}:${context.version}-amd64`,
        "  # See what the manifest list holds",
        `  docker buildx imagetools inspect ${image}:${base}`,
      ];
    },
    stale: (stale, context) => {
      const image = imageName(context);
      return [
        `Floating tag not moved: ${stale.join(", ")} ${stale.length === 1 ? "points" : "point"} at another manifest list than ${context.version}.`,
        "  # Move it to the release's manifest list (a manifest write, no blob upload)",
        `  docker buildx imagetools create -t ${image}:${stale[0]} ${image}:${context.version}`,
      ];
    },
    signature: (_, context) => [
      `Not signed by this key: ${context.version}'s manifest list carries no signature the key verifies. It was signed with another key (is --key the stack's cosignPublicKey?) or pushed without the stack.`,
      "  # What is attached to the list, and by which key",
      `  cosign verify --key <public key> ${imageName(context)}:${context.version}`,
      "  # The stack attaches what is missing, create-only (nothing published changes)",
      "  pulumi up --stack <stack>  # with battlescope:sign true and the matching cosignKey",
    ],
    attestation: (_, context) => [
      "SBOM or provenance missing: a platform image or the manifest list lacks an attestation the key verifies.",
      "  # What is attached",
      `  cosign verify-attestation --key <public key> --type spdxjson ${imageName(context)}:${context.version}`,
      `  cosign verify-attestation --key <public key> --type slsaprovenance1 ${imageName(context)}:${context.version}`,
      "  # The signing stack attaches what is missing, create-only",
      "  pulumi up --stack <stack>",
    ],
    description: (_, context) => [
      "Docker Hub description out of date:",
      "  # What the Hub should hold (the release stack writes it when publishDescriptions is true)",
      `  battlescope-images readme ${context.service.name} --version ${context.version} --registry ${context.registry} --organization ${context.organization}`,
    ],
    cluster: (_, context) => [
      `Cluster not on ${context.version}: the Deployment is missing or its pods run another image.`,
      "  # Roll it out: the stack's Deployment pins <version>@<manifest list digest>",
      "  pulumi up --stack <stack>",
      `  kubectl rollout status deployment/${context.service.name} --namespace <namespace>`,
    ],
    hub: () => [
      "Docker Hub not readable: check DOCKER_HUB_USERNAME, DOCKER_HUB_TOKEN and --hub-url.",
    ],
  };
