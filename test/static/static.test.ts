import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = path.resolve(__dirname, "../..");
const exec = promisify(execFile);

async function run(command: string, args: string[]) {
  try {
    const { stdout, stderr } = await exec(command, args, {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

describe("static checks", () => {
  it("type-checks the program, the command line, the scripts and the tests (tsc --strict)", async () => {
    const result = await run("npx", ["tsc", "--noEmit", "-p", "."]);
    expect(result.output).toBe("");
    expect(result.code).toBe(0);
  }, 120_000);

  it("is lint- and format-clean with zero warnings (biome)", async () => {
    const result = await run("npx", [
      "biome",
      "check",
      "--error-on-warnings",
      "--diagnostic-level=warn",
      ".",
    ]);
    expect(result.code, result.output).toBe(0);
  }, 120_000);
});
