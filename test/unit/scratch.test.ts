/**
 * withScratchDir (clients/scratch.ts): the program's scratch folders go when the work ends, throws,
 * or the process is stopped meanwhile (a child Node process under the project's tsx, stopped by
 * a signal while its work is in flight, as the engine stops a dynamic provider).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { withScratchDir } from "../../clients/scratch";
import { makeTempDir } from "../support/tempDirs";

const REPO_ROOT = path.resolve(__dirname, "../..");

describe("withScratchDir", () => {
  it("gives the work an empty battlescope-<label>- folder and removes it after", async () => {
    let seen = "";
    const result = await withScratchDir("unit", async (dir) => {
      seen = dir;
      expect(path.dirname(dir)).toBe(os.tmpdir());
      expect(path.basename(dir)).toMatch(/^battlescope-unit-[A-Za-z0-9]{6}$/);
      expect(fs.readdirSync(dir)).toEqual([]);
      fs.writeFileSync(path.join(dir, "file"), "x");
      return 42;
    });
    expect(result).toBe(42);
    expect(fs.existsSync(seen)).toBe(false);
  });

  it("removes it when the work throws, and rethrows", async () => {
    let seen = "";
    const failing = withScratchDir("unit", async (dir) => {
      seen = dir;
      throw new Error("cosign failed (exit 1)");
    });
    await expect(failing).rejects.toThrow(/^cosign failed \(exit 1\)$/);
    expect(fs.existsSync(seen)).toBe(false);
  });

  it("handles stop signals only while a folder exists", async () => {
    const before = ["SIGINT", "SIGTERM", "SIGHUP"].map((signal) => process.listenerCount(signal));
    await withScratchDir("unit", async () => {
      await withScratchDir("unit", async () => {
        expect(["SIGINT", "SIGTERM", "SIGHUP"].map((s) => process.listenerCount(s))).toEqual(
          before.map((count) => count + 1),
        );
      });
    });
    expect(["SIGINT", "SIGTERM", "SIGHUP"].map((s) => process.listenerCount(s))).toEqual(before);
  });
});

interface Stopped {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
  readonly dir: string;
}

/**
 * A Node process whose work holds a scratch folder and never ends, stopped with `signal` once the
 * folder exists; `ownHandler` gives it a handler of its own for that signal, which exits with 7.
 */
function stopInFlight(signal: NodeJS.Signals, ownHandler: boolean): Promise<Stopped> {
  const tmpdir = makeTempDir("scratch-signal");
  const script = path.join(tmpdir, "work.js");
  fs.writeFileSync(
    script,
    [
      ownHandler
        ? `process.on(${JSON.stringify(signal)}, () => { console.log("own handler"); process.exit(7); });`
        : "",
      `const { withScratchDir } = require(${JSON.stringify(path.join(REPO_ROOT, "clients/scratch.ts"))});`,
      "withScratchDir('signal', (dir) => {",
      "  console.log(dir);",
      "  return new Promise(() => setInterval(() => {}, 1000));",
      "});",
    ].join("\n"),
  );
  const child = spawn(process.execPath, ["--require", require.resolve("tsx/cjs"), script], {
    env: { ...process.env, TMPDIR: tmpdir },
  });
  let output = "";
  let dir = "";
  child.stderr.on("data", (chunk) => {
    output += chunk;
  });
  return new Promise((resolve) => {
    child.stdout.on("data", (chunk) => {
      output += chunk;
      if (dir === "" && output.includes("\n")) {
        dir = output.split("\n")[0] ?? "";
        expect(fs.existsSync(dir)).toBe(true);
        child.kill(signal);
      }
    });
    child.on("exit", (code, exitSignal) => resolve({ code, signal: exitSignal, output, dir }));
  });
}

describe("withScratchDir in a process stopped while its work is in flight", () => {
  it.each(["SIGINT", "SIGTERM", "SIGHUP"] as const)(
    "%s: removes the folder, and the process dies of the signal as without it",
    async (signal) => {
      const stopped = await stopInFlight(signal, false);
      expect(stopped.dir).toMatch(/\/battlescope-signal-[A-Za-z0-9]{6}$/);
      expect(fs.existsSync(stopped.dir)).toBe(false);
      expect({ code: stopped.code, signal: stopped.signal }).toEqual({ code: null, signal });
    },
  );

  it("removes the folder and leaves the signal to the process's own handler", async () => {
    const stopped = await stopInFlight("SIGINT", true);
    expect(fs.existsSync(stopped.dir)).toBe(false);
    expect(stopped.output).toBe(`${stopped.dir}\nown handler\n`);
    expect(stopped.code).toBe(7);
  });
});
