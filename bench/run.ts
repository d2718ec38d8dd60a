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
 * - signed: the stack's cold, patch and no-op up with `sign: true` (the local key pair, offline):
 *   what the SBOMs, provenance and signatures add (`stack[signed]`);
 * - scanned: the same three with the vulnerability gate on (`scan: true`), against a grype
 *   database written for the run into bench/out (removed after it) by `battlescope-vulndb`, which
 *   must be on PATH: one real busybox advisory the fixtures are not affected by, so the releases
 *   pass; what the scan adds to a signed release (`stack[signed+scanned]`);
 * - knobs: not the product as shipped, one engine setting changed: cold, patch and single-arch
 *   cold with PULUMI_SKIP_CHECKPOINTS=true (`stack[nockpt]`), and cold and patch with the CLI's
 *   default parallelism (`stack[p8]`, what `pulumi up` without `--parallel` gets on 2 cores).
 * Then the retention planner on 1,000, 10,000 and 100,000 tags. Prints a table and writes
 * bench/RESULTS.md; raw samples and engine output go to bench/out/.
 *
 * Environment:
 * - BENCH_RUNS: runs per scenario (default 3);
 * - BENCH_SERIES: comma list of baseline, stack, single, signed, scanned, nodes, knobs (default all);
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
 *
 * This file runs the series and writes the report; bench/scenarios.ts says what each series does,
 * bench/measure.ts what a step costs, bench/report.ts computes the report's figures and
 * bench/reportText.ts holds its prose.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ACCESS_LOG } from "../scripts/registryAccessLog";
import { ENGINE_PARALLELISM } from "../scripts/stack";
import { loads, OUT, type Sample, samples } from "./measure";
import { seriesProblem } from "./preflight";
import {
  type Failure,
  type ReportInput,
  type RetentionFigure,
  renderReport,
  summary,
} from "./report";
import { SCALING_ENABLED, scalingSection, scalingSteps } from "./scaling";
import {
  attempt,
  BUILDKIT_HOST,
  CHANGED_SERVICE,
  failures,
  machine,
  PATCH_VERSION,
  RUNS,
  retentionFigures,
  SERIES,
  scalingDeps,
  series,
} from "./scenarios";

const HERE = __dirname;
const RESULTS = process.env.BENCH_RESULTS ?? path.join(HERE, "RESULTS.md");

interface RunRecord {
  readonly runs: number;
  readonly failures?: Failure[];
  readonly started: string;
  readonly finished: string;
  readonly loads: number[];
  readonly retention: RetentionFigure[];
}

/** A text file beside this one, trimmed; empty when it is missing. */
function carried(name: string): string {
  const file = path.join(HERE, name);
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : "";
}

/** Writes bench/RESULTS.md from the samples and prints the summary. */
function report(record: RunRecord): void {
  const input: ReportInput = {
    samples,
    retention: record.retention,
    failures,
    loads,
    machine: machine(),
    runs: record.runs,
    started: new Date(record.started),
    finished: new Date(record.finished),
    scaling: scalingSection(
      samples,
      OUT,
      path.join(path.dirname(RESULTS), "scaling.png"),
      path.dirname(RESULTS),
    ),
    // Measured by its own script (bench/registryRace.ts), not by this run: carried over as written.
    race: carried("registryRace.md"),
    analysis: carried("analysis.md"),
    changedService: CHANGED_SERVICE,
    patchVersion: PATCH_VERSION,
    parallelism: ENGINE_PARALLELISM,
  };
  const { markdown, table } = renderReport(input);
  fs.writeFileSync(RESULTS, markdown);
  process.stdout.write(summary(input, table, path.relative(process.cwd(), RESULTS)));
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
  const chosen = SERIES.filter((name) => series[name] !== undefined);
  const problem = seriesProblem(chosen, process.env.PATH ?? "");
  if (problem !== undefined) throw new Error(problem);
  fs.mkdirSync(OUT, { recursive: true });
  for (const file of fs.readdirSync(OUT)) {
    if (/^run\d+-.*\.(log|trace)$/.test(file)) fs.rmSync(path.join(OUT, file));
  }
  fs.writeFileSync(path.join(OUT, "samples.jsonl"), "");
  const started = new Date();
  loads.push(os.loadavg()[0] ?? 0);
  const sampler = setInterval(() => loads.push(os.loadavg()[0] ?? 0), 5000);
  sampler.unref();

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
