/**
 * The local registry's access log (scripts/local-services.sh: one Apache "combined" line per HTTP
 * request, whatever its status), read between two byte marks: what a step sent to the registry.
 * The end-to-end tests (test/e2e/harness.ts) and the benchmarks (bench/accessLog.ts) read it here.
 */
import * as fs from "node:fs";

/** The access log's path, as `scripts/local-services.sh env` exports it. */
export const ACCESS_LOG = process.env.BATTLESCOPE_REGISTRY_ACCESS_LOG ?? "";

export interface LogEntry {
  readonly method: string;
  /** Request path with its query string. */
  readonly path: string;
  readonly status: number;
  readonly agent: string;
}

const LINE = /"([A-Z]+) (\S+) HTTP\/[0-9.]+" (\d{3}) \S+ "[^"]*" "([^"]*)"/;

/** The log's size in bytes: a mark to read from later. */
export function logSize(file: string): number {
  return fs.statSync(file).size;
}

/** The requests logged between two byte marks. */
export function readLog(file: string, start: number, end: number): LogEntry[] {
  const length = Math.max(0, end - start);
  const buffer = Buffer.alloc(length);
  const fd = fs.openSync(file, "r");
  try {
    fs.readSync(fd, buffer, 0, length, start);
  } finally {
    fs.closeSync(fd);
  }
  const entries: LogEntry[] = [];
  for (const line of buffer.toString("utf8").split("\n")) {
    const match = LINE.exec(line);
    if (match === null) continue;
    const [, method, path, status, agent] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    entries.push({ method, path, status: Number(status), agent });
  }
  return entries;
}

/** Requests to the organization's repositories: the only ones a step can be charged with. */
export function inOrganization(entries: readonly LogEntry[], organization: string): LogEntry[] {
  return entries.filter((entry) => entry.path.startsWith(`/v2/${organization}/`));
}
