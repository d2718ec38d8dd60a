/** The bench refuses, before any series runs, a series it cannot run (bench/preflight.ts). */
import { describe, expect, it } from "vitest";
import { seriesProblem, VULNDB_WRITER } from "../../bench/preflight";

const MISSING =
  "BENCH_SERIES has scanned, which writes its grype database with battlescope-vulndb: not found on PATH; put the folder that holds it on PATH, or leave scanned out of BENCH_SERIES";

describe("the bench's preflight", () => {
  it.each([
    {
      name: "no scanned series",
      chosen: ["signed"],
      searchPath: "",
      installed: [],
      problem: undefined,
    },
    {
      name: "scanned with the writer in a PATH folder",
      chosen: ["signed", "scanned"],
      searchPath: "/usr/bin:/opt/vulndb",
      installed: [`/opt/vulndb/${VULNDB_WRITER}`],
      problem: undefined,
    },
    {
      name: "scanned with the writer nowhere on PATH",
      chosen: ["scanned"],
      searchPath: "/usr/bin:/opt/other",
      installed: ["/opt/vulndb/battlescope-vulndb"],
      problem: MISSING,
    },
    {
      // An empty PATH entry means the current folder to a shell: the bench does not look there.
      name: "scanned with the writer only in the current folder",
      chosen: ["scanned"],
      searchPath: ":/usr/bin",
      installed: [VULNDB_WRITER],
      problem: MISSING,
    },
  ])("$name", ({ chosen, searchPath, installed, problem }) => {
    const executable = (file: string) => (installed as string[]).includes(file);
    expect(seriesProblem(chosen, searchPath, executable)).toBe(problem);
  });
});
