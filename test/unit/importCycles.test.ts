/**
 * The project's TypeScript import graph has no cycle: every `.ts` file outside node_modules (the
 * program, the command line, the policy pack, the scripts, the benchmarks and the tests), with an
 * edge for each relative `import`, `export ... from`, `require()` and `import()` it makes. The
 * graph is read with the TypeScript compiler's own pre-processor, so nothing is executed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = path.resolve(__dirname, "../..");
const SKIPPED = new Set(["node_modules", ".git", "fixtures", ".test-results"]);

/** Every `.ts` file under `dir`, relative to the root, skipping dependencies and fixtures. */
function typeScriptFiles(dir = root): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name) || entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...typeScriptFiles(full));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
      found.push(path.relative(root, full));
    }
  }
  return found.sort();
}

/** The project file a relative specifier names, or undefined (a package, a JSON file). */
function resolve(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const base = path.join(path.dirname(from), specifier);
  const candidates = base.endsWith(".ts") ? [base] : [`${base}.ts`, path.join(base, "index.ts")];
  return candidates.find((candidate) => fs.existsSync(path.join(root, candidate)));
}

/** File -> the project files it imports. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = fs.readFileSync(path.join(root, file), "utf8");
    const { importedFiles } = ts.preProcessFile(text, true, true);
    const targets = importedFiles.flatMap(({ fileName }) => resolve(file, fileName) ?? []);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The files of every cycle, one list per strongly connected component (Tarjan). */
function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next);
    next += 1;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file) ?? 0, low.get(target) ?? 0));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file) ?? 0, index.get(target) ?? 0));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop() as string;
      onStack.delete(member);
      component.unshift(member);
    } while (member !== file);
    const selfImport = (graph.get(file) ?? []).includes(file);
    if (component.length > 1 || selfImport) cycles.push(component);
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return cycles;
}

describe("the import graph", () => {
  it("reads the project's own files and their imports", () => {
    const graph = importGraph(typeScriptFiles());
    expect(graph.get("test/support/runCli.ts")).toContain("cli/main.ts");
    expect(graph.get("policy/index.ts")).toContain("policy/rules.ts");
    expect([...graph.keys()].some((file) => file.includes("node_modules"))).toBe(false);
  });

  it("finds a cycle when there is one", () => {
    const graph = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["c.ts"]],
      ["c.ts", ["a.ts"]],
      ["d.ts", ["d.ts"]],
      ["e.ts", ["a.ts"]],
    ]);
    expect(importCycles(graph)).toEqual([["a.ts", "b.ts", "c.ts"], ["d.ts"]]);
  });

  it("has no cycle: no .ts file imports itself through others", () => {
    expect(importCycles(importGraph(typeScriptFiles()))).toEqual([]);
  });
});
