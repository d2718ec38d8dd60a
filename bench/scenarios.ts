/**
 * What `npm run bench` runs: the series (baseline, stack, single, signed, scanned, knobs) and their scenarios, the
 * engine settings they compare, the scaling series' helpers, the retention planner's figures,
 * and the retry of a failed series. Each scenario is one {@link measure} call (bench/measure.ts).
 * The environment variables are bench/run.ts's (see there).
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { planRetention } from "../lib/retention";
import {
  BUILDER,
  createE2eStack,
  type E2eStack,
  FIXTURES,
  localSigningConfig,
  REGISTRY,
  setVersion,
  uniqueOrganization,
  withFixturesCopy,
} from "../scripts/e2eStack";
import { ENGINE_PARALLELISM, upFromEvents } from "../scripts/stack";
import { SERVICES } from "../services/catalog";
import { removeNodesBuilder, startBuildkitNode } from "../test/support/buildkitNode";
import { BUSYBOX_UNLZMA_OUT_OF_BOUNDS } from "../test/support/vulnerabilityDatabase";
import { writeVulnerabilityDbInto } from "../test/support/vulnerabilityDbWriter";
import { median } from "./format";
import { measure, OUT, type Profile, profiler, samples, say, sleep } from "./measure";
import type { Failure, RetentionFigure } from "./report";
import { syntheticTags } from "./retention";
import type { ScalingDeps } from "./scaling";

export const RUNS = Number(process.env.BENCH_RUNS ?? "3");
export const SERIES = (
  process.env.BENCH_SERIES ?? "baseline,stack,single,signed,scanned,nodes,knobs"
).split(",");
const TRACE = process.env.BENCH_TRACE === "1";
/** Extra stack config (JSON object of battlescope: keys without the prefix), for profiling. */
const EXTRA_CONFIG = JSON.parse(process.env.BENCH_STACK_CONFIG ?? "{}") as Record<string, string>;
/** `--parallel` for the shipped variant, for profiling; unset: the runner's (scripts/stack.ts). */
const PARALLEL =
  process.env.BENCH_PARALLEL === undefined ? undefined : Number(process.env.BENCH_PARALLEL);
export const BUILDKIT_HOST = process.env.BUILDKIT_HOST ?? "";
/** The service whose source the patch release changes. */
export const CHANGED_SERVICE = "frontend";
const COLD_VERSION = "v3.0.0";
export const PATCH_VERSION = "v3.0.1";

// ------------------------------------------------------------------ environment

function pruneBuildCache(): void {
  const started = performance.now();
  execFileSync("buildctl", ["--addr", BUILDKIT_HOST, "prune", "--all"], { stdio: "ignore" });
  say(`build cache pruned (${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

/** One service's source changes, as a bug fix would change it. */
function changeSource(sourceRoot: string, version: string): void {
  const file = path.join(sourceRoot, CHANGED_SERVICE, "server.sh");
  fs.appendFileSync(file, `# fix released in ${version}\n`);
}

// ------------------------------------------------------------------ baseline

function baseline(
  org: string,
  version: string,
  sourceRoot: string,
  logName: string,
  buildContexts: readonly string[] = SERVICES.map((service) => service.buildContext),
): Promise<void> {
  const logFile = fs.openSync(path.join(OUT, logName), "a");
  return new Promise((resolve, reject) => {
    const child = spawn(
      "bash",
      [
        path.join(__dirname, "baseline.sh"),
        "--registry",
        REGISTRY,
        "--builder",
        BUILDER,
        "--org",
        org,
        "--version",
        version,
        "--source",
        sourceRoot,
        ...buildContexts,
      ],
      { stdio: ["ignore", logFile, logFile] },
    );
    child.on("error", reject);
    child.on("close", (code) => {
      fs.closeSync(logFile);
      if (code === 0) resolve();
      else reject(new Error(`bench/baseline.sh exited with ${code}; see bench/out/${logName}`));
    });
  });
}

async function baselineSeries(run: number): Promise<void> {
  await withFixturesCopy(async (sourceRoot) => {
    const org = uniqueOrganization("benchb");
    pruneBuildCache();
    await measure(run, "baseline cold", org, async () => {
      await baseline(org, COLD_VERSION, sourceRoot, `run${run}-baseline.log`);
      return undefined;
    });
    changeSource(sourceRoot, PATCH_VERSION);
    await measure(run, "baseline patch", org, async () => {
      await baseline(org, PATCH_VERSION, sourceRoot, `run${run}-baseline.log`);
      return undefined;
    });
    await measure(run, "baseline no-op", org, async () => {
      await baseline(org, PATCH_VERSION, sourceRoot, `run${run}-baseline.log`);
      return undefined;
    });
  });
}

// ------------------------------------------------------------------ stack
function engineLog(name: string): (text: string) => void {
  const file = path.join(OUT, name);
  return (text) => fs.appendFileSync(file, text);
}

/**
 * How `pulumi up` is run: as shipped (`npm run stack`: the runner's engine parallelism, a
 * checkpoint after every step), or with one engine setting changed, to measure what it gives.
 */
interface Variant {
  /** Scenario name prefix. */
  readonly label: string;
  readonly env: Record<string, string>;
  readonly parallel?: number;
}

const SHIPPED: Variant = { label: "stack", env: {}, parallel: PARALLEL ?? ENGINE_PARALLELISM };
/** Not the product's figures: what skipping the intermediate checkpoints gives. */
const NO_CHECKPOINTS: Variant = {
  label: "stack[nockpt]",
  env: { PULUMI_SKIP_CHECKPOINTS: "true" },
  parallel: SHIPPED.parallel,
};
/** As shipped, on a stack that signs and attests (the local key pair, offline). */
const SIGNED: Variant = { label: "stack[signed]", env: {}, parallel: SHIPPED.parallel };
/** As signed, with the vulnerability gate on: grype against a database written for the run. */
const SCANNED: Variant = { label: "stack[signed+scanned]", env: {}, parallel: SHIPPED.parallel };
/**
 * As shipped, on `builders` of two nodes: the local daemon builds linux/amd64, a second daemon of
 * the bench's own linux/arm64 (under QEMU on this amd64 machine, as the one node does it).
 */
const TWO_NODES: Variant = { label: "stack[2 nodes]", env: {}, parallel: SHIPPED.parallel };
/** `pulumi up` from the CLI without `--parallel`: the engine's default, 4 per core. */
const CLI_DEFAULT: Variant = { label: "stack[p8]", env: {} };

/** `pulumi up` or `pulumi preview` of the stack with the variant's settings, its events watched. */
async function engine(
  operation: "up" | "preview",
  e2e: E2eStack,
  variant: Variant,
  logName: string,
  trace?: string,
): Promise<Profile> {
  const watch = profiler();
  const options = {
    color: "never" as const,
    onOutput: engineLog(logName),
    onEvent: (event: EngineEvent) => watch.onEvent(event),
    ...(trace === undefined ? {} : { tracing: `file:${trace}` }),
    ...(variant.parallel === undefined ? {} : { parallel: variant.parallel }),
  };
  if (operation === "preview") {
    await e2e.stack.preview(options);
  } else {
    // As the runner releases (`npm run stack up`); a failed update throws.
    await upFromEvents(e2e.stack, options);
  }
  return watch.profile();
}

const up = (e2e: E2eStack, variant: Variant, logName: string, trace?: string) =>
  engine("up", e2e, variant, logName, trace);
const preview = (e2e: E2eStack, variant: Variant, logName: string, trace?: string) =>
  engine("preview", e2e, variant, logName, trace);

async function withStack(
  prefix: string,
  variant: Variant,
  config: Record<string, string>,
  body: (e2e: E2eStack) => Promise<void>,
): Promise<void> {
  const e2e = await createE2eStack(prefix, { ...config, ...EXTRA_CONFIG });
  Object.assign(e2e.stack.workspace.envVars, variant.env);
  try {
    await body(e2e);
  } finally {
    await e2e.close();
  }
}

/**
 * A grype database in bench/out for one run of the scanned series, removed after it: one real
 * busybox advisory the fixtures' 1.35.0 is not affected by (fixed in 1.34.0), so grype matches
 * every package against the database and the releases pass.
 */
async function withVulnerabilityDb(run: number, body: (dir: string) => Promise<void>) {
  const dir = path.join(OUT, `run${run}-vulndb`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  try {
    writeVulnerabilityDbInto(dir, new Date(Date.now() - 60 * 60 * 1000), [
      BUSYBOX_UNLZMA_OUT_OF_BOUNDS,
    ]);
    await body(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

/** The stack config of a variant: signing (the local key pair), and the scan with its database. */
async function variantConfig(
  variant: Variant,
  vulnerabilityDb: string | undefined,
): Promise<Record<string, { value: string; secret?: boolean }>> {
  if (variant !== SIGNED && variant !== SCANNED) return {};
  return {
    ...(await localSigningConfig()),
    ...(vulnerabilityDb === undefined
      ? {}
      : {
          "battlescope:scan": { value: "true" },
          "battlescope:vulnerabilityDb": { value: vulnerabilityDb },
        }),
  };
}

/** Cold, patch, no-op up and preview on one stack; the knobs variant stops after the patch. */
async function stackSeries(
  run: number,
  variant: Variant,
  vulnerabilityDb?: string,
  stackConfig: Record<string, string> = {},
): Promise<void> {
  await withFixturesCopy(async (sourceRoot) => {
    const config = { sourceRoot, version: COLD_VERSION, ...stackConfig };
    await withStack("benchs", variant, config, async (e2e) => {
      const log = `run${run}-${variant.label}.log`;
      const org = e2e.organization;
      const extra = await variantConfig(variant, vulnerabilityDb);
      if (Object.keys(extra).length > 0) await e2e.stack.setAllConfig(extra);
      pruneBuildCache();
      await measure(run, `${variant.label} cold`, org, () => up(e2e, variant, log));
      changeSource(sourceRoot, PATCH_VERSION);
      await setVersion(e2e, PATCH_VERSION);
      await measure(run, `${variant.label} patch`, org, () => up(e2e, variant, log));
      if (variant === SIGNED || variant === SCANNED) {
        await measure(run, `${variant.label} no-op up`, org, () => up(e2e, variant, log));
      }
      if (variant !== SHIPPED) return;
      await measure(run, "stack no-op up", org, () => up(e2e, variant, log));
      await measure(run, "stack preview", org, () => preview(e2e, variant, log));
      if (TRACE) {
        await up(e2e, variant, log, path.join(OUT, `run${run}-noop-up.trace`));
        await preview(e2e, variant, log, path.join(OUT, `run${run}-preview.trace`));
      }
    });
  });
}

/** The stack series on two nodes; the second daemon starts empty (cold) and is stopped after. */
async function twoNodeSeries(run: number): Promise<void> {
  const dir = path.join(OUT, `run${run}-node-arm64`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const arm64 = await startBuildkitNode("bench-node-arm64", { dir });
  const builder = `battlescope-bench-${run}-${Date.now().toString(36)}`;
  try {
    await stackSeries(run, TWO_NODES, undefined, {
      builder,
      builders: JSON.stringify([
        { name: "amd64", endpoint: BUILDKIT_HOST, platforms: ["linux/amd64"] },
        { name: "arm64", endpoint: arm64.address, platforms: ["linux/arm64"] },
      ]),
    });
  } finally {
    removeNodesBuilder(builder);
    await arm64.stop();
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

async function singleArchSeries(run: number, variant: Variant): Promise<void> {
  await withFixturesCopy(async (sourceRoot) => {
    const config = { sourceRoot, version: COLD_VERSION, platforms: '["linux/amd64"]' };
    await withStack("benchm", variant, config, async (e2e) => {
      pruneBuildCache();
      await measure(run, `${variant.label} cold amd64 only`, e2e.organization, () =>
        up(e2e, variant, `run${run}-${variant.label}-single.log`),
      );
    });
  });
}

/** The series BENCH_SERIES chooses from, each run once per run. */
export const series: Record<string, (run: number) => Promise<void>> = {
  baseline: baselineSeries,
  stack: (run) => stackSeries(run, SHIPPED),
  single: (run) => singleArchSeries(run, SHIPPED),
  signed: (run) => stackSeries(run, SIGNED),
  scanned: (run) => withVulnerabilityDb(run, (dir) => stackSeries(run, SCANNED, dir)),
  nodes: twoNodeSeries,
  knobs: async (run) => {
    await stackSeries(run, NO_CHECKPOINTS);
    await singleArchSeries(run, NO_CHECKPOINTS);
    await stackSeries(run, CLI_DEFAULT);
  },
};

// ------------------------------------------------------------------ scaling

/** What bench/scaling.ts measures with: this file's helpers, one run (run 1) per N. */
export const scalingDeps: ScalingDeps<E2eStack> = {
  out: OUT,
  fixtures: FIXTURES,
  measure: (scenario: string, org: string, step: () => Promise<Profile | undefined>) =>
    measure(1, scenario, org, step),
  withStack: (
    config: Record<string, string>,
    skipCheckpoints: boolean,
    body: (e2e: E2eStack) => Promise<void>,
  ) => withStack("benchn", skipCheckpoints ? NO_CHECKPOINTS : SHIPPED, config, body),
  up: (e2e: E2eStack, logName: string) => up(e2e, SHIPPED, logName),
  preview: (e2e: E2eStack, logName: string) => preview(e2e, SHIPPED, logName),
  baseline,
  pruneBuildCache,
  organization: uniqueOrganization,
};

// ------------------------------------------------------------------ retention

export function retentionFigures(): RetentionFigure[] {
  const now = Date.parse("2026-05-10T00:00:00Z");
  const repeats = Math.max(RUNS, 5);
  planRetention({ tags: syntheticTags(10_000, 7), now }); // warm-up: the JIT, not the planner
  return [1_000, 10_000, 100_000].map((count) => {
    const tags = syntheticTags(count);
    const runs: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const started = performance.now();
      planRetention({ tags, now });
      runs.push(performance.now() - started);
    }
    return { tags: count, medianMs: median(runs), runs: repeats };
  });
}

function command(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "(unavailable)";
  }
}

/** The machine and the tools' versions, for the report. */
export function machine(): Array<[string, string]> {
  const cpus = os.cpus();
  const buildkitd = command("buildctl", ["--addr", BUILDKIT_HOST, "debug", "info"])
    .split("\n")
    .find((line) => /version/i.test(line));
  return [
    ["cores", `${cpus.length} (${cpus[0]?.model ?? "unknown"})`],
    ["memory", `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`],
    ["kernel", `${os.type()} ${os.release()}`],
    ["node", process.version],
    ["pulumi", command("pulumi", ["version"])],
    ["buildkit", (buildkitd ?? command("buildctl", ["--version"])).replace(/\s+/g, " ").trim()],
    ["buildx", command("docker", ["buildx", "version"])],
    ["docker CLI", command("docker", ["--version"])],
    ["registry", command("registry", ["--version"])],
  ];
}

// ------------------------------------------------------------------ retries

/** Every failed attempt of this run, reported. */
export const failures: Failure[] = [];
const ATTEMPTS = 3;

/**
 * Runs a series; when a step fails, its samples from this attempt are dropped and the whole
 * series starts again from cold (a new stack, organization and empty cache), so no figure comes
 * from a half-done release. Failures are reported.
 */
export async function attempt(name: string, run: number, body: (run: number) => Promise<void>) {
  for (let tries = 1; ; tries++) {
    const kept = samples.length;
    try {
      await body(run);
      return;
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      const lines = text.split("\n").filter((line) => /error/i.test(line));
      const summary = [...new Set(lines.map((line) => line.trim()))].slice(0, 4).join(" / ");
      failures.push({ series: name, run, error: summary || text.slice(0, 300) });
      say(`run ${run} ${name} failed (attempt ${tries}): ${summary || text.slice(0, 300)}`);
      samples.splice(kept);
      fs.writeFileSync(
        path.join(OUT, "samples.jsonl"),
        samples.map((sample) => `${JSON.stringify(sample)}\n`).join(""),
      );
      if (tries >= ATTEMPTS) throw error;
      await registryAnswers();
    }
  }
}

/**
 * Waits until the registry answers again (other users' outage tests stop and restart the shared
 * registry), then a little longer, before a failed series starts again.
 */
async function registryAnswers(): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`https://${REGISTRY}/v2/`, { signal: AbortSignal.timeout(3000) })
      .then((response) => response.ok)
      .catch(() => false);
    if (ok) break;
    await sleep(2000);
  }
  await sleep(10_000);
}
