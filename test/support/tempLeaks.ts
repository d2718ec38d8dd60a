/**
 * What the run's leak check (test/support/tempLeakCheck.ts) decides, without reading the machine:
 * which temporary entries are new, who else could have made them, and what to say.
 */

/** The failing verdict's file, beside the JSON report (read by scripts/test-summary.js). */
export const LEAKS_FILE = "temp-leaks.txt";

export interface TempEntry {
  readonly name: string;
  readonly bytes: number;
}

export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly argv: readonly string[];
  /** The temporary directory the process uses (its TMPDIR, or /tmp). */
  readonly tmpdir: string;
}

/** A vitest command, package, binary or worker, as a word of a command line. */
const VITEST_WORD = /^(?:.*\/)?vitest(?:\.mjs)?$|\/vitest\/dist\//;

/**
 * Processes that make `battlescope-*` entries: test runs (vitest, or a shell running it) and Pulumi
 * engines (signing's scratch; the program and plugins are the CLI's children).
 */
function makesTempEntries(argv: readonly string[]): boolean {
  return (
    argv[0]?.split("/").pop() === "pulumi" ||
    argv.some((arg) => arg.split(/\s+/).some((word) => VITEST_WORD.test(word)))
  );
}

/** The entries of `after` that `before` did not hold, sorted. */
export function newEntries(before: readonly string[], after: readonly string[]): string[] {
  const known = new Set(before);
  return after.filter((name) => !known.has(name)).sort();
}

/**
 * Test runs and Pulumi engines other than `self`'s own (its ancestors, which started it, and its
 * descendants, its workers and the engines they run) that use the same temporary directory, one
 * process each: while one ran, a new entry may be theirs.
 */
export function otherRuns(
  processes: readonly ProcessInfo[],
  self: number,
  tmpdir: string,
): ProcessInfo[] {
  const byPid = new Map(processes.map((process) => [process.pid, process]));
  const family = new Set<number>();
  for (let pid: number | undefined = self; pid !== undefined && !family.has(pid); ) {
    family.add(pid);
    pid = byPid.get(pid)?.ppid;
  }
  const isDescendant = (process: ProcessInfo): boolean => {
    const seen = new Set<number>();
    for (let pid: number | undefined = process.ppid; pid !== undefined && !seen.has(pid); ) {
      if (pid === self) return true;
      seen.add(pid);
      pid = byPid.get(pid)?.ppid;
    }
    return false;
  };
  const others = processes.filter(
    (process) =>
      !family.has(process.pid) &&
      !isDescendant(process) &&
      process.tmpdir === tmpdir &&
      makesTempEntries(process.argv),
  );
  // One process per run: the first of each chain (npx, then npm exec, then vitest, then workers).
  const pids = new Set(others.map((process) => process.pid));
  return others.filter((process) => !pids.has(process.ppid));
}

export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export interface LeakVerdict {
  readonly fails: boolean;
  readonly message: string | undefined;
}

/**
 * Fails when the run left entries, naming each with its size; only warns when another run or
 * engine used the same temporary directory meanwhile (they may be its; CI runs alone).
 */
export function leakVerdict(
  tmpdir: string,
  left: readonly TempEntry[],
  others: readonly ProcessInfo[],
): LeakVerdict {
  if (left.length === 0) return { fails: false, message: undefined };
  const width = Math.max(...left.map((entry) => `${tmpdir}/${entry.name}`.length));
  const lines = left.map(
    (entry) => `  ${`${tmpdir}/${entry.name}`.padEnd(width)}  ${formatBytes(entry.bytes)}`,
  );
  const total = `  total ${formatBytes(left.reduce((sum, entry) => sum + entry.bytes, 0))}`;
  const count = left.length === 1 ? "1 entry" : `${left.length} entries`;
  if (others.length === 0) {
    return {
      fails: true,
      message: [
        `the test run left ${count} in ${tmpdir}, new since it started (a test removes what it made, also when it fails: make folders with makeTempDir from test/support/tempDirs.ts):`,
        ...lines,
        total,
      ].join("\n"),
    };
  }
  const running = others.map((process) => `pid ${process.pid} ${shorten(process.argv.join(" "))}`);
  return {
    fails: false,
    message: [
      `warning: ${count} in ${tmpdir} appeared during the test run, not counted as left by it: other test runs or Pulumi engines used ${tmpdir} meanwhile and may have made them (${running.join("; ")}):`,
      ...lines,
      total,
    ].join("\n"),
  };
}

function shorten(command: string): string {
  return command.length <= 80 ? command : `${command.slice(0, 77)}...`;
}
