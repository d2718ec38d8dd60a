import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCEPTED_VERSION_FORMS } from "../../lib/versions";
import { REPO_ROOT } from "../../scripts/stack";
import { SERVICES } from "../../services/catalog";
import {
  accessLogMark,
  accessLogSince,
  BUILDER,
  blobUploads,
  copyFixtures,
  createE2eStack,
  type E2eStack,
  failureOf,
  indexPlatforms,
  pushes,
  REGISTRY,
  runStackCommand,
  setVersion,
  tagDigests,
} from "./harness";

const FLOATING = ["v3.0", "v3", "latest"];

function localServices(...args: string[]): void {
  execFileSync("bash", [path.join(REPO_ROOT, "scripts/local-services.sh"), ...args], {
    stdio: "ignore",
  });
}

async function up(e2e: E2eStack): Promise<void> {
  const result = await e2e.stack.up({ color: "never" });
  expect(result.summary.result).toBe("succeeded");
}

describe.sequential("floating tags follow the registry, never backwards", () => {
  let e2e: E2eStack;
  beforeAll(async () => {
    e2e = await createE2eStack("e2ehot", { publishDescriptions: "false", deploy: "false" });
  });
  afterAll(async () => e2e?.close());

  it("a hotfix v3.0.2 after v3.1.0 moves v3.0 only, and preview says so", async () => {
    await setVersion(e2e, "v3.0.1");
    await up(e2e);
    await setVersion(e2e, "v3.1.0");
    await up(e2e);
    const before = await tagDigests(e2e);

    await setVersion(e2e, "v3.0.2");
    const preview = await e2e.stack.preview({ color: "never" });
    for (const service of SERVICES) {
      expect(preview.stdout).toContain(
        `${service.name}: sources unchanged since v3.0.1, reuses its images; creates v3.0.2 (with -amd64, -arm64); moves v3.0 from v3.0.1 to v3.0.2; leaves v3 on v3.1.0; leaves latest on v3.1.0`,
      );
    }
    await up(e2e);
    const after = await tagDigests(e2e);
    for (const service of SERVICES) {
      const name = service.name;
      expect(after[`${name}:v3.0`]).toBe(after[`${name}:v3.0.2`]);
      expect(after[`${name}:v3.0-amd64`]).toBe(after[`${name}:v3.0.2-amd64`]);
      for (const tag of [
        "v3",
        "latest",
        "v3-amd64",
        "v3-arm64",
        "latest-amd64",
        "latest-arm64",
        "v3.1.0",
        "v3.0.1",
      ]) {
        expect(after[`${name}:${tag}`], `${name}:${tag}`).toBe(before[`${name}:${tag}`]);
      }
    }
  });
});

describe.sequential("version tags are create-only", () => {
  let e2e: E2eStack;
  let sources: string;
  let released: Record<string, string>;
  beforeAll(async () => {
    sources = copyFixtures();
    e2e = await createE2eStack("e2eco", {
      sourceRoot: sources,
      publishDescriptions: "false",
      deploy: "false",
    });
    await up(e2e);
    released = await tagDigests(e2e);
  });
  afterAll(async () => e2e?.close());

  it("same version, unchanged sources, from a stack with no state: nothing changes in the registry", async () => {
    const other = await createE2eStack("unused", {
      sourceRoot: sources,
      publishDescriptions: "false",
      deploy: "false",
    });
    try {
      await other.stack.setConfig("battlescope:organization", { value: e2e.organization });
      const result = await other.stack.up({ color: "never" });
      expect(result.summary.result).toBe("succeeded");
      // The stack rebuilds (it has no state) and refreshes its build cache, but the release is
      // reproducible: every published tag keeps its digest.
      expect(await tagDigests(e2e)).toEqual(released);
    } finally {
      await other.close();
    }
  });

  it("same version, changed sources: preview and up refuse before anything is pushed", async () => {
    fs.appendFileSync(
      path.join(sources, "frontend", "server.sh"),
      "\n# a change released under the same version\n",
    );
    const digest = released["frontend:v3.0.0-amd64"];
    const mark = accessLogMark();
    const previewFailure = await failureOf(e2e.stack.preview({ color: "never" }));
    const upFailure = await failureOf(e2e.stack.up({ color: "never" }));
    for (const failure of [previewFailure, upFailure]) {
      expect(failure).toMatch(
        new RegExp(
          `refusing to overwrite ${REGISTRY.replace(/\./g, "\\.")}/${e2e.organization}/frontend:v3\\.0\\.0-amd64: the registry already holds ${digest}, built from other sources \\(source hash sha256:[0-9a-f]{64}, these sources are sha256:[0-9a-f]{64}\\); version tags are create-only: release these sources as v3\\.0\\.1`,
        ),
      );
    }
    expect(pushes(accessLogSince(mark, e2e.organization))).toEqual([]);
    expect(await tagDigests(e2e)).toEqual(released);
  });

  it("a version pushed out of band with other content is refused the same way", async () => {
    const outOfBand = await createE2eStack("e2eoob", {
      publishDescriptions: "false",
      deploy: "false",
    });
    try {
      const target = `${REGISTRY}/${outOfBand.organization}/init:v3.0.0-amd64`;
      execFileSync(
        "docker-buildx",
        [
          "build",
          "--builder",
          BUILDER,
          "--platform",
          "linux/amd64",
          "--push",
          "-t",
          target,
          path.join(REPO_ROOT, "fixtures/battlescope/db-migrator"),
        ],
        { stdio: "ignore" },
      );
      const before = await tagDigests(outOfBand);
      const mark = accessLogMark();
      const failure = await failureOf(outOfBand.stack.preview({ color: "never" }));
      expect(failure).toContain(
        `refusing to overwrite ${target}: the registry already holds ${before["init:v3.0.0-amd64"]}, which this stack did not build (it has no source hash label); version tags are create-only: release these sources as v3.0.1`,
      );
      expect(await failureOf(outOfBand.stack.up({ color: "never" }))).toContain(
        `refusing to overwrite ${target}`,
      );
      expect(pushes(accessLogSince(mark, outOfBand.organization))).toEqual([]);
      expect(await tagDigests(outOfBand)).toEqual(before);
    } finally {
      await outOfBand.close();
    }
  });
});

describe.sequential("floating tags move by writing manifests only", () => {
  let e2e: E2eStack;
  beforeAll(async () => {
    e2e = await createE2eStack("e2emv", { publishDescriptions: "false", deploy: "false" });
    await up(e2e);
  });
  afterAll(async () => e2e?.close());

  it("moving v3.0, v3 and latest to an already pushed v3.0.1 uploads no blob", async () => {
    await e2e.stack.setAllConfig({
      "battlescope:version": { value: "v3.0.1" },
      "battlescope:moveFloatingTags": { value: "false" },
    });
    await up(e2e);
    const versionOnly = await tagDigests(e2e);
    expect(versionOnly["frontend:latest"]).toBe(versionOnly["frontend:v3.0.0"]);

    await e2e.stack.setConfig("battlescope:moveFloatingTags", { value: "true" });
    const mark = accessLogMark();
    await up(e2e);
    const entries = accessLogSince(mark, e2e.organization);
    expect(blobUploads(entries)).toEqual([]);
    expect(
      pushes(entries).every(
        (entry) => entry.method === "PUT" && entry.path.includes("/manifests/"),
      ),
    ).toBe(true);
    const after = await tagDigests(e2e);
    for (const service of SERVICES) {
      for (const tag of FLOATING) {
        expect(after[`${service.name}:${tag}`]).toBe(after[`${service.name}:v3.0.1`]);
        for (const arch of ["amd64", "arm64"]) {
          expect(after[`${service.name}:${tag}-${arch}`]).toBe(
            after[`${service.name}:v3.0.1-${arch}`],
          );
        }
      }
      expect(after[`${service.name}:v3.0.1`]).toBe(versionOnly[`${service.name}:v3.0.1`]);
    }
  });
});

describe.sequential("a registry outage part way through an up", () => {
  let e2e: E2eStack;
  let before: Record<string, string>;
  beforeAll(async () => {
    e2e = await createE2eStack("e2eout", { publishDescriptions: "false", deploy: "false" });
    await up(e2e);
    before = await tagDigests(e2e);
    await setVersion(e2e, "v3.0.1");
  });
  afterAll(async () => {
    localServices("start");
    await e2e?.close();
  });

  /** Every floating tag is a complete two-platform list of v3.0.0 or v3.0.1, never less. */
  async function floatingTagsAreWhole(
    allowed: (service: string, tag: string) => string[],
  ): Promise<void> {
    for (const service of SERVICES) {
      const repository = `${e2e.organization}/${service.name}`;
      for (const tag of FLOATING) {
        const index = await e2e.registry.getManifest(repository, tag);
        expect(index, `${repository}:${tag}`).toBeDefined();
        expect(indexPlatforms(index as NonNullable<typeof index>)).toEqual([
          "linux/amd64",
          "linux/arm64",
        ]);
        expect(allowed(service.name, tag)).toContain(index?.digest);
      }
    }
  }

  it("fails saying what was and was not published, then a second up completes", async () => {
    const mark = accessLogMark();
    const running = runStackCommand(e2e, "up");
    // Stop the registry as soon as this release has written its first manifest.
    const deadline = Date.now() + 120_000;
    while (
      !pushes(accessLogSince(mark, e2e.organization)).some((entry) =>
        entry.path.includes("/manifests/v3.0.1"),
      )
    ) {
      if (Date.now() > deadline) throw new Error("the release never pushed a manifest");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    localServices("stop", "registry");
    const failed = await running;
    localServices("start");

    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain("what this run published and did not publish:");
    expect(failed.stderr).toMatch(new RegExp(`${e2e.organization}/[a-z-]+: .*not published: `));
    expect(failed.stderr).toContain("Run the same up again to finish the release.");
    await floatingTagsAreWhole((service, tag) => [before[`${service}:${tag}`] as string]);

    const second = await runStackCommand(e2e, "up");
    expect(second.code, second.stderr).toBe(0);
    const after = await tagDigests(e2e);
    await floatingTagsAreWhole((service) => [after[`${service}:v3.0.1`] as string]);
    for (const service of SERVICES) {
      for (const tag of ["v3.0.0", "v3.0.0-amd64", "v3.0.0-arm64"]) {
        expect(after[`${service.name}:${tag}`]).toBe(before[`${service.name}:${tag}`]);
      }
    }
  });
});

describe.sequential("the dev channel", () => {
  let e2e: E2eStack;
  let sources: string;
  let sha: string;
  beforeAll(async () => {
    sources = copyFixtures();
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", sources, ...args], { encoding: "utf8" }).trim();
    git("init", "-q");
    git("-c", "user.email=ci@example.invalid", "-c", "user.name=ci", "add", ".");
    git("-c", "user.email=ci@example.invalid", "-c", "user.name=ci", "commit", "-qm", "sources");
    sha = git("rev-parse", "--short=7", "HEAD");
    e2e = await createE2eStack("e2edev", {
      sourceRoot: sources,
      version: "v3.1.0",
      deploy: "false",
    });
    await up(e2e);
  });
  afterAll(async () => e2e?.close());

  it("publishes vX.Y.Z-dev-<sha> after the highest release and touches no floating tag or description", async () => {
    const before = await tagDigests(e2e);
    const descriptions = JSON.stringify(e2e.hub.state);
    await e2e.stack.setAllConfig({
      "battlescope:version": { value: "dev" },
      "battlescope:moveFloatingTags": { value: "false" },
      "battlescope:publishDescriptions": { value: "false" },
    });
    await up(e2e);
    const after = await tagDigests(e2e);
    const dev = `v3.1.1-dev-${sha}`;
    for (const service of SERVICES) {
      for (const tag of [dev, `${dev}-amd64`, `${dev}-arm64`])
        expect(after[`${service.name}:${tag}`]).toMatch(/^sha256:/);
    }
    const unchanged = Object.fromEntries(
      Object.entries(after).filter(([key]) => !key.includes("-dev-")),
    );
    expect(unchanged).toEqual(before);
    expect(Object.keys(after).length).toBe(Object.keys(before).length + SERVICES.length * 3);
    expect(JSON.stringify(e2e.hub.state)).toBe(descriptions);
  });
});

describe.sequential("bad inputs are refused at preview with nothing pushed", () => {
  let e2e: E2eStack;
  beforeAll(async () => {
    e2e = await createE2eStack("e2ebad", { deploy: "false" });
  });
  afterAll(async () => e2e?.close());

  const cases: Array<{ name: string; change: (e2e: E2eStack) => Promise<void>; message: string }> =
    [
      {
        name: "an invalid version",
        change: (e) => e.stack.setConfig("battlescope:version", { value: "v3.0" }),
        message: `invalid config "battlescope:version": "v3.0" is not accepted; expected ${ACCEPTED_VERSION_FORMS}, or "dev" for the dev channel`,
      },
      {
        name: "an override for an unknown service",
        change: (e) =>
          e.stack.setConfig("battlescope:versions", { value: '{"billing-service":"v3.0.1"}' }),
        message:
          'invalid config "battlescope:versions": "billing-service" is not a BattleScope image; expected one of ingestion-service, enrichment-service, battle-service, search-service, notification-service, frontend-bff, frontend, db-migrator, init',
      },
      {
        name: "a platform other than the two",
        change: (e) =>
          e.stack.setConfig("battlescope:platforms", { value: '["linux/amd64","linux/riscv64"]' }),
        message:
          'invalid config "battlescope:platforms": "linux/riscv64" is not accepted; expected one of linux/amd64, linux/arm64',
      },
      {
        name: "a missing Docker Hub token on a stack that publishes descriptions",
        change: (e) => e.stack.removeConfig("battlescope:dockerHubToken"),
        message:
          'missing secret config "battlescope:dockerHubToken": required because publishDescriptions is true; set it with `pulumi config set --secret battlescope:dockerHubToken <value>`',
      },
      {
        name: "a registry that cannot be reached",
        change: (e) => e.stack.setConfig("battlescope:registry", { value: "127.0.0.1:5999" }),
        message:
          "registry 127.0.0.1:5999 cannot be reached (GET /v2/): connect ECONNREFUSED 127.0.0.1:5999",
      },
    ];

  it.each(cases)("$name", async ({ change, message }) => {
    const config = await e2e.stack.getAllConfig();
    await change(e2e);
    try {
      const mark = accessLogMark();
      const failure = await failureOf(e2e.stack.preview({ color: "never" }));
      expect(failure).toContain(message);
      expect(pushes(accessLogSince(mark, e2e.organization))).toEqual([]);
      expect(await e2e.registry.listTags(`${e2e.organization}/frontend`)).toEqual([]);
      expect(e2e.hub.requests.filter((request) => request.method !== "GET")).toEqual([]);
    } finally {
      await e2e.stack.setAllConfig(config);
      for (const key of Object.keys(await e2e.stack.getAllConfig())) {
        if (!(key in config)) await e2e.stack.removeConfig(key);
      }
    }
  });
});
