/**
 * makeTempDir (test/support/tempDirs.ts) and the run's leak check (test/support/tempLeakCheck.ts):
 * a vitest run of test/fixtures/tempLeak under a TMPDIR of its own, so that no other run on this
 * machine shares what it checks, and CI's summary of its report (scripts/test-summary.js).
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { makeTempDir, TEMP_PREFIX } from "../support/tempDirs";

const REPO_ROOT = path.resolve(__dirname, "../..");
const FIXTURE = path.join(REPO_ROOT, "test/fixtures/tempLeak");
const exec = promisify(execFile);

interface Run {
  readonly code: number;
  readonly output: string;
}

async function status(command: string, args: string[], env = process.env): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(command, args, { env });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

/**
 * The fixture's vitest run with TMPDIR=`tmpdir`, outside this run's own vitest variables, writing
 * a JSON report to `tmpdir`/report as `npm test` does; then CI's summary line of that report.
 */
async function runFixture(
  tmpdir: string,
  env: Record<string, string>,
): Promise<Run & { summary: Run }> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("VITEST") && key !== "TEST"),
  );
  const report = path.join(tmpdir, "report/vitest.json");
  const run = await status(
    path.join(REPO_ROOT, "node_modules/.bin/vitest"),
    ["run", "--root", FIXTURE, "--reporter=dot", "--reporter=json", `--outputFile.json=${report}`],
    { ...inherited, ...env, TMPDIR: tmpdir, NO_COLOR: "1" },
  );
  const summary = await status(process.execPath, [
    path.join(REPO_ROOT, "scripts/test-summary.js"),
    report,
  ]);
  return { ...run, summary };
}

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const VERDICT = /the test run left|warning: \d/;

describe("makeTempDir", () => {
  let atCollection: unknown;
  try {
    makeTempDir("collected");
  } catch (error) {
    atCollection = error;
  }

  it("refuses to run while the file is collected (a skipped file runs no afterAll)", () => {
    expect((atCollection as Error).message).toBe(
      'makeTempDir("collected") called outside a test or hook: call it in beforeAll/beforeEach or in the test (a file whose tests are all skipped runs no afterAll, so the folder would stay), in a vitest project whose setupFiles has test/support/tempDirSetup.ts',
    );
  });

  it("makes an empty battlescope-<label>- folder in the temporary directory", () => {
    const dir = makeTempDir("label");
    expect(path.dirname(dir)).toBe(os.tmpdir());
    expect(path.basename(dir)).toMatch(new RegExp(`^${TEMP_PREFIX}label-[A-Za-z0-9]{6}$`));
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe("the run's leak check", () => {
  it("passes a run that leaves nothing: folders of makeTempDir go, older and foreign entries do not count", async () => {
    const tmpdir = makeTempDir("leakcheck");
    fs.mkdirSync(path.join(tmpdir, "battlescope-there-before"));
    fs.mkdirSync(path.join(tmpdir, "report"));
    fs.writeFileSync(path.join(tmpdir, "report/temp-leaks.txt"), "an earlier run's verdict");
    const run = await runFixture(tmpdir, { LEAVE: "other-tool-123" });
    expect(run.output).not.toMatch(VERDICT);
    expect(run.code, run.output).toBe(0);
    expect(run.summary).toEqual({ code: 0, output: "1 passed, 0 failed\n" });
    expect(fs.readdirSync(tmpdir).sort()).toEqual([
      "battlescope-there-before",
      "other-tool-123",
      "report",
    ]);
  });

  it("removes makeTempDir's folders of a failed test too", async () => {
    const tmpdir = makeTempDir("leakcheck");
    const run = await runFixture(tmpdir, { FAIL: "1" });
    expect(run.output).toContain("FAIL=1: failing on purpose");
    expect(run.output).not.toMatch(VERDICT);
    expect(run.code).toBe(1);
    expect(run.summary.output).toBe("0 passed, 1 failed\n");
    expect(fs.readdirSync(tmpdir)).toEqual(["report"]);
  });

  it("fails a run that leaves battlescope-* entries, naming each with its size, and CI's line counts it", async () => {
    const tmpdir = makeTempDir("leakcheck");
    const run = await runFixture(tmpdir, {
      LEAVE: "battlescope-leak-b,battlescope-leak-a,other-1",
    });
    const verdict = new RegExp(
      [
        `the test run left 2 entries in ${literal(tmpdir)}, new since it started \\(a test removes what it made, also when it fails: make folders with makeTempDir from test/support/tempDirs\\.ts\\):`,
        `  ${literal(tmpdir)}/battlescope-leak-a  \\d+\\.\\d kB`,
        `  ${literal(tmpdir)}/battlescope-leak-b  \\d+\\.\\d kB`,
        "  total \\d+\\.\\d kB\n",
      ].join("\n"),
    );
    expect(run.code, run.output).toBe(1);
    expect(run.output).toMatch(verdict);
    // Every test passed: the report says so, the summary line does not.
    expect(run.summary.code).toBe(0);
    expect(run.summary.output).toMatch(verdict);
    expect(run.summary.output).toMatch(/^1 passed, 1 failed\n/);
  });
});
