/**
 * The scaling series of `npm run bench` (BENCH_SCALING=1, or `npm run bench:scaling`): the
 * release of N services for N in BENCH_SCALING_NS (default 9,18,36), cold then no-op, for the
 * stack (then a no-op preview) and for the baseline (bench/baseline.sh), one run per N, on the
 * same builder and registry as the other series. N services are the catalog's nine and N-9
 * synthetic copies (`withSyntheticCopies`, stack config `benchServiceCount`), built from copies of
 * the fixture build contexts prepared here under the copies' names. BENCH_SCALING_NOCKPT=1 adds a
 * cold up with PULUMI_SKIP_CHECKPOINTS=true per N, which measures the checkpoints' cost.
 *
 * bench/scenarios.ts owns the measuring (it passes its helpers in, {@link ScalingDeps}); this module
 * prepares the sources, names the scenarios, writes the section of bench/RESULTS.md and draws
 * bench/scaling.png with bench/plot_scaling.py (matplotlib, installed on first use into
 * bench/out/plot-venv).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { withScratchDir } from "../clients/scratch";
import { SERVICES, type ServiceImage, withSyntheticCopies } from "../services/catalog";
import { markdownTable } from "./format";
import * as text from "./reportText";

export const SCALING_NS: readonly number[] = (process.env.BENCH_SCALING_NS ?? "9,18,36")
  .split(",")
  .map((value) => Number(value.trim()));
export const SCALING_ENABLED = ["1", "true"].includes(process.env.BENCH_SCALING ?? "");
const NOCKPT = process.env.BENCH_SCALING_NOCKPT === "1";
const COLD_VERSION = "v3.0.0";
/** matplotlib for the plot, pinned; installed into a venv under bench/out when missing. */
const MATPLOTLIB = "matplotlib==3.11.2";

// ------------------------------------------------------------------ what scenarios.ts passes in

/** The parts of measure.ts's Profile this module reads. */
export interface ScalingProfile {
  readonly firstEvent: number;
  readonly firstResource: number;
  readonly lastResource: number;
  readonly summary: number;
  readonly end: number;
  readonly spans: ReadonlyArray<{
    readonly op: string;
    readonly start: number;
    readonly end: number;
  }>;
  readonly ops: Record<string, number>;
}

/** The parts of measure.ts's Sample this module reads. */
export interface ScalingSample {
  readonly scenario: string;
  readonly wallMs: number;
  readonly totalRequests: number;
  readonly profile?: ScalingProfile;
}

export interface ScalingStack {
  readonly organization: string;
  readonly backendDir: string;
}

export interface ScalingDeps<Stack extends ScalingStack> {
  readonly out: string;
  readonly fixtures: string;
  measure(
    scenario: string,
    organization: string,
    step: () => Promise<ScalingProfile | undefined>,
  ): Promise<ScalingSample>;
  /** A fresh e2e stack with this config (plus the bench's), and PULUMI_SKIP_CHECKPOINTS if asked. */
  withStack(
    config: Record<string, string>,
    skipCheckpoints: boolean,
    body: (stack: Stack) => Promise<void>,
  ): Promise<void>;
  up(stack: Stack, logName: string): Promise<ScalingProfile>;
  preview(stack: Stack, logName: string): Promise<ScalingProfile>;
  baseline(
    organization: string,
    version: string,
    sourceRoot: string,
    logName: string,
    buildContexts: readonly string[],
  ): Promise<void>;
  pruneBuildCache(): void;
  organization(prefix: string): string;
}

// ------------------------------------------------------------------ scenarios

export type Side = "stack" | "baseline" | "stack[nockpt]";
export type Phase = "cold" | "no-op" | "preview";

export function scenarioName(side: Side, phase: Phase, n: number): string {
  return `scaling ${side} ${phase} N=${n}`;
}

export function parseScenario(
  scenario: string,
): { side: Side; phase: Phase; n: number } | undefined {
  const match = /^scaling (stack|baseline|stack\[nockpt\]) (cold|no-op|preview) N=(\d+)$/.exec(
    scenario,
  );
  if (match === null) return undefined;
  return { side: match[1] as Side, phase: match[2] as Phase, n: Number(match[3]) };
}

// ------------------------------------------------------------------ sources

/**
 * A source root for N services: the fixtures (with their CHANGELOG.md), then one build context
 * per synthetic copy, copied from its original's. Each copy is its own image, not a cache hit on
 * the original: its `SERVICE_NAME` is its own name, and each of its shell scripts gains a comment
 * naming it, so the build stage that copies them runs again and yields a layer of its own. The
 * Dockerfile rules see the same instructions as in the original.
 */
export function prepareScalingSources(fixtures: string, dir: string, n: number): ServiceImage[] {
  const services = [...withSyntheticCopies(SERVICES, n)];
  fs.cpSync(fixtures, dir, { recursive: true });
  services.forEach((service, i) => {
    if (i < SERVICES.length) return;
    const base = SERVICES[i % SERVICES.length] as ServiceImage;
    const from = path.join(fixtures, base.buildContext);
    const to = path.join(dir, service.buildContext);
    fs.cpSync(from, to, { recursive: true });
    const dockerfile = path.join(to, "Dockerfile");
    const text = fs.readFileSync(dockerfile, "utf8");
    const named = text.replace(
      new RegExp(`\\bSERVICE_NAME=${base.name}(?=\\s)`, "g"),
      `SERVICE_NAME=${service.name}`,
    );
    if (named === text) {
      throw new Error(`scaling: ${dockerfile} has no "SERVICE_NAME=${base.name}" to rename`);
    }
    fs.writeFileSync(dockerfile, named);
    const scripts = fs.readdirSync(to).filter((file) => file.endsWith(".sh"));
    if (scripts.length === 0) {
      throw new Error(`scaling: ${from} has no shell script to make ${service.name} its own`);
    }
    for (const script of scripts) {
      fs.appendFileSync(
        path.join(to, script),
        `# synthetic copy ${service.name} of ${base.name} (bench scaling series)\n`,
      );
    }
  });
  return services;
}

// ------------------------------------------------------------------ series

/** Size of the stack's checkpoint (the state file the engine rewrites), in bytes. */
function checkpointBytes(backendDir: string): number {
  const stacks = path.join(backendDir, ".pulumi", "stacks");
  let bytes = 0;
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.json(\.gz)?$/.test(entry.name)) bytes += fs.statSync(full).size;
    }
  };
  walk(stacks);
  return bytes;
}

export interface Extra {
  readonly n: number;
  readonly checkpointBytes: number;
}

function extrasFile(out: string): string {
  return path.join(out, "scaling.jsonl");
}

/** The series' steps, one per N and side, for run.ts to run (and retry) one after another. */
export function scalingSteps<Stack extends ScalingStack>(
  deps: ScalingDeps<Stack>,
): Array<{ name: string; body: () => Promise<void> }> {
  for (const n of SCALING_NS) withSyntheticCopies(SERVICES, n); // refuses a bad N up front
  fs.writeFileSync(extrasFile(deps.out), "");
  return SCALING_NS.flatMap((n) => [
    { name: `scaling stack N=${n}`, body: () => stackPoint(deps, n, false) },
    ...(NOCKPT
      ? [{ name: `scaling stack[nockpt] N=${n}`, body: () => stackPoint(deps, n, true) }]
      : []),
    { name: `scaling baseline N=${n}`, body: () => baselinePoint(deps, n) },
  ]);
}

/** A source root for N services (prepareScalingSources), removed afterwards. */
async function withSources(
  n: number,
  fixtures: string,
  body: (dir: string, services: readonly ServiceImage[]) => Promise<void>,
): Promise<void> {
  await withScratchDir(`bench-scaling-${n}`, (dir) =>
    body(dir, prepareScalingSources(fixtures, dir, n)),
  );
}

async function stackPoint<Stack extends ScalingStack>(
  deps: ScalingDeps<Stack>,
  n: number,
  skipCheckpoints: boolean,
): Promise<void> {
  await withSources(n, deps.fixtures, async (sourceRoot) => {
    const side: Side = skipCheckpoints ? "stack[nockpt]" : "stack";
    const config = { sourceRoot, version: COLD_VERSION, benchServiceCount: String(n) };
    await deps.withStack(config, skipCheckpoints, async (stack) => {
      const log = `scaling-${side}-${n}.log`;
      deps.pruneBuildCache();
      await deps.measure(scenarioName(side, "cold", n), stack.organization, () =>
        deps.up(stack, log),
      );
      if (skipCheckpoints) return;
      const extra: Extra = { n, checkpointBytes: checkpointBytes(stack.backendDir) };
      fs.appendFileSync(extrasFile(deps.out), `${JSON.stringify(extra)}\n`);
      await deps.measure(scenarioName(side, "no-op", n), stack.organization, () =>
        deps.up(stack, log),
      );
      await deps.measure(scenarioName(side, "preview", n), stack.organization, () =>
        deps.preview(stack, log),
      );
    });
  });
}

async function baselinePoint<Stack extends ScalingStack>(
  deps: ScalingDeps<Stack>,
  n: number,
): Promise<void> {
  await withSources(n, deps.fixtures, async (sourceRoot, services) => {
    const contexts = services.map((service) => service.buildContext);
    const org = deps.organization("benchn");
    const log = `scaling-baseline-${n}.log`;
    deps.pruneBuildCache();
    for (const phase of ["cold", "no-op"] as const) {
      await deps.measure(scenarioName("baseline", phase, n), org, async () => {
        await deps.baseline(org, COLD_VERSION, sourceRoot, log, contexts);
        return undefined;
      });
    }
  });
}

// ------------------------------------------------------------------ report

export interface Point {
  readonly n: number;
  readonly side: Side;
  readonly phase: Phase;
  readonly wall_s: number;
  readonly requests: number;
}

export function points(samples: readonly ScalingSample[]): Point[] {
  return samples.flatMap((sample) => {
    const parsed = parseScenario(sample.scenario);
    if (parsed === undefined) return [];
    return [{ ...parsed, wall_s: sample.wallMs / 1000, requests: sample.totalRequests }];
  });
}

/** Per-service figures at the smallest and largest N, and whether the cost grew faster than N. */
export function linearity(
  all: readonly Point[],
  side: Side,
  phase: Phase,
): { small: Point; large: Point; perServiceRatio: number; marginalS: number } | undefined {
  const line = all.filter((p) => p.side === side && p.phase === phase).sort((a, b) => a.n - b.n);
  const small = line[0];
  const large = line.at(-1);
  if (small === undefined || large === undefined || small.n === large.n) return undefined;
  return {
    small,
    large,
    perServiceRatio: large.wall_s / large.n / (small.wall_s / small.n),
    marginalS: (large.wall_s - small.wall_s) / (large.n - small.n),
  };
}

const s1 = (ms: number) => (ms / 1000).toFixed(1);

function engineRow(label: string, sample: ScalingSample, n: number, extra?: Extra): string[] {
  const p = sample.profile;
  if (p === undefined) return [label, "-", "-", "-", "-", "-", "-", "-", "-"];
  const steps = Object.values(p.ops).reduce((sum, count) => sum + count, 0);
  const same = p.spans.filter((span) => span.op === "same").map((span) => span.end - span.start);
  same.sort((a, b) => a - b);
  const sameMedian =
    same.length === 0 ? "-" : `${(same[Math.floor(same.length / 2)] ?? 0).toFixed(0)} ms`;
  return [
    label,
    s1(sample.wallMs),
    s1(p.firstEvent),
    s1(p.firstResource - p.firstEvent),
    `${s1(p.lastResource - p.firstResource)} (${((p.lastResource - p.firstResource) / n / 1000).toFixed(2)}/svc)`,
    s1(p.summary - p.lastResource),
    s1(p.end - p.summary),
    `${steps}${sameMedian === "-" ? "" : `, same ${sameMedian}`}`,
    extra === undefined ? "-" : `${(extra.checkpointBytes / 1024).toFixed(0)} KiB`,
  ];
}

/** Installs matplotlib once (bench/out/plot-venv) unless the system python has it; its python. */
export function plotPython(out: string): string {
  const hasMatplotlib = (python: string) => {
    try {
      execFileSync(python, ["-c", "import matplotlib"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  };
  if (hasMatplotlib("python3")) return "python3";
  const venv = path.join(out, "plot-venv");
  const python = path.join(venv, "bin", "python");
  if (hasMatplotlib(python)) return python;
  try {
    if (!fs.existsSync(python)) execFileSync("python3", ["-m", "venv", venv], { stdio: "ignore" });
    execFileSync(python, ["-m", "pip", "install", "--quiet", MATPLOTLIB], {
      stdio: ["ignore", "ignore", "pipe"],
    });
  } catch (error) {
    const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new Error(
      `scaling plot: needs python3 with matplotlib; installing ${MATPLOTLIB} into ${venv} failed (${why}). Install it (python3 -m pip install ${MATPLOTLIB}) and rerun with BENCH_REPORT_ONLY=1`,
    );
  }
  return python;
}

/** Writes the points and the plot; returns the PNG's path. */
export function drawPlot(all: readonly Point[], out: string, png: string): string {
  const json = path.join(out, "scaling-points.json");
  fs.writeFileSync(json, `${JSON.stringify(all, null, 2)}\n`);
  execFileSync(plotPython(out), [path.join(__dirname, "plot_scaling.py"), json, png], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  return png;
}

/**
 * The section of bench/RESULTS.md: the table, the plot (drawn here, `png` beside RESULTS.md), the
 * linearity verdict and the engine's timeline per N. Empty when the series did not run.
 */
export function scalingSection(
  samples: readonly ScalingSample[],
  out: string,
  png: string,
  resultsDir: string,
): string {
  const all = points(samples);
  if (all.length === 0) return "";
  const extras = fs.existsSync(extrasFile(out))
    ? fs
        .readFileSync(extrasFile(out), "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as Extra)
    : [];
  let plot: string;
  try {
    plot = `![wall time and requests against N](${path.relative(resultsDir, drawPlot(all, out, png))})`;
  } catch (error) {
    plot = `(plot not drawn: ${error instanceof Error ? error.message.split("\n")[0] : String(error)})`;
    process.stderr.write(`bench: ${plot}\n`);
  }
  return renderScalingSection(samples, extras, plot);
}

/** Whether the cost per service stays flat from the smallest N to the largest, per line. */
function verdicts(all: readonly Point[]): string[] {
  return (
    [
      ["stack", "cold"],
      ["stack", "no-op"],
      ["stack", "preview"],
      ["baseline", "cold"],
    ] as Array<[Side, Phase]>
  ).flatMap(([side, phase]) => {
    const fit = linearity(all, side, phase);
    if (fit === undefined) return [];
    const verdict =
      fit.perServiceRatio <= 1.05
        ? "linear or better"
        : fit.perServiceRatio <= 1.2
          ? "slightly worse than linear"
          : "worse than linear";
    return [
      text.scalingVerdict({
        line: `${side} ${phase}`,
        small: fit.small.n,
        large: fit.large.n,
        smallPerService: (fit.small.wall_s / fit.small.n).toFixed(2),
        largePerService: (fit.large.wall_s / fit.large.n).toFixed(2),
        ratio: fit.perServiceRatio.toFixed(2),
        verdict,
        marginal: fit.marginalS.toFixed(2),
      }),
    ];
  });
}

/** The engine's own time per N and scenario, from the samples' event streams. */
function engineTable(
  samples: readonly ScalingSample[],
  ns: readonly number[],
  extras: readonly Extra[],
): string {
  const bySample = new Map(samples.map((sample) => [sample.scenario, sample]));
  const engine = ns.flatMap((n) =>
    (["stack cold", "stack[nockpt] cold", "stack no-op", "stack preview"] as const).flatMap(
      (label) => {
        const [side, phase] = label.split(" ") as [Side, Phase];
        const sample = bySample.get(scenarioName(side, phase, n));
        if (sample === undefined) return [];
        const extra =
          phase === "cold" && side === "stack" ? extras.filter((e) => e.n === n).at(-1) : undefined;
        return [engineRow(`N=${n} ${label}`, sample, n, extra)];
      },
    ),
  );
  return markdownTable(
    [
      "N, scenario",
      "wall s",
      "to 1st event s",
      "program s",
      "steps s",
      "tail s",
      "after s",
      "steps",
      "checkpoint",
    ],
    engine,
  );
}

/** The scaling section's text, from the samples, the checkpoint sizes and the plot's line. */
export function renderScalingSection(
  samples: readonly ScalingSample[],
  extras: readonly Extra[],
  plot: string,
): string {
  const all = points(samples);
  if (all.length === 0) return "";
  const ns = [...new Set(all.map((p) => p.n))].sort((a, b) => a - b);
  const find = (side: Side, phase: Phase, n: number) =>
    all.find((p) => p.side === side && p.phase === phase && p.n === n);
  const cell = (p: Point | undefined) =>
    p === undefined
      ? "-"
      : `${p.wall_s.toFixed(1)} s (${(p.wall_s / p.n).toFixed(2)}/svc), ${p.requests} req (${(p.requests / p.n).toFixed(0)}/svc)`;
  const sides: Side[] = [
    "stack",
    "baseline",
    ...(all.some((p) => p.side === "stack[nockpt]") ? (["stack[nockpt]"] as Side[]) : []),
  ];
  const rows = sides.flatMap((side) =>
    (["cold", "no-op", "preview"] as Phase[])
      .filter((phase) => ns.some((n) => find(side, phase, n) !== undefined))
      .map((phase) => [`${side} ${phase}`, ...ns.map((n) => cell(find(side, phase, n)))]),
  );
  const coldFit = linearity(all, "stack", "cold");
  // Issue 23's goal: a service costs at most 10% more in a stack of 36 than in one of 9.
  const PER_SERVICE_LIMIT = 1.1;
  const goal =
    coldFit === undefined
      ? text.SCALING_GOAL_NOT_MEASURED
      : text.scalingGoal({
          small: coldFit.small.n,
          large: coldFit.large.n,
          met: coldFit.perServiceRatio <= PER_SERVICE_LIMIT ? "**met**" : "**not met**",
          ratio: coldFit.perServiceRatio.toFixed(2),
        });
  const checkpointCost = ns.flatMap((n) => {
    const shipped = find("stack", "cold", n);
    const skipped = find("stack[nockpt]", "cold", n);
    return shipped === undefined || skipped === undefined
      ? []
      : [`N=${n}: ${(shipped.wall_s - skipped.wall_s).toFixed(1)} s`];
  });
  return text.scalingSection({
    ns: ns.join(", "),
    plot,
    table: markdownTable(["", ...ns.map((n) => `N=${n}`)], rows),
    goal,
    verdicts: verdicts(all)
      .map((line) => `\n${line}`)
      .join(""),
    engine: engineTable(samples, ns, extras),
    checkpoint:
      checkpointCost.length === 0
        ? text.CHECKPOINT_COST_NOT_MEASURED
        : text.checkpointCost(checkpointCost.join("; ")),
  });
}
