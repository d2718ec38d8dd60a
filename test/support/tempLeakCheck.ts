/**
 * The global setup of every vitest run (vitest.config.ts): lists the `battlescope-*` entries of the
 * temporary directory before the run, and after it fails the run, naming each new entry with its
 * size (the verdict is test/support/tempLeaks.ts's). A teardown that throws leaves vitest's exit
 * status at 0, hence `process.exitCode`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TEMP_PREFIX } from "./tempDirs";
import { leakVerdict, newEntries, otherRuns, type ProcessInfo } from "./tempLeaks";

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
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
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

export default function setup(): () => void {
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
    if (verdict.fails) process.exitCode = 1;
  };
}
