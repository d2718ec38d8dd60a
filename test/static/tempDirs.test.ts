/**
 * Temporary folders stay findable and removed: tests make theirs with makeTempDir
 * (test/support/tempDirs.ts), which removes them after the file; the program, the scripts and
 * the benchmarks name theirs `battlescope-*`, the prefix the run's leak check looks for
 * (test/support/tempLeakCheck.ts).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const REPO_ROOT = path.resolve(__dirname, "../..");

/** Test files that may touch the temporary directory themselves, and why. */
const TEST_EXCEPTIONS: Record<string, string> = {
  "test/support/tempDirs.ts": "the helper",
  "test/support/tempLeakCheck.ts": "the leak check lists the directory",
  "test/fixtures/tempLeak/leaves.test.ts": "leaves entries on purpose, under a TMPDIR of its own",
  "test/unit/tempDirs.test.ts": "checks where makeTempDir makes its folders",
  "test/unit/scratch.test.ts": "checks where withScratchDir (clients/scratch.ts) makes its folders",
  "test/static/tempDirs.test.ts": "its cases are the uses it refuses",
};

/** Makes or names a temporary entry, in TypeScript or shell. */
const TEMP_USE = /\bmkdtemp(?:Sync)?\b|\btmpdir\(\)|\bmktemp\b/;
/** The forms the project outside test/ uses, each naming a `battlescope-` entry. */
const NAMED_FORMS = [
  /\bmkdtemp(?:Sync)?\(path\.join\(os\.tmpdir\(\), ["`]battlescope-/,
  /\bmktemp -d "\$\{TMPDIR:-\/tmp\}\/battlescope-[\w-]*XXXXXX"/,
];

/** The problems of one file's text: `file:line: text` for each use the rules above refuse. */
function tempUseProblems(file: string, text: string): string[] {
  if (file in TEST_EXCEPTIONS) return [];
  const inTests = file.startsWith("test/");
  return text.split("\n").flatMap((line, index) => {
    if (!TEMP_USE.test(line)) return [];
    if (!inTests && NAMED_FORMS.some((form) => form.test(line))) return [];
    const why = inTests
      ? "tests make temporary folders with makeTempDir (test/support/tempDirs.ts)"
      : 'name it "battlescope-<what>-" in os.tmpdir() (or $TMPDIR), removed in finally (a trap in shell)';
    return [`${file}:${index + 1}: ${line.trim()}: ${why}`];
  });
}

function sourceFiles(): string[] {
  return execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  })
    .split("\0")
    .filter((file) => /\.(ts|js|mjs|cjs|sh)$/.test(file) && !file.startsWith("fixtures/"))
    .filter((file) => fs.existsSync(path.join(REPO_ROOT, file)));
}

describe("temporary folders", () => {
  it.each([
    {
      name: "a test's raw mkdtemp",
      file: "test/unit/x.test.ts",
      line: 'const dir = fs.mkdtempSync(path.join(os.tmpdir(), "battlescope-x-"));',
      problem:
        'test/unit/x.test.ts:1: const dir = fs.mkdtempSync(path.join(os.tmpdir(), "battlescope-x-"));: tests make temporary folders with makeTempDir (test/support/tempDirs.ts)',
    },
    {
      name: "a test's file written straight into the temporary directory",
      file: "test/e2e/x.test.ts",
      line: 'const file = path.join(os.tmpdir(), "tags.json");',
      problem:
        'test/e2e/x.test.ts:1: const file = path.join(os.tmpdir(), "tags.json");: tests make temporary folders with makeTempDir (test/support/tempDirs.ts)',
    },
    {
      name: "the program's folder without the prefix",
      file: "clients/x.ts",
      line: 'const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "login-"));',
      problem:
        'clients/x.ts:1: const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "login-"));: name it "battlescope-<what>-" in os.tmpdir() (or $TMPDIR), removed in finally (a trap in shell)',
    },
    {
      name: "a script's bare mktemp",
      file: "scripts/x.sh",
      line: 'work="$(mktemp -d)"',
      problem:
        'scripts/x.sh:1: work="$(mktemp -d)": name it "battlescope-<what>-" in os.tmpdir() (or $TMPDIR), removed in finally (a trap in shell)',
    },
    {
      name: "the program's named folder",
      file: "clients/x.ts",
      line: 'const dir = fs.mkdtempSync(path.join(os.tmpdir(), "battlescope-login-"));',
      problem: undefined,
    },
    {
      name: "a script's named folder",
      file: "scripts/x.sh",
      line: `work="$(mktemp -d "\${TMPDIR:-/tmp}/battlescope-seed-XXXXXX")"`,
      problem: undefined,
    },
    {
      name: "a test's makeTempDir",
      file: "test/unit/x.test.ts",
      line: 'const dir = makeTempDir("x");',
      problem: undefined,
    },
  ])("$name", ({ file, line, problem }) => {
    expect(tempUseProblems(file, line)).toEqual(problem === undefined ? [] : [problem]);
  });

  it("every use in the repository is one of the allowed forms", () => {
    const files = sourceFiles();
    expect(files).toContain("test/support/tempDirs.ts");
    const problems = files.flatMap((file) =>
      tempUseProblems(file, fs.readFileSync(path.join(REPO_ROOT, file), "utf8")),
    );
    expect(problems).toEqual([]);
  });
});
