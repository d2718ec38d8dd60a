/**
 * Releasing only what changed, and building both platforms at once, on the real engine,
 * BuildKit and registry: a patch release where one fixture changed builds that service alone and
 * gives the other eight the new version on their previous platform images, by manifest copies.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVICES } from "../../services/catalog";
import {
  accessLogMark,
  accessLogSince,
  blobUploads,
  copyFixtures,
  createE2eStack,
  type E2eStack,
  type LogEntry,
  setVersion,
} from "./harness";

const CHANGED = "frontend";
const UNCHANGED = SERVICES.map((service) => service.name).filter((name) => name !== CHANGED);

/** Runs an up, returning the names of the docker-build Images it created (the builds it ran). */
async function upCountingBuilds(e2e: E2eStack): Promise<{ builds: string[]; log: string }> {
  const builds: string[] = [];
  let log = "";
  await e2e.stack.up({
    onEvent: (event: EngineEvent) => {
      const pre = event.resourcePreEvent?.metadata;
      // A build runs for every Image the engine creates, updates (changed sources) or replaces.
      if (
        pre?.type === "docker-build:index:Image" &&
        ["create", "update", "replace", "create-replacement"].includes(pre.op)
      ) {
        builds.push(pre.urn.slice(pre.urn.lastIndexOf("::") + 2));
      }
    },
    onOutput: (text) => {
      log += text;
    },
  });
  return { builds: builds.sort(), log };
}

/** The platform images a version's manifest list references, by architecture. */
async function children(e2e: E2eStack, service: string, version: string) {
  const index = await e2e.registry.getManifest(`${e2e.organization}/${service}`, version);
  return Object.fromEntries(
    (index?.manifests ?? [])
      .filter((entry) => entry.platform?.os === "linux")
      .map((entry) => [entry.platform?.architecture, entry.digest]),
  );
}

/** Requests the registry answered with an error the client sees (auth challenges and misses aside). */
function registryErrors(entries: readonly LogEntry[]): LogEntry[] {
  return entries.filter((entry) => entry.status >= 500 || entry.status === 400);
}

describe.sequential("a patch release where one service changed", () => {
  let e2e: E2eStack;
  let sources: string;

  beforeAll(async () => {
    sources = copyFixtures();
    e2e = await createE2eStack("e2ereuse", {
      sourceRoot: sources,
      deploy: "false",
      publishDescriptions: "false",
      requireChangelog: "false",
    });
    const first = await upCountingBuilds(e2e);
    // Cold: every service's two platforms are built.
    expect(first.builds).toHaveLength(SERVICES.length * 2);
  });
  afterAll(async () => e2e?.close());

  it("builds the changed service alone and gives the others the new version on their old images", async () => {
    fs.appendFileSync(
      path.join(sources, CHANGED, "server.sh"),
      "# changed for the patch release\n",
    );
    const before = Object.fromEntries(
      await Promise.all(
        SERVICES.map(async (s) => [s.name, await children(e2e, s.name, "v3.0.0")] as const),
      ),
    );
    await setVersion(e2e, "v3.0.1");

    const preview = await e2e.stack.preview();
    for (const name of UNCHANGED) {
      expect(preview.stdout).toContain(
        `${name}: sources unchanged since v3.0.0, reuses its images`,
      );
    }
    expect(preview.stdout).not.toContain(`${CHANGED}: sources unchanged`);

    const mark = accessLogMark();
    const { builds } = await upCountingBuilds(e2e);
    expect(builds).toEqual([`${CHANGED}-amd64`, `${CHANGED}-arm64`]);

    const entries = accessLogSince(mark, e2e.organization);
    for (const name of UNCHANGED) {
      // Same platform images under the new version: its list and arch tags are copies.
      expect(await children(e2e, name, "v3.0.1"), name).toEqual(before[name]);
      const head = await e2e.registry.headManifest(`${e2e.organization}/${name}`, "v3.0.1-amd64");
      expect(head?.digest).toBe(before[name]?.amd64);
      // Not one blob went into the unchanged repositories: floating tags moved by copy.
      const own = entries.filter((entry) =>
        entry.path.startsWith(`/v2/${e2e.organization}/${name}/`),
      );
      expect(blobUploads(own), name).toEqual([]);
      const latest = await e2e.registry.headManifest(`${e2e.organization}/${name}`, "latest");
      const version = await e2e.registry.headManifest(`${e2e.organization}/${name}`, "v3.0.1");
      expect(latest?.digest).toBe(version?.digest);
    }
    expect(await children(e2e, CHANGED, "v3.0.1")).not.toEqual(before[CHANGED]);
    expect(registryErrors(entries)).toEqual([]);
  });
});

describe.sequential("both platforms of every service build at once", () => {
  const stacks: E2eStack[] = [];
  afterAll(async () => {
    for (const e2e of stacks) await e2e.close();
  });

  it("passes 10 cold releases in a row with no registry error", async () => {
    for (let round = 1; round <= 10; round++) {
      const e2e = await createE2eStack("e2ecold", {
        deploy: "false",
        publishDescriptions: "false",
      });
      stacks.push(e2e);
      const mark = accessLogMark();
      const { builds } = await upCountingBuilds(e2e);
      expect(builds, `round ${round}`).toHaveLength(SERVICES.length * 2);
      expect(registryErrors(accessLogSince(mark, e2e.organization)), `round ${round}`).toEqual([]);
      for (const service of SERVICES) {
        const list = await children(e2e, service.name, "v3.0.0");
        expect(Object.keys(list).sort(), `round ${round} ${service.name}`).toEqual([
          "amd64",
          "arm64",
        ]);
      }
    }
  });
});
