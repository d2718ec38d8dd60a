import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  accessLogMark,
  accessLogSince,
  copyFixtures,
  createE2eStack,
  type E2eStack,
  FIXTURES,
  failureOf,
  pushes,
} from "./harness";

const TURN_OFF =
  "or turn the check off on a stack that releases without one: `pulumi config set battlescope:requireChangelog false`";

/** Runs a preview that must fail, and proves it sent nothing to the registry or the Hub. */
async function refusedPreview(e2e: E2eStack): Promise<string> {
  const mark = accessLogMark();
  const failure = await failureOf(e2e.stack.preview({ color: "never" }));
  expect(pushes(accessLogSince(mark, e2e.organization))).toEqual([]);
  expect(await e2e.registry.listTags(`${e2e.organization}/init`)).toEqual([]);
  expect(e2e.hub.requests.filter((request) => request.method !== "GET")).toEqual([]);
  return failure;
}

describe.sequential("image rules and the CHANGELOG are checked at preview", () => {
  let e2e: E2eStack;
  beforeAll(async () => {
    e2e = await createE2eStack("e2erules", { deploy: "false" });
  });
  afterAll(async () => e2e?.close());

  it("a Dockerfile that breaks the rules fails preview with its file and line; nothing is pushed", async () => {
    const sources = copyFixtures();
    const init = path.join(sources, "init", "Dockerfile");
    fs.writeFileSync(
      init,
      fs.readFileSync(init, "utf8").replace("\nFROM busybox:1.35.0\n", "\nFROM busybox:latest\n"),
    );
    const frontend = path.join(sources, "frontend", "Dockerfile");
    fs.writeFileSync(frontend, fs.readFileSync(frontend, "utf8").replace("USER 10001:10001\n", ""));
    await e2e.stack.setConfig("battlescope:sourceRoot", { value: sources });
    try {
      const failure = await refusedPreview(e2e);
      expect(failure).toContain(
        `${frontend}:17: non-root-user: the final stage sets no USER, so the container runs as root; add a non-root USER (e.g. USER 10001:10001) after its last step that needs root`,
      );
      expect(failure).toContain(
        `${init}:15: pinned-base-image: busybox:latest is not pinned to a version ("latest" moves); use a version tag, e.g. busybox:<version>`,
      );
    } finally {
      await e2e.stack.setConfig("battlescope:sourceRoot", { value: FIXTURES });
    }
  });

  it("a stable version missing from the CHANGELOG is refused; nothing is pushed", async () => {
    await e2e.stack.setConfig("battlescope:version", { value: "v3.2.0" });
    const failure = await refusedPreview(e2e);
    expect(failure).toContain(
      `${path.join(FIXTURES, "CHANGELOG.md")}: changelog: no entry for v3.2.0; add a "## [3.2.0] - YYYY-MM-DD" section saying what changed in it, ${TURN_OFF}`,
    );
  });

  it("the same version passes preview on a stack with requireChangelog false", async () => {
    await e2e.stack.setConfig("battlescope:requireChangelog", { value: "false" });
    try {
      const preview = await e2e.stack.preview({ color: "never" });
      expect(preview.stdout).toContain("init: creates v3.2.0 (with -amd64, -arm64)");
    } finally {
      await e2e.stack.removeConfig("battlescope:requireChangelog");
    }
  });

  it("a dev build needs no CHANGELOG entry", async () => {
    await e2e.stack.setConfig("battlescope:version", { value: "v3.2.1-dev-a1b2c3d" });
    const preview = await e2e.stack.preview({ color: "never" });
    expect(preview.stdout).toContain("init: creates v3.2.1-dev-a1b2c3d (with -amd64, -arm64)");
  });
});
