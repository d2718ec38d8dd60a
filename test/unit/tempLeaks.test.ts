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
  const proc = (pid: number, ppid: number, command: string, tmpdir = "/tmp"): ProcessInfo => ({
    pid,
    ppid,
    argv: command.split(" "),
    tmpdir,
  });
  // init(1) -> bash(10) -> npx(11) -> vitest main(12, self) -> worker(13) -> pulumi(14)
  const mine: ProcessInfo[] = [
    proc(1, 0, "/sbin/init"),
    { pid: 10, ppid: 1, argv: ["bash", "-c", "npx vitest run --project unit"], tmpdir: "/tmp" },
    proc(11, 10, "npm exec vitest run --project unit"),
    proc(12, 11, "node /work/main/node_modules/.bin/vitest run"),
    proc(13, 12, "node /work/main/node_modules/vitest/dist/workers/forks.js"),
    proc(14, 13, "/root/.cache/battlescope/toolchain/bin/pulumi up --stack e2e"),
  ];

  it.each([
    { name: "the run itself, its ancestors and descendants are not others", extra: [], pids: [] },
    {
      name: "another vitest run on the same temporary directory is",
      extra: [
        proc(20, 1, "node /work/wt/x/node_modules/.bin/vitest run --project e2e"),
        proc(21, 1, "node /work/wt/x/node_modules/vitest/vitest.mjs run"),
        proc(22, 1, "node /work/wt/x/node_modules/vitest/dist/workers/forks.js"),
        proc(23, 1, "npm exec vitest run"),
        { pid: 24, ppid: 1, argv: ["bash", "-c", "cd /w && npx vitest run"], tmpdir: "/tmp" },
      ],
      pids: [20, 21, 22, 23, 24],
    },
    {
      name: "another run is named once, by the first process of its chain",
      extra: [
        proc(25, 1, "timeout 900 npx vitest run --project e2e"),
        proc(26, 25, "npm exec vitest run --project e2e"),
        proc(27, 26, "node /work/wt/x/node_modules/.bin/vitest run --project e2e"),
        proc(28, 27, "node /work/wt/x/node_modules/vitest/dist/workers/forks.js"),
        proc(29, 28, "/root/.cache/battlescope/toolchain/bin/pulumi preview --stack e2e"),
      ],
      pids: [25],
    },
    {
      name: "a Pulumi engine outside the run (npm run local, signing) is",
      extra: [proc(30, 1, "/root/.cache/battlescope/toolchain/bin/pulumi up --stack local")],
      pids: [30],
    },
    {
      name: "a run on another temporary directory is not",
      extra: [proc(40, 1, "node node_modules/.bin/vitest run", "/tmp/battlescope-private-1")],
      pids: [],
    },
    {
      name: "a process that only names pulumi or vitest in a path is not",
      extra: [
        proc(
          50,
          1,
          "go -C /root/.cache/battlescope/toolchain/.tmp-pulumi-v3.276.0-2542/.src build",
        ),
        proc(51, 1, "vim /work/main/vitest.config.ts"),
        proc(52, 1, "/usr/bin/buildkitd --root /var/lib/buildkit"),
      ],
      pids: [],
    },
  ])("$name", ({ extra, pids }) => {
    expect(otherRuns([...mine, ...extra], 12, "/tmp").map((process) => process.pid)).toEqual(pids);
  });

  it("ends on a parent cycle (pids reused while /proc was read), a chain without a first", () => {
    const cycle = [proc(60, 61, "npm exec vitest"), proc(61, 60, "npm exec vitest")];
    expect(otherRuns([...mine, ...cycle], 12, "/tmp")).toEqual([]);
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
      { pid: 20, ppid: 1, argv: ["node", "node_modules/.bin/vitest", "run"], tmpdir: "/tmp" },
      { pid: 30, ppid: 1, argv: ["pulumi", "up", "x".repeat(100)], tmpdir: "/tmp" },
    ];
    expect(leakVerdict("/tmp", left.slice(1), others)).toEqual({
      fails: false,
      message: [
        `warning: 1 entry in /tmp appeared during the test run, not counted as left by it: other test runs or Pulumi engines used /tmp meanwhile and may have made them (pid 20 node node_modules/.bin/vitest run; pid 30 pulumi up ${"x".repeat(67)}...):`,
        "  /tmp/battlescope-src-x9  1.5 kB",
        "  total 1.5 kB",
      ].join("\n"),
    });
  });
});
