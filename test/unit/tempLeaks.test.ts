import { describe, expect, it } from "vitest";
import {
  formatBytes,
  leakVerdict,
  newEntries,
  otherRuns,
  type ProcessInfo,
} from "../support/tempLeaks";

describe("newEntries", () => {
  it.each([
    { name: "nothing before, nothing after", before: [], after: [], expected: [] },
    {
      name: "what was there before is not new",
      before: ["battlescope-a-1", "battlescope-b-2"],
      after: ["battlescope-b-2", "battlescope-a-1"],
      expected: [],
    },
    {
      name: "new entries, sorted",
      before: ["battlescope-a-1"],
      after: ["battlescope-z-9", "battlescope-a-1", "battlescope-c-3"],
      expected: ["battlescope-c-3", "battlescope-z-9"],
    },
    {
      name: "an entry removed meanwhile is not reported",
      before: ["battlescope-a-1"],
      after: [],
      expected: [],
    },
  ])("$name", ({ before, after, expected }) => {
    expect(newEntries(before, after)).toEqual(expected);
  });
});

describe("formatBytes", () => {
  it.each([
    { bytes: 0, expected: "0 B" },
    { bytes: 999, expected: "999 B" },
    { bytes: 1000, expected: "1.0 kB" },
    { bytes: 4096, expected: "4.1 kB" },
    { bytes: 58_300_000, expected: "58.3 MB" },
    { bytes: 2_500_000_000, expected: "2.5 GB" },
    { bytes: 7_000_000_000_000, expected: "7000.0 GB" },
  ])("$bytes bytes are $expected", ({ bytes, expected }) => {
    expect(formatBytes(bytes)).toBe(expected);
  });
});

describe("otherRuns", () => {
  // init(1) -> bash(10) -> npx(11) -> vitest main(12, self) -> worker(13) -> pulumi(14)
  const mine: ProcessInfo[] = [
    { pid: 1, ppid: 0, command: "/sbin/init", tmpdir: "/tmp" },
    { pid: 10, ppid: 1, command: "bash -c npx vitest run --project unit", tmpdir: "/tmp" },
    { pid: 11, ppid: 10, command: "npm exec vitest run --project unit", tmpdir: "/tmp" },
    { pid: 12, ppid: 11, command: "node node_modules/.bin/vitest run", tmpdir: "/tmp" },
    {
      pid: 13,
      ppid: 12,
      command: "node node_modules/vitest/dist/workers/forks.js",
      tmpdir: "/tmp",
    },
    { pid: 14, ppid: 13, command: "pulumi up --stack e2e", tmpdir: "/tmp" },
  ];
  const other = (pid: number, command: string, tmpdir = "/tmp"): ProcessInfo => ({
    pid,
    ppid: 1,
    command,
    tmpdir,
  });

  it.each([
    { name: "the run itself, its ancestors and descendants are not others", extra: [], pids: [] },
    {
      name: "another vitest run on the same temporary directory is",
      extra: [other(20, "node node_modules/.bin/vitest run --project e2e")],
      pids: [20],
    },
    {
      name: "a Pulumi engine outside the run (npm run local, signing) is",
      extra: [other(30, "/root/.cache/battlescope/toolchain/bin/pulumi up --stack local")],
      pids: [30],
    },
    {
      name: "a run on another temporary directory is not",
      extra: [other(40, "node node_modules/.bin/vitest run", "/tmp/battlescope-private-1")],
      pids: [],
    },
    {
      name: "an unrelated process is not",
      extra: [other(50, "/usr/bin/buildkitd --root /var/lib/buildkit")],
      pids: [],
    },
  ])("$name", ({ extra, pids }) => {
    expect(otherRuns([...mine, ...extra], 12, "/tmp").map((process) => process.pid)).toEqual(pids);
  });

  it("ends on a parent cycle (a pid reused while /proc was read)", () => {
    const cycle: ProcessInfo[] = [
      { pid: 60, ppid: 61, command: "vitest", tmpdir: "/tmp" },
      { pid: 61, ppid: 60, command: "vitest", tmpdir: "/tmp" },
    ];
    expect(otherRuns([...mine, ...cycle], 12, "/tmp").map((process) => process.pid)).toEqual([
      60, 61,
    ]);
  });
});

describe("leakVerdict", () => {
  const left = [
    { name: "battlescope-e2ehot-Ab12Cd", bytes: 41_200_000 },
    { name: "battlescope-src-x9", bytes: 1_500 },
  ];

  it("passes silently when nothing is left", () => {
    expect(leakVerdict("/tmp", [], [])).toEqual({ fails: false, message: undefined });
  });

  it("fails naming each entry left, its size and the total", () => {
    expect(leakVerdict("/tmp", left, [])).toEqual({
      fails: true,
      message: [
        "the test run left 2 entries in /tmp, new since it started (a test removes what it made, also when it fails: make folders with makeTempDir from test/support/tempDirs.ts):",
        "  /tmp/battlescope-e2ehot-Ab12Cd  41.2 MB",
        "  /tmp/battlescope-src-x9         1.5 kB",
        "  total 41.2 MB",
      ].join("\n"),
    });
  });

  it("says 1 entry for one", () => {
    expect(leakVerdict("/tmp", left.slice(1), []).message?.split("\n")[0]).toBe(
      "the test run left 1 entry in /tmp, new since it started (a test removes what it made, also when it fails: make folders with makeTempDir from test/support/tempDirs.ts):",
    );
  });

  it("only warns, naming them, when another run or engine used the directory meanwhile", () => {
    const others = [
      {
        pid: 20,
        ppid: 1,
        command: "node node_modules/.bin/vitest run --project e2e",
        tmpdir: "/tmp",
      },
      { pid: 30, ppid: 1, command: `pulumi up ${"x".repeat(100)}`, tmpdir: "/tmp" },
    ];
    expect(leakVerdict("/tmp", left.slice(1), others)).toEqual({
      fails: false,
      message: [
        `warning: 1 entry in /tmp appeared during the test run, not counted as left by it: other test runs or Pulumi engines used /tmp meanwhile and may have made them (pid 20 node node_modules/.bin/vitest run --project e2e; pid 30 pulumi up ${"x".repeat(67)}...):`,
        "  /tmp/battlescope-src-x9  1.5 kB",
        "  total 1.5 kB",
      ].join("\n"),
    });
  });
});
