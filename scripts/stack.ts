/**
 * Runs the release stack through the Pulumi Automation API with the program inline: the engine
 * starts no Node.js language host for it (the CLI's `pulumi up` runs the program through ours,
 * which scripts/toolchain.sh builds from scripts/toolchain/language-host). Same engine,
 * providers, config files and state as the CLI.
 *
 *   tsx scripts/stack.ts <preview|up|destroy|refresh|outputs> --stack <name> [--cwd <dir>]
 */

import * as fs from "node:fs";
import * as path from "node:path";
import {
  CommandError,
  type EngineEvent,
  LocalWorkspace,
  type OpMap,
  type OutputMap,
  type Stack,
  type SummaryEvent,
  type UpOptions,
} from "@pulumi/pulumi/automation";
import { Command } from "commander";
import { failedNodesReport } from "../clients/buildxBuilder";
import { type KubeTarget, readWorkloads } from "../clients/kubernetes";
import { OciRegistryClient } from "../clients/ociRegistry";
import { ConfigError, DEFAULT_NODES_BUILDER, PULL_SECRET_NAME, probedPaths } from "../lib/config";
import { builderTls } from "../lib/config/builderKeys";
import { publicationReport, splitReference, type TagWrite } from "../lib/publicationReport";
import { diagnoseRollouts, rolloutRows } from "../lib/rollout";
import { releaseProgramIn } from "../program";
import { registryLogin } from "../release/plan";
import { readKubeconfig, readStackConfig, type StackSettings } from "../release/read";
import { reportProgramErrorsOnce } from "./inlineProgramErrors";

export const PROJECT_NAME = "battlescope";
export const REPO_ROOT = path.resolve(__dirname, "..");

export interface StackOptions {
  readonly stackName: string;
  /** Folder holding Pulumi.yaml and Pulumi.<stack>.yaml; the repository root by default. */
  readonly workDir?: string;
  /** Extra environment for the engine and providers (backend URL, passphrase, CA bundle). */
  readonly envVars?: Record<string, string>;
}

export async function openStack(options: StackOptions): Promise<Stack> {
  reportProgramErrorsOnce();
  const workDir = options.workDir ?? REPO_ROOT;
  return LocalWorkspace.createOrSelectStack(
    { projectName: PROJECT_NAME, stackName: options.stackName, program: releaseProgramIn(workDir) },
    {
      workDir,
      ...(options.envVars === undefined ? {} : { envVars: options.envVars }),
    },
  );
}

/**
 * Most steps wait on the network or BuildKit, not the CPU, so the engine's CPU-based default (8 on
 * two cores) can leave them queued. Measured on two cores: with checkpoints skipped, 64 took the
 * cold release from 10.5 s to 8.2 s; with checkpoints (as shipped) the difference is within the
 * runs' spread (bench/RESULTS.md: `stack` against `stack[p8]`).
 */
export const ENGINE_PARALLELISM = 64;

const WRITING_OPS = new Set(["create", "update", "replace", "create-replacement"]);

/**
 * Follows an update's engine events to tell, if it fails, which tags it wrote and which it did
 * not: the registry may be the thing that failed, so it cannot be asked afterwards.
 */
export function publicationTracker() {
  const planned = new Map<string, Array<{ repository: string; tag: string }>>();
  const done = new Set<string>();
  const tagsOf = (type: string, inputs: Record<string, unknown>) => {
    if (type === "docker-build:index:Index") return [splitReference(String(inputs.tag ?? ""))];
    if (type.endsWith(":RegistryTagSet")) {
      const targets = (inputs.tags as Array<{ tag: string }> | undefined) ?? [];
      return targets.map(({ tag }) => ({
        repository: `${inputs.registry}/${inputs.repository}`,
        tag: String(tag),
      }));
    }
    return [];
  };
  return {
    onEvent(event: EngineEvent): void {
      const pre = event.resourcePreEvent?.metadata;
      if (pre !== undefined && WRITING_OPS.has(pre.op)) {
        const tags = tagsOf(pre.type, (pre.new?.inputs ?? {}) as Record<string, unknown>);
        if (tags.length > 0) planned.set(pre.urn, tags);
      }
      const outputs = event.resOutputsEvent?.metadata;
      if (outputs !== undefined && WRITING_OPS.has(outputs.op)) done.add(outputs.urn);
    },
    writes(): TagWrite[] {
      return [...planned].flatMap(([urn, tags]) =>
        tags.map((tag) => ({ ...tag, published: done.has(urn) })),
      );
    },
    report(): string {
      return publicationReport(this.writes());
    },
  };
}

/**
 * `pulumi up` through the Automation API, answered from the engine's own events. `Stack.up` ends
 * with three more CLI runs to fill its result (`stack output` masked and in plain text, then
 * `stack history`), each a CLI start and a read of the whole state: about 1 s after the engine is
 * done, on every release (bench/RESULTS.md, "command returned"). The resource changes are in the
 * engine's summary event; the outputs are one `stack.outputs()` away for whoever needs them.
 *
 * `Stack.up` is run on a view of the stack whose `outputs` and `info` (the methods behind those
 * runs) answer at once: were a later Automation API to fill its result some other way, this only
 * gets slower again.
 */
export async function upFromEvents(stack: Stack, options: UpOptions): Promise<OpMap> {
  let summary: SummaryEvent | undefined;
  const view = Object.create(stack, {
    outputs: { value: async (): Promise<OutputMap> => ({}) },
    info: { value: async () => undefined },
  }) as Stack;
  await view.up({
    ...options,
    onEvent: (event) => {
      if (event.summaryEvent !== undefined) summary = event.summaryEvent;
      options.onEvent?.(event);
    },
  });
  if (summary === undefined) throw new Error("pulumi up ended without the engine's summary event");
  return summary.resourceChanges ?? {};
}

/**
 * The line a failed engine command ends with: the engine has printed its error (streamed as it
 * came), so neither it nor the Automation API's account of it (the command's whole stdout and
 * stderr again) is repeated. `failure` is the Automation API's `CommandError` text.
 */
export function engineFailureLine(command: string, failure: string): string {
  const exit = /Command failed with exit code (\d+)/.exec(failure)?.[1];
  if (exit !== undefined) return `${command} failed (exit ${exit}): see the error above`;
  // The CLI did not run (not installed, killed): nothing was printed, so say why.
  const cause = / stderr: (.*)/.exec(failure)?.[1] ?? failure.split("\n")[0];
  return `${command} failed: ${cause}`;
}

/** Runs an engine command; its failure is told by the engine and ends with one line. */
async function engineCommand<T>(command: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof CommandError) throw new Error(engineFailureLine(command, error.message));
    throw error;
  }
}

async function main(): Promise<void> {
  const program = new Command("stack")
    .description("Preview, update or destroy a BattleScope stack with the program inline")
    .argument("<command>", "preview, up, destroy, refresh or outputs")
    .requiredOption("--stack <name>", "stack name: local, dev or prod")
    .option("--cwd <dir>", "folder holding Pulumi.yaml", REPO_ROOT)
    .option("--summary", "after up, print what the registry now serves for each image")
    .parse();
  const [command] = program.args;
  const options = program.opts<{ stack: string; cwd: string; summary?: boolean }>();
  const stack = await openStack({ stackName: options.stack, workDir: options.cwd });
  // The engine's output as it comes, once: its progress on stdout, its errors on stderr.
  const streams = {
    onOutput: (text: string) => process.stdout.write(text),
    onError: (text: string) => process.stderr.write(text),
    color: "never" as const,
  };
  const engine = <T>(run: () => Promise<T>) =>
    engineCommand(`pulumi ${command} --stack ${options.stack}`, run);

  switch (command) {
    case "preview": {
      const result = await engine(() =>
        stack.preview({ ...streams, diff: true, parallel: ENGINE_PARALLELISM }),
      );
      process.stdout.write(`${JSON.stringify(result.changeSummary)}\n`);
      return;
    }
    case "up": {
      const tracker = publicationTracker();
      const changes = await engine(() =>
        upFromEvents(stack, {
          ...streams,
          onEvent: (event) => tracker.onEvent(event),
          parallel: ENGINE_PARALLELISM,
        }).catch(async (error: unknown) => {
          // A run refused before any tag was planned has nothing to report.
          if (tracker.writes().length > 0) process.stderr.write(`${tracker.report()}\n`);
          const rollouts = await rolloutReport(stack).catch(
            (reportError: unknown) =>
              `could not read the cluster to report the rollouts: ${(reportError as Error).message}`,
          );
          if (rollouts !== "") process.stderr.write(`${rollouts}\n`);
          const nodes = await builderReport(stack).catch(
            (reportError: unknown) =>
              `could not ask the builder nodes: ${(reportError as Error).message}`,
          );
          if (nodes !== "") process.stderr.write(`${nodes}\n`);
          throw error;
        }),
      );
      process.stdout.write(`${JSON.stringify(changes)}\n`);
      if (options.summary) process.stdout.write(await publishedTable(stack));
      return;
    }
    case "destroy":
      await engine(() => stack.destroy(streams));
      return;
    case "refresh":
      await engine(() => stack.refresh(streams));
      return;
    case "outputs":
      process.stdout.write(`${JSON.stringify(await stack.outputs(), null, 2)}\n`);
      return;
    default:
      throw new Error(
        `unknown command ${JSON.stringify(command)}: expected preview, up, destroy, refresh or outputs`,
      );
  }
}

export interface StackCluster {
  readonly target: KubeTarget;
  readonly namespace: string;
  readonly registry: string;
  readonly healthPaths: Record<string, string>;
}

/** A stack's config and secrets, read by the program's read step. */
async function stackSettings(stack: Stack): Promise<StackSettings> {
  return readStackConfig(await stack.getAllConfig());
}

/**
 * The cluster a stack applies to, read from its config as the program reads it; undefined when
 * the stack renders its manifests to a folder, deploys nothing, or its config is not valid (then
 * nothing was applied).
 */
export async function stackCluster(stack: Stack): Promise<StackCluster | undefined> {
  let settings: StackSettings;
  try {
    settings = await stackSettings(stack);
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
  return clusterOf(settings);
}

function clusterOf({ config, secrets }: StackSettings): StackCluster | undefined {
  if (!config.deploy || config.renderManifestsTo !== undefined) return undefined;
  if (config.kubeconfigPath === undefined && secrets.kubeconfig === undefined) return undefined;
  const readFile = (file: string) =>
    fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
  const { target } = readKubeconfig(config, REPO_ROOT, readFile, secrets.kubeconfig);
  return {
    target,
    namespace: config.namespace,
    registry: config.registry,
    healthPaths: probedPaths(config),
  };
}

/** After a failed `up` on a stack with `builders`: the nodes that do not answer (clients/buildxBuilder.ts). */
export async function builderReport(stack: Stack): Promise<string> {
  const { config, secrets } = await stackSettings(stack);
  if (config.builders === undefined) return "";
  return failedNodesReport({
    name: config.builder ?? DEFAULT_NODES_BUILDER,
    nodes: config.builders,
    platforms: config.platforms,
    tls: builderTls(config.builders, secrets.builderTls).tls,
  });
}

/** After a failed `up`: each Deployment that is not Ready, why, and what to do. */
export async function rolloutReport(stack: Stack): Promise<string> {
  const cluster = await stackCluster(stack);
  if (cluster === undefined) return "";
  const workloads = await readWorkloads(cluster.target, cluster.namespace);
  const reports = diagnoseRollouts(workloads.deployments, workloads.pods, workloads.events, {
    namespace: cluster.namespace,
    pullSecretName: PULL_SECRET_NAME,
    registry: cluster.registry,
    healthPaths: cluster.healthPaths,
  });
  return reports.length === 0 ? "" : `rollouts not Ready:\n${reports.join("\n")}`;
}

interface ReleaseOutput {
  version: string;
  ref: string;
  digest: string;
  tags: string[];
}

/** What was published, read back from the registry rather than trusted from the state. */
export async function publishedTable(stack: Stack): Promise<string> {
  const outputs = await stack.outputs();
  const releases = (outputs.releases?.value ?? {}) as Record<string, ReleaseOutput>;
  const settings = await stackSettings(stack);
  const { registry, organization } = settings.config;
  // The credentials the program pushed with, by the same rule.
  const login = registryLogin(registry, settings.secrets);
  const client = new OciRegistryClient({
    registry,
    ...(login === undefined ? {} : { username: login.username, password: login.password }),
  });
  const rows = [["service", "version", "tags", "manifest list digest", "platforms"]];
  for (const [service, release] of Object.entries(releases)) {
    const index = await client.getManifest(`${organization}/${service}`, release.version);
    const platforms = (index?.manifests ?? [])
      .filter((child) => child.platform !== undefined && child.platform.os !== "unknown")
      .map((child) => `${child.platform?.os}/${child.platform?.architecture}`);
    const served = index?.digest ?? "(missing)";
    const tags = release.tags.map((tag) => tag.slice(tag.lastIndexOf(":") + 1));
    rows.push([service, release.version, tags.join(","), served, platforms.join(",")]);
  }
  const lines = alignedTable(rows);
  const manifests = outputs.manifestsDir?.value as string | undefined;
  const cluster = clusterOf(settings);
  let rollouts = "";
  if (cluster !== undefined) {
    const workloads = await readWorkloads(cluster.target, cluster.namespace);
    rollouts = `\n${alignedTable([
      ["deployment", "ready", "running image digest (pods' imageID)"],
      ...rolloutRows(workloads.deployments, workloads.pods).map((row) => [
        row.deployment,
        row.ready,
        row.digests.join(",") || "(no pod runs)",
      ]),
    ]).join(
      "\n",
    )}\n\ncluster: ${cluster.target.server} (context ${cluster.target.context}), namespace ${cluster.namespace}\n`;
  }
  return `\n${lines.join("\n")}\n${manifests === undefined ? "" : `\nrendered Kubernetes manifests: ${manifests}\n`}${rollouts}`;
}

/** Rows as columns padded to their widest cell. */
function alignedTable(rows: readonly string[][]): string[] {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join("  ")
      .trimEnd(),
  );
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`stack: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
