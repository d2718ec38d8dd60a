/**
 * A stack's state written by the program as it was before it was split into read, plan and
 * declare (program.ts, release/) stays this program's: the old checkout releases, then this one
 * runs `up` on the same backend and stack and changes nothing, and `refresh` loads every dynamic
 * provider the state holds (each stores the serialized stub of components/dynamicProvider.ts with
 * the absolute path of its module in the checkout that wrote it).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RESOURCE_TYPES } from "../../lib/vocabulary";
import { ENGINE_PARALLELISM, REPO_ROOT } from "../../scripts/stack";
import { makeTempDir } from "../support/tempDirs";
import {
  backendText,
  createE2eStack,
  type E2eStack,
  LIGHT_RELEASE,
  runStackCommand,
} from "./harness";

/** The last commit whose program.ts held the whole program; another one can be given. */
const BEFORE_SPLIT =
  process.env.BATTLESCOPE_STATE_COMPAT_REV ?? "2388669bfd44ef04149b84c07665985f75cbbc48";

/** The project's files at a commit, in a folder of their own, running on this checkout's modules. */
function checkoutAt(rev: string): string {
  const dir = makeTempDir("before");
  try {
    execFileSync("sh", ["-c", `git -C "${REPO_ROOT}" archive "${rev}" | tar -x -C "${dir}"`], {
      stdio: ["ignore", "ignore", "pipe"],
    });
  } catch (error) {
    throw new Error(
      `cannot read commit ${rev} (a shallow clone? fetch the history, or set BATTLESCOPE_STATE_COMPAT_REV): ${(error as Error).message}`,
    );
  }
  fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

describe.sequential("a state written before the program was split into read, plan and declare", () => {
  let e2e: E2eStack;
  let before: string;

  beforeAll(async () => {
    before = checkoutAt(BEFORE_SPLIT);
    // The state's shape at little cost (the Hub pages are the emulator's, so its dynamic
    // provider is in the state too).
    e2e = await createE2eStack("compat", LIGHT_RELEASE);
    // The old program knows no pull secret account of its own: both fill the pull secret with
    // the push login, as the old state holds it.
    await e2e.stack.removeAllConfig([
      "battlescope:pullSecretUsername",
      "battlescope:pullSecretPassword",
    ]);
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it("the old program releases and writes the state", async () => {
    const result = await runStackCommand(e2e, "up", before);
    expect(result.code, result.stderr).toBe(0);
    // Its dynamic resources name modules of the old checkout.
    expect(backendText(e2e.backendDir)).toContain(
      path.join(before, "components/registryTagSet.ts"),
    );
  });

  it("this program's up on that state changes nothing", async () => {
    const result = await e2e.stack.up({ color: "never", parallel: ENGINE_PARALLELISM });
    const changes = result.summary.resourceChanges ?? {};
    expect(Object.keys(changes)).toEqual(["same"]);
    expect(changes.same).toBeGreaterThan(40);
  });

  it("refresh loads every dynamic provider and finds nothing changed", async () => {
    // The dynamic resources alone: the Kubernetes objects are rendered to a folder, and a
    // provider that renders has no cluster to read them back from.
    const state = await e2e.stack.exportStack();
    const resources = state.deployment.resources as Array<{ urn: string; type: string }>;
    const dynamic = resources.filter((resource) =>
      resource.type.startsWith("pulumi-nodejs:dynamic/"),
    );
    expect(new Set(dynamic.map((resource) => resource.type))).toEqual(
      new Set([RESOURCE_TYPES.registryTagSet, RESOURCE_TYPES.hubRepository]),
    );
    const result = await e2e.stack.refresh({
      color: "never",
      target: dynamic.map((resource) => resource.urn),
    });
    expect(result.summary.result).toBe("succeeded");
    expect(result.summary.resourceChanges).toEqual({ same: dynamic.length });
  });
});
