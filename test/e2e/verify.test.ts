/**
 * `battlescope-images verify` against the real local registry and the Hub emulator, after real
 * releases of the stack (BuildKit builds, manifest lists, arch tags, Hub descriptions):
 *
 * - a release verifies for all nine images;
 * - a release in two stages (what .github/workflows/release.yml did before the stack scanned
 *   itself, still how to hold a version back): the version alone first (floating tags,
 *   descriptions and Deployments left as they are), which verify reports as not promoted, then
 *   the promotion, after which verify passes and the stack has nothing left to do;
 * - an arch tag that is gone fails with the "image not found" hint
 *   (docs/reference.md#troubleshooting-hints);
 * - a manifest list that lacks a platform fails with the "architecture mismatch" hint.
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Manifest } from "../../clients/ociRegistry";
import { REPO_ROOT } from "../../scripts/stack";
import { SERVICE_NAMES } from "../../services/catalog";
import {
  createE2eStack,
  type E2eStack,
  HUB_TOKEN,
  HUB_USER,
  REGISTRY,
  renderedObjects,
  setVersion,
  tagDigests,
} from "./harness";

const exec = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let e2e: E2eStack;

/** The installed command line, as a release engineer runs it, with the Hub credentials in env. */
async function verify(service: string, version: string): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      [
        path.join(REPO_ROOT, "bin/battlescope-images.js"),
        "verify",
        service,
        version,
        "--registry",
        REGISTRY,
        "--organization",
        e2e.organization,
        "--hub-url",
        e2e.hub.url,
      ],
      {
        env: { ...process.env, DOCKER_HUB_USERNAME: HUB_USER, DOCKER_HUB_TOKEN: HUB_TOKEN },
        maxBuffer: 10 * 1024 * 1024,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

const failures = (stdout: string) =>
  stdout
    .split("\n")
    .filter((line) => / FAIL /.test(line))
    .map((line) => line.split(/ {2,}/).slice(0, 2).join(" "));

function row(stdout: string, check: string, subject: string): string {
  const found = stdout
    .split("\n")
    .find((line) => line.startsWith(`${check} `) && line.includes(` ${subject} `));
  if (found === undefined) throw new Error(`no row ${check} ${subject} in:\n${stdout}`);
  return found;
}

const deploymentImages = () =>
  renderedObjects(e2e.manifestsDir)
    .filter((object) => object.kind === "Deployment")
    .map(
      (object) =>
        (object as { spec: { template: { spec: { containers: Array<{ image: string }> } } } }).spec
          .template.spec.containers[0]?.image,
    )
    .sort();

describe("verify against the local registry after real releases", () => {
  beforeAll(async () => {
    e2e = await createE2eStack("verify");
    await e2e.stack.up({ color: "never" });
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it("passes for every image after a release, descriptions included", async () => {
    for (const service of SERVICE_NAMES) {
      const result = await verify(service, "v3.0.0");
      expect(failures(result.stdout), `${service}:\n${result.stdout}${result.stderr}`).toEqual([]);
      expect(result.code).toBe(0);
      // 4 manifest lists (exists, platforms), 3 of them floating (same release), 8 arch tags
      // (exists, arch tag), 2 descriptions.
      expect(result.stdout).toContain(`${service} v3.0.0: 29 ok, 0 failed.`);
      expect(row(result.stdout, "platforms", `${e2e.organization}/${service}:latest`)).toMatch(
        / ok +linux\/amd64, linux\/arm64$/,
      );
    }
  });

  it("a staged release: the version alone is not promoted; the promotion passes", async () => {
    const before = await tagDigests(e2e);
    const deployedBefore = deploymentImages();
    await setVersion(e2e, "v3.0.1");

    // Stage 1 (publish the version): floating tags and descriptions off, the
    // Deployments excluded, so only <version> and <version>-<arch> are written.
    await e2e.stack.setConfig("battlescope:moveFloatingTags", { value: "false" });
    await e2e.stack.setConfig("battlescope:publishDescriptions", { value: "false" });
    await e2e.stack.up({ color: "never", exclude: ["**kubernetes:apps/v1:Deployment::*"] });
    const staged = await tagDigests(e2e);
    const added = Object.keys(staged).filter((tag) => !(tag in before));
    expect(added.sort()).toEqual(
      SERVICE_NAMES.flatMap((service) =>
        ["v3.0.1", "v3.0.1-amd64", "v3.0.1-arm64"].map((tag) => `${service}:${tag}`),
      ).sort(),
    );
    for (const [tag, digest] of Object.entries(before)) expect(staged[tag], tag).toBe(digest);
    expect(deploymentImages()).toEqual(deployedBefore);

    const midway = await verify("frontend", "v3.0.1");
    expect(midway.code).toBe(1);
    expect(row(midway.stdout, "same release", `${e2e.organization}/frontend:latest`)).toMatch(
      / FAIL +points at [0-9a-f]{12}, not v3.0.1's manifest list [0-9a-f]{12}$/,
    );
    expect(row(midway.stdout, "full description", `${e2e.organization}/frontend`)).toMatch(
      / FAIL +line 4: the Hub has "\*\*Version\*\*: v3.0.0", expected "\*\*Version\*\*: v3.0.1"$/,
    );

    // Stage 2 (promote): the stack as configured.
    await e2e.stack.setConfig("battlescope:moveFloatingTags", { value: "true" });
    await e2e.stack.setConfig("battlescope:publishDescriptions", { value: "true" });
    await e2e.stack.up({ color: "never" });
    for (const service of SERVICE_NAMES) {
      const result = await verify(service, "v3.0.1");
      expect(failures(result.stdout), `${service}:\n${result.stdout}`).toEqual([]);
      expect(result.code).toBe(0);
    }
    expect(deploymentImages().every((image) => image?.includes(":v3.0.1@sha256:"))).toBe(true);
    const after = await e2e.stack.preview({ color: "never" });
    expect(Object.keys(after.changeSummary)).toEqual(["same"]);
  });

  it("fails with the image-not-found hint when an arch tag is gone", async () => {
    const service = "battle-service";
    const repository = `${e2e.organization}/${service}`;
    // On an OCI registry a tag goes only with its manifest, and deleting the shared arm64 image
    // would take every tag and list entry pointing at it. So v3-arm64 first gets a manifest of
    // its own (the same image with one more annotation: same blobs, another digest), which is
    // then deleted: exactly that one tag is gone.
    const image = (await e2e.registry.getManifest(repository, "v3-arm64")) as Manifest;
    const body = JSON.parse(image.raw) as { annotations?: Record<string, string> };
    body.annotations = { ...body.annotations, "org.battlescope.test": "unique" };
    const unique = await e2e.registry.putManifest(
      repository,
      "v3-arm64",
      JSON.stringify(body),
      image.mediaType,
    );
    expect(unique).not.toBe(image.digest);
    await e2e.registry.deleteManifest(repository, unique);
    expect(await e2e.registry.headManifest(repository, "v3-arm64")).toBeUndefined();
    expect((await e2e.registry.headManifest(repository, "v3.0.1-arm64"))?.digest).toBe(
      image.digest,
    );

    const result = await verify(service, "v3.0.1");
    expect(result.code).toBe(1);
    expect(failures(result.stdout)).toEqual([`tag exists ${repository}:v3-arm64`]);
    expect(result.stdout).toContain(
      [
        "Image not found: v3-arm64 is missing.",
        "  # Verify the image exists",
        `  docker pull ${REGISTRY}/${repository}:v3-arm64`,
        "  # Check the tag exists in the registry",
        `  curl https://${REGISTRY}/v2/${repository}/tags/list | jq '.tags[]'`,
      ].join("\n"),
    );
    expect(result.stderr).toBe(
      `battlescope-images: verify: 1 check failed for ${repository} v3.0.1 (hints above)\n`,
    );
  });

  it("fails with the architecture hint when a manifest list lacks a platform", async () => {
    const service = "frontend";
    const repository = `${e2e.organization}/${service}`;
    // v3.0 rewritten as a manifest list of the amd64 image alone (its attestation entries, if
    // any, kept): what a build that lost a platform would push.
    const list = (await e2e.registry.getManifest(repository, "v3.0")) as Manifest;
    const body = JSON.parse(list.raw) as {
      manifests: Array<{ platform?: { architecture: string } }>;
    };
    body.manifests = body.manifests.filter((entry) => entry.platform?.architecture !== "arm64");
    await e2e.registry.putManifest(repository, "v3.0", JSON.stringify(body), list.mediaType);

    const result = await verify(service, "v3.0.1");
    expect(result.code).toBe(1);
    expect(failures(result.stdout)).toEqual([
      `platforms ${repository}:v3.0`,
      `same release ${repository}:v3.0`,
      `arch tag ${repository}:v3.0-arm64`,
    ]);
    expect(row(result.stdout, "platforms", `${repository}:v3.0`)).toMatch(
      / FAIL +holds linux\/amd64; missing linux\/arm64$/,
    );
    expect(result.stdout).toContain(
      [
        "Architecture mismatch: v3.0, v3.0-arm64 do not hold the expected platform images.",
        "  # Pull the multi-arch manifest (not the architecture-specific tag)",
        `  docker pull ${REGISTRY}/${repository}:v3.0.1  # multi-arch manifest`,
        `  # NOT: ${REGISTRY}/${repository}:v3.0.1-amd64`,
        "  # See what the manifest list holds",
        `  docker buildx imagetools inspect ${REGISTRY}/${repository}:v3.0`,
      ].join("\n"),
    );
    expect(result.stdout).not.toContain("Image not found");
  });
});
