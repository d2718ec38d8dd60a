/**
 * bench/RESULTS.md and the summary `npm run bench` prints, from the run's samples: medians,
 * ratios within each run, the goals, and the tables of every section. Pure: everything it shows
 * is passed in (the machine's description and the scaling section too), so a fixed set of
 * samples always renders the same report. The prose is bench/reportText.ts's.
 */
import type { PathKind, RequestCounts } from "./accessLog";
import { kindTotal } from "./accessLog";
import { formatBytes, markdownTable, median } from "./format";
import type { Cpu, Sample } from "./measure";
import * as text from "./reportText";
import { linearity, points } from "./scaling";

export interface RetentionFigure {
  readonly tags: number;
  readonly medianMs: number;
  readonly runs: number;
}

/** A series that failed and was started again from cold. */
export interface Failure {
  readonly series: string;
  readonly run: number;
  readonly error: string;
}

export interface ReportInput {
  readonly samples: readonly Sample[];
  readonly retention: readonly RetentionFigure[];
  readonly failures: readonly Failure[];
  /** The 1-minute load average, sampled during the run. */
  readonly loads: readonly number[];
  /** The machine and tool versions, as rows of (what, value). */
  readonly machine: ReadonlyArray<readonly [string, string]>;
  readonly runs: number;
  readonly started: Date;
  readonly finished: Date;
  /** The scaling section (bench/scaling.ts), empty when the series did not run. */
  readonly scaling: string;
  /** bench/registryRace.md and bench/analysis.md, trimmed; empty when absent. */
  readonly race: string;
  readonly analysis: string;
  /** What the patch release changes, and the engine parallelism the shipped variant runs with. */
  readonly changedService: string;
  readonly patchVersion: string;
  readonly parallelism: number;
}

// ------------------------------------------------------------------ figures

export const SCENARIOS = [
  "baseline cold",
  "stack cold",
  "baseline patch",
  "stack patch",
  "baseline no-op",
  "stack no-op up",
  "stack preview",
  "stack cold amd64 only",
  "stack[signed] cold",
  "stack[signed] patch",
  "stack[signed] no-op up",
  "stack[signed+scanned] cold",
  "stack[signed+scanned] patch",
  "stack[signed+scanned] no-op up",
  "stack[2 nodes] cold",
  "stack[2 nodes] patch",
  "stack[nockpt] cold",
  "stack[nockpt] patch",
  "stack[nockpt] cold amd64 only",
  "stack[p8] cold",
  "stack[p8] patch",
];

/** The engine settings the knobs series changes, by scenario label. */
const NO_CHECKPOINTS = "stack[nockpt]";
const CLI_DEFAULT = "stack[p8]";
/** The signed series, and the same with the vulnerability gate on. */
const SIGNED = "stack[signed]";
const SCANNED = "stack[signed+scanned]";
/** The releases the scan's cost is judged on: what the goal says, the scenario's suffix. */
const SCANNED_RELEASES = [
  { release: "cold", scenario: "cold" },
  { release: "patch", scenario: "patch" },
  { release: "no-op", scenario: "no-op up" },
] as const;
/** What the scan may add to a signed release's wall time (issue 20). */
const SCAN_LIMIT = 1.1;

/** The samples' figures per scenario. */
function figures(samples: readonly Sample[]) {
  const of = (scenario: string): Sample[] =>
    samples.filter((sample) => sample.scenario === scenario);
  const medianOf = (scenario: string, pick: (sample: Sample) => number): number =>
    median(of(scenario).map(pick));
  /** Median over runs of a ratio taken within each run. */
  const ratio = (
    numerator: string,
    denominator: string,
    pick: (sample: Sample) => number,
  ): { median: number; runs: number[] } => {
    const runs: number[] = [];
    for (const top of of(numerator)) {
      const bottom = of(denominator).find((sample) => sample.run === top.run);
      if (bottom !== undefined && pick(bottom) > 0) runs.push(pick(top) / pick(bottom));
    }
    return { median: median(runs), runs };
  };
  /** Median over runs of a figure taken within each run's sample of the scenario. */
  const within = (scenario: string, figure: (sample: Sample) => number | undefined) => {
    const runs = of(scenario).flatMap((sample) => {
      const value = figure(sample);
      return value === undefined ? [] : [value];
    });
    return { median: median(runs), runs };
  };
  /** The median sample (by wall time) of a scenario, for its request and profile breakdown. */
  const medianSample = (scenario: string): Sample | undefined => {
    const sorted = of(scenario).sort((a, b) => a.wallMs - b.wallMs);
    return sorted[Math.floor((sorted.length - 1) / 2)];
  };
  /** The scenarios that have samples, in report order. */
  const scenarios = SCENARIOS.filter((scenario) => of(scenario).length > 0);
  return { of, medianOf, ratio, within, medianSample, scenarios };
}

type Figures = ReturnType<typeof figures>;

function methods(requests: RequestCounts, kind: PathKind): string {
  return Object.entries(requests[kind])
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([method, count]) => `${method} ${count}`)
    .join(", ");
}

// ------------------------------------------------------------------ scenario table

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

function rows({ scenarios, medianOf }: Figures): Row[] {
  return scenarios.map((scenario) => {
    const kinds = (kind: PathKind) =>
      String(medianOf(scenario, (sample) => kindTotal(sample.requests, kind)));
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

/** The scenario table as the terminal shows it: aligned columns. */
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

// ------------------------------------------------------------------ goals and ratios

interface Goal {
  readonly goal: string;
  readonly figure: string;
  readonly met: boolean | undefined;
}

const wall = (sample: Sample) => sample.wallMs;
const requests = (sample: Sample) => sample.totalRequests;
const x = (value: number) => `${value.toFixed(2)}x`;

function goals(
  { of, medianOf, ratio }: Figures,
  retention: readonly RetentionFigure[],
  samples: readonly Sample[],
): Goal[] {
  const list: Goal[] = [];
  const add = (goal: string, value: number, limit: number, figure: string) => {
    const measured = !Number.isNaN(value);
    list.push({ goal, figure: measured ? figure : "", met: measured ? value <= limit : undefined });
  };
  const seconds = (scenario: string) => (medianOf(scenario, wall) / 1000).toFixed(1);
  /** The stack's wall time over the baseline's in the same release, at most `limit`. */
  const wallGoal = (goal: string, release: string, limit: number) => {
    const r = ratio(`stack ${release}`, `baseline ${release}`, wall);
    add(
      goal,
      r.median,
      limit,
      `stack/baseline ${x(r.median)} (${seconds(`stack ${release}`)} s vs ${seconds(`baseline ${release}`)} s)`,
    );
  };
  wallGoal("Cold release: at most half the baseline's wall time", "cold", 0.5);
  const coldRequests = ratio("stack cold", "baseline cold", requests);
  add(
    "Cold release: registry requests at most 0.4x the baseline's",
    coldRequests.median,
    0.4,
    `stack/baseline ${x(coldRequests.median)} (${medianOf("stack cold", requests)} vs ${medianOf("baseline cold", requests)})`,
  );
  wallGoal(
    "Patch release, one service changed: at most 0.2x the baseline's wall time",
    "patch",
    0.2,
  );
  /** The signed release's wall time over another scenario's in the same run, at most `limit`. */
  const signedGoal = (goal: string, release: string, bottom: string, limit: number) => {
    const top = `${SIGNED} ${release}`;
    const r = ratio(top, bottom, wall);
    add(goal, r.median, limit, `${x(r.median)} (${seconds(top)} s vs ${seconds(bottom)} s)`);
  };
  signedGoal("Signed cold release at most 1.5x the unsigned one", "cold", "stack cold", 1.5);
  signedGoal("Signed patch release at most 1.3x the unsigned one", "patch", "stack patch", 1.3);
  signedGoal(
    "Signed cold release at most 0.6x the baseline (which signs nothing)",
    "cold",
    "baseline cold",
    0.6,
  );
  const noopManifestGets = of("stack no-op up").map((sample) => sample.requests.manifests.GET ?? 0);
  add(
    "No-op `pulumi up`: no manifest GET (Docker Hub counts each as a pull; HEAD is free)",
    median(noopManifestGets),
    0,
    `median ${median(noopManifestGets)} (runs: ${noopManifestGets.join(", ")})`,
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
    `${x(arch.median)} (cold up, ${seconds("stack cold")} s vs ${seconds("stack cold amd64 only")} s)`,
  );
  for (const { release, scenario } of SCANNED_RELEASES) {
    const top = `${SCANNED} ${scenario}`;
    const bottom = `${SIGNED} ${scenario}`;
    const r = ratio(top, bottom, wall);
    add(
      `Vulnerability scan: scanned / signed ${release} up at most ${x(SCAN_LIMIT)}`,
      r.median,
      SCAN_LIMIT,
      `scanned/signed ${x(r.median)} (${seconds(top)} s vs ${seconds(bottom)} s)`,
    );
  }
  // The scaling series (BENCH_SCALING=1), one run per N: its own section has the detail.
  const scaling = linearity(points(samples), "stack", "cold");
  if (scaling === undefined) {
    list.push({ goal: text.SCALING_GOAL_ROW, figure: "", met: undefined });
  } else {
    const { small, large, perServiceRatio } = scaling;
    add(
      text.scalingGoalRow(small.n, large.n),
      perServiceRatio,
      1.1,
      `${x(perServiceRatio)} (${(large.wall_s / large.n).toFixed(2)} s vs ${(small.wall_s / small.n).toFixed(2)} s per service)`,
    );
  }
  return list;
}

/** Blob uploads by whatever writes tags (not builds): the manifest-list and tag-copy clients. */
function floatingMoveUploads(sample: Sample): number {
  return Object.entries(sample.clients)
    .filter(([name]) => !name.startsWith("buildkit"))
    .reduce((sum, [, row]) => sum + row.blobUploads, 0);
}

interface Comparison {
  label: string;
  top: string;
  bottom: string;
  pick: (sample: Sample) => number;
  /** A figure taken within each run's sample of `top` instead of `top` over `bottom`. */
  perRun?: (sample: Sample) => number | undefined;
}

/** The fixtures whose final stage runs commands: their arm64 build runs them under QEMU. */
const RUNS_IN_IMAGE = ["battle-service", "notification-service"];

/** The arm64 builds' time over the amd64 builds' of {@link RUNS_IN_IMAGE}, from the engine's spans. */
function emulatedOverNative(sample: Sample): number | undefined {
  const spans = sample.profile?.spans ?? [];
  const built = (arch: string) =>
    spans
      .filter(
        (span) =>
          span.type === "docker-build:index:Image" &&
          RUNS_IN_IMAGE.some((service) => span.name === `${service}-${arch}`),
      )
      .reduce((sum, span) => sum + (span.end - span.start), 0);
  const native = built("amd64");
  return native > 0 ? built("arm64") / native : undefined;
}

/** Wall time and registry requests of one scenario against another. */
const wallAndRequests = (label: string, top: string, bottom: string): Comparison[] => [
  { label: `${label} wall time`, top, bottom, pick: wall },
  { label: `${label} requests`, top, bottom, pick: requests },
];

const RATIOS: readonly Comparison[] = [
  ...wallAndRequests("cold", "stack cold", "baseline cold"),
  ...wallAndRequests("patch", "stack patch", "baseline patch"),
  ...wallAndRequests("no-op", "stack no-op up", "baseline no-op"),
  {
    label: "signed / unsigned cold up (SBOMs, provenance, signature)",
    top: "stack[signed] cold",
    bottom: "stack cold",
    pick: wall,
  },
  {
    label: "signed / unsigned patch up",
    top: "stack[signed] patch",
    bottom: "stack patch",
    pick: wall,
  },
  {
    label: "signed / unsigned no-op up",
    top: "stack[signed] no-op up",
    bottom: "stack no-op up",
    pick: wall,
  },
  ...SCANNED_RELEASES.map(({ release, scenario }) => ({
    label:
      release === "cold"
        ? "scanned / signed cold up (grype, vuln attestations)"
        : `scanned / signed ${release} up`,
    top: `${SCANNED} ${scenario}`,
    bottom: `${SIGNED} ${scenario}`,
    pick: wall,
  })),
  {
    label: "two nodes / one node cold up (amd64 and arm64 on their own daemons)",
    top: "stack[2 nodes] cold",
    bottom: "stack cold",
    pick: wall,
  },
  {
    label: "two nodes / one node patch up",
    top: "stack[2 nodes] patch",
    bottom: "stack patch",
    pick: wall,
  },
  {
    label:
      "arm64 / amd64 build time of the services with RUN steps in their image (cold, one node; QEMU's share)",
    top: "stack cold",
    bottom: "stack cold",
    pick: wall,
    perRun: emulatedOverNative,
  },
  {
    label: "multi-arch / amd64-only cold up",
    top: "stack cold",
    bottom: "stack cold amd64 only",
    pick: wall,
  },
  ...[NO_CHECKPOINTS, CLI_DEFAULT].flatMap((variant) => [
    {
      label: `${variant}: cold wall time`,
      top: `${variant} cold`,
      bottom: "baseline cold",
      pick: wall,
    },
    {
      label: `${variant}: patch wall time`,
      top: `${variant} patch`,
      bottom: "baseline patch",
      pick: wall,
    },
  ]),
  {
    label: "stack[nockpt]: multi-arch / amd64-only cold up",
    top: "stack[nockpt] cold",
    bottom: "stack[nockpt] cold amd64 only",
    pick: wall,
  },
];

// ------------------------------------------------------------------ sections

function loadSummary(loads: readonly number[]): string {
  if (loads.length === 0) return "(not sampled)";
  const sorted = [...loads].sort((a, b) => a - b);
  return `1-minute load average sampled every 5 s: min ${sorted[0]?.toFixed(2)}, median ${median(sorted).toFixed(2)}, max ${sorted.at(-1)?.toFixed(2)} (${loads.length} samples)`;
}

/** Where an update's time went, from the engine event stream of the median run. */
function profileSection({ medianSample }: Figures, scenario: string): string {
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
  return text.profileSection({
    scenario,
    run: sample.run,
    wall: s(sample.wallMs),
    firstEvent: s(profile.firstEvent),
    firstResource: s(profile.firstResource),
    lastResource: s(profile.lastResource),
    summary: s(profile.summary),
    end: s(profile.end),
    ops,
    table: markdownTable(["resource type (op)", "steps", "busy s (sum)", "window s"], body),
  });
}

function cpuSection({ scenarios, medianOf }: Figures): string {
  const body = scenarios.map((scenario) => {
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

function clientSection({ medianSample }: Figures, scenario: string): string {
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
  const listed = (kind: PathKind) => methods(sample.requests, kind) || "none";
  return text.clientSection({
    scenario,
    run: sample.run,
    manifests: listed("manifests"),
    uploads: listed("uploads"),
    blobs: listed("blobs"),
    tags: listed("tags"),
    other: listed("other"),
    mounts: sample.bytes.mounts,
    blobBytes: formatBytes(sample.bytes.blobBytes),
    manifestBytes: formatBytes(sample.bytes.manifestBytes),
    table: markdownTable(["client", "requests", "blob uploads", "manifest PUTs"], body),
  });
}

function perRunTable({ scenarios, of }: Figures, samples: readonly Sample[]): string {
  const runs = [...new Set(samples.map((sample) => sample.run))].sort((a, b) => a - b);
  const body = scenarios.map((scenario) => [
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

function goalsTable(
  figured: Figures,
  retention: readonly RetentionFigure[],
  samples: readonly Sample[],
): string {
  return markdownTable(
    ["goal", "figure", "met"],
    goals(figured, retention, samples).map((goal) => [
      goal.goal,
      goal.figure,
      goal.met === undefined ? "not measured" : goal.met ? "**met**" : "**not met**",
    ]),
  );
}

function ratiosTable(figured: Figures): string {
  return markdownTable(
    ["comparison", "median", "per run"],
    // A partial run (BENCH_SERIES) measures some comparisons only; the others have no row.
    RATIOS.flatMap(({ label, top, bottom, pick, perRun }) => {
      const r =
        perRun === undefined ? figured.ratio(top, bottom, pick) : figured.within(top, perRun);
      if (r.runs.length === 0) return [];
      return [
        [label, `${r.median.toFixed(2)}x`, r.runs.map((value) => value.toFixed(2)).join(", ")],
      ];
    }),
  );
}

function failuresTable(failures: readonly Failure[]): string {
  return failures.length === 0
    ? text.NO_FAILURES
    : markdownTable(
        ["series", "run", "error"],
        failures.map((failure) => [
          failure.series,
          String(failure.run),
          failure.error.replace(/\|/g, "\\|"),
        ]),
      );
}

function retentionTable(retention: readonly RetentionFigure[]): string {
  return markdownTable(
    ["tags", "plan time (median)", "runs"],
    retention.map((figure) => [
      figure.tags.toLocaleString("en-US"),
      `${figure.medianMs.toFixed(1)} ms`,
      String(figure.runs),
    ]),
  );
}

// ------------------------------------------------------------------ the report

/** bench/RESULTS.md, and the scenario table the terminal shows. */
export function renderReport(input: ReportInput): { markdown: string; table: string } {
  const figured = figures(input.samples);
  const table = rows(figured);
  const { started, finished, runs } = input;
  const doc = text.results({
    runs,
    started: started.toISOString(),
    finished: finished.toISOString(),
    minutes: ((finished.getTime() - started.getTime()) / 60000).toFixed(1),
    machine: markdownTable(["", ""], [...input.machine, ["load", loadSummary(input.loads)]]),
    goals: goalsTable(figured, input.retention, input.samples),
    scenarios: markdownTable(
      Object.values(HEADERS),
      table.map((row) => Object.values(row)),
    ),
    ratios: ratiosTable(figured),
    perRun: perRunTable(figured, input.samples),
    scaling: input.scaling,
    failures: failuresTable(input.failures),
    retention: retentionTable(input.retention),
    changedService: input.changedService,
    patchVersion: input.patchVersion,
    parallelism: input.parallelism,
    cpu: cpuSection(figured),
    clients: SCENARIOS.map((scenario) => clientSection(figured, scenario))
      .filter((section) => section !== "")
      .map((section) => `${section}\n`)
      .join(""),
    profiles: SCENARIOS.filter((scenario) => scenario.startsWith("stack"))
      .map((scenario) => profileSection(figured, scenario))
      .filter((section) => section !== "")
      .map((section) => `\n${section}`)
      .join(""),
    race: input.race === "" ? "" : text.raceSection(input.race),
    analysis: input.analysis === "" ? "" : text.analysisSection(input.analysis),
  });
  return { markdown: `${doc.trimEnd()}\n`, table: textTable(table) };
}

/** What `npm run bench` prints once the report is written to `wrote`. */
export function summary(input: ReportInput, table: string, wrote: string): string {
  const lines = [`\n${table}\n\n`];
  for (const figure of input.retention) {
    lines.push(
      `retention plan, ${figure.tags.toLocaleString("en-US")} tags: ${figure.medianMs.toFixed(1)} ms\n`,
    );
  }
  lines.push("\n");
  for (const goal of goals(figures(input.samples), input.retention, input.samples)) {
    const verdict = goal.met === undefined ? "not measured" : goal.met ? "met" : "NOT MET";
    lines.push(
      `${verdict.padEnd(12)} ${goal.goal}${goal.figure === "" ? "" : `: ${goal.figure}`}\n`,
    );
  }
  for (const failure of input.failures) {
    lines.push(`failed attempt: run ${failure.run} ${failure.series}: ${failure.error}\n`);
  }
  lines.push(`\nwrote ${wrote}\n`);
  return lines.join("");
}
