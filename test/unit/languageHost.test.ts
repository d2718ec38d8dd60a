/**
 * Our own Node.js language host (scripts/toolchain/language-host, Go) is what the engine starts to
 * run the program, the dynamic providers and the policy pack: its Go tests run with the rest, and
 * it is built against the same sdk/v3 release as the CLI and @pulumi/pulumi.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const REPO_ROOT = path.resolve(__dirname, "../..");
const HOST_DIR = path.join(REPO_ROOT, "scripts/toolchain/language-host");

function pinnedPulumi(): string {
  const env = fs.readFileSync(path.join(REPO_ROOT, "scripts/versions.env"), "utf8");
  const match = /^PULUMI_VERSION=(v\S+)$/m.exec(env);
  if (match === null) throw new Error("scripts/versions.env pins no PULUMI_VERSION");
  return match[1] as string;
}

describe("the Node.js language host (scripts/toolchain/language-host)", () => {
  it("requires sdk/v3 at the PULUMI_VERSION of scripts/versions.env", () => {
    const goMod = fs.readFileSync(path.join(HOST_DIR, "go.mod"), "utf8");
    const sdk = /^\s*github\.com\/pulumi\/pulumi\/sdk\/v3 (\S+)/m.exec(goMod)?.[1];
    expect(sdk, "go.mod's github.com/pulumi/pulumi/sdk/v3").toBe(pinnedPulumi());
  });

  it("passes its Go tests (go test ./...)", () => {
    // A cold run compiles the SDK's gRPC packages first: minutes on two cores.
    const result = spawnSync("go", ["test", "./..."], {
      cwd: HOST_DIR,
      encoding: "utf8",
      env: { ...process.env, CGO_ENABLED: "0" },
      timeout: 600_000,
    });
    if (result.error !== undefined) {
      throw new Error(`cannot run go (Go 1.26 or later must be on PATH): ${result.error.message}`);
    }
    const output = `${result.stdout}${result.stderr}`;
    expect(result.status, output).toBe(0);
    // The package was tested, not skipped for having no test files.
    expect(output).toMatch(/^ok\s+battlescope\/pulumi-language-nodejs\s/m);
  }, 620_000);
});
