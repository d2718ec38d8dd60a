/**
 * `battlescope-images cleanup`: plans retention (lib/retention.ts) for tags read from an OCI
 * registry, Docker Hub or a tags file, prints the plan, and deletes only with `--apply`.
 *
 * Every input is checked and everything is read before anything is deleted: bad input (an
 * unreadable or malformed file, a bad `--now`, an unknown service, an unreachable registry)
 * is one line on stderr, exit code 2, nothing deleted. The deletes are cli/cleanupApply.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type Command, Option } from "commander";
import { type DockerHubClient, DockerHubError } from "../clients/dockerHub";
import { RegistryError } from "../clients/ociRegistry";
import {
  type RepositorySnapshot,
  readHubRepository,
  readOciRepository,
  readTagsFile,
  registryClientFromEnv,
  TagSourceError,
} from "../clients/registryTags";
import {
  DEFAULT_RETENTION_POLICY,
  type DeployedRef,
  deleteAttachmentTags,
  keepSharedTags,
  orderTags,
  parseIsoDate,
  planManifests,
  planRetention,
  type RetentionPolicy,
  type TagDecision,
} from "../lib/retention";
import { DOCKER_TAG_PATTERN, splitArchSuffix, tryParseVersion } from "../lib/versions";
import { DEFAULT_HUB_URL, DEFAULT_ORGANIZATION, DOCKER_HUB_REGISTRY } from "../lib/vocabulary";
import { SERVICE_NAMES } from "../services/catalog";
import {
  applyPlans,
  estimate,
  formatBytes,
  type RepositoryPlan,
  type TagSource,
} from "./cleanupApply";
import {
  type CliIo,
  type HttpDeps,
  hubClientFromEnv,
  list,
  plural,
  requireService,
  UsageError,
} from "./shared";

const REPO_ROOT = path.resolve(__dirname, "..");

/** What the command reads from outside; tests replace parts of it. */
export interface CleanupDeps extends HttpDeps {
  /** `pulumi stack output` of a stack, as plain values; default the Automation API. */
  readonly readStackOutputs?: (stack: string, cwd: string) => Promise<Record<string, unknown>>;
}

interface CleanupOptions {
  registry?: string;
  organization: string;
  service?: string;
  tagsFile?: string;
  hubUrl: string;
  protect?: string;
  stackOutputs?: string;
  stack?: string;
  cwd: string;
  keepMinors: string;
  keepPatches: string;
  maxAgeDays: string;
  now?: string;
  json?: boolean;
  apply?: boolean;
}

/** The command line, checked, and the deployed releases: nothing has been read from a registry. */
interface CleanupInput {
  /** The clock, the policy and the protected tags, as the retention rules take them. */
  readonly rules: {
    readonly now: number;
    readonly policy: RetentionPolicy;
    readonly protect: string[];
  };
  readonly deployed: ReadonlyMap<string, readonly DeployedRef[]>;
}

export function registerCleanup(program: Command, io: CliIo, deps: CleanupDeps = {}): Command {
  return program
    .command("cleanup")
    .description(
      "Plan the retention policy for a registry, Docker Hub or a tags file and print every tag with keep or delete and the reason; delete only with --apply",
    )
    .option(
      "--registry <host>",
      `registry to clean: an OCI registry host, or ${DOCKER_HUB_REGISTRY} for Docker Hub (Hub API)`,
    )
    .option("--organization <org>", "registry organization", DEFAULT_ORGANIZATION)
    .option("--service <name>", `one of ${SERVICE_NAMES.join(", ")} (default: all)`)
    .option(
      "--tags-file <file>",
      'plan from a JSON array of {"name", "lastUpdated", "digest"} instead of a registry',
    )
    .option("--hub-url <url>", "Docker Hub API base URL", DEFAULT_HUB_URL)
    .option(
      "--protect <tags>",
      "comma-separated tags never to delete (a release protects its arch tags)",
    )
    .option(
      "--stack-outputs <file>",
      "JSON of `pulumi stack output --json`: releases it deploys stay",
    )
    .option("--stack <name>", "read the deployed releases from this stack's outputs")
    .option("--cwd <dir>", "folder holding Pulumi.yaml, for --stack", REPO_ROOT)
    .option(
      "--keep-minors <n>",
      "newest minors of the current major that keep their newest patch",
      String(DEFAULT_RETENTION_POLICY.keepMinors),
    )
    .option(
      "--keep-patches <n>",
      "newest patches of the current minor to keep",
      String(DEFAULT_RETENTION_POLICY.keepPatches),
    )
    .option(
      "--max-age-days <n>",
      "dev builds and prereleases older than this are deleted",
      String(DEFAULT_RETENTION_POLICY.maxAgeDays),
    )
    .option("--now <ISO 8601>", "the clock, for ages (default: now)")
    .addOption(new Option("--json", 'print {"keep":[{tag,reason}],"delete":[{tag,reason}]}'))
    .addOption(new Option("--apply", "delete what the plan deletes (default: dry run)"))
    .action(async (options: CleanupOptions) => {
      await runCleanup(options, io, deps);
    });
}

/** Parse, read, plan, print; then, with --apply, delete. */
async function runCleanup(options: CleanupOptions, io: CliIo, deps: CleanupDeps): Promise<void> {
  const input = await parseCleanup(options, deps);
  if (options.tagsFile !== undefined) {
    printPlan(io, options, [planTagsFile(options.tagsFile, options.service, input)]);
    return;
  }
  const source = openTagSource(options, deps);
  const services = options.service === undefined ? [...SERVICE_NAMES] : [options.service];
  const snapshots = await readSnapshots(source, options.organization, services);
  const plans = snapshots.map(({ service, snapshot }) =>
    planRepository(service, snapshot, input, source, services.length > 1),
  );
  printPlan(io, options, plans);
  if (options.apply) await applyPlans(plans, source, options.json ? io.stderr : io.stdout);
}

// ------------------------------------------------------------------ 1. parse

/** Every input checked before anything is read from a registry; then the deployed releases. */
async function parseCleanup(options: CleanupOptions, deps: CleanupDeps): Promise<CleanupInput> {
  const now = parseNow(options.now);
  const policy: RetentionPolicy = {
    keepMinors: count("--keep-minors", options.keepMinors),
    keepPatches: count("--keep-patches", options.keepPatches),
    maxAgeDays: count("--max-age-days", options.maxAgeDays),
  };
  const protect = parseProtect(options.protect);
  if (options.tagsFile !== undefined && options.registry !== undefined) {
    throw new UsageError("use either --registry <host> or --tags-file <file>, not both");
  }
  if (options.tagsFile === undefined && options.registry === undefined) {
    throw new UsageError("cleanup needs --registry <host> or --tags-file <file>");
  }
  if (options.apply && options.tagsFile !== undefined) {
    throw new UsageError("--apply needs --registry: a tags file can be planned, not cleaned");
  }
  if (options.service !== undefined) requireService(options.service);
  return { rules: { now, policy, protect }, deployed: await readDeployed(options, deps) };
}

function parseNow(value: string | undefined): number {
  if (value === undefined) return Date.now();
  const time = parseIsoDate(value);
  if (time === undefined) {
    throw new UsageError(
      `invalid --now ${JSON.stringify(value)}: expected an ISO 8601 date or date-time with a zone, such as 2026-05-01T00:00:00Z`,
    );
  }
  return time;
}

function count(flag: string, value: string): number {
  if (!/^\d{1,6}$/.test(value)) {
    throw new UsageError(
      `invalid ${flag} ${JSON.stringify(value)}: expected a whole number, 0 or more`,
    );
  }
  return Number(value);
}

function parseProtect(value: string | undefined): string[] {
  const tags = list(value ?? "");
  const bad = tags.find((tag) => !DOCKER_TAG_PATTERN.test(tag));
  if (bad !== undefined) {
    throw new UsageError(`invalid --protect tag ${JSON.stringify(bad)}: not a Docker tag`);
  }
  return tags;
}

// ------------------------------------------------------------------ 2. read

/** The registry's client, and the Hub's on Docker Hub (its credentials are required there). */
function openTagSource(options: CleanupOptions, deps: CleanupDeps): TagSource {
  const env = deps.env ?? process.env;
  const registry = options.registry as string;
  let hub: DockerHubClient | undefined;
  if (registry === DOCKER_HUB_REGISTRY) {
    hub = hubClientFromEnv(options.hubUrl, env, deps);
    if (hub === undefined) {
      throw new UsageError(
        `${DOCKER_HUB_REGISTRY} is cleaned through the Docker Hub API: set DOCKER_HUB_USERNAME and DOCKER_HUB_TOKEN`,
      );
    }
  }
  return { hub, client: registryClientFromEnv(registry, env, deps) };
}

/** Every repository's tags (an unreachable registry is bad input: nothing has been deleted). */
async function readSnapshots(
  { client, hub }: TagSource,
  organization: string,
  services: readonly string[],
): Promise<Array<{ service: string; snapshot: RepositorySnapshot }>> {
  const snapshots: Array<{ service: string; snapshot: RepositorySnapshot }> = [];
  try {
    if (hub === undefined) await client.ping();
    for (const service of services) {
      const repository = `${organization}/${service}`;
      const snapshot =
        hub === undefined
          ? await readOciRepository(client, repository, { needsAge: isDevOrPrerelease })
          : await readHubRepository(hub, organization, service, async (tag) => {
              const head = await client.headManifest(repository, tag);
              return head?.digest;
            });
      snapshots.push({ service, snapshot });
    }
  } catch (error) {
    throw usageOf(error);
  }
  return snapshots;
}

function isDevOrPrerelease(tag: string): boolean {
  const version = tryParseVersion(splitArchSuffix(tag).base);
  return !(version instanceof Error) && version.kind !== "stable";
}

/** A failure to read a tag source is bad input: it is reported before anything is deleted. */
function usageOf(error: unknown): unknown {
  return error instanceof TagSourceError ||
    error instanceof RegistryError ||
    error instanceof DockerHubError
    ? new UsageError(error.message)
    : error;
}

// ------------------------------------------------------------------ 3. plan

function deployedFor(input: CleanupInput, service: string | undefined): DeployedRef[] {
  return service === undefined
    ? [...input.deployed.values()].flat()
    : [...(input.deployed.get(service) ?? [])];
}

/** A tags file's plan: tags and their ages only, no manifests behind them. */
function planTagsFile(
  file: string,
  service: string | undefined,
  input: CleanupInput,
): RepositoryPlan {
  let tags: ReturnType<typeof readTagsFile>;
  try {
    tags = readTagsFile(file);
  } catch (error) {
    throw usageOf(error);
  }
  const plan = planRetention({ ...input.rules, tags, deployed: deployedFor(input, service) });
  return { label: "", snapshot: undefined, plan, units: [], reached: new Set() };
}

/** One repository's tags planned, then the manifests behind the deleted tags. */
function planRepository(
  service: string,
  snapshot: RepositorySnapshot,
  input: CleanupInput,
  source: TagSource,
  labelled: boolean,
): RepositoryPlan {
  const refs = deployedFor(input, service);
  let plan = planRetention({ ...input.rules, tags: snapshot.tags, deployed: refs });
  const digests = new Map<string, string>();
  for (const tag of snapshot.tags) if (tag.digest !== undefined) digests.set(tag.name, tag.digest);
  const protectedDigests = new Map<string, string>();
  for (const ref of refs) {
    if (ref.digest !== undefined)
      protectedDigests.set(ref.digest, `the digest deployed by ${ref.source}`);
  }
  const manifests = planManifests({
    plan,
    digests,
    manifests: snapshot.manifests,
    protectedDigests,
  });
  // On an OCI registry a tag goes only with its manifest: tags sharing a kept manifest stay.
  if (source.hub === undefined) plan = keepSharedTags(plan, manifests.shared);
  plan = deleteAttachmentTags(plan, manifests.attachments);
  return {
    label: labelled ? `${service}:` : "",
    snapshot,
    plan,
    units: manifests.units,
    reached: manifests.reached,
  };
}

// ------------------------------------------------------------------ deployed releases

/**
 * The releases a stack deploys, per service, from its outputs (`pulumi stack output --json`):
 * `releases.<service>.version` is the tag, the digest of `releases.<service>.ref`
 * (`<repository>:<version>@sha256:...`) is kept whatever tags point at it.
 */
export function deployedFromOutputs(outputs: unknown, source: string): Map<string, DeployedRef[]> {
  const releases =
    outputs !== null && typeof outputs === "object"
      ? (outputs as Record<string, unknown>).releases
      : undefined;
  if (releases === null || typeof releases !== "object" || Array.isArray(releases)) {
    throw new UsageError(
      `${source} has no "releases" object: expected \`pulumi stack output --json\``,
    );
  }
  const deployed = new Map<string, DeployedRef[]>();
  for (const [service, release] of Object.entries(releases as Record<string, unknown>)) {
    const { version, ref } = (release ?? {}) as Record<string, unknown>;
    if (typeof version !== "string" || !DOCKER_TAG_PATTERN.test(version)) {
      throw new UsageError(`${source}: releases.${service} has no "version" tag`);
    }
    const digest = typeof ref === "string" ? /@(sha256:[0-9a-f]{64})$/.exec(ref)?.[1] : undefined;
    deployed.set(service, [
      digest === undefined ? { tag: version, source } : { tag: version, digest, source },
    ]);
  }
  return deployed;
}

async function readDeployed(
  options: CleanupOptions,
  deps: CleanupDeps,
): Promise<Map<string, DeployedRef[]>> {
  const all = new Map<string, DeployedRef[]>();
  const add = (found: Map<string, DeployedRef[]>) => {
    for (const [service, refs] of found) all.set(service, [...(all.get(service) ?? []), ...refs]);
  };
  if (options.stackOutputs !== undefined) {
    const file = options.stackOutputs;
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (error) {
      throw new UsageError(`cannot read stack outputs ${file}: ${(error as Error).message}`);
    }
    let outputs: unknown;
    try {
      outputs = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`stack outputs ${file} are not valid JSON: ${(error as Error).message}`);
    }
    add(deployedFromOutputs(outputs, `stack outputs ${file}`));
  }
  if (options.stack !== undefined) {
    const read = deps.readStackOutputs ?? readStackOutputs;
    let outputs: Record<string, unknown>;
    try {
      outputs = await read(options.stack, options.cwd);
    } catch (error) {
      const first = ((error as Error).message ?? String(error)).trim().split("\n")[0];
      throw new UsageError(`cannot read the outputs of stack ${options.stack}: ${first}`);
    }
    add(deployedFromOutputs(outputs, `stack ${options.stack}`));
  }
  return all;
}

/** A stack's outputs through the Automation API; selecting never creates the stack. */
async function readStackOutputs(stack: string, cwd: string): Promise<Record<string, unknown>> {
  const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
  const selected = await LocalWorkspace.selectStack({ stackName: stack, workDir: cwd });
  const outputs = await selected.outputs();
  return Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, output.value]));
}

// ------------------------------------------------------------------ output

function printPlan(io: CliIo, options: CleanupOptions, plans: readonly RepositoryPlan[]): void {
  const label = (decisions: readonly TagDecision[], prefix: string) =>
    decisions.map(({ tag, reason }) => ({ tag: `${prefix}${tag}`, reason }));
  const keep = plans.flatMap((entry) => label(entry.plan.keep, entry.label));
  const remove = plans.flatMap((entry) => label(entry.plan.delete, entry.label));
  if (options.json) {
    io.stdout(`${JSON.stringify({ keep, delete: remove })}\n`);
    return;
  }
  const rows: string[][] = [["TAG", "ACTION", "REASON"]];
  for (const entry of plans) {
    const decisions = new Map<string, { reason: string; action: string }>();
    for (const { tag, reason } of entry.plan.keep) decisions.set(tag, { reason, action: "keep" });
    for (const { tag, reason } of entry.plan.delete) {
      decisions.set(tag, { reason, action: "delete" });
    }
    for (const tag of orderTags([...decisions.keys()])) {
      const { reason, action } = decisions.get(tag) as { reason: string; action: string };
      rows.push([`${entry.label}${tag}`, action, reason]);
    }
  }
  if (rows.length === 1) rows.splice(0, 1, ["(no tags)", "", ""]);
  const width = (column: number) => Math.max(...rows.map((row) => (row[column] ?? "").length));
  const widths = [width(0), width(1)];
  for (const row of rows) {
    io.stdout(
      `${`${(row[0] ?? "").padEnd(widths[0] ?? 0)}  ${(row[1] ?? "").padEnd(widths[1] ?? 0)}  ${row[2]}`.trimEnd()}\n`,
    );
  }
  const manifests = plans.reduce(
    (sum, entry) => sum + entry.units.reduce((n, unit) => n + 1 + unit.children.length, 0),
    0,
  );
  const repositories =
    plans.length > 1 ? ` in ${plural(plans.length, "repository", "repositories")}` : "";
  const sizesKnown = plans.every((entry) => entry.snapshot?.sizesKnown !== false);
  const scope =
    options.registry === undefined
      ? ""
      : ` (${plural(manifests, "manifest")}; ${
          sizesKnown
            ? `about ${formatBytes(
                estimate(
                  plans,
                  plans.flatMap((entry) =>
                    entry.units.flatMap((unit) => [unit.digest, ...unit.children]),
                  ),
                ).bytes,
              )} freed after garbage collection, an estimate`
            : "Docker Hub gives no sizes"
        })`;
  io.stdout(
    `\n${plural(keep.length, "tag")} to keep, ${plural(remove.length, "tag")} to delete${scope}${repositories}. ${
      options.apply ? "Deleting now." : "Dry run: nothing deleted; add --apply to delete."
    }\n`,
  );
}
