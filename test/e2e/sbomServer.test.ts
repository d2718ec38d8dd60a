/**
 * A release's SBOMs from one `battlescope-sbom serve` (syft's library in one process) are the
 * SBOMs `syft scan` writes where the server is not built: the same packages and the same files with the same SHA-256, on the
 * seeded Debian and busybox images through the token-auth registry; a failed image is named and
 * the server goes on with the next.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { OciRegistryClient } from "../../clients/ociRegistry";
import { sbomServerAvailable, serverSbom } from "../../clients/sbomServer";
import { imageSbom } from "../../clients/signing";
import type { SpdxDocument } from "../../lib/attestation";
import { REGISTRY, REGISTRY_LOGIN } from "../../scripts/e2eStack";
import { makeTempDir } from "../support/tempDirs";

const AUTH = { registry: REGISTRY, ...REGISTRY_LOGIN };
const REPO_ROOT = path.resolve(__dirname, "../..");
const IDLE_SECONDS = 60;
const run = promisify(execFile);

interface SpdxFacts {
  readonly packages: string[];
  readonly files: Record<string, string | undefined>;
  readonly creators: string[];
}

function facts(document: SpdxDocument): SpdxFacts {
  const raw = document as unknown as {
    packages?: { name: string; versionInfo?: string }[];
    files?: { fileName: string; checksums?: { algorithm: string; checksumValue: string }[] }[];
    creationInfo?: { creators?: string[] };
  };
  return {
    packages: (raw.packages ?? [])
      .map((entry) => `${entry.name}@${entry.versionInfo ?? ""}`)
      .sort(),
    files: Object.fromEntries(
      (raw.files ?? []).map((entry) => [
        entry.fileName,
        entry.checksums?.find((sum) => sum.algorithm === "SHA256")?.checksumValue,
      ]),
    ),
    creators: (raw.creationInfo?.creators ?? []).filter((creator) => creator.startsWith("Tool:")),
  };
}

/**
 * The release's SBOM where battlescope-sbom is not built (a workflow that only downloads syft):
 * `imageSbom` runs `syft scan`, with no SBOM kept from before.
 */
async function withoutServer(ref: string): Promise<SpdxDocument> {
  const saved = {
    binary: process.env.BATTLESCOPE_SBOM_BINARY,
    cache: process.env.BATTLESCOPE_SBOM_CACHE,
  };
  process.env.BATTLESCOPE_SBOM_BINARY = path.join(
    makeTempDir("no-sbom-server"),
    "battlescope-sbom",
  );
  process.env.BATTLESCOPE_SBOM_CACHE = makeTempDir("sbom-cache");
  try {
    expect(sbomServerAvailable()).toBe(false);
    return await imageSbom(ref, AUTH);
  } finally {
    for (const [name, value] of [
      ["BATTLESCOPE_SBOM_BINARY", saved.binary],
      ["BATTLESCOPE_SBOM_CACHE", saved.cache],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

describe("battlescope-sbom serve", () => {
  const images: string[] = [];

  beforeAll(async () => {
    expect(sbomServerAvailable()).toBe(true);
    const client = new OciRegistryClient({ registry: REGISTRY, ...REGISTRY_LOGIN });
    for (const [repository, tag] of [
      ["library/debian", "12.15-slim"],
      ["library/busybox", "1.35.0"],
    ] as const) {
      const index = await client.getManifest(repository, tag);
      const amd64 = index?.manifests.find((child) => child.platform?.architecture === "amd64");
      if (amd64 === undefined) throw new Error(`${repository}:${tag} has no amd64 image: seed it`);
      images.push(`${REGISTRY}/${repository}@${amd64.digest}`);
    }
  });

  it("lists the packages and files, with their SHA-256, that syft scan lists", async () => {
    for (const [index, ref] of images.entries()) {
      const dir = makeTempDir(`sbom-${index}`);
      try {
        const served = await serverSbom(ref, AUTH, dir);
        const scanned = await withoutServer(ref);
        const servedFacts = facts(served);
        expect(servedFacts.packages.length).toBeGreaterThan(0);
        // Directories and links carry no checksum, in syft scan's SBOMs too.
        const summed = Object.values(servedFacts.files).filter((sum) => sum !== undefined);
        expect(summed.length).toBeGreaterThan(0);
        expect(servedFacts).toEqual(facts(scanned));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it("a process that awaits an SBOM gets it, then ends without waiting for the idle server", async () => {
    const dir = makeTempDir("sbom-script");
    const script = path.join(dir, "one-sbom.mts");
    fs.writeFileSync(
      script,
      [
        `import { serverSbom } from ${JSON.stringify(path.join(REPO_ROOT, "clients/sbomServer.ts"))};`,
        `const sbom = await serverSbom(${JSON.stringify(images[1])}, ${JSON.stringify(AUTH)}, ${JSON.stringify(dir)});`,
        `console.log("packages", (sbom as { packages: unknown[] }).packages.length);`,
      ].join("\n"),
    );
    const started = Date.now();
    const { stdout } = await run(path.join(REPO_ROOT, "node_modules/.bin/tsx"), [script]);
    expect(stdout.trim()).toMatch(/^packages [1-9]\d*$/);
    // The server idles for a minute before it ends by itself; the script does not wait for it.
    expect(Date.now() - started).toBeLessThan(IDLE_SECONDS * 1000);
  });

  it("names an image it cannot read, and writes the next one", async () => {
    const missing = `${REGISTRY}/library/busybox@sha256:${"0".repeat(64)}`;
    const dirs = [makeTempDir("sbom-missing"), makeTempDir("sbom-next")] as const;
    try {
      const [failed, written] = await Promise.allSettled([
        serverSbom(missing, AUTH, dirs[0]),
        serverSbom(images[1] as string, AUTH, dirs[1]),
      ]);
      expect(failed.status).toBe("rejected");
      expect(String((failed as PromiseRejectedResult).reason)).toContain(
        `battlescope-sbom failed: could not read ${missing}`,
      );
      expect(written.status).toBe("fulfilled");
      expect(fs.readdirSync(dirs[0])).toEqual([]);
    } finally {
      for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
