/**
 * The benchmark report renders a fixed run (test/support/benchReportInput.ts) to the same
 * bench/RESULTS.md text and terminal summary as before its prose moved to bench/reportText.ts:
 * the snapshots were taken from bench/run.ts as it was, on the same input.
 */
import { describe, expect, it } from "vitest";
import type { Sample } from "../../bench/measure";
import { type ReportInput, renderReport, summary } from "../../bench/report";
import { renderScalingSection } from "../../bench/scaling";
import {
  BENCH_PLOT,
  BENCH_REPORT_INPUT,
  BENCH_SAMPLES,
  BENCH_SCALING_EXTRAS,
} from "../support/benchReportInput";

const WROTE = "bench/RESULTS.md";

const full: ReportInput = {
  ...BENCH_REPORT_INPUT,
  scaling: renderScalingSection(BENCH_SAMPLES, BENCH_SCALING_EXTRAS, BENCH_PLOT),
};

/** One run of three scenarios: no scaling series, failures, loads, race or analysis notes. */
const minimal: ReportInput = {
  ...BENCH_REPORT_INPUT,
  samples: BENCH_SAMPLES.filter(
    (sample) =>
      sample.run === 1 && ["baseline cold", "stack cold", "stack patch"].includes(sample.scenario),
  ),
  retention: BENCH_REPORT_INPUT.retention.slice(0, 2),
  failures: [],
  loads: [],
  scaling: "",
  race: "",
  analysis: "",
};

describe("the benchmark report", () => {
  it("renders a full run as RESULTS.md and the terminal summary", async () => {
    const { markdown, table } = renderReport(full);
    await expect(markdown).toMatchFileSnapshot("__snapshots__/benchReport.full.md");
    await expect(summary(full, table, WROTE)).toMatchFileSnapshot(
      "__snapshots__/benchReport.full.txt",
    );
  });

  it("renders a run without the optional sections", async () => {
    const { markdown, table } = renderReport(minimal);
    await expect(markdown).toMatchFileSnapshot("__snapshots__/benchReport.minimal.md");
    await expect(summary(minimal, table, WROTE)).toMatchFileSnapshot(
      "__snapshots__/benchReport.minimal.txt",
    );
  });

  it("judges the scan's cost per release against the signed release of the same run", () => {
    const verdicts = summary(full, renderReport(full).table, WROTE)
      .split("\n")
      .filter((line) => line.includes("Vulnerability scan"));
    expect(verdicts).toEqual([
      "met          Vulnerability scan: scanned / signed cold up at most 1.10x: scanned/signed 1.06x (80.6 s vs 76.1 s)",
      "NOT MET      Vulnerability scan: scanned / signed patch up at most 1.10x: scanned/signed 1.18x (94.6 s vs 80.2 s)",
      "met          Vulnerability scan: scanned / signed no-op up at most 1.10x: scanned/signed 1.02x (86.0 s vs 84.3 s)",
    ]);
    expect(summary(minimal, renderReport(minimal).table, WROTE)).toContain(
      "not measured Vulnerability scan: scanned / signed cold up at most 1.10x",
    );
  });

  it.each([
    { name: "exactly the limit", signedMs: 10_000, scannedMs: 11_000, verdict: "**met**" },
    { name: "just above the limit", signedMs: 10_000, scannedMs: 11_010, verdict: "**not met**" },
    { name: "no scanned release", signedMs: 10_000, scannedMs: undefined, verdict: "not measured" },
  ])("marks a scanned cold up of $name", ({ signedMs, scannedMs, verdict }) => {
    const cold = (scenario: string, wallMs: number): Sample => ({
      ...(BENCH_SAMPLES.find(
        (sample) => sample.scenario === scenario && sample.run === 1,
      ) as Sample),
      wallMs,
    });
    const samples = [
      cold("stack[signed] cold", signedMs),
      ...(scannedMs === undefined ? [] : [cold("stack[signed+scanned] cold", scannedMs)]),
    ];
    const goal = renderReport({ ...minimal, samples })
      .markdown.split("\n")
      .find((line) => line.startsWith("| Vulnerability scan: scanned / signed cold up"));
    expect(goal?.split(" | ").at(-1)).toBe(`${verdict} |`);
  });

  it("has every section of RESULTS.md, in order", () => {
    const headings = renderReport(full)
      .markdown.split("\n")
      .filter((line) => /^##? /.test(line));
    expect(headings).toEqual([
      "# Benchmarks: the stack against the spec's shell procedure",
      "## Machine",
      "## Goals",
      "## Scenarios (medians)",
      "## Scaling: N services (one run per N)",
      "## Failed attempts (the series was started again from cold)",
      "## Retention planner",
      "## The baseline",
      "## Method",
      "## CPU seconds by process (medians)",
      "## Requests by client (median run)",
      "## Where the stack's time goes (engine event stream, median run)",
      "## Registry race: distribution 2.8 against v3.1.2",
      "## Analysis",
    ]);
  });
});
