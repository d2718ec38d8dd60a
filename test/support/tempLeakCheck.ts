/**
 * The global setup of every vitest run (vitest.config.ts): lists the `battlescope-*` entries of the
 * temporary directory before the run, and after it fails the run, naming each new entry with its
 * size (the verdict is test/support/tempLeaks.ts's). A teardown that throws leaves vitest's exit
 * status at 0, hence `process.exitCode`; and CI reads its counts from the JSON report, which the
 * teardown comes too late for, so a failing verdict is also written next to the report, where
 * scripts/test-summary.js counts it.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { TestProject } from "vitest/node";
import { procStatFields } from "../../scripts/procStat";
import { TEMP_PREFIX } from "./tempDirs";
import { LEAKS_FILE, leakVerdict, newEntries, otherRuns, type ProcessInfo } from "./tempLeaks";

function checkedEntries(tmpdir: string): string[] {
  return fs.readdirSync(tmpdir).filter((name) => name.startsWith(TEMP_PREFIX));
}

/** Bytes under `file`, symbolic links not followed; what vanished meanwhile counts as nothing. */
function sizeOf(file: string): number {
  try {
    const stat = fs.lstatSync(file);
    if (!stat.isDirectory()) return stat.size;
    return fs
      .readdirSync(file)
      .reduce((sum, name) => sum + sizeOf(path.join(file, name)), stat.size);
  } catch {
    return 0;
  }
}

/** The machine's processes from /proc (none where there is no /proc: the check is then strict). */
function readProcesses(): ProcessInfo[] {
  let pids: string[];
  try {
    pids = fs.readdirSync("/proc").filter((entry) => /^[0-9]+$/.test(entry));
  } catch {
    return [];
  }
  return pids.flatMap((pid) => {
    try {
      const fields = procStatFields(pid);
      if (fields === undefined) return [];
      const ppid = Number(fields[1]);
      const argv = fs
        .readFileSync(`/proc/${pid}/cmdline`, "utf8")
        .split("\0")
        .filter((arg) => arg !== "");
      const environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      const tmpdir = environ.find((entry) => entry.startsWith("TMPDIR="))?.slice(7) || "/tmp";
      return [{ pid: Number(pid), ppid, argv, tmpdir: path.resolve(tmpdir) }];
    } catch {
      return [];
    }
  });
}

/** Where scripts/test-summary.js looks for a failing verdict: beside the JSON report, if any. */
function verdictFile(project: TestProject | undefined): string | undefined {
  const output = project?.vitest.config.outputFile;
  const report = typeof output === "string" ? output : output?.json;
  if (report === undefined) return undefined;
  return path.join(
    path.dirname(path.resolve(project?.vitest.config.root ?? "", report)),
    LEAKS_FILE,
  );
}

export default function setup(project?: TestProject): () => void {
  const leaksFile = verdictFile(project);
  if (leaksFile !== undefined) fs.rmSync(leaksFile, { force: true });
  const tmpdir = path.resolve(os.tmpdir());
  const before = checkedEntries(tmpdir);
  const othersAtStart = otherRuns(readProcesses(), process.pid, tmpdir);
  return () => {
    const left = newEntries(before, checkedEntries(tmpdir)).map((name) => ({
      name,
      bytes: sizeOf(path.join(tmpdir, name)),
    }));
    const others = new Map(
      [...othersAtStart, ...otherRuns(readProcesses(), process.pid, tmpdir)].map((other) => [
        other.pid,
        other,
      ]),
    );
    const verdict = leakVerdict(tmpdir, left, [...others.values()]);
    if (verdict.message !== undefined) console.error(`\n${verdict.message}\n`);
    if (!verdict.fails) return;
    process.exitCode = 1;
    if (leaksFile !== undefined) {
      fs.mkdirSync(path.dirname(leaksFile), { recursive: true });
      fs.writeFileSync(leaksFile, `${verdict.message}\n`);
    }
  };
}
