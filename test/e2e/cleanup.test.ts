/**
 * Retention against the real local registry (distribution 2.8, deletes enabled): multi-arch
 * images built by BuildKit with their attestation manifests, arch and floating tags written as
 * the stack writes them (the same manifest bytes under another tag), then a dry run, bad input,
 * `--apply`, and the registry's garbage collection.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_USAGE } from "../../cli/shared";
import { REPO_ROOT } from "../../scripts/stack";
import { cli } from "../support/runCli";
import { makeTempDir } from "../support/tempDirs";
import {
  accessLogMark,
  accessLogSince,
  BUILDER,
  FIXTURES,
  REGISTRY,
  registryClient,
  uniqueOrganization,
} from "./harness";

const run = promisify(execFile);
const SERVICE = "init";
const ORGANIZATION = uniqueOrganization("ret");
const REPOSITORY = `${ORGANIZATION}/${SERVICE}`;
const STATE = process.env.BATTLESCOPE_STATE ?? path.join(os.homedir(), ".cache/battlescope/local");
const BLOBS = path.join(STATE, "registry/data/docker/registry/v2/blobs");
const DAY_S = 24 * 60 * 60;
const registry = registryClient();

/** Version -> age in days of its image (SOURCE_DATE_EPOCH sets the config's `created`). */
const RELEASES: Record<string, number | undefined> = {
  "v1.0.0": undefined,
  "v2.0.0": undefined,
  "v2.1.0": undefined,
  "v2.1.1": undefined,
  "v2.2.0": undefined,
  "v2.2.1": undefined,
  "v2.2.2": undefined,
  "v2.2.3-dev-aaaaaaa": 60,
  "v2.2.3-dev-bbbbbbb": undefined,
  "v2.3.0-rc.1": 45,
};
const FLOATING: Record<string, string> = {
  latest: "v2.2.2",
  v2: "v2.2.2",
  "v2.2": "v2.2.2",
  "v2.0": "v2.0.0",
  v1: "v1.0.0",
};
const ARCHES = ["amd64", "arm64"] as const;
const POLICY = ["--keep-minors", "2", "--keep-patches", "2", "--protect", "v2.1.0"];
const twins = (tag: string) => [tag, `${tag}-amd64`, `${tag}-arm64`];
const decided = (reason: string, ...tags: string[]) => tags.map((tag) => ({ tag, reason }));

const EXPECTED_DELETE = [
  ...decided("prerelease older than 30 days", ...twins("v2.3.0-rc.1")),
  ...decided("dev build older than 30 days", ...twins("v2.2.3-dev-aaaaaaa")),
  ...decided("older than the 2 newest patches of v2.2", ...twins("v2.2.0")),
];
const EXPECTED_KEEP = [
  ...decided("latest", ...twins("latest")),
  ...decided("floating tag", ...twins("v2"), ...twins("v2.2"), ...twins("v2.0"), ...twins("v1")),
  ...decided("dev build from the last 30 days", ...twins("v2.2.3-dev-bbbbbbb")),
  ...decided("newest release of v2", ...twins("v2.2.2")),
  ...decided("one of the 2 newest patches of v2.2", ...twins("v2.2.1")),
  ...decided("newest patch of v2.1, one of the 2 newest minors of v2", ...twins("v2.1.1")),
  ...decided("protected by --protect", ...twins("v2.1.0")),
  // The floating v2.0 still points at v2.0.0: on a registry a tag goes only with its manifest.
  ...decided("its manifest is also reached by kept tag v2.0", ...twins("v2.0.0")),
  ...decided("newest release of v1", ...twins("v1.0.0")),
];

const cleanup = (...more: string[]) =>
  cli(
    "cleanup",
    "--registry",
    REGISTRY,
    "--organization",
    ORGANIZATION,
    "--service",
    SERVICE,
    ...POLICY,
    ...more,
  );

/** Every tag with its digest, and every manifest each one reaches (index children included). */
async function snapshot(): Promise<{ tags: Record<string, string>; manifests: string[] }> {
  const tags: Record<string, string> = {};
  const manifests = new Set<string>();
  for (const tag of (await registry.listTags(REPOSITORY)).sort()) {
    const manifest = await registry.getManifest(REPOSITORY, tag);
    tags[tag] = manifest?.digest ?? "(missing)";
    if (manifest === undefined) continue;
    manifests.add(manifest.digest);
    for (const child of manifest.manifests) {
      const resolved = await registry.headManifest(REPOSITORY, child.digest);
      manifests.add(`${child.digest} ${resolved?.digest === child.digest ? "ok" : "missing"}`);
    }
  }
  return { tags, manifests: [...manifests].sort() };
}

function blobFiles(): Set<string> {
  const found = new Set<string>();
  const root = path.join(BLOBS, "sha256");
  if (!fs.existsSync(root)) return found;
  for (const prefix of fs.readdirSync(root)) {
    for (const hex of fs.readdirSync(path.join(root, prefix))) {
      if (fs.existsSync(path.join(root, prefix, hex, "data"))) found.add(`sha256:${hex}`);
    }
  }
  return found;
}

async function build(version: string, ageDays: number | undefined): Promise<void> {
  const epoch =
    ageDays === undefined
      ? []
      : ["--build-arg", `SOURCE_DATE_EPOCH=${Math.floor(Date.now() / 1000) - ageDays * DAY_S}`];
  await run(
    "docker-buildx",
    [
      "build",
      "--builder",
      BUILDER,
      "--platform",
      "linux/amd64,linux/arm64",
      "--provenance=mode=min",
      "--push",
      "--label",
      `org.opencontainers.image.version=${version}`,
      "--build-arg",
      `VERSION=${version}`,
      ...epoch,
      "-t",
      `${REGISTRY}/${REPOSITORY}:${version}`,
      path.join(FIXTURES, SERVICE),
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
}

/** Writes `tag` and its arch twins as the stack does: the same manifest bytes, no blob upload. */
async function tagRelease(tag: string, version: string): Promise<void> {
  const index = await registry.getManifest(REPOSITORY, version);
  if (index === undefined) throw new Error(`${REPOSITORY}:${version} is missing`);
  if (tag !== version) await registry.putManifest(REPOSITORY, tag, index.raw, index.mediaType);
  for (const arch of ARCHES) {
    const child = index.manifests.find(
      (entry) => entry.platform?.os === "linux" && entry.platform.architecture === arch,
    );
    const image = await registry.getManifest(REPOSITORY, child?.digest ?? "");
    if (image === undefined) throw new Error(`${REPOSITORY}:${version} has no ${arch} image`);
    await registry.putManifest(REPOSITORY, `${tag}-${arch}`, image.raw, image.mediaType);
  }
}

describe.sequential("cleanup against the real local registry", () => {
  let before: Awaited<ReturnType<typeof snapshot>>;
  /** Digests (and children) of the releases the plan deletes, read before anything goes. */
  const doomed = new Map<string, string[]>();
  /** Config and layer blobs only the deleted releases use. */
  const doomedBlobs = new Set<string>();

  beforeAll(async () => {
    for (const [version, age] of Object.entries(RELEASES)) await build(version, age);
    for (const version of Object.keys(RELEASES)) await tagRelease(version, version);
    for (const [tag, version] of Object.entries(FLOATING)) await tagRelease(tag, version);
    const keptBlobs = new Set<string>();
    for (const version of Object.keys(RELEASES)) {
      const index = await registry.getManifest(REPOSITORY, version);
      const children = index?.manifests.map((child) => child.digest) ?? [];
      const goes = ["v2.3.0-rc.1", "v2.2.3-dev-aaaaaaa", "v2.2.0"].includes(version);
      if (goes) doomed.set(version, [index?.digest ?? "", ...children]);
      for (const child of children) {
        const manifest = await registry.getManifest(REPOSITORY, child);
        for (const blob of manifest?.blobs ?? []) (goes ? doomedBlobs : keptBlobs).add(blob.digest);
      }
    }
    // The base image's layers stay: kept releases use them.
    for (const blob of keptBlobs) doomedBlobs.delete(blob);
    before = await snapshot();
  });

  it("holds what the test pushed: indexes with both platforms and their attestations", () => {
    expect(Object.keys(before.tags)).toHaveLength(
      3 * (Object.keys(RELEASES).length + Object.keys(FLOATING).length),
    );
    expect(before.manifests.filter((entry) => entry.endsWith(" missing"))).toEqual([]);
    // Each release: its index, two images, two attestation manifests.
    expect(doomed.get("v2.2.0")).toHaveLength(5);
  });

  it("a dry run prints the plan and changes nothing", async () => {
    const mark = accessLogMark();
    const result = await cleanup("--json");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ delete: EXPECTED_DELETE, keep: EXPECTED_KEEP });
    expect(JSON.parse(result.stdout).keep.map((k: { tag: string }) => k.tag)).toEqual(
      EXPECTED_KEEP.map(({ tag }) => tag),
    );
    expect(accessLogSince(mark, ORGANIZATION).filter((entry) => entry.method === "DELETE")).toEqual(
      [],
    );
    expect(await snapshot()).toEqual(before);
  });

  it("a release deployed by a stack stays (outputs read through the Automation API)", async () => {
    const workDir = makeTempDir("retention");
    const backend = path.join(workDir, "backend");
    fs.mkdirSync(backend);
    fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(workDir, "Pulumi.yaml"));
    const envVars = {
      PULUMI_BACKEND_URL: `file://${backend}`,
      PULUMI_CONFIG_PASSPHRASE: "retention-e2e",
    };
    const deployed = before.tags["v2.2.0"];
    const stack = await LocalWorkspace.createOrSelectStack(
      {
        projectName: "battlescope",
        stackName: "retention",
        program: async () => ({
          releases: {
            [SERVICE]: { version: "v2.2.0", ref: `${REGISTRY}/${REPOSITORY}:v2.2.0@${deployed}` },
          },
        }),
      },
      { workDir, envVars },
    );
    await stack.up({ color: "never" });
    const saved = Object.fromEntries(Object.keys(envVars).map((key) => [key, process.env[key]]));
    Object.assign(process.env, envVars);
    try {
      const mark = accessLogMark();
      const result = await cleanup("--stack", "retention", "--cwd", workDir, "--json");
      expect(result.stderr).toBe("");
      const plan = JSON.parse(result.stdout);
      expect(plan.keep).toEqual(
        expect.arrayContaining(decided("deployed by stack retention", ...twins("v2.2.0"))),
      );
      expect(plan.delete).toEqual(EXPECTED_DELETE.slice(0, 6));
      expect(accessLogSince(mark, ORGANIZATION).filter((e) => e.method === "DELETE")).toEqual([]);
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  describe("bad input: exact message, exit code 2, nothing deleted", () => {
    it.each([
      {
        name: "unknown service",
        argv: ["--service", "init-service"],
        message: () =>
          'unknown service "init-service": expected one of ingestion-service, enrichment-service, battle-service, search-service, notification-service, frontend-bff, frontend, db-migrator, init',
      },
      {
        name: "bad --now",
        argv: ["--now", "2026-13-01T00:00:00Z"],
        message: () =>
          'invalid --now "2026-13-01T00:00:00Z": expected an ISO 8601 date or date-time with a zone, such as 2026-05-01T00:00:00Z',
      },
      {
        name: "unreadable stack outputs",
        argv: ["--stack-outputs", "/nonexistent/outputs.json"],
        message: () =>
          "cannot read stack outputs /nonexistent/outputs.json: ENOENT: no such file or directory, open '/nonexistent/outputs.json'",
      },
    ])("$name", async ({ argv, message }) => {
      const mark = accessLogMark();
      const result = await cleanup(...argv, "--apply");
      expect(result).toEqual({
        code: EXIT_USAGE,
        stdout: "",
        stderr: `battlescope-images: ${message()}\n`,
      });
      expect(accessLogSince(mark, ORGANIZATION)).toEqual([]);
    });

    it("malformed tags file", async () => {
      const file = path.join(makeTempDir("tags"), `${ORGANIZATION}-tags.json`);
      fs.writeFileSync(file, '[{"name": "v1.0.0", "lastUpdated": 5}]');
      const result = await cli("cleanup", "--tags-file", file, "--json");
      expect(result).toEqual({
        code: EXIT_USAGE,
        stdout: "",
        stderr: `battlescope-images: tags file ${file}: item 1 (v1.0.0) has no "lastUpdated" string\n`,
      });
    });

    it("unreachable registry", async () => {
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as net.AddressInfo;
      await new Promise((resolve) => server.close(resolve));
      const mark = accessLogMark();
      const result = await cli(
        "cleanup",
        "--registry",
        `127.0.0.1:${port}`,
        "--organization",
        ORGANIZATION,
        "--apply",
      );
      expect(result).toEqual({
        code: EXIT_USAGE,
        stdout: "",
        stderr: `battlescope-images: registry 127.0.0.1:${port} cannot be reached (GET /v2/): connect ECONNREFUSED 127.0.0.1:${port}\n`,
      });
      expect(accessLogSince(mark, ORGANIZATION)).toEqual([]);
    });

    it("left every digest as it was", async () => {
      expect(await snapshot()).toEqual(before);
    });
  });

  it("--apply deletes exactly the planned tags, index first, and keeps everything kept whole", async () => {
    const mark = accessLogMark();
    const result = await cleanup("--apply");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `${EXPECTED_DELETE.map(({ tag }) => `deleted ${REPOSITORY}:${tag}`).join("\n")}\nDeleted 9 tags and 15 manifests. About `,
    );

    // Exactly the three units went: each index before its images and attestations.
    const deletes = accessLogSince(mark, ORGANIZATION).filter((entry) => entry.method === "DELETE");
    expect(deletes.every((entry) => entry.status === 202)).toBe(true);
    const deleted = deletes.map((entry) => entry.path.split("/manifests/")[1]);
    // In the plan's order: semver, highest first.
    const units = ["v2.3.0-rc.1", "v2.2.3-dev-aaaaaaa", "v2.2.0"].map(
      (version) => doomed.get(version) ?? [],
    );
    expect(deleted.slice(0, 3)).toEqual(units.map(([index]) => index));
    expect([...deleted.slice(3)].sort()).toEqual(
      units.flatMap(([, ...children]) => children).sort(),
    );

    const after = await snapshot();
    const expectedTags = Object.fromEntries(
      Object.entries(before.tags).filter(([tag]) => !EXPECTED_DELETE.some((d) => d.tag === tag)),
    );
    // Every kept tag resolves to the digest it had, and each of its platform and attestation
    // manifests still resolves (the protected v2.1.0 and the multi-arch v2.0.0 among them).
    expect(after.tags).toEqual(expectedTags);
    expect(after.manifests.filter((entry) => entry.endsWith(" missing"))).toEqual([]);
    for (const tag of ["v2.1.0", "v2.1.0-amd64", "v2.0.0", "v2.0.0-arm64"]) {
      expect(await registry.headManifest(REPOSITORY, tag), tag).toBeDefined();
    }
    const kept = await registry.getManifest(REPOSITORY, "v2.0.0");
    expect(kept?.manifests).toHaveLength(4);
    for (const child of kept?.manifests ?? []) {
      expect((await registry.headManifest(REPOSITORY, child.digest))?.digest).toBe(child.digest);
    }
    for (const { tag } of EXPECTED_DELETE) {
      expect(await registry.headManifest(REPOSITORY, tag), tag).toBeUndefined();
    }
  });

  it("garbage collection frees the deleted releases' blobs; the registry is back and whole", async () => {
    const blobsBefore = blobFiles();
    for (const blob of doomedBlobs) expect(blobsBefore.has(blob), blob).toBe(true);
    await run("bash", [path.join(REPO_ROOT, "scripts/local-services.sh"), "gc"], {
      maxBuffer: 16 * 1024 * 1024,
    });
    await registry.ping();
    const blobsAfter = blobFiles();
    expect(blobsAfter.size).toBeLessThan(blobsBefore.size);
    for (const blob of doomedBlobs) expect(blobsAfter.has(blob), blob).toBe(false);

    // What was kept is still whole, down to its config blobs.
    const after = await snapshot();
    expect(after.manifests.filter((entry) => entry.endsWith(" missing"))).toEqual([]);
    for (const tag of ["v2.2.2", "v2.0.0", "v2.1.0", "v1.0.0"]) {
      const index = await registry.getManifest(REPOSITORY, tag);
      for (const child of index?.manifests ?? []) {
        const image = await registry.getManifest(REPOSITORY, child.digest);
        for (const blob of image?.blobs ?? []) {
          expect(blobsAfter.has(blob.digest), `${tag} ${blob.digest}`).toBe(true);
        }
        const config = image?.blobs[0]?.digest;
        if (config !== undefined) {
          expect((await registry.getBlob(REPOSITORY, config)).length).toBeGreaterThan(0);
        }
      }
    }
  });

  afterAll(async () => {
    // Leave nothing behind: every manifest of this organization goes (gc frees it later).
    const left = await snapshot().catch(() => undefined);
    const digests = [
      ...new Set(Object.values(left?.tags ?? {})),
      ...(left?.manifests ?? []).map((entry) => entry.split(" ")[0] as string),
    ];
    for (const digest of new Set(digests)) {
      await registry.deleteManifest(REPOSITORY, digest).catch(() => undefined);
    }
  });
});
