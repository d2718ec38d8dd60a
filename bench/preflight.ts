/**
 * What the chosen series need before any of them runs, checked first: a series that cannot run
 * would otherwise fail three times (bench/scenarios.ts `attempt`) after the others spent their
 * minutes, and end the run without a report.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** The program that writes the scanned series' grype database (grype's own database code). */
export const VULNDB_WRITER = "battlescope-vulndb";

/** Whether `file` is a file this process may run. */
export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Why the chosen series cannot run with this PATH, or undefined when they can. */
export function seriesProblem(
  chosen: readonly string[],
  searchPath: string,
  executable: (file: string) => boolean = isExecutable,
): string | undefined {
  if (!chosen.includes("scanned")) return undefined;
  const found = searchPath
    .split(path.delimiter)
    .some((dir) => dir !== "" && executable(path.join(dir, VULNDB_WRITER)));
  return found
    ? undefined
    : `BENCH_SERIES has scanned, which writes its grype database with ${VULNDB_WRITER}: not found on PATH; put the folder that holds it on PATH, or leave scanned out of BENCH_SERIES`;
}
