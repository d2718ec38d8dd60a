/**
 * One release, two checkouts of the same commit in different folders (two engineers, two CI
 * runners): the second one's preview of what the first released changes nothing. Each checkout
 * runs its own program (`npm run stack`, the Automation API runner) in its own folder, on one
 * backend and one stack, with its sources inside it, as a real checkout has them.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/stack";
import { makeTempDir } from "../support/tempDirs";
import {
  backendText,
  createE2eStack,
  type E2eStack,
  LIGHT_RELEASE,
  runStackCommand,
} from "./harness";

/** This checkout's files as they are now (tracked and new, not ignored), in a folder of their own. */
function checkoutCopy(label: string): string {
  const dir = makeTempDir(label);
  execFileSync(
    "sh",
    [
      "-c",
      `git -C "${REPO_ROOT}" ls-files -z --cached --others --exclude-standard | (cd "${REPO_ROOT}" && tar --null -T - -c) | tar -x -C "${dir}"`,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

/** `npm run stack -- <command> --stack e2e`, run in `checkout` by its own program. */
const runIn = (e2e: E2eStack, checkout: string, command: "up" | "preview") =>
  runStackCommand(e2e, command, checkout, checkout);

/** The runner's last line: the engine's resource changes, e.g. {"same":40}. */
const changesOf = (stdout: string): Record<string, number> =>
  JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, number>;

describe.sequential("a release previewed from another checkout of the same commit", () => {
  let e2e: E2eStack;
  let first: string;
  let second: string;

  beforeAll(async () => {
    // The checkout's paths are what is looked at.
    e2e = await createE2eStack("checkouts", {
      ...LIGHT_RELEASE,
      sourceRoot: "fixtures/battlescope",
    });
    first = checkoutCopy("checkout-a");
    second = checkoutCopy("checkout-b");
    // The stack's settings file, as a repository commits it: the same in both checkouts.
    for (const checkout of [first, second]) {
      fs.copyFileSync(
        path.join(e2e.workDir, "Pulumi.e2e.yaml"),
        path.join(checkout, "Pulumi.e2e.yaml"),
      );
    }
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it("the first checkout releases, its build contexts stored relative to it", async () => {
    const result = await runIn(e2e, first, "up");
    expect(result.code, result.stderr).toBe(0);
    // The dynamic providers' stubs name the checkout's modules too; they are not diffed.
    const locations = [...backendText(e2e.backendDir).matchAll(/"location":"([^"]*)"/g)].map(
      (match) => match[1],
    );
    expect(new Set(locations)).toContain("fixtures/battlescope/frontend");
    expect(locations.filter((location) => location?.startsWith("/"))).toEqual([]);
  });

  it("the second checkout's preview changes nothing", async () => {
    const result = await runIn(e2e, second, "preview");
    expect(result.code, result.stderr).toBe(0);
    expect(Object.keys(changesOf(result.stdout))).toEqual(["same"]);
  });
});
