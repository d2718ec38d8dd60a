/**
 * scripts/toolchain/progress.sh: every cold build says what it is expected to take, measured
 * (scripts/toolchain/cold-build-times.tsv), and prints its elapsed time at least every interval
 * while it runs, so a long cold build never looks like a hang.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/stack";
import { makeTempDir } from "../support/tempDirs";

const PROGRESS = path.join(REPO_ROOT, "scripts/toolchain/progress.sh");
const TIMES = path.join(REPO_ROOT, "scripts/toolchain/cold-build-times.tsv");
const TOOLCHAIN = path.join(REPO_ROOT, "scripts/toolchain.sh");

let dir = "";
beforeEach(() => {
  dir = makeTempDir("progress");
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function bash(script: string, env: Record<string, string> = {}): Promise<string> {
  const full = `set -euo pipefail\nsay() { echo "toolchain: $*"; }\nsource '${PROGRESS}'\n${script}\n`;
  return new Promise((resolve, reject) => {
    execFile("bash", ["-c", full], { env: { ...process.env, ...env } }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

describe("duration_text", () => {
  const cases: ReadonlyArray<readonly [string, number, string]> = [
    ["seconds", 45, "45 s"],
    ["a minute exactly", 60, "1 min 0 s"],
    ["minutes and seconds", 151, "2 min 31 s"],
    ["an hour and more", 3780, "1 h 3 min"],
  ];
  it.each(cases)("%s", async (_name, seconds, text) => {
    expect(await bash(`duration_text ${seconds}`)).toBe(`${text}\n`);
  });
});

describe("expected_text", () => {
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    [
      "the pinned version was measured",
      "buildkit v0.34.2",
      "about 2 min 31 s (measured here 2026-12-07)",
    ],
    [
      "only another version was measured",
      "buildkit v0.35.0",
      "about 2 min 31 s (measured here 2026-12-07 for v0.34.2)",
    ],
    ["the last line of a tool wins", "syft v1.57.1", "about 3 min 0 s (measured here 2026-12-08)"],
    ["nothing recorded", "cosign v3.1.3", "no cold build recorded"],
  ];
  it.each(cases)("%s", async (_name, args, text) => {
    const times = path.join(dir, "times.tsv");
    fs.writeFileSync(
      times,
      [
        "# tool\tversion\tseconds\tmeasured\tmachine",
        "buildkit\tv0.34.2\t151\t2026-12-07\t2 cores",
        "syft\tv1.57.1\t199\t2026-11-30\t2 cores",
        "syft\tv1.57.1\t180\t2026-12-08\t2 cores",
        "",
      ].join("\n"),
    );
    expect(await bash(`expected_text ${args}`, { PROGRESS_TIMES: times })).toBe(`${text}\n`);
  });
});

describe("the ticker", () => {
  it("prints the elapsed time every interval until stopped, and nothing after", async () => {
    const out = await bash(
      'ticker_start "kubernetes v4.25.0" "about 9 min 30 s"\nsleep 2.5\nticker_stop\nsleep 1.5',
      { BATTLESCOPE_PROGRESS_INTERVAL: "1" },
    );
    expect(out).toBe(
      [
        "toolchain: kubernetes v4.25.0: still building, 1 s elapsed (expected about 9 min 30 s)",
        "toolchain: kubernetes v4.25.0: still building, 2 s elapsed (expected about 9 min 30 s)",
        "",
      ].join("\n"),
    );
  });

  it("counts from the step's own start (the cluster build began before its wait)", async () => {
    const out = await bash(
      't0=$((SECONDS - 600))\nticker_start "cluster binaries" "about 30 min 0 s" "$t0"\nsleep 1.5\nticker_stop',
      { BATTLESCOPE_PROGRESS_INTERVAL: "1" },
    );
    expect(out).toBe(
      "toolchain: cluster binaries: still building, 10 min 1 s elapsed (expected about 30 min 0 s)\n",
    );
  });

  it("stops when the build fails: the EXIT trap ends every ticker", async () => {
    const marker = path.join(dir, "after-exit");
    await bash(
      `trap tickers_stop_all EXIT\nticker_start "a" "b"\nticker_start "c" "d"\necho "$PROGRESS_TICKERS" >'${marker}'`,
      { BATTLESCOPE_PROGRESS_INTERVAL: "1" },
    );
    const pids = fs.readFileSync(marker, "utf8").trim().split(/\s+/).map(Number);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe("the recorded cold builds", () => {
  it("has a measured time for every tool the toolchain builds, at its pinned version", () => {
    const versions = Object.fromEntries(
      fs
        .readFileSync(path.join(REPO_ROOT, "scripts/versions.env"), "utf8")
        .split("\n")
        .flatMap((line) => {
          const match = /^([A-Z0-9_]+)=(\S+)/.exec(line);
          return match ? [[match[1], match[2]] as const] : [];
        }),
    );
    const script = fs.readFileSync(TOOLCHAIN, "utf8");
    // begin_build <tool> "$<VERSION>" and go_tool <tool> "$<VERSION>"
    const built = [...script.matchAll(/(?:begin_build|go_tool) ([a-z-]+) "\$([A-Z0-9_]+)"/g)].map(
      ([, tool = "", variable = ""]) => [tool, versions[variable]] as const,
    );
    built.push(["cluster", versions.K8S_VERSION]);
    const recorded = new Set(
      fs
        .readFileSync(TIMES, "utf8")
        .split("\n")
        .filter((line) => line && !line.startsWith("#"))
        .map((line) => line.split("\t").slice(0, 2).join(" ")),
    );
    expect(built.length).toBeGreaterThanOrEqual(10);
    expect(built.filter(([tool, version]) => !recorded.has(`${tool} ${version}`))).toEqual([]);
  });
});
