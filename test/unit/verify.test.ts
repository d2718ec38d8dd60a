import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EXIT_USAGE } from "../../cli/shared";
import { registerVerify, type VerifyDeps } from "../../cli/verify";
import { fullDescription, shortDescription } from "../../lib/readme";
import { type HubEmulator, startHubEmulator } from "../../scripts/hub-emulator/hubEmulator";
import { findService, type ServiceImage } from "../../services/catalog";
import { digestOf, FakeRegistry, IMAGE, INDEX } from "../support/fakeRegistry";
import { type CliRun, cli, cliWith } from "../support/runCli";

const REGISTRY = "127.0.0.1:5999";
const ORG = "acme";
const REPO = `${ORG}/frontend`;
const FRONTEND = findService("frontend") as ServiceImage;

/** The verify command with injected HTTP, sleep and environment; exit codes as runCli maps them. */
function verify(deps: VerifyDeps, ...argv: string[]): Promise<CliRun> {
  return cliWith(registerVerify, deps, ["verify", ...argv]);
}

/** Table rows as `check subject status`, for exact comparisons. */
function rows(stdout: string): string[] {
  const lines = stdout.split("\n");
  const end = lines.indexOf("");
  return lines.slice(1, end).map((line) => line.split(/ {2,}/).slice(0, 3).join(" "));
}

function row(stdout: string, check: string, subject: string): string {
  const found = stdout
    .split("\n")
    .find((line) => line.startsWith(`${check} `) && line.includes(` ${subject} `));
  if (found === undefined) throw new Error(`no row ${check} ${subject} in:\n${stdout}`);
  return found;
}

/**
 * A release as this project's stack pushes it to a registry without attestations: the arch tags
 * are the image manifests themselves, the manifest list lists them.
 */
function plainRelease(registry: FakeRegistry, version: string, tags: string[]) {
  const images = Object.fromEntries(
    ["amd64", "arm64"].map((arch) => {
      const config = JSON.stringify({ architecture: arch, os: "linux", version });
      registry.blobs.set(digestOf(config), config);
      const digest = registry.put(
        REPO,
        {
          config: {
            mediaType: "application/vnd.oci.image.config.v1+json",
            digest: digestOf(config),
            size: config.length,
          },
          layers: [],
        },
        IMAGE,
      );
      return [arch, digest];
    }),
  ) as Record<"amd64" | "arm64", string>;
  const entry = (arch: "amd64" | "arm64") => ({
    mediaType: IMAGE,
    digest: images[arch],
    size: 400,
    platform: { architecture: arch, os: "linux" },
  });
  const index = registry.put(REPO, { manifests: [entry("amd64"), entry("arm64")] }, INDEX);
  for (const tag of tags) {
    registry.tag(REPO, tag, index);
    registry.tag(REPO, `${tag}-amd64`, images.amd64);
    registry.tag(REPO, `${tag}-arm64`, images.arm64);
  }
  return { index, images };
}

const ALL_TAGS = ["v3.0.0", "v3.0", "v3", "latest"];

describe("verify against a registry", () => {
  let registry: FakeRegistry;
  const deps = (): VerifyDeps => ({ env: {}, fetch: registry.fetch });
  const run = (...argv: string[]) =>
    verify(deps(), "frontend", "v3.0.0", "--registry", REGISTRY, "--organization", ORG, ...argv);

  beforeEach(() => {
    registry = new FakeRegistry();
  });

  it("passes for a complete release and checks every planned tag, twin and list", async () => {
    plainRelease(registry, "v3.0.0", ALL_TAGS);
    const result = await run();
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    const expected: string[] = [];
    for (const tag of ALL_TAGS) {
      expected.push(`tag exists ${REPO}:${tag} ok`, `platforms ${REPO}:${tag} ok`);
      if (tag !== "v3.0.0") expected.push(`same release ${REPO}:${tag} ok`);
      for (const arch of ["amd64", "arm64"]) {
        expected.push(`tag exists ${REPO}:${tag}-${arch} ok`, `arch tag ${REPO}:${tag}-${arch} ok`);
      }
    }
    expected.push(`descriptions ${ORG}/frontend skip`);
    expect(rows(result.stdout)).toEqual(expected);
    expect(result.stdout.split("\n")[0]).toMatch(/^CHECK +SUBJECT +STATUS +DETAIL$/);
    expect(row(result.stdout, "platforms", `${REPO}:v3`)).toMatch(/linux\/amd64, linux\/arm64$/);
    expect(result.stdout).toContain("frontend v3.0.0: 27 ok, 0 failed, 1 skipped.");
    // Reads only: nothing written or deleted.
    expect(registry.requests.filter((r) => !/^(GET|HEAD) /.test(r))).toEqual([]);
  });

  it("leaves out attestation entries and reads arch tags that are one-image indexes", async () => {
    // FakeRegistry.release: per-arch indexes (image + attestation) under the arch tags, and a
    // manifest list holding both images and both attestations (unknown/unknown).
    registry.release(REPO, "v3.0.0", "2026-05-01T00:00:00Z", ALL_TAGS);
    const result = await run();
    expect(result.code).toBe(0);
    expect(row(result.stdout, "platforms", `${REPO}:v3.0.0`)).toMatch(
      / ok +linux\/amd64, linux\/arm64$/,
    );
    expect(row(result.stdout, "arch tag", `${REPO}:latest-arm64`)).toMatch(
      /ok +[0-9a-f]{12} = latest's linux\/arm64 image$/,
    );
  });

  it("claims only the tags the plan gives: a higher release keeps v3 and latest", async () => {
    plainRelease(registry, "v3.1.0", ["v3.1.0", "v3.1", "v3", "latest"]);
    plainRelease(registry, "v3.0.1", ["v3.0.1", "v3.0"]);
    const result = await verify(
      deps(),
      "frontend",
      "v3.0.1",
      "--registry",
      REGISTRY,
      "--organization",
      ORG,
    );
    expect(result.code).toBe(0);
    const subjects = rows(result.stdout).map((line) => line.split(" ").at(-2));
    expect(new Set(subjects)).toEqual(
      new Set([
        `${REPO}:v3.0.1`,
        `${REPO}:v3.0.1-amd64`,
        `${REPO}:v3.0.1-arm64`,
        `${REPO}:v3.0`,
        `${REPO}:v3.0-amd64`,
        `${REPO}:v3.0-arm64`,
        `${ORG}/frontend`,
      ]),
    );
  });

  it("checks a dev build's own tags only", async () => {
    plainRelease(registry, "v3.0.1-dev-a1b2c3d", ["v3.0.1-dev-a1b2c3d"]);
    const result = await verify(
      deps(),
      "frontend",
      "v3.0.1-dev-a1b2c3d",
      "--registry",
      REGISTRY,
      "--organization",
      ORG,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("frontend v3.0.1-dev-a1b2c3d: 6 ok, 0 failed, 1 skipped.");
  });

  it("fails with the image-not-found hint when an arch tag is missing", async () => {
    plainRelease(registry, "v3.0.0", ALL_TAGS);
    registry.tags.get(REPO)?.delete("v3.0-arm64");
    const result = await run();
    expect(result.code).toBe(1);
    expect(row(result.stdout, "tag exists", `${REPO}:v3.0-arm64`)).toMatch(/ FAIL +not found$/);
    expect(rows(result.stdout).filter((line) => line.endsWith(" FAIL"))).toEqual([
      `tag exists ${REPO}:v3.0-arm64 FAIL`,
    ]);
    expect(result.stdout).toContain(
      [
        "Image not found: v3.0-arm64 is missing.",
        "  # Verify the image exists",
        `  docker pull ${REGISTRY}/${REPO}:v3.0-arm64`,
        "  # Check the tag exists in the registry",
        `  curl https://${REGISTRY}/v2/${REPO}/tags/list | jq '.tags[]'`,
      ].join("\n"),
    );
    expect(result.stdout).not.toContain("Architecture mismatch");
    expect(result.stderr).toBe(
      `battlescope-images: verify: 1 check failed for ${REPO} v3.0.0 (hints above)\n`,
    );
  });

  it("fails with the architecture hint when a manifest list lacks a platform", async () => {
    const { images } = plainRelease(registry, "v3.0.0", ALL_TAGS);
    const amd64Only = registry.put(
      REPO,
      {
        manifests: [
          {
            mediaType: IMAGE,
            digest: images.amd64,
            size: 400,
            platform: { architecture: "amd64", os: "linux" },
          },
        ],
      },
      INDEX,
    );
    registry.tag(REPO, "latest", amd64Only);
    const result = await run();
    expect(result.code).toBe(1);
    expect(row(result.stdout, "platforms", `${REPO}:latest`)).toMatch(
      / FAIL +holds linux\/amd64; missing linux\/arm64$/,
    );
    expect(row(result.stdout, "arch tag", `${REPO}:latest-arm64`)).toMatch(
      / FAIL +latest lists no linux\/arm64 image$/,
    );
    expect(row(result.stdout, "same release", `${REPO}:latest`)).toMatch(/ FAIL +points at /);
    expect(result.stdout).toContain(
      [
        "Architecture mismatch: latest, latest-arm64 do not hold the expected platform images.",
        "  # Pull the multi-arch manifest (not the architecture-specific tag)",
        `  docker pull ${REGISTRY}/${REPO}:v3.0.0  # multi-arch manifest`,
        `  # NOT: ${REGISTRY}/${REPO}:v3.0.0-amd64`,
        "  # See what the manifest list holds",
        `  docker buildx imagetools inspect ${REGISTRY}/${REPO}:latest`,
      ].join("\n"),
    );
    expect(result.stdout).toContain(
      `  docker buildx imagetools create -t ${REGISTRY}/${REPO}:latest ${REGISTRY}/${REPO}:v3.0.0`,
    );
    expect(result.stdout).not.toContain("Image not found");
  });

  it("fails when an arch tag is another platform's image", async () => {
    const { images } = plainRelease(registry, "v3.0.0", ALL_TAGS);
    registry.tag(REPO, "v3-amd64", images.arm64);
    const result = await run();
    expect(result.code).toBe(1);
    expect(row(result.stdout, "arch tag", `${REPO}:v3-amd64`)).toMatch(
      new RegExp(
        ` FAIL +is ${images.arm64.slice(7, 19)} \\(a linux/arm64 image\\); v3 lists ${images.amd64.slice(7, 19)} for linux/amd64$`,
      ),
    );
    expect(result.stdout).toContain("Architecture mismatch: v3-amd64 does not hold");
  });

  it("fails when a tag holds a single image instead of a manifest list", async () => {
    const { images } = plainRelease(registry, "v3.0.0", ALL_TAGS);
    registry.tag(REPO, "v3.0", images.amd64);
    const result = await run();
    expect(result.code).toBe(1);
    expect(row(result.stdout, "platforms", `${REPO}:v3.0`)).toMatch(
      / FAIL +a single image manifest, not a multi-arch manifest list/,
    );
    expect(row(result.stdout, "arch tag", `${REPO}:v3.0-amd64`)).toMatch(/ skip +v3.0 is not/);
  });

  it("fails when a platform is listed twice or an unexpected one is listed", async () => {
    const { images } = plainRelease(registry, "v3.0.0", ALL_TAGS);
    const entry = (digest: string, architecture: string) => ({
      mediaType: IMAGE,
      digest,
      size: 400,
      platform: { architecture, os: "linux" },
    });
    registry.tag(
      REPO,
      "v3",
      registry.put(
        REPO,
        {
          manifests: [
            entry(images.amd64, "amd64"),
            entry(images.arm64, "arm64"),
            entry(images.amd64, "amd64"),
            entry(digestOf("s390x"), "s390x"),
          ],
        },
        INDEX,
      ),
    );
    const result = await run("--platforms", "linux/amd64,linux/arm64");
    expect(row(result.stdout, "platforms", `${REPO}:v3`)).toMatch(
      / FAIL +holds linux\/amd64, linux\/amd64, linux\/arm64, linux\/s390x; unexpected linux\/s390x; listed twice linux\/amd64$/,
    );
  });

  it("with --platforms linux/amd64 expects exactly that platform", async () => {
    plainRelease(registry, "v3.0.0", ALL_TAGS);
    const result = await run("--platforms", "linux/amd64");
    expect(result.code).toBe(1);
    expect(row(result.stdout, "platforms", `${REPO}:v3.0.0`)).toMatch(
      / FAIL +holds linux\/amd64, linux\/arm64; unexpected linux\/arm64$/,
    );
    expect(result.stdout).not.toContain(`${REPO}:v3.0.0-arm64`);
  });

  it("fails every planned tag of a release that was never published", async () => {
    const result = await run();
    expect(result.code).toBe(1);
    expect(rows(result.stdout).filter((line) => line.startsWith("tag exists"))).toHaveLength(12);
    expect(rows(result.stdout).every((line) => !line.endsWith(" ok"))).toBe(true);
    expect(result.stdout).toContain("Image not found: v3.0.0, v3.0.0-amd64, v3.0.0-arm64, v3.0,");
  });

  it("gives the Docker Hub tags command for docker.io", async () => {
    const result = await verify(
      { env: {}, fetch: registry.fetch },
      "frontend",
      "v3.0.0",
      "--registry",
      "docker.io",
      "--hub-url",
      "http://127.0.0.1:5998",
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("  docker pull battlescope/frontend:v3.0.0\n");
    expect(result.stdout).toContain(
      "  curl http://127.0.0.1:5998/v2/repositories/battlescope/frontend/tags | jq '.results[].name'",
    );
  });
});

describe("verify: Docker Hub descriptions (emulated Hub)", () => {
  const USER = "verify-bot";
  const TOKEN = "dckr_pat_verify-4c1d";
  let hub: HubEmulator;
  let registry: FakeRegistry;

  beforeEach(async () => {
    hub = await startHubEmulator({ users: { [USER]: TOKEN } });
    registry = new FakeRegistry();
    plainRelease(registry, "v3.0.0", ALL_TAGS);
  });
  afterEach(async () => {
    await hub.close();
  });

  const seed = (description: string, full: string) => {
    hub.state.repositories[REPO] = {
      namespace: ORG,
      name: "frontend",
      description,
      full_description: full,
      is_private: false,
      date_registered: "2026-05-01T00:00:00Z",
      last_updated: "2026-05-01T00:00:00Z",
      tags: [],
    };
  };
  const expectedFull = () =>
    fullDescription({
      service: FRONTEND,
      registry: REGISTRY,
      organization: ORG,
      version: "v3.0.0",
      existingTags: [...(registry.tags.get(REPO)?.keys() ?? [])],
    });
  const run = (
    env: Record<string, string> = { DOCKER_HUB_USERNAME: USER, DOCKER_HUB_TOKEN: TOKEN },
  ) =>
    verify(
      {
        env,
        fetch: (async (input: Parameters<typeof fetch>[0], init?: RequestInit) =>
          String(input).startsWith(hub.url)
            ? fetch(input, init)
            : registry.fetch(input, init)) as typeof fetch,
      },
      "frontend",
      "v3.0.0",
      "--registry",
      REGISTRY,
      "--organization",
      ORG,
      "--hub-url",
      hub.url,
    );

  it("passes when the Hub holds the generated texts", async () => {
    seed(shortDescription(FRONTEND), expectedFull());
    const result = await run();
    expect(result.code).toBe(0);
    expect(row(result.stdout, "short description", `${ORG}/frontend`)).toMatch(
      / ok +\d+ characters$/,
    );
    expect(row(result.stdout, "full description", `${ORG}/frontend`)).toMatch(/ ok /);
    expect(hub.requests.map((r) => r.method)).toEqual(["POST", "GET"]);
  });

  it("fails naming the first differing line of an out-of-date full description", async () => {
    seed(
      shortDescription(FRONTEND),
      expectedFull().replace("**Version**: v3.0.0", "**Version**: v2.9.0"),
    );
    const result = await run();
    expect(result.code).toBe(1);
    expect(row(result.stdout, "full description", `${ORG}/frontend`)).toMatch(
      / FAIL +line 4: the Hub has "\*\*Version\*\*: v2.9.0", expected "\*\*Version\*\*: v3.0.0"$/,
    );
    expect(row(result.stdout, "short description", `${ORG}/frontend`)).toMatch(/ ok /);
    expect(result.stdout).toContain(
      `  battlescope-images readme frontend --version v3.0.0 --registry ${REGISTRY} --organization ${ORG}`,
    );
  });

  it("fails when the Hub has no such repository", async () => {
    const result = await run();
    expect(result.code).toBe(1);
    expect(row(result.stdout, "descriptions", `${ORG}/frontend`)).toMatch(
      / FAIL +the Hub has no such repository$/,
    );
  });

  it("fails (without leaking the token) when the Hub refuses the credentials", async () => {
    seed(shortDescription(FRONTEND), expectedFull());
    const result = await run({
      DOCKER_HUB_USERNAME: USER,
      DOCKER_HUB_TOKEN: "dckr_pat_wrong-token",
    });
    expect(result.code).toBe(1);
    expect(row(result.stdout, "descriptions", `${ORG}/frontend`)).toMatch(/ FAIL +Docker Hub /);
    expect(result.stdout).toContain("Docker Hub not readable: check DOCKER_HUB_USERNAME");
    expect(result.stdout + result.stderr).not.toContain("dckr_pat_wrong-token");
  });

  it("skips the descriptions without credentials, and without a Hub URL", async () => {
    seed("stale", "stale");
    const result = await run({});
    expect(result.code).toBe(0);
    expect(row(result.stdout, "descriptions", `${ORG}/frontend`)).toMatch(
      / skip +set DOCKER_HUB_USERNAME and DOCKER_HUB_TOKEN/,
    );
    const noUrl = await verify(
      { env: { DOCKER_HUB_USERNAME: USER, DOCKER_HUB_TOKEN: TOKEN }, fetch: registry.fetch },
      "frontend",
      "v3.0.0",
      "--registry",
      REGISTRY,
      "--organization",
      ORG,
    );
    expect(noUrl.code).toBe(0);
    expect(row(noUrl.stdout, "descriptions", `${ORG}/frontend`)).toMatch(/ skip +no --hub-url/);
    expect(hub.requests).toEqual([]);
  });
});

describe("verify: bad input is one line and exit code 2, nothing read", () => {
  const cases: Array<{ name: string; argv: string[]; message: string }> = [
    {
      name: "unknown service",
      argv: ["nope", "v3.0.0"],
      message: 'unknown service "nope": expected one of ',
    },
    { name: "bad version", argv: ["frontend", "3.0"], message: 'invalid version "3.0": expected ' },
    {
      name: "bad registry",
      argv: ["frontend", "v3.0.0", "--registry", "https://x/"],
      message: 'invalid --registry "https://x/"',
    },
    {
      name: "bad organization",
      argv: ["frontend", "v3.0.0", "--organization", "Acme"],
      message: 'invalid --organization "Acme"',
    },
    {
      name: "bad hub url",
      argv: ["frontend", "v3.0.0", "--hub-url", "hub"],
      message: 'invalid --hub-url "hub": expected an http(s) URL',
    },
    {
      name: "bad platform",
      argv: ["frontend", "v3.0.0", "--platforms", "linux/s390x"],
      message: 'invalid platform "linux/s390x"',
    },
  ];
  for (const { name, argv, message } of cases) {
    it(name, async () => {
      const registry = new FakeRegistry();
      const result = await verify({ env: {}, fetch: registry.fetch }, ...argv);
      expect(result.code).toBe(EXIT_USAGE);
      expect(result.stdout).toBe("");
      expect(result.stderr.split("\n")).toHaveLength(2);
      expect(result.stderr).toContain(message);
      expect(registry.requests).toEqual([]);
    });
  }

  it("an unreachable registry", async () => {
    const result = await verify(
      {
        env: {},
        fetch: (async () => {
          throw new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED") });
        }) as typeof fetch,
      },
      "frontend",
      "v3.0.0",
      "--registry",
      REGISTRY,
    );
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      `battlescope-images: registry ${REGISTRY} cannot be reached (GET /v2/): connect ECONNREFUSED\n`,
    );
  });

  it("through the real command line", async () => {
    const result = await cli("verify", "nope", "v3.0.0");
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.stderr).toMatch(/^battlescope-images: unknown service "nope"[^\n]*\n$/);
    const missing = await cli("verify", "frontend");
    expect(missing.code).toBe(EXIT_USAGE);
    expect(missing.stderr).toContain("missing required argument 'version'");
    const help = await cli("verify", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--hub-url <url>");
  });
});
