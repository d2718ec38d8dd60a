/**
 * `npm run bench`: release speed and registry traffic of the stack against the manual shell
 * procedure (docs/reference.md#the-bench-baseline-procedure, scripted in bench/baseline.sh), on the
 * same machine, builder and registry, in one run.
 *
 * Per run (BENCH_RUNS, default 3), these series, in alternating order from run to run:
 * - baseline: cold (empty build cache, fresh organization) v3.0.0, patch v3.0.1 with one
 *   service's source changed, no-op (the same procedure again);
 * - stack: the same three as `pulumi up` of the real program on its own e2e-style stack, backend
 *   and organization, run as `npm run stack` runs it (its engine parallelism), then `pulumi preview`;
 * - single: cold `pulumi up` with `platforms: ["linux/amd64"]`, for the second architecture's cost;
 * - knobs: not the product as shipped, one engine setting changed: cold, patch and single-arch
 *   cold with PULUMI_SKIP_CHECKPOINTS=true (`stack[nockpt]`), and cold and patch with the CLI's
 *   default parallelism (`stack[p8]`, what `pulumi up` without `--parallel` gets on 2 cores).
 * Then the retention planner on 1,000, 10,000 and 100,000 tags. Prints a table and writes
 * bench/RESULTS.md; raw samples and engine output go to bench/out/.
 *
 * Environment:
 * - BENCH_RUNS: runs per scenario (default 3);
 * - BENCH_SERIES: comma list of baseline, stack, single, knobs (default all);
 * - BENCH_RESULTS: the report to write (default bench/RESULTS.md);
 * - BENCH_REPORT_ONLY=1: rewrite the report from the last run's bench/out, running nothing;
 * - BENCH_SCALING=1 (`npm run bench:scaling`): after the runs, the scaling series of
 *   bench/scaling.ts, N = BENCH_SCALING_NS (default 9,18,36) services, one run per N, plotted to
 *   scaling.png beside the report; BENCH_SCALING_NOCKPT=1 adds a cold up without checkpoints per
 *   N. `BENCH_SERIES=scaling` runs that series alone (point BENCH_RESULTS elsewhere then).
 * For profiling, not for the reported figures:
 * - BENCH_STACK_CONFIG: JSON of extra stack config, e.g. `{"registryCache":"false"}`;
 * - BENCH_PARALLEL: `--parallel` for the shipped variant instead of the runner's;
 * - BENCH_TRACE=1: Pulumi tracing files of an extra no-op up and preview in bench/out/.
 * Run through bench/run.sh, which loads the toolchain's and local services' environment.
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { planRetention } from "../lib/retention";
import { ENGINE_PARALLELISM } from "../scripts/stack";
import { SERVICES } from "../services/catalog";
import { createE2eStack, type E2eStack, FIXTURES, REGISTRY, setVersion } from "../test/e2e/harness";
import * as accessLog from "./accessLog";
import { syntheticTags } from "./retention";
import { SCALING_ENABLED, scalingSection, scalingSteps } from "./scaling";

const RUNS = Number(process.env.BENCH_RUNS ?? "3");
const SERIES = (process.env.BENCH_SERIES ?? "baseline,stack,single,knobs").split(",");
const TRACE = process.env.BENCH_TRACE === "1";
/** Extra stack config (JSON object of battlescope: keys without the prefix), for profiling. */
const EXTRA_CONFIG = JSON.parse(process.env.BENCH_STACK_CONFIG ?? "{}") as Record<string, string>;
/** `--parallel` for the shipped variant, for profiling; unset: the runner's (scripts/stack.ts). */
const PARALLEL =
  process.env.BENCH_PARALLEL === undefined ? undefined : Number(process.env.BENCH_PARALLEL);
const HERE = __dirname;
const OUT = path.join(HERE, "out");
const RESULTS = process.env.BENCH_RESULTS ?? path.join(HERE, "RESULTS.md");
const ACCESS_LOG = process.env.BATTLESCOPE_REGISTRY_ACCESS_LOG ?? "";
const BUILDKIT_HOST = process.env.BUILDKIT_HOST ?? "";
const BUILDER = process.env.BATTLESCOPE_BUILDER ?? "battlescope";
/** The service whose source the patch release changes. */
const CHANGED_SERVICE = "frontend";
const COLD_VERSION = "v3.0.0";
const PATCH_VERSION = "v3.0.1";

// ------------------------------------------------------------------ samples

interface Span {
  readonly type: string;
  readonly op: string;
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

/** What the engine's event stream says about an update, in ms from the command's start. */
interface Profile {
  readonly firstEvent: number;
  readonly firstResource: number;
  readonly lastResource: number;
  /** The engine's summary event: the update is over (state written); then the CLI exits. */
  readonly summary: number;
  readonly end: number;
  readonly spans: readonly Span[];
  readonly ops: Record<string, number>;
}

interface Sample {
  readonly run: number;
  readonly scenario: string;
  readonly organization: string;
  readonly wallMs: number;
  readonly requests: accessLog.RequestCounts;
  readonly totalRequests: number;
  /** `/v2/` pings and base image requests in the window (shared with other registry users). */
  readonly unscopedRequests: number;
  readonly bytes: accessLog.UploadedBytes;
  /** Requests and completed blob uploads per client (user agent). */
  readonly clients: Record<string, { requests: number; blobUploads: number; manifestPuts: number }>;
  readonly profile?: Profile;
  /** CPU seconds in the window, by who spent them (see {@link cpuSnapshot}). */
  readonly cpu: Cpu;
}

const samples: Sample[] = [];
const loads: number[] = [];

function say(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a step and charges it with the organization's registry traffic in its window. */
async function measure(
  run: number,
  scenario: string,
  organization: string,
  step: () => Promise<Profile | undefined>,
): Promise<Sample> {
  const startMark = accessLog.logSize(ACCESS_LOG);
  const cpuBefore = cpuSnapshot();
  const started = performance.now();
  const profile = await step();
  const wallMs = performance.now() - started;
  const cpu = cpuSince(cpuBefore);
  // The registry logs a request after answering it: let the last lines land.
  await sleep(500);
  const window = accessLog.readLog(ACCESS_LOG, startMark, accessLog.logSize(ACCESS_LOG));
  const own = accessLog.inOrganization(window, organization);
  const requests = accessLog.countRequests(own);
  const clients: Sample["clients"] = {};
  for (const entry of own) {
    const name = accessLog.client(entry.agent);
    const row = clients[name] ?? { requests: 0, blobUploads: 0, manifestPuts: 0 };
    row.requests++;
    clients[name] = row;
  }
  for (const upload of accessLog.completedUploads(own)) {
    const row = clients[accessLog.client(upload.agent)];
    if (row !== undefined) row.blobUploads++;
  }
  for (const write of accessLog.manifestWrites(own)) {
    const row = clients[accessLog.client(write.agent)];
    if (row !== undefined) row.manifestPuts++;
  }
  const sample: Sample = {
    run,
    scenario,
    organization,
    wallMs,
    requests,
    totalRequests: accessLog.total(requests),
    unscopedRequests: accessLog.unscoped(window).length,
    bytes: await accessLog.uploadedBytes(REGISTRY, own),
    clients,
    ...(profile === undefined ? {} : { profile }),
    cpu,
  };
  samples.push(sample);
  fs.appendFileSync(path.join(OUT, "samples.jsonl"), `${JSON.stringify(sample)}\n`);
  say(
    `run ${run} ${scenario}: ${(wallMs / 1000).toFixed(1)} s, ${sample.totalRequests} requests, ${sample.bytes.blobUploads} blob uploads (${formatBytes(sample.bytes.blobBytes)}); CPU s: bench ${cpu.bench.toFixed(1)}, tools ${cpu.tools.toFixed(1)}, buildkitd ${cpu.buildkitd.toFixed(1)}, registry ${cpu.registry.toFixed(1)}`,
  );
  return sample;
}

// ------------------------------------------------------------------ CPU accounting

/**
 * CPU seconds spent so far by: this process (the inline program, the Hub emulator, the bench),
 * its exited descendants (the pulumi CLI with its plugins and providers, or the baseline's
 * docker/buildx commands: a reaped child's time, with its own reaped children's, lands in its
 * parent's cutime/cstime), and the shared buildkitd (with its runc steps) and registry daemons,
 * whose figures include any other user's work in the same window.
 */
interface Cpu {
  bench: number;
  tools: number;
  buildkitd: number;
  registry: number;
}

const CLOCK_TICKS = 100;

function statTicks(pid: string | number): { self: number; children: number } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state): utime 14, stime 15, cutime 16, cstime 17
    const at = (field: number) => Number(fields[field - 3] ?? 0);
    return { self: at(14) + at(15), children: at(16) + at(17) };
  } catch {
    return undefined;
  }
}

function daemonPid(name: string): string | undefined {
  const state = process.env.BATTLESCOPE_STATE ?? "";
  try {
    return fs.readFileSync(path.join(state, name), "utf8").trim();
  } catch {
    return undefined;
  }
}

function cpuSnapshot(): Cpu {
  const own = statTicks("self") ?? { self: 0, children: 0 };
  const daemon = (file: string) => {
    const pid = daemonPid(file);
    const ticks = pid === undefined ? undefined : statTicks(pid);
    return ticks === undefined ? 0 : (ticks.self + ticks.children) / CLOCK_TICKS;
  };
  return {
    bench: own.self / CLOCK_TICKS,
    tools: own.children / CLOCK_TICKS,
    buildkitd: daemon("buildkit/buildkitd.pid"),
    registry: daemon("registry/registry.pid"),
  };
}

function cpuSince(before: Cpu): Cpu {
  const now = cpuSnapshot();
  return {
    bench: now.bench - before.bench,
    tools: now.tools - before.tools,
    buildkitd: now.buildkitd - before.buildkitd,
    registry: now.registry - before.registry,
  };
}

// ------------------------------------------------------------------ environment

function pruneBuildCache(): void {
  const started = performance.now();
  execFileSync("buildctl", ["--addr", BUILDKIT_HOST, "prune", "--all"], { stdio: "ignore" });
  say(`build cache pruned (${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

function copySources(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "battlescope-bench-src-"));
  fs.cpSync(FIXTURES, dir, { recursive: true });
  return dir;
}

/** One service's source changes, as a bug fix would change it. */
function changeSource(sourceRoot: string, version: string): void {
  const file = path.join(sourceRoot, CHANGED_SERVICE, "server.sh");
  fs.appendFileSync(file, `# fix released in ${version}\n`);
}

function organization(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
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
        path.join(HERE, "baseline.sh"),
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
  const sourceRoot = copySources();
  const org = organization("benchb");
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
  fs.rmSync(sourceRoot, { recursive: true, force: true });
}

// ------------------------------------------------------------------ stack

function profiler() {
  const started = performance.now();
  const open = new Map<string, { type: string; op: string; start: number }>();
  const spans: Span[] = [];
  const ops: Record<string, number> = {};
  let firstEvent = -1;
  let firstResource = -1;
  let lastResource = -1;
  let summary = -1;
  return {
    onEvent(event: EngineEvent): void {
      const now = performance.now() - started;
      if (firstEvent < 0) firstEvent = now;
      if (event.summaryEvent !== undefined) summary = now;
      const pre = event.resourcePreEvent?.metadata;
      if (pre !== undefined) {
        if (firstResource < 0) firstResource = now;
        ops[pre.op] = (ops[pre.op] ?? 0) + 1;
        open.set(pre.urn, { type: pre.type, op: pre.op, start: now });
      }
      const done = event.resOutputsEvent?.metadata;
      if (done !== undefined) {
        lastResource = now;
        const begun = open.get(done.urn);
        if (begun !== undefined) {
          open.delete(done.urn);
          spans.push({
            ...begun,
            name: done.urn.slice(done.urn.lastIndexOf("::") + 2),
            end: now,
          });
        }
      }
    },
    profile(): Profile {
      return {
        firstEvent,
        firstResource,
        lastResource,
        summary,
        end: performance.now() - started,
        spans,
        ops,
      };
    },
  };
}

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
/** `pulumi up` from the CLI without `--parallel`: the engine's default, 4 per core. */
const CLI_DEFAULT: Variant = { label: "stack[p8]", env: {} };

async function up(
  e2e: E2eStack,
  variant: Variant,
  logName: string,
  trace?: string,
): Promise<Profile> {
  const watch = profiler();
  const result = await e2e.stack.up({
    color: "never",
    onOutput: engineLog(logName),
    onEvent: (event) => watch.onEvent(event),
    ...(trace === undefined ? {} : { tracing: `file:${trace}` }),
    ...(variant.parallel === undefined ? {} : { parallel: variant.parallel }),
  });
  if (result.summary.result !== "succeeded") {
    throw new Error(`pulumi up ${result.summary.result}; see bench/out/${logName}`);
  }
  return watch.profile();
}

async function preview(
  e2e: E2eStack,
  variant: Variant,
  logName: string,
  trace?: string,
): Promise<Profile> {
  const watch = profiler();
  await e2e.stack.preview({
    ...(variant.parallel === undefined ? {} : { parallel: variant.parallel }),
    color: "never",
    onOutput: engineLog(logName),
    onEvent: (event) => watch.onEvent(event),
    ...(trace === undefined ? {} : { tracing: `file:${trace}` }),
  });
  return watch.profile();
}

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
    fs.rmSync(e2e.workDir, { recursive: true, force: true });
  }
}

/** Cold, patch, no-op up and preview on one stack; the knobs variant stops after the patch. */
async function stackSeries(run: number, variant: Variant): Promise<void> {
  const sourceRoot = copySources();
  const config = { sourceRoot, version: COLD_VERSION };
  await withStack("benchs", variant, config, async (e2e) => {
    const log = `run${run}-${variant.label}.log`;
    const org = e2e.organization;
    pruneBuildCache();
    await measure(run, `${variant.label} cold`, org, () => up(e2e, variant, log));
    changeSource(sourceRoot, PATCH_VERSION);
    await setVersion(e2e, PATCH_VERSION);
    await measure(run, `${variant.label} patch`, org, () => up(e2e, variant, log));
    if (variant !== SHIPPED) return;
    await measure(run, "stack no-op up", org, () => up(e2e, variant, log));
    await measure(run, "stack preview", org, () => preview(e2e, variant, log));
    if (TRACE) {
      await up(e2e, variant, log, path.join(OUT, `run${run}-noop-up.trace`));
      await preview(e2e, variant, log, path.join(OUT, `run${run}-preview.trace`));
    }
  });
  fs.rmSync(sourceRoot, { recursive: true, force: true });
}

async function singleArchSeries(run: number, variant: Variant): Promise<void> {
  const sourceRoot = copySources();
  const config = { sourceRoot, version: COLD_VERSION, platforms: '["linux/amd64"]' };
  await withStack("benchm", variant, config, async (e2e) => {
    pruneBuildCache();
    await measure(run, `${variant.label} cold amd64 only`, e2e.organization, () =>
      up(e2e, variant, `run${run}-${variant.label}-single.log`),
    );
  });
  fs.rmSync(sourceRoot, { recursive: true, force: true });
}

// ------------------------------------------------------------------ scaling

/** What bench/scaling.ts measures with: this file's helpers, one run (run 1) per N. */
const scalingDeps = {
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
  organization,
};

// ------------------------------------------------------------------ retention

interface RetentionFigure {
  readonly tags: number;
  readonly medianMs: number;
  readonly runs: number;
}

function retentionFigures(): RetentionFigure[] {
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

// ------------------------------------------------------------------ figures

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}

const SCENARIOS = [
  "baseline cold",
  "stack cold",
  "baseline patch",
  "stack patch",
  "baseline no-op",
  "stack no-op up",
  "stack preview",
  "stack cold amd64 only",
  "stack[nockpt] cold",
  "stack[nockpt] patch",
  "stack[nockpt] cold amd64 only",
  "stack[p8] cold",
  "stack[p8] patch",
];

function of(scenario: string): Sample[] {
  return samples.filter((sample) => sample.scenario === scenario);
}

function medianOf(scenario: string, pick: (sample: Sample) => number): number {
  return median(of(scenario).map(pick));
}

/** Median over runs of a ratio taken within each run. */
function ratio(
  numerator: string,
  denominator: string,
  pick: (sample: Sample) => number,
): { median: number; runs: number[] } {
  const runs: number[] = [];
  for (const top of of(numerator)) {
    const bottom = of(denominator).find((sample) => sample.run === top.run);
    if (bottom !== undefined && pick(bottom) > 0) runs.push(pick(top) / pick(bottom));
  }
  return { median: median(runs), runs };
}

function methods(sample: Sample, kind: accessLog.PathKind): string {
  return Object.entries(sample.requests[kind])
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([method, count]) => `${method} ${count}`)
    .join(", ");
}

/** The median sample (by wall time) of a scenario, for its request and profile breakdown. */
function medianSample(scenario: string): Sample | undefined {
  const sorted = of(scenario).sort((a, b) => a.wallMs - b.wallMs);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

interface Row {
  scenario: string;
  wall: string;
  requests: string;
  manifests: string;
  uploads: string;
  blobs: string;
  tags: string;
  other: string;
  blobUploads: string;
  bytes: string;
  unscoped: string;
}

function rows(): Row[] {
  return SCENARIOS.filter((scenario) => of(scenario).length > 0).map((scenario) => {
    const kinds = (kind: accessLog.PathKind) =>
      String(medianOf(scenario, (sample) => accessLog.kindTotal(sample.requests, kind)));
    return {
      scenario,
      wall: (medianOf(scenario, (sample) => sample.wallMs) / 1000).toFixed(1),
      requests: String(medianOf(scenario, (sample) => sample.totalRequests)),
      manifests: kinds("manifests"),
      uploads: kinds("uploads"),
      blobs: kinds("blobs"),
      tags: kinds("tags"),
      other: kinds("other"),
      blobUploads: String(medianOf(scenario, (sample) => sample.bytes.blobUploads)),
      bytes: formatBytes(
        medianOf(scenario, (sample) => sample.bytes.blobBytes + sample.bytes.manifestBytes),
      ),
      unscoped: String(medianOf(scenario, (sample) => sample.unscopedRequests)),
    };
  });
}

const HEADERS: Row = {
  scenario: "scenario",
  wall: "wall s",
  requests: "requests",
  manifests: "manifests",
  uploads: "blob uploads",
  blobs: "blob HEAD/GET",
  tags: "tags",
  other: "other",
  blobUploads: "blobs uploaded",
  bytes: "bytes up",
  unscoped: "unscoped*",
};

function textTable(table: Row[]): string {
  const all = [HEADERS, ...table];
  const keys = Object.keys(HEADERS) as Array<keyof Row>;
  const widths = keys.map((key) => Math.max(...all.map((row) => row[key].length)));
  return all
    .map((row) =>
      keys
        .map((key, i) =>
          i === 0 ? row[key].padEnd(widths[i] ?? 0) : row[key].padStart(widths[i] ?? 0),
        )
        .join("  "),
    )
    .join("\n");
}

function markdownTable(header: string[], body: string[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `| ${header.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...body.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
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

function machine(): Array<[string, string]> {
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

function loadSummary(): string {
  if (loads.length === 0) return "(not sampled)";
  const sorted = [...loads].sort((a, b) => a - b);
  return `1-minute load average sampled every 5 s: min ${sorted[0]?.toFixed(2)}, median ${median(sorted).toFixed(2)}, max ${sorted.at(-1)?.toFixed(2)} (${loads.length} samples)`;
}

interface Goal {
  readonly goal: string;
  readonly figure: string;
  readonly met: boolean | undefined;
}

function goals(retention: RetentionFigure[]): Goal[] {
  const list: Goal[] = [];
  const wall = (sample: Sample) => sample.wallMs;
  const requests = (sample: Sample) => sample.totalRequests;
  const x = (value: number) => `${value.toFixed(2)}x`;
  const add = (goal: string, value: number, limit: number, figure: string) => {
    list.push({ goal, figure, met: Number.isNaN(value) ? undefined : value <= limit });
  };
  const coldWall = ratio("stack cold", "baseline cold", wall);
  add(
    "Cold release: at most half the baseline's wall time",
    coldWall.median,
    0.5,
    `stack/baseline ${x(coldWall.median)} (${(medianOf("stack cold", wall) / 1000).toFixed(1)} s vs ${(medianOf("baseline cold", wall) / 1000).toFixed(1)} s)`,
  );
  const coldRequests = ratio("stack cold", "baseline cold", requests);
  add(
    "Cold release: registry requests at most half",
    coldRequests.median,
    0.5,
    `stack/baseline ${x(coldRequests.median)} (${medianOf("stack cold", requests)} vs ${medianOf("baseline cold", requests)})`,
  );
  const patchWall = ratio("stack patch", "baseline patch", wall);
  add(
    "Patch release, one service changed: at most a quarter of the baseline's wall time",
    patchWall.median,
    0.25,
    `stack/baseline ${x(patchWall.median)} (${(medianOf("stack patch", wall) / 1000).toFixed(1)} s vs ${(medianOf("baseline patch", wall) / 1000).toFixed(1)} s)`,
  );
  const moved = of("stack patch").map(floatingMoveUploads);
  add(
    "Floating tags moved with zero blob uploads",
    median(moved),
    0,
    `blob uploads by the tag writers (manifest lists, RegistryTagSet) in the patch release: median ${median(moved)} (runs: ${moved.join(", ")})`,
  );
  const noop = medianOf("stack no-op up", wall) / 1000;
  add("No-op `pulumi up` within 15 s", noop, 15, `${noop.toFixed(1)} s`);
  const previewTime = medianOf("stack preview", wall) / 1000;
  add("`pulumi preview` within 15 s", previewTime, 15, `${previewTime.toFixed(1)} s`);
  const big = retention.find((figure) => figure.tags === 100_000);
  if (big !== undefined) {
    add(
      "Retention plan of 100,000 tags under one second",
      big.medianMs / 1000,
      0.999_999,
      `${big.medianMs.toFixed(0)} ms`,
    );
  }
  const arch = ratio("stack cold", "stack cold amd64 only", wall);
  add(
    "Multi-arch over single-arch at most 1.3x",
    arch.median,
    1.3,
    `${x(arch.median)} (cold up, ${(medianOf("stack cold", wall) / 1000).toFixed(1)} s vs ${(medianOf("stack cold amd64 only", wall) / 1000).toFixed(1)} s)`,
  );
  return list;
}

/** Blob uploads by whatever writes tags (not builds): the manifest-list and tag-copy clients. */
function floatingMoveUploads(sample: Sample): number {
  return Object.entries(sample.clients)
    .filter(([name]) => !name.startsWith("buildkit"))
    .reduce((sum, [, row]) => sum + row.blobUploads, 0);
}

/** Where an update's time went, from the engine event stream of the median run. */
function profileSection(scenario: string): string {
  const sample = medianSample(scenario);
  const profile = sample?.profile;
  if (sample === undefined || profile === undefined) return "";
  const byType = new Map<string, { count: number; busy: number; start: number; end: number }>();
  for (const span of profile.spans) {
    // Components and the stack resource span their children: only real resource steps count.
    if (span.type.startsWith("battlescope:") || span.type === "pulumi:pulumi:Stack") continue;
    const key = `${span.type.replace(/^pulumi-nodejs:dynamic\//, "dynamic/")} (${span.op})`;
    const entry = byType.get(key) ?? { count: 0, busy: 0, start: span.start, end: span.end };
    entry.count++;
    entry.busy += span.end - span.start;
    entry.start = Math.min(entry.start, span.start);
    entry.end = Math.max(entry.end, span.end);
    byType.set(key, entry);
  }
  const s = (ms: number) => (ms / 1000).toFixed(1);
  const body = [...byType]
    .filter(([, entry]) => entry.busy >= 50)
    .sort(([, a], [, b]) => b.busy - a.busy)
    .map(([key, entry]) => [
      key,
      String(entry.count),
      s(entry.busy),
      `${s(entry.start)} to ${s(entry.end)}`,
    ]);
  const ops = Object.entries(profile.ops)
    .map(([op, count]) => `${op} ${count}`)
    .join(", ");
  return [
    `#### ${scenario} (run ${sample.run}, ${s(sample.wallMs)} s)`,
    "",
    `- command start to first engine event: ${s(profile.firstEvent)} s; to first resource step: ${s(profile.firstResource)} s; last resource step done: ${s(profile.lastResource)} s; engine summary: ${s(profile.summary)} s; command returned: ${s(profile.end)} s (the Automation API then reads the outputs and the update's history with two more CLI calls)`,
    `- resource steps: ${ops}`,
    "",
    markdownTable(["resource type (op)", "steps", "busy s (sum)", "window s"], body),
    "",
  ].join("\n");
}

function cpuSection(): string {
  const body = SCENARIOS.filter((scenario) => of(scenario).length > 0).map((scenario) => {
    const cpu = (pick: (c: Cpu) => number) => medianOf(scenario, (sample) => pick(sample.cpu));
    return [
      scenario,
      (medianOf(scenario, (sample) => sample.wallMs) / 1000).toFixed(1),
      cpu((c) => c.tools).toFixed(1),
      cpu((c) => c.bench).toFixed(1),
      cpu((c) => c.buildkitd).toFixed(1),
      cpu((c) => c.registry).toFixed(1),
    ];
  });
  return markdownTable(
    [
      "scenario",
      "wall s",
      "commands (pulumi + plugins, or docker/buildx)",
      "this process (inline program, Hub emulator)",
      "buildkitd + its runc steps*",
      "registry*",
    ],
    body,
  );
}

function clientSection(scenario: string): string {
  const sample = medianSample(scenario);
  if (sample === undefined) return "";
  const body = Object.entries(sample.clients)
    .sort(([, a], [, b]) => b.requests - a.requests)
    .map(([name, row]) => [
      name,
      String(row.requests),
      String(row.blobUploads),
      String(row.manifestPuts),
    ]);
  return [
    `#### ${scenario} (run ${sample.run})`,
    "",
    `manifests: ${methods(sample, "manifests") || "none"}; blob uploads: ${methods(sample, "uploads") || "none"}; blobs: ${methods(sample, "blobs") || "none"}; tags: ${methods(sample, "tags") || "none"}; other: ${methods(sample, "other") || "none"}; mounts ${sample.bytes.mounts}; blob bytes ${formatBytes(sample.bytes.blobBytes)}, manifest bytes ${formatBytes(sample.bytes.manifestBytes)}`,
    "",
    markdownTable(["client", "requests", "blob uploads", "manifest PUTs"], body),
    "",
  ].join("\n");
}

function perRunTable(): string {
  const runs = [...new Set(samples.map((sample) => sample.run))].sort((a, b) => a - b);
  const body = SCENARIOS.filter((scenario) => of(scenario).length > 0).map((scenario) => [
    scenario,
    ...runs.map((run) => {
      const sample = of(scenario).find((entry) => entry.run === run);
      return sample === undefined
        ? "-"
        : `${(sample.wallMs / 1000).toFixed(1)} s / ${sample.totalRequests}`;
    }),
  ]);
  return markdownTable(["scenario", ...runs.map((run) => `run ${run} (wall / requests)`)], body);
}

const BASELINE_NOTES = `The spec's section 2, per service, for the nine services one after another, on the same build
contexts, builder (\`battlescope\`, BuildKit) and registry as the stack: \`bench/baseline.sh\`. The machine
has the docker 28 CLI and buildx but no Docker engine, so each step is replaced by its closest
equivalent:

| spec step | here | why |
| --- | --- | --- |
| \`docker build --platform linux/<arch> -t <repo>:<v>-<arch> .\` (x2) | \`docker buildx build --builder battlescope --platform linux/<arch> --provenance=false --build-arg VERSION=<v>\` with no output | the result stays in the builder, as \`docker build\` leaves it in the engine's store: nothing is pushed yet. \`--provenance=false\`: the engine's classic store keeps no attestations, and \`docker manifest create\` refuses an index as a source. \`VERSION\` is passed because the stack passes it, so both release the same image contents |
| \`docker tag\` (x3 per arch) | nothing | a name in the engine's local store: no registry traffic; the tags come into being with the pushes below |
| \`docker push <tag>\` (x8) | \`docker buildx build ... --push -t <tag>\`, one command per tag | a cached rebuild exports the same image (same digest, checked) and pushes it under that tag: the first push per arch uploads the blobs, the next three find them (HEAD) and write the manifest, which is what \`docker push\` of a tagged image does. \`buildx imagetools create -t <new> <src>\` is not used: with one source it writes an index wrapping the image (a new digest), not the image under a second tag |
| \`docker manifest create\` + \`docker manifest push\` (x4) | \`docker buildx imagetools create -t <tag> <tag>-amd64 <tag>-arm64\` | \`docker manifest create\` works here (it reads the registry over HTTPS with the system trust store), but \`docker manifest push\` does not: without an engine the CLI has no registry settings but its defaults, which treat 127.0.0.0/8 as an insecure registry, and it pushes over plain HTTP to the HTTPS listener (connection reset). imagetools reads the two arch manifests and writes the list, the same registry operations |

Cold: \`buildctl prune --all\` empties the build cache (the builder is shared: entries other users' running
builds hold are kept) and a fresh organization gives empty repositories; the base image
(\`library/busybox\`, the docker.io mirror) stays in the registry. Patch: one service's source
(\`${CHANGED_SERVICE}/server.sh\` in a copy of the fixtures) changes and all nine are released as ${PATCH_VERSION}. No-op: the same
again; the baseline repeats its procedure, the stack runs \`pulumi up\` with nothing changed.`;

const METHOD_NOTES = `- Wall time: the command's start to its end (\`bench/baseline.sh\`; \`stack.up()\` / \`stack.preview()\` of the
  Automation API, which runs \`pulumi up --yes --skip-preview\` / \`pulumi preview\` with the program
  inline and the runner's \`--parallel ${ENGINE_PARALLELISM}\`, as \`npm run stack\` does). Stack creation, config changes and the cache prune are not timed.
- Requests: the registry's access log between two byte marks, keeping the lines under
  \`/v2/<organization>/\` (every organization is the run's own). *unscoped: \`/v2/\` pings and
  \`library/busybox\` requests in the same window, which cannot be told apart from other users of the
  shared registry; not in "requests".
- Path kinds: manifests \`/manifests/\`, blob uploads \`/blobs/uploads/\` (POST, PATCH, PUT), blob
  HEAD/GET \`/blobs/<digest>\`, tags \`/tags/list\`, other.
- Bytes uploaded: the log has no request sizes. Each completed blob upload (\`PUT .../blobs/uploads/...?digest=<d>\`
  answered 201) is sized by \`HEAD .../blobs/<d>\` afterwards, and each manifest PUT by a HEAD of the same
  reference; cross-repository mounts carry no bytes. This counts what reached storage, not
  retransmissions.
- "blobs uploaded": completed blob uploads (each one blob's bytes).
- Every figure is the median of the runs; ratios are taken within each run, then the median of
  those ratios is reported. Floating-tag uploads: blob uploads in the stack's patch release by the
  clients that write tags (docker-build Index, RegistryTagSet), i.e. anything but BuildKit.`;

const RATIOS: ReadonlyArray<{
  label: string;
  top: string;
  bottom: string;
  pick: (sample: Sample) => number;
}> = [
  { label: "cold wall time", top: "stack cold", bottom: "baseline cold", pick: (s) => s.wallMs },
  {
    label: "cold requests",
    top: "stack cold",
    bottom: "baseline cold",
    pick: (s) => s.totalRequests,
  },
  { label: "patch wall time", top: "stack patch", bottom: "baseline patch", pick: (s) => s.wallMs },
  {
    label: "patch requests",
    top: "stack patch",
    bottom: "baseline patch",
    pick: (s) => s.totalRequests,
  },
  {
    label: "no-op wall time",
    top: "stack no-op up",
    bottom: "baseline no-op",
    pick: (s) => s.wallMs,
  },
  {
    label: "no-op requests",
    top: "stack no-op up",
    bottom: "baseline no-op",
    pick: (s) => s.totalRequests,
  },
  {
    label: "multi-arch / amd64-only cold up",
    top: "stack cold",
    bottom: "stack cold amd64 only",
    pick: (s) => s.wallMs,
  },
  ...[NO_CHECKPOINTS, CLI_DEFAULT].flatMap((variant) => [
    {
      label: `${variant.label}: cold wall time`,
      top: `${variant.label} cold`,
      bottom: "baseline cold",
      pick: (s: Sample) => s.wallMs,
    },
    {
      label: `${variant.label}: patch wall time`,
      top: `${variant.label} patch`,
      bottom: "baseline patch",
      pick: (s: Sample) => s.wallMs,
    },
  ]),
  {
    label: "stack[nockpt]: multi-arch / amd64-only cold up",
    top: "stack[nockpt] cold",
    bottom: "stack[nockpt] cold amd64 only",
    pick: (s) => s.wallMs,
  },
];

function writeResults(
  retention: RetentionFigure[],
  started: Date,
  finished: Date,
  runs: number,
): string {
  const table = rows();
  const goalList = goals(retention);
  const analysisFile = path.join(HERE, "analysis.md");
  const analysis = fs.existsSync(analysisFile) ? fs.readFileSync(analysisFile, "utf8").trim() : "";
  // Measured by its own script (bench/registryRace.ts), not by this run: carried over as written.
  const raceFile = path.join(HERE, "registryRace.md");
  const race = fs.existsSync(raceFile) ? fs.readFileSync(raceFile, "utf8").trim() : "";
  const doc = [
    "# Benchmarks: the stack against the spec's shell procedure",
    "",
    `Generated by \`npm run bench\` (BENCH_RUNS=${runs}) from ${started.toISOString()} to ${finished.toISOString()} (${((finished.getTime() - started.getTime()) / 60000).toFixed(1)} min). Every figure is the median of ${runs} runs.`,
    "",
    "## Machine",
    "",
    markdownTable(["", ""], [...machine(), ["load", loadSummary()]]),
    "",
    "## Goals",
    "",
    markdownTable(
      ["goal", "figure", "met"],
      goalList.map((goal) => [
        goal.goal,
        goal.figure,
        goal.met === undefined ? "not measured" : goal.met ? "**met**" : "**not met**",
      ]),
    ),
    "",
    "## Scenarios (medians)",
    "",
    markdownTable(
      Object.values(HEADERS),
      table.map((row) => Object.values(row)),
    ),
    "",
    "Ratios within each run (stack / baseline):",
    "",
    markdownTable(
      ["comparison", "median", "per run"],
      RATIOS.map(({ label, top, bottom, pick }) => {
        const r = ratio(top, bottom, pick);
        return [
          label,
          `${r.median.toFixed(2)}x`,
          r.runs.map((value) => value.toFixed(2)).join(", "),
        ];
      }),
    ),
    "",
    "Per run:",
    "",
    perRunTable(),
    "",
    scalingSection(
      samples,
      OUT,
      path.join(path.dirname(RESULTS), "scaling.png"),
      path.dirname(RESULTS),
    ),
    "## Failed attempts (the series was started again from cold)",
    "",
    failures.length === 0
      ? "None."
      : markdownTable(
          ["series", "run", "error"],
          failures.map((failure) => [
            failure.series,
            String(failure.run),
            failure.error.replace(/\|/g, "\\|"),
          ]),
        ),
    "",
    "## Retention planner",
    "",
    markdownTable(
      ["tags", "plan time (median)", "runs"],
      retention.map((figure) => [
        figure.tags.toLocaleString("en-US"),
        `${figure.medianMs.toFixed(1)} ms`,
        String(figure.runs),
      ]),
    ),
    "",
    "## The baseline",
    "",
    BASELINE_NOTES,
    "",
    "## Method",
    "",
    METHOD_NOTES,
    "",
    "## CPU seconds by process (medians)",
    "",
    "From /proc: this process's own time, the time of its exited descendants (a reaped child's time,",
    "with its own reaped children's, is added to its parent's), and the two daemons' time including",
    "their children. *Shared daemons: other users' work in the same window is included.",
    "",
    cpuSection(),
    "",
    "## Requests by client (median run)",
    "",
    ...SCENARIOS.map(clientSection).filter((text) => text !== ""),
    "## Where the stack's time goes (engine event stream, median run)",
    "",
    "Resource steps from the engine's events as the Automation API streams them: a step starts at its",
    "pre-event and ends at its outputs event. `busy` sums the steps of a type (they overlap);",
    "`window` is the first start to the last end.",
    "",
    ...SCENARIOS.filter((scenario) => scenario.startsWith("stack"))
      .map(profileSection)
      .filter((text) => text !== ""),
    ...(race === "" ? [] : ["## Registry race: distribution 2.8 against v3.1.2", "", race, ""]),
    ...(analysis === "" ? [] : ["## Analysis", "", analysis, ""]),
  ].join("\n");
  fs.writeFileSync(RESULTS, `${doc.trimEnd()}\n`);
  return textTable(table);
}

// ------------------------------------------------------------------ main

interface Failure {
  readonly series: string;
  readonly run: number;
  readonly error: string;
}

const failures: Failure[] = [];
const ATTEMPTS = 3;

/**
 * Runs a series; when a step fails, its samples from this attempt are dropped and the whole
 * series starts again from cold (a new stack, organization and empty cache), so no figure comes
 * from a half-done release. Failures are reported.
 */
async function attempt(name: string, run: number, body: (run: number) => Promise<void>) {
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

interface RunRecord {
  readonly runs: number;
  readonly failures?: Failure[];
  readonly started: string;
  readonly finished: string;
  readonly loads: number[];
  readonly retention: RetentionFigure[];
}

function report(record: RunRecord): void {
  const table = writeResults(
    record.retention,
    new Date(record.started),
    new Date(record.finished),
    record.runs,
  );
  process.stdout.write(`\n${table}\n\n`);
  for (const figure of record.retention) {
    process.stdout.write(
      `retention plan, ${figure.tags.toLocaleString("en-US")} tags: ${figure.medianMs.toFixed(1)} ms\n`,
    );
  }
  process.stdout.write("\n");
  for (const goal of goals(record.retention)) {
    const verdict = goal.met === undefined ? "not measured" : goal.met ? "met" : "NOT MET";
    process.stdout.write(`${verdict.padEnd(12)} ${goal.goal}: ${goal.figure}\n`);
  }
  for (const failure of failures) {
    process.stdout.write(
      `failed attempt: run ${failure.run} ${failure.series}: ${failure.error}\n`,
    );
  }
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), RESULTS)}\n`);
}

/** BENCH_REPORT_ONLY=1: rewrite the report from the last run's bench/out (after editing analysis.md). */
function reportOnly(): void {
  for (const line of fs.readFileSync(path.join(OUT, "samples.jsonl"), "utf8").split("\n")) {
    if (line.trim() !== "") samples.push(JSON.parse(line) as Sample);
  }
  const record = JSON.parse(fs.readFileSync(path.join(OUT, "run.json"), "utf8")) as RunRecord;
  loads.push(...record.loads);
  failures.push(...(record.failures ?? []));
  report(record);
}

async function main(): Promise<void> {
  if (process.env.BENCH_REPORT_ONLY === "1") {
    reportOnly();
    return;
  }
  if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`BENCH_RUNS must be >= 1, got ${RUNS}`);
  if (ACCESS_LOG === "" || !fs.existsSync(ACCESS_LOG)) {
    throw new Error(
      "BATTLESCOPE_REGISTRY_ACCESS_LOG is not set or missing: run through bench/run.sh",
    );
  }
  if (BUILDKIT_HOST === "") throw new Error("BUILDKIT_HOST is not set: run through bench/run.sh");
  fs.mkdirSync(OUT, { recursive: true });
  for (const file of fs.readdirSync(OUT)) {
    if (/^run\d+-.*\.(log|trace)$/.test(file)) fs.rmSync(path.join(OUT, file));
  }
  fs.writeFileSync(path.join(OUT, "samples.jsonl"), "");
  const started = new Date();
  loads.push(os.loadavg()[0] ?? 0);
  const sampler = setInterval(() => loads.push(os.loadavg()[0] ?? 0), 5000);
  sampler.unref();

  const series: Record<string, (run: number) => Promise<void>> = {
    baseline: baselineSeries,
    stack: (run) => stackSeries(run, SHIPPED),
    single: (run) => singleArchSeries(run, SHIPPED),
    knobs: async (run) => {
      await stackSeries(run, NO_CHECKPOINTS);
      await singleArchSeries(run, NO_CHECKPOINTS);
      await stackSeries(run, CLI_DEFAULT);
    },
  };
  const chosen = SERIES.filter((name) => series[name] !== undefined);
  for (let run = 1; run <= RUNS && chosen.length > 0; run++) {
    // Alternate the order, so drift in the machine's load does not favour one side.
    const order = run % 2 === 1 ? chosen : [...chosen].reverse();
    for (const name of order)
      await attempt(name, run, series[name] as (run: number) => Promise<void>);
  }
  if (SCALING_ENABLED || SERIES.includes("scaling")) {
    for (const step of scalingSteps(scalingDeps)) await attempt(step.name, 1, step.body);
  }
  const retention = retentionFigures();
  clearInterval(sampler);
  const record: RunRecord = {
    runs: RUNS,
    started: started.toISOString(),
    finished: new Date().toISOString(),
    loads,
    retention,
    failures,
  };
  fs.writeFileSync(path.join(OUT, "run.json"), `${JSON.stringify(record)}\n`);
  report(record);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
