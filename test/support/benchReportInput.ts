/**
 * A fixed benchmark run for the report's tests (test/unit/benchReport.test.ts): samples of every
 * scenario over three runs (one missing), the scaling series at N = 9 and 18, engine profiles,
 * registry clients, a failed attempt, the retention figures. Numbers are made up but follow the
 * shapes bench/measure.ts records. The scanned series costs its signed release's time times
 * {@link SCAN_COST}: within the scan's goal (1.10x) for the cold and no-op up, beyond it for
 * the patch.
 */
import type { Sample } from "../../bench/measure";
import type { ReportInput } from "../../bench/report";
import { SCENARIOS } from "../../bench/report";
import type { Extra } from "../../bench/scaling";

const span = (type: string, op: string, name: string, start: number, end: number) => ({
  type,
  op,
  name,
  start,
  end,
});

/** An engine timeline: components and the stack span their children and are not counted. */
function profile(run: number, index: number): NonNullable<Sample["profile"]> {
  return {
    firstEvent: 812 + run,
    firstResource: 2_344 + index,
    lastResource: 30_118 + index * 40,
    summary: 31_002 + index * 40,
    end: 33_560 + index * 40,
    spans: [
      span("pulumi:pulumi:Stack", "same", "images-e2e", 900, 31_000),
      span("battlescope:images:MultiArchImage", "create", "frontend", 2_400, 29_000),
      span("docker-build:index:Image", "create", "frontend-amd64", 2_500, 20_100 + run),
      span("docker-build:index:Image", "create", "frontend-arm64", 2_510, 22_900 + index),
      // A service with RUN steps in its image: its arm64 build runs them under QEMU.
      span("docker-build:index:Image", "create", "battle-service-amd64", 2_600, 12_600),
      span("docker-build:index:Image", "create", "battle-service-arm64", 2_610, 32_610 + run * 100),
      span(
        "pulumi-nodejs:dynamic/battlescope:RegistryTagSet",
        "create",
        "frontend-v3.0.0-tags",
        22_950,
        23_400,
      ),
      span("kubernetes:apps/v1:Deployment", "same", "frontend", 23_500, 23_540),
      span("kubernetes:core/v1:Service", "same", "frontend", 23_500, 23_520),
    ],
    ops: { create: 3 + index, same: 4, ...(run === 1 ? { update: 1 } : {}) },
  };
}

/** Who sent the requests: BuildKit, and the stack's node process or the docker CLI. */
function clients(run: number, index: number, scenario: string, stack: boolean, uploads: number) {
  return {
    "buildkit (builds, cache)": { requests: 40 + index, blobUploads: uploads, manifestPuts: 2 },
    ...(stack
      ? {
          "node (program reads, RegistryTagSet)": {
            requests: 25 + run,
            blobUploads: scenario.endsWith("patch") && run === 2 ? 1 : 0,
            manifestPuts: 2 + run,
          },
        }
      : { "docker CLI": { requests: 12 + run, blobUploads: 0, manifestPuts: 0 } }),
  };
}

function sample(run: number, scenario: string, index: number): Sample {
  const scale = 1 + index / 10 + run / 100;
  const stack = scenario.startsWith("stack") || scenario.startsWith("scaling stack");
  const uploads = scenario.includes("no-op") ? 0 : Math.round(12 * scale);
  return {
    run,
    scenario,
    organization: `bench${run}x${index}`,
    wallMs: Math.round(41_234 * scale + run * 517),
    requests: {
      manifests: { HEAD: 9 + index, PUT: 4 + run, ...(stack ? {} : { GET: 2 }) },
      uploads: uploads === 0 ? {} : { PATCH: uploads, POST: uploads, PUT: uploads },
      blobs: { HEAD: 30 + index * 2 + run },
      tags: stack ? { GET: 9 } : {},
      other: index % 3 === 0 ? { GET: 1 } : {},
    },
    totalRequests: 0,
    unscopedRequests: run + (index % 2),
    bytes: {
      blobBytes: uploads * 734_003 + run,
      manifestBytes: 1_536 * (index + 1) + run * 3,
      blobUploads: uploads,
      manifestPuts: 4 + run,
      mounts: index % 4,
    },
    clients: clients(run, index, scenario, stack, uploads),
    ...(stack ? { profile: profile(run, index) } : {}),
    cpu: {
      bench: 3.25 * scale,
      tools: 17.5 * scale + run,
      buildkitd: 44.125 * scale,
      registry: 2.5 + index / 8,
    },
  };
}

function withTotal(entry: Sample): Sample {
  const total = Object.values(entry.requests)
    .flatMap((byMethod) => Object.values(byMethod))
    .reduce((sum, n) => sum + n, 0);
  return { ...entry, totalRequests: total };
}

const SCALING = [9, 18].flatMap((n) =>
  [
    "scaling stack cold",
    "scaling stack no-op",
    "scaling stack preview",
    "scaling stack[nockpt] cold",
    "scaling baseline cold",
    "scaling baseline no-op",
  ].map((scenario) => `${scenario} N=${n}`),
);

/** The scanned series' wall time over the signed series' in the same run, by release. */
export const SCAN_COST: Readonly<Record<string, number>> = {
  cold: 1.06,
  patch: 1.18,
  "no-op up": 1.02,
};

/** A scanned release's sample: its own requests, the signed release's wall time times its cost. */
function scannedSample(run: number, scenario: string, index: number): Sample {
  const release = scenario.replace(/^stack\[signed\+scanned\] /, "");
  const signed = sample(
    run,
    `stack[signed] ${release}`,
    SCENARIOS.indexOf(`stack[signed] ${release}`),
  );
  const own = sample(run, scenario, index);
  return { ...own, wallMs: Math.round(signed.wallMs * (SCAN_COST[release] ?? Number.NaN)) };
}

export const BENCH_SAMPLES: readonly Sample[] = [
  ...[1, 2, 3].flatMap((run) =>
    SCENARIOS.flatMap((scenario, index) => {
      if (run === 3 && scenario === "stack[p8] patch") return [];
      const entry = scenario.startsWith("stack[signed+scanned] ")
        ? scannedSample(run, scenario, index)
        : sample(run, scenario, index);
      return [withTotal(entry)];
    }),
  ),
  ...SCALING.map((scenario, index) => {
    const n = Number(scenario.split("N=")[1]);
    const entry = withTotal(sample(1, scenario, index));
    return { ...entry, wallMs: entry.wallMs * (n / 9) * (scenario.includes("baseline") ? 2 : 1) };
  }),
];

/** Checkpoint sizes the scaling series records after each cold up. */
export const BENCH_SCALING_EXTRAS: readonly Extra[] = [
  { n: 9, checkpointBytes: 412_345 },
  { n: 18, checkpointBytes: 901_234 },
];

export const BENCH_PLOT = "![wall time and requests against N](scaling.png)";

export const BENCH_REPORT_INPUT: Omit<ReportInput, "scaling"> = {
  samples: BENCH_SAMPLES,
  retention: [
    { tags: 1_000, medianMs: 2.345, runs: 5 },
    { tags: 10_000, medianMs: 27.5, runs: 5 },
    { tags: 100_000, medianMs: 412.25, runs: 5 },
  ],
  failures: [{ series: "stack", run: 2, error: "registry | connection reset / error: 502" }],
  loads: [1.5, 0.75, 2.25, 3.5],
  machine: [
    ["cores", "2 (Test CPU)"],
    ["memory", "7.8 GiB"],
    ["kernel", "Linux 6.1.0"],
    ["node", "v24.22.3"],
  ],
  runs: 3,
  started: new Date("2026-11-29T10:00:00.000Z"),
  finished: new Date("2026-11-29T10:12:24.000Z"),
  race: "Registry race notes (fixed text for the test).",
  analysis: "### Analysis notes\n\nFixed text for the test.",
  changedService: "frontend",
  patchVersion: "v3.0.1",
  parallelism: 64,
};
