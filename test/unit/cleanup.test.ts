import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CleanupDeps, registerCleanup } from "../../cli/cleanup";
import { EXIT_USAGE } from "../../cli/shared";
import { type HubEmulator, startHubEmulator } from "../../scripts/hub-emulator/hubEmulator";
import { SERVICE_NAMES } from "../../services/catalog";
import { digestOf, FakeRegistry, INDEX } from "../support/fakeRegistry";
import { type CliRun, cli, cliWith } from "../support/runCli";
import { makeTempDir } from "../support/tempDirs";

const NOW = "2026-05-10T00:00:00Z";
const DAY = 24 * 60 * 60 * 1000;
const daysAgo = (days: number) => new Date(Date.parse(NOW) - days * DAY).toISOString();
const REGISTRY = "127.0.0.1:5999";
const ORG = "acme";

/** The cleanup command with injected HTTP, sleep and environment; exit codes as runCli maps them. */
function cleanup(deps: CleanupDeps, ...argv: string[]): Promise<CliRun> {
  return cliWith(registerCleanup, deps, ["cleanup", ...argv]);
}

let tmp: string;
beforeEach(() => {
  tmp = makeTempDir("cleanup-test");
});

function writeJson(name: string, value: unknown): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, typeof value === "string" ? value : JSON.stringify(value));
  return file;
}

const TAGS = [
  { name: "latest", lastUpdated: daysAgo(2), digest: digestOf("i310") },
  { name: "v3", lastUpdated: daysAgo(2), digest: digestOf("i310") },
  { name: "v3.1.0", lastUpdated: daysAgo(2), digest: digestOf("i310") },
  { name: "v3.1.0-amd64", lastUpdated: daysAgo(2), digest: digestOf("a310") },
  { name: "v3.0.2", lastUpdated: daysAgo(20), digest: digestOf("i302") },
  { name: "v3.0.1", lastUpdated: daysAgo(40), digest: digestOf("i301") },
  { name: "v3.0.1-amd64", lastUpdated: daysAgo(40), digest: digestOf("a301") },
  { name: "v3.0.0", lastUpdated: daysAgo(60), digest: digestOf("i300") },
  { name: "v3.1.1-dev-a1b2c3d", lastUpdated: daysAgo(31), digest: digestOf("d1") },
  { name: "v3.1.1-dev-b2c3d4e", lastUpdated: daysAgo(3), digest: digestOf("d2") },
  { name: "v3.2.0-rc.1", lastUpdated: daysAgo(45) },
];

const EXPECTED_PLAN = {
  keep: [
    { tag: "latest", reason: "latest" },
    { tag: "v3", reason: "floating tag" },
    { tag: "v3.1.1-dev-b2c3d4e", reason: "dev build from the last 30 days" },
    { tag: "v3.1.0", reason: "newest release of v3" },
    { tag: "v3.1.0-amd64", reason: "newest release of v3" },
    { tag: "v3.0.2", reason: "newest patch of v3.0, one of the 10 newest minors of v3" },
    { tag: "v3.0.0", reason: "protected by --protect" },
  ],
  delete: [
    { tag: "v3.2.0-rc.1", reason: "prerelease older than 30 days" },
    { tag: "v3.1.1-dev-a1b2c3d", reason: "dev build older than 30 days" },
    { tag: "v3.0.1", reason: "superseded by v3.0.2, the newest patch of v3.0" },
    { tag: "v3.0.1-amd64", reason: "superseded by v3.0.2, the newest patch of v3.0" },
  ],
};

describe("cleanup with a tags file", () => {
  it("prints exactly the JSON plan", async () => {
    const file = writeJson("tags.json", TAGS);
    const run = await cli(
      "cleanup",
      "--tags-file",
      file,
      "--now",
      NOW,
      "--protect",
      "v3.0.0",
      "--json",
    );
    expect(run).toEqual({ code: 0, stdout: `${JSON.stringify(EXPECTED_PLAN)}\n`, stderr: "" });
  });

  it("prints a table of every tag with keep or delete and the reason, then a summary", async () => {
    const file = writeJson("tags.json", TAGS);
    const run = await cli("cleanup", "--tags-file", file, "--now", NOW, "--protect", "v3.0.0");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        "TAG                 ACTION  REASON",
        "latest              keep    latest",
        "v3                  keep    floating tag",
        "v3.2.0-rc.1         delete  prerelease older than 30 days",
        "v3.1.1-dev-b2c3d4e  keep    dev build from the last 30 days",
        "v3.1.1-dev-a1b2c3d  delete  dev build older than 30 days",
        "v3.1.0              keep    newest release of v3",
        "v3.1.0-amd64        keep    newest release of v3",
        "v3.0.2              keep    newest patch of v3.0, one of the 10 newest minors of v3",
        "v3.0.1              delete  superseded by v3.0.2, the newest patch of v3.0",
        "v3.0.1-amd64        delete  superseded by v3.0.2, the newest patch of v3.0",
        "v3.0.0              keep    protected by --protect",
        "",
        "7 tags to keep, 4 tags to delete. Dry run: nothing deleted; add --apply to delete.",
        "",
      ].join("\n"),
    );
  });

  it("takes the counts and the age from options", async () => {
    const file = writeJson("tags.json", TAGS);
    const run = await cli(
      "cleanup",
      "--tags-file",
      file,
      "--now",
      NOW,
      "--keep-minors",
      "1",
      "--max-age-days",
      "60",
      "--json",
    );
    const plan = JSON.parse(run.stdout) as typeof EXPECTED_PLAN;
    expect(plan.delete).toEqual([
      { tag: "v3.0.2", reason: "v3.0 is older than the newest minor of v3" },
      { tag: "v3.0.1", reason: "v3.0 is older than the newest minor of v3" },
      { tag: "v3.0.1-amd64", reason: "v3.0 is older than the newest minor of v3" },
      { tag: "v3.0.0", reason: "v3.0 is older than the newest minor of v3" },
    ]);
  });

  it("keeps what a stack deploys, from a stack outputs file or from the stack", async () => {
    const file = writeJson("tags.json", TAGS);
    const outputs = {
      releases: {
        frontend: {
          version: "v3.0.1",
          ref: `${REGISTRY}/${ORG}/frontend:v3.0.1@${digestOf("i301")}`,
        },
        init: {
          version: "v3.2.0-rc.1",
          ref: `${REGISTRY}/${ORG}/init:v3.2.0-rc.1@${digestOf("x")}`,
        },
      },
    };
    const fromFile = await cli(
      "cleanup",
      "--tags-file",
      file,
      "--service",
      "frontend",
      "--stack-outputs",
      writeJson("outputs.json", outputs),
      "--now",
      NOW,
      "--json",
    );
    const outputsFile = path.join(tmp, "outputs.json");
    expect(JSON.parse(fromFile.stdout).keep).toContainEqual({
      tag: "v3.0.1-amd64",
      reason: `deployed by stack outputs ${outputsFile}`,
    });
    expect(JSON.parse(fromFile.stdout).delete.map((d: { tag: string }) => d.tag)).toEqual([
      "v3.2.0-rc.1",
      "v3.1.1-dev-a1b2c3d",
      "v3.0.0",
    ]);

    const asked: string[] = [];
    const fromStack = await cleanup(
      {
        readStackOutputs: async (stack, cwd) => {
          asked.push(`${stack} ${cwd}`);
          return outputs;
        },
      },
      "--tags-file",
      file,
      "--stack",
      "prod",
      "--cwd",
      tmp,
      "--now",
      NOW,
      "--json",
    );
    expect(asked).toEqual([`prod ${tmp}`]);
    // Without --service, every service's deployed releases stay.
    expect(JSON.parse(fromStack.stdout).keep).toEqual(
      expect.arrayContaining([
        { tag: "v3.2.0-rc.1", reason: "deployed by stack prod" },
        { tag: "v3.0.1", reason: "deployed by stack prod" },
      ]),
    );
  });
});

describe("cleanup on an OCI registry", () => {
  let registry: FakeRegistry;
  let sleeps: number[];
  const repo = `${ORG}/frontend`;
  let v300: ReturnType<FakeRegistry["release"]>;
  let v301: ReturnType<FakeRegistry["release"]>;
  let v310: ReturnType<FakeRegistry["release"]>;
  let oldDev: ReturnType<FakeRegistry["release"]>;

  beforeEach(() => {
    registry = new FakeRegistry();
    sleeps = [];
    v300 = registry.release(repo, "v3.0.0", daysAgo(90));
    v301 = registry.release(repo, "v3.0.1", daysAgo(80), ["v3.0.1", "v3.0"]);
    v310 = registry.release(repo, "v3.1.0", daysAgo(10), ["v3.1.0", "v3.1", "v3", "latest"]);
    oldDev = registry.release(repo, "v3.1.1-dev-a1b2c3d", daysAgo(40));
    registry.release(repo, "v3.1.1-dev-b2c3d4e", daysAgo(5));
  });

  const deps = (): CleanupDeps => ({
    fetch: registry.fetch,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    env: {},
  });
  const args = (...more: string[]) => [
    "--registry",
    REGISTRY,
    "--organization",
    ORG,
    "--service",
    "frontend",
    "--now",
    NOW,
    "--keep-patches",
    "1",
    "--protect",
    "v3.0.0",
    ...more,
  ];
  const expectedDelete = [
    ...["v3.1.1-dev-a1b2c3d", "v3.1.1-dev-a1b2c3d-amd64", "v3.1.1-dev-a1b2c3d-arm64"].map(
      (tag) => ({
        tag,
        reason: "dev build older than 30 days",
      }),
    ),
  ];

  it("plans from tags, digests and image creation dates, and a dry run sends no delete", async () => {
    const run = await cleanup(deps(), ...args("--json", "--protect", "v3.0.0"));
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout);
    expect(plan.delete).toEqual(expectedDelete);
    // v3.0.1 is kept: the floating v3.0 points at its manifest.
    expect(plan.keep).toEqual(
      expect.arrayContaining([
        { tag: "v3.0.1", reason: "newest patch of v3.0, one of the 10 newest minors of v3" },
        { tag: "v3.1.1-dev-b2c3d4e-amd64", reason: "dev build from the last 30 days" },
        { tag: "v3.0.0-arm64", reason: "protected by --protect" },
      ]),
    );
    expect(registry.deletes()).toEqual([]);
  });

  it("--apply deletes each index first, then the children no kept index lists", async () => {
    const run = await cleanup(deps(), ...args("--protect", "v3.0.0", "--apply"));
    expect(run.code).toBe(0);
    const deletes = registry.deletes();
    const roots = [oldDev.index, oldDev.perArch.amd64, oldDev.perArch.arm64];
    expect(deletes.slice(0, 3)).toEqual(
      roots.map((digest) => `DELETE /v2/${repo}/manifests/${digest}`),
    );
    expect(deletes.slice(3).sort()).toEqual(
      oldDev.children.map((digest) => `DELETE /v2/${repo}/manifests/${digest}`).sort(),
    );
    for (const release of [v300, v301, v310]) {
      for (const digest of [
        release.index,
        release.perArch.amd64,
        release.perArch.arm64,
        ...release.children,
      ]) {
        expect(registry.has(repo, digest)).toBe(true);
      }
    }
    expect(run.stdout).toContain(
      [
        `deleted ${repo}:v3.1.1-dev-a1b2c3d`,
        `deleted ${repo}:v3.1.1-dev-a1b2c3d-amd64`,
        `deleted ${repo}:v3.1.1-dev-a1b2c3d-arm64`,
        "Deleted 3 tags and 7 manifests. About ",
      ].join("\n"),
    );
    expect(run.stdout).toMatch(
      /About \d+\.\d kB in 13 blobs is freed once the registry collects garbage \(an estimate: /,
    );
  });

  it("keeps going past a failed delete, keeps the children of an index that stays, exits 1", async () => {
    registry.failDeletes.add(oldDev.perArch.amd64);
    const run = await cleanup(deps(), ...args("--apply"));
    expect(run.code).toBe(1);
    expect(registry.has(repo, oldDev.index)).toBe(false);
    expect(registry.has(repo, oldDev.perArch.arm64)).toBe(false);
    expect(registry.has(repo, oldDev.perArch.amd64)).toBe(true);
    // The amd64 image and its attestation stay: the surviving per-arch index lists them.
    expect(registry.has(repo, oldDev.children[0] as string)).toBe(true);
    expect(registry.has(repo, oldDev.children[1] as string)).toBe(true);
    expect(registry.has(repo, oldDev.children[2] as string)).toBe(false);
    expect(run.stdout).toContain(
      `failed  could not delete ${repo}@${oldDev.perArch.amd64} (v3.1.1-dev-a1b2c3d-amd64): registry ${REGISTRY} refused to delete ${repo}@${oldDev.perArch.amd64}: HTTP 500: storage on fire\n`,
    );
    expect(run.stderr).toBe("battlescope-images: cleanup: 3 deletes failed (listed above)\n");
  });

  it("waits out a 429 as the registry asks", async () => {
    registry.rateLimitOnce.set(oldDev.index, "7");
    const run = await cleanup(deps(), ...args("--apply", "--json"));
    expect(run.code).toBe(0);
    expect(sleeps).toEqual([7000]);
    expect(registry.has(repo, oldDev.index)).toBe(false);
    expect(JSON.parse(run.stdout).delete).toEqual(expectedDelete);
    expect(run.stderr).toContain("Deleted 3 tags and 7 manifests.");
  });

  it("a reproducible build's 1970 creation date is no age: the dev build stays", async () => {
    registry.release(repo, "v3.1.1-dev-c3d4e5f", "1970-01-01T00:00:00Z");
    const run = await cleanup(deps(), ...args("--json"));
    expect(JSON.parse(run.stdout).keep).toContainEqual({
      tag: "v3.1.1-dev-c3d4e5f-arm64",
      reason: "dev build of unknown age",
    });
    expect(JSON.parse(run.stdout).delete).toEqual(expectedDelete);
  });

  it("keeps a deployed digest even when no kept tag points at it", async () => {
    const outputs = writeJson("outputs.json", {
      releases: {
        frontend: { version: "v9.9.9", ref: `${REGISTRY}/${repo}:v9.9.9@${oldDev.index}` },
      },
    });
    const run = await cleanup(deps(), ...args("--stack-outputs", outputs, "--apply", "--json"));
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout);
    expect(plan.keep).toContainEqual({
      tag: "v3.1.1-dev-a1b2c3d",
      reason: `its manifest is also reached by the digest deployed by stack outputs ${outputs}`,
    });
    expect(plan.delete).toEqual(expectedDelete.slice(1));
    // Only the per-arch indexes go: the deployed index still lists their images.
    expect(registry.deletes().sort()).toEqual(
      [oldDev.perArch.amd64, oldDev.perArch.arm64]
        .map((digest) => `DELETE /v2/${repo}/manifests/${digest}`)
        .sort(),
    );
    for (const digest of [oldDev.index, ...oldDev.children]) {
      expect(registry.has(repo, digest)).toBe(true);
    }
  });

  it("reads every service when none is named, and labels tags with their service", async () => {
    registry.release(`${ORG}/init`, "v1.0.0", daysAgo(1));
    const run = await cleanup(
      deps(),
      "--registry",
      REGISTRY,
      "--organization",
      ORG,
      "--now",
      NOW,
      "--protect",
      "v3.0.0",
      "--json",
    );
    const plan = JSON.parse(run.stdout);
    expect(plan.keep).toContainEqual({ tag: "init:v1.0.0-arm64", reason: "newest release of v1" });
    expect(plan.delete.map((d: { tag: string }) => d.tag)).toEqual(
      expectedDelete.map(({ tag }) => `frontend:${tag}`),
    );
    for (const service of SERVICE_NAMES) {
      expect(registry.requests).toContain(`GET /v2/${ORG}/${service}/tags/list`);
    }
  });
});

// ------------------------------------------------------------------ bad input

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("cleanup refuses bad input: one line on stderr, exit code 2, nothing deleted", () => {
  let registry: FakeRegistry;
  beforeEach(() => {
    registry = new FakeRegistry();
    registry.release(`${ORG}/frontend`, "v3.0.0-dev-a1b2c3d", daysAgo(90));
    registry.release(`${ORG}/frontend`, "v3.0.0", daysAgo(90));
    registry.release(`${ORG}/frontend`, "v3.0.1", daysAgo(90));
  });

  const malformed = '[{"name": "v3.0.0",';
  let parseError = "";
  try {
    JSON.parse(malformed);
  } catch (error) {
    parseError = (error as Error).message;
  }

  it.each([
    {
      name: "unreadable tags file",
      argv: (dir: string) => ["--tags-file", path.join(dir, "missing.json")],
      message: (dir: string) =>
        `cannot read tags file ${path.join(dir, "missing.json")}: ENOENT: no such file or directory, open '${path.join(dir, "missing.json")}'`,
    },
    {
      name: "tags file that is not JSON",
      argv: () => ["--tags-file", writeJson("bad.json", malformed)],
      message: (dir: string) =>
        `tags file ${path.join(dir, "bad.json")} is not valid JSON: ${parseError}`,
    },
    {
      name: "tags file that is not an array",
      argv: () => ["--tags-file", writeJson("bad.json", { tags: [] })],
      message: (dir: string) =>
        `tags file ${path.join(dir, "bad.json")} must hold a JSON array of {"name", "lastUpdated", "digest"} objects`,
    },
    {
      name: "tags file entry without a name",
      argv: () => ["--tags-file", writeJson("bad.json", [{ lastUpdated: NOW }])],
      message: (dir: string) =>
        `tags file ${path.join(dir, "bad.json")}: item 1 has no "name" string`,
    },
    {
      name: "tags file entry with a bad date",
      argv: () => [
        "--tags-file",
        writeJson("bad.json", [
          { name: "v3.0.0", lastUpdated: NOW },
          { name: "v3.0.1", lastUpdated: "2026-02-30T00:00:00Z" },
        ]),
      ],
      message: (dir: string) =>
        `tags file ${path.join(dir, "bad.json")}: item 2 (v3.0.1) has an invalid "lastUpdated" "2026-02-30T00:00:00Z": expected an ISO 8601 date-time such as 2026-05-01T00:00:00Z`,
    },
    {
      name: "tags file entry with a bad digest",
      argv: () => [
        "--tags-file",
        writeJson("bad.json", [{ name: "v3.0.0", lastUpdated: NOW, digest: "md5:x" }]),
      ],
      message: (dir: string) =>
        `tags file ${path.join(dir, "bad.json")}: item 1 (v3.0.0) has an invalid "digest" "md5:x": expected sha256:<64 hex digits>`,
    },
    {
      name: "bad --now",
      argv: () => [
        "--registry",
        REGISTRY,
        "--organization",
        ORG,
        "--now",
        "last tuesday",
        "--apply",
      ],
      message: () =>
        'invalid --now "last tuesday": expected an ISO 8601 date or date-time with a zone, such as 2026-05-01T00:00:00Z',
    },
    {
      name: "--now without a zone",
      argv: () => [
        "--registry",
        REGISTRY,
        "--organization",
        ORG,
        "--now",
        "2026-05-01T00:00:00",
        "--apply",
      ],
      message: () =>
        'invalid --now "2026-05-01T00:00:00": expected an ISO 8601 date or date-time with a zone, such as 2026-05-01T00:00:00Z',
    },
    {
      name: "unknown service",
      argv: () => [
        "--registry",
        REGISTRY,
        "--organization",
        ORG,
        "--service",
        "frontendd",
        "--apply",
      ],
      message: () => `unknown service "frontendd": expected one of ${SERVICE_NAMES.join(", ")}`,
    },
    {
      name: "bad count",
      argv: () => [
        "--registry",
        REGISTRY,
        "--organization",
        ORG,
        "--keep-patches",
        "-1",
        "--apply",
      ],
      message: () => 'invalid --keep-patches "-1": expected a whole number, 0 or more',
    },
    {
      name: "bad --protect",
      argv: () => [
        "--registry",
        REGISTRY,
        "--organization",
        ORG,
        "--protect",
        "v3.0.0,no way",
        "--apply",
      ],
      message: () => 'invalid --protect tag "no way": not a Docker tag',
    },
    {
      name: "no tag source",
      argv: () => ["--apply"],
      message: () => "cleanup needs --registry <host> or --tags-file <file>",
    },
    {
      name: "two tag sources",
      argv: () => ["--registry", REGISTRY, "--tags-file", writeJson("t.json", []), "--apply"],
      message: () => "use either --registry <host> or --tags-file <file>, not both",
    },
    {
      name: "--apply on a tags file",
      argv: () => ["--tags-file", writeJson("t.json", []), "--apply"],
      message: () => "--apply needs --registry: a tags file can be planned, not cleaned",
    },
    {
      name: "Docker Hub without credentials",
      argv: () => ["--registry", "docker.io", "--organization", ORG, "--apply"],
      message: () =>
        "docker.io is cleaned through the Docker Hub API: set DOCKER_HUB_USERNAME and DOCKER_HUB_TOKEN",
    },
    {
      name: "stack outputs without releases",
      argv: () => [
        "--registry",
        REGISTRY,
        "--organization",
        ORG,
        "--stack-outputs",
        writeJson("o.json", { other: 1 }),
        "--apply",
      ],
      message: (dir: string) =>
        `stack outputs ${path.join(dir, "o.json")} has no "releases" object: expected \`pulumi stack output --json\``,
    },
  ])("$name", async ({ argv, message }) => {
    const run = await cleanup({ fetch: registry.fetch, env: {} }, ...argv(tmp));
    expect(run).toEqual({
      code: EXIT_USAGE,
      stdout: "",
      stderr: `battlescope-images: ${message(tmp)}\n`,
    });
    expect(registry.deletes()).toEqual([]);
  });

  it("unreachable registry", async () => {
    const port = await closedPort();
    const run = await cli(
      "cleanup",
      "--registry",
      `127.0.0.1:${port}`,
      "--organization",
      ORG,
      "--apply",
    );
    expect(run).toEqual({
      code: EXIT_USAGE,
      stdout: "",
      stderr: `battlescope-images: registry 127.0.0.1:${port} cannot be reached (GET /v2/): connect ECONNREFUSED 127.0.0.1:${port}\n`,
    });
  });

  it("a stack that cannot be read", async () => {
    const run = await cleanup(
      {
        fetch: registry.fetch,
        readStackOutputs: async () => {
          throw new Error("no stack named 'prdo' found\nmore detail");
        },
      },
      "--registry",
      REGISTRY,
      "--stack",
      "prdo",
      "--apply",
    );
    expect(run).toEqual({
      code: EXIT_USAGE,
      stdout: "",
      stderr:
        "battlescope-images: cannot read the outputs of stack prdo: no stack named 'prdo' found\n",
    });
    expect(registry.requests).toEqual([]);
  });
});

// ------------------------------------------------------------------ Docker Hub

describe("cleanup on Docker Hub (emulated)", () => {
  const USER = "battlescope-ci";
  const TOKEN = "dckr_pat_cleanup-test";
  let hub: HubEmulator;
  let registry: FakeRegistry;
  let sleeps: number[];
  /** Answers the first DELETE of each of these Hub tag paths with this response instead. */
  let intercept: Map<string, () => Response>;

  const image = (name: string, arch: string) => ({
    architecture: arch,
    os: "linux",
    digest: digestOf(`${name}-${arch}`),
  });
  const attestation = (name: string, arch: string) => ({
    architecture: "unknown",
    os: "unknown",
    digest: digestOf(`${name}-${arch}-att`),
  });

  function seed(): void {
    registry.manifests.set("battlescope/frontend", new Map());
    hub.state.repositories["battlescope/frontend"] = {
      namespace: "battlescope",
      name: "frontend",
      description: "",
      full_description: "",
      is_private: false,
      date_registered: daysAgo(400),
      last_updated: daysAgo(1),
      tags: [],
    };
    const release = (version: string, age: number, floating: string[] = []) => {
      const images = ["amd64", "arm64"].flatMap((arch) => [
        image(version, arch),
        attestation(version, arch),
      ]);
      // The Hub lists no index digest (documented schema): the registry resolves each tag.
      const tag = (name: string, digest: string, tagImages: typeof images) => {
        hub.addTag("battlescope/frontend", {
          name,
          digest,
          lastUpdated: daysAgo(age),
          images: tagImages,
        });
        registry.manifests
          .get("battlescope/frontend")
          ?.set(digest, { mediaType: INDEX, body: "{}" });
        registry.tag("battlescope/frontend", name, digest);
      };
      for (const name of [version, ...floating]) tag(name, digestOf(version), images);
      for (const arch of ["amd64", "arm64"]) {
        tag(`${version}-${arch}`, digestOf(`${version}/${arch}`), [
          image(version, arch),
          attestation(version, arch),
        ]);
      }
    };
    release("v3.0.0", 100);
    release("v3.0.1", 90, ["v3.0"]);
    release("v3.0.2", 80);
    release("v3.1.0", 10, ["v3.1", "v3", "latest"]);
    release("v3.1.1-dev-a1b2c3d", 35);
  }

  beforeEach(async () => {
    hub = await startHubEmulator({ users: { [USER]: TOKEN } });
    registry = new FakeRegistry();
    sleeps = [];
    intercept = new Map();
    seed();
  });
  afterEach(async () => {
    await hub.close();
  });

  const deps = (): CleanupDeps => ({
    env: { DOCKER_HUB_USERNAME: USER, DOCKER_HUB_TOKEN: TOKEN },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    fetch: (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
      const url = String(input);
      if (!url.startsWith(hub.url)) return registry.fetch(input, init);
      const key = `${init?.method ?? "GET"} ${new URL(url).pathname}`;
      const answer = intercept.get(key);
      if (answer !== undefined) {
        intercept.delete(key);
        return answer();
      }
      return fetch(url, init);
    }) as typeof fetch,
  });
  const args = (...more: string[]) => [
    "--registry",
    "docker.io",
    "--hub-url",
    hub.url,
    "--service",
    "frontend",
    "--now",
    NOW,
    ...more,
  ];
  const hubTags = () =>
    (hub.state.repositories["battlescope/frontend"]?.tags ?? []).map((tag) => tag.name).sort();
  const tagPath = (tag: string) => `DELETE /v2/repositories/battlescope/frontend/tags/${tag}/`;
  const planned = [
    ["v3.1.1-dev-a1b2c3d", "dev build older than 30 days"],
    ["v3.0.1", "superseded by v3.0.2, the newest patch of v3.0"],
    ["v3.0.0", "superseded by v3.0.2, the newest patch of v3.0"],
  ].flatMap(([tag, reason]) =>
    [`${tag}`, `${tag}-amd64`, `${tag}-arm64`].map((name) => ({ tag: name, reason })),
  );

  it("a dry run lists the plan and deletes nothing", async () => {
    const before = hubTags();
    const run = await cleanup(deps(), ...args("--json"));
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).delete).toEqual(planned);
    expect(hubTags()).toEqual(before);
    expect(hub.requests.filter((request) => request.method === "DELETE")).toEqual([]);
    expect(registry.deletes()).toEqual([]);
  });

  it("--apply deletes the planned tags through the Hub API, then the manifests no kept tag reaches", async () => {
    const before = hubTags();
    const run = await cleanup(deps(), ...args("--json", "--apply"));
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout);
    expect(hubTags()).toEqual(before.filter((tag) => !planned.some((p) => p.tag === tag)).sort());
    expect(hubTags()).toEqual(plan.keep.map((k: { tag: string }) => k.tag).sort());
    expect(
      hub.requests
        .filter((request) => request.method === "DELETE")
        .map((r) => `${r.method} ${r.path}`),
    ).toEqual(planned.map(({ tag }) => tagPath(tag)));
    // v3.0.1's index stays (the floating v3.0 reaches it); its per-arch indexes go, not their images.
    const manifests = registry.deletes().map((request) => request.split("/manifests/")[1]);
    const roots = [
      ...["", "/amd64", "/arm64"].map((arch) => digestOf(`v3.1.1-dev-a1b2c3d${arch}`)),
      digestOf("v3.0.1/amd64"),
      digestOf("v3.0.1/arm64"),
      ...["", "/amd64", "/arm64"].map((arch) => digestOf(`v3.0.0${arch}`)),
    ];
    expect(manifests.slice(0, 8)).toEqual(roots);
    expect(manifests.slice(8).sort()).toEqual(
      ["v3.1.1-dev-a1b2c3d", "v3.0.0"]
        .flatMap((v) =>
          ["amd64", "arm64"].flatMap((arch) => [
            image(v, arch).digest,
            attestation(v, arch).digest,
          ]),
        )
        .sort(),
    );
    expect(run.stderr).toContain("Deleted 9 tags and 16 manifests. Docker Hub gives no blob sizes");
  });

  it("obeys the Hub's 429 and X-Retry-After", async () => {
    intercept.set(
      tagPath("v3.0.0"),
      () =>
        new Response(JSON.stringify({ message: "too many requests" }), {
          status: 429,
          headers: { "X-Retry-After": "4" },
        }),
    );
    const run = await cleanup(deps(), ...args("--apply"));
    expect(run.code).toBe(0);
    expect(sleeps).toEqual([4000]);
    expect(hubTags()).not.toContain("v3.0.0");
  });

  it("stops deleting anything after the Hub's unexplained 500 on a tag delete, and exits 1", async () => {
    hub.failTagDeletes(500, ["v3.0.0-amd64"]);
    const run = await cleanup(deps(), ...args("--apply"));
    expect(run.code).toBe(1);
    expect(hubTags()).toContain("v3.0.0-amd64");
    expect(hubTags()).toContain("v3.0.0-arm64");
    expect(hubTags()).not.toContain("v3.0.0");
    expect(hubTags()).not.toContain("v3.1.1-dev-a1b2c3d");
    expect(run.stdout).toContain(
      "failed  could not delete battlescope/frontend:v3.0.0-amd64: Docker Hub delete tag battlescope/frontend:v3.0.0-amd64 failed: HTTP 500: internal server error\n" +
        "stopped Docker Hub's failure is unexplained, so nothing else is deleted (not tried: battlescope/frontend:v3.0.0-arm64)\n",
    );
    expect(
      hub.requests.filter((r) => r.method === "DELETE").map((r) => r.path.split("/")[6]),
    ).toEqual(planned.map(({ tag }) => tag).slice(0, -1));
    expect(registry.deletes()).toEqual([]);
    expect(run.stderr).toBe("battlescope-images: cleanup: 1 delete failed (listed above)\n");
  });

  it("reports every tag delete the Hub refuses (403) with the token permission to create, deletes no manifest and says it deleted nothing", async () => {
    hub.failTagDeletes(403);
    const before = hubTags();
    const run = await cleanup(deps(), ...args("--apply"));
    expect(run.code).toBe(EXIT_USAGE);
    const refused = planned.map(
      ({ tag }) =>
        `failed  could not delete battlescope/frontend:${tag}: Docker Hub delete tag battlescope/frontend:${tag} failed: HTTP 403: access to the resource is forbidden with personal access token; the access token needs the "Read, Write, Delete" permission to manage repositories (a "Read & Write" token pushes images but may not write descriptions or delete tags): create a personal access token with "Read, Write, Delete"\n`,
    );
    expect(run.stdout.split("Deleting now.\n")[1]).toBe(
      `${refused.join("")}Deleted nothing of the 9 planned tags: 9 deletes failed.\n`,
    );
    expect(hubTags()).toEqual(before);
    expect(registry.deletes()).toEqual([]);
    expect(run.stderr).toBe(
      "battlescope-images: cleanup deleted nothing: 9 deletes failed (listed above)\n",
    );
  });
});
