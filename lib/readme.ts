import type { ServiceImage } from "../services/catalog";
import { planTags, type TagPlan } from "./tagPlan";
import {
  ARCHITECTURES,
  type Architecture,
  highestVersion,
  parseVersion,
  versionsInTags,
} from "./versions";
import { DOCKER_HUB_REGISTRY, lengthProblems } from "./vocabulary";

const ARCH_LABELS: Record<Architecture, string> = { amd64: "AMD64/x86_64", arm64: "ARM64" };
const DOCS_BASE = "https://github.com/battlescope/battle-monitor";

export interface ReadmeInput {
  readonly service: ServiceImage;
  /** Registry host; `docker.io` is left out of pull commands as Docker users expect. */
  readonly registry: string;
  readonly organization: string;
  /** The release being published. */
  readonly version: string;
  /** Tags the repository already holds, as the registry lists them. */
  readonly existingTags?: readonly string[];
  readonly architectures?: readonly Architecture[];
}

export function shortDescription(service: ServiceImage): string {
  return `BattleScope V3 - ${service.displayName} - ${service.description}`;
}

/**
 * The release whose tags the README advertises: the highest stable release once this one is
 * out, so a hotfix on an older line never makes the README forget the newest release.
 * Before any stable release exists, the prerelease or dev build itself.
 */
export function advertisedPlan(input: ReadmeInput): TagPlan {
  const existingTags = input.existingTags ?? [];
  const version = parseVersion(input.version);
  const architectures = input.architectures ?? ARCHITECTURES;
  const stable = versionsInTags([...existingTags, version.tag]).filter((v) => v.kind === "stable");
  const advertised = highestVersion(stable) ?? version;
  return planTags({ version: advertised, existingTags, architectures });
}

export function imageName(
  input: Pick<ReadmeInput, "registry" | "organization" | "service">,
): string {
  const prefix = input.registry === DOCKER_HUB_REGISTRY ? "" : `${input.registry}/`;
  return `${prefix}${input.organization}/${input.service.name}`;
}

function tagList(tags: readonly string[]): string {
  return tags.map((tag) => `\`${tag}\``).join(", ");
}

/** The Docker Hub full description (docs/rules.md#docker-hub-descriptions). */
export function fullDescription(input: ReadmeInput): string {
  const { service } = input;
  const plan = advertisedPlan(input);
  const image = imageName(input);
  const pullTag = plan.manifestTags.includes(`v${parseVersion(plan.version).major}`)
    ? `v${parseVersion(plan.version).major}`
    : plan.version;
  const portFlag = service.port === undefined ? "" : `-p ${service.port}:${service.port} `;

  const supported = [`- ${tagList(plan.manifestTags)} - Multi-arch manifest`];
  for (const arch of ARCHITECTURES) {
    const tags = plan.platformTags[arch];
    if (tags !== undefined) supported.push(`- ${tagList(tags)} - ${ARCH_LABELS[arch]}`);
  }

  const envRows = service.env.map(
    (env) =>
      `| \`${env.name}\` | ${env.description} | ${env.default === "required" ? "Required" : `\`${env.default}\``} |`,
  );

  const sections = [
    `# BattleScope ${service.displayName}`,
    "",
    "**Architecture**: V3 Distributed Microservices",
    `**Version**: ${plan.version}`,
    "",
    "## Overview",
    "",
    service.overview,
    "",
    "## Supported Tags",
    "",
    ...supported,
    "",
    "## Quick Start",
    "",
    "```bash",
    `docker pull ${image}:${pullTag}`,
    `docker run ${portFlag}${image}:${pullTag}`,
    "```",
    "",
    "## Environment Variables",
    "",
    "| Variable | Description | Default |",
    "|----------|-------------|---------|",
    ...envRows,
    "",
  ];
  if (service.port !== undefined && service.healthPath !== undefined) {
    sections.push(
      "## Health Check",
      "",
      "```bash",
      `curl http://localhost:${service.port}${service.healthPath}`,
      "```",
      "",
    );
  }
  sections.push(
    "## Documentation",
    "",
    `- [Architecture](${DOCS_BASE}/tree/main/docs/architecture-v3)`,
    `- [Service Specification](${DOCS_BASE}/blob/main/proposal/implementation-v1/services/${service.name}.md)`,
    "",
    "## License",
    "",
    "MIT",
    "",
  );
  return sections.join("\n");
}

export class DescriptionTooLongError extends Error {
  constructor(repository: string, problem: string) {
    super(`Docker Hub repository ${repository}: ${problem}`);
    this.name = "DescriptionTooLongError";
  }
}

/** A release's two Docker Hub texts, as the Hub names them: short and full description. */
export function hubDescriptions(input: ReadmeInput): {
  readonly description: string;
  readonly fullDescription: string;
} {
  return { description: shortDescription(input.service), fullDescription: fullDescription(input) };
}

/** Over-long texts are refused whole: Docker Hub would cut them, we never do. */
export function checkDescriptionLengths(
  repository: string,
  texts: { readonly description: string; readonly fullDescription: string },
): void {
  const [first] = lengthProblems(texts);
  if (first !== undefined) throw new DescriptionTooLongError(repository, first.message);
}
