/**
 * `cleanup --apply` when the deletes are refused as a whole: a registry that does not delete by
 * digest (405 UNSUPPORTED, distribution with deletes disabled and Docker Hub's registry), and a
 * Hub whose tag delete route answers 404 for a tag it has just listed. Each says, per planned tag,
 * what happened and what to do, and never reports anything as deleted that was not.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CleanupDeps, registerCleanup } from "../../cli/cleanup";
import { refusalLine } from "../../cli/cleanupApply";
import { EXIT_USAGE } from "../../cli/shared";
import { type HubEmulator, startHubEmulator } from "../../scripts/hub-emulator/hubEmulator";
import { digestOf, FakeRegistry, INDEX } from "../support/fakeRegistry";
import { type CliRun, cliWith } from "../support/runCli";

const NOW = "2026-05-10T00:00:00Z";
const DAY = 24 * 60 * 60 * 1000;
const daysAgo = (days: number) => new Date(Date.parse(NOW) - days * DAY).toISOString();
const REGISTRY = "127.0.0.1:5999";
const ORG = "acme";
const DEV = "v3.1.1-dev-a1b2c3d";
const DEV_TAGS = [DEV, `${DEV}-amd64`, `${DEV}-arm64`];
const REFUSED = `registry ${REGISTRY} does not allow deleting by digest (HTTP 405 UNSUPPORTED)`;

function cleanup(deps: CleanupDeps, ...argv: string[]): Promise<CliRun> {
  return cliWith(registerCleanup, deps, ["cleanup", ...argv]);
}

/** What the command printed after the plan. */
const applied = (run: CliRun) => run.stdout.split("Deleting now.\n")[1];

describe("refusalLine", () => {
  it("tells an OCI registry's operator to enable deletes or use the registry's own tools", () => {
    expect(refusalLine(REGISTRY, "acme/init:v1", { answer: "HTTP 405 UNSUPPORTED" }, false)).toBe(
      `kept    acme/init:v1: ${REFUSED}; to delete it, enable deletes in the registry's configuration (distribution: storage.delete.enabled: true) or delete it with the registry's own UI or API`,
    );
  });

  it("says on Docker Hub that the tag went through the Hub API and its manifests stay", () => {
    expect(refusalLine("docker.io", "acme/init:v1", { answer: "HTTP 405" }, true)).toBe(
      "note    acme/init:v1: deleted through the Docker Hub API; its manifests stay on Docker Hub, untagged: registry docker.io does not allow deleting by digest (HTTP 405)",
    );
  });
});

describe("cleanup --apply on a registry that refuses deletes by digest", () => {
  let registry: FakeRegistry;
  let oldDev: ReturnType<FakeRegistry["release"]>;
  const deps = (): CleanupDeps => ({ fetch: registry.fetch, sleep: async () => {}, env: {} });
  const args = (...more: string[]) => ["--registry", REGISTRY, "--organization", ORG, ...more];
  const kept = (repository: string) =>
    DEV_TAGS.map(
      (tag) =>
        `${refusalLine(REGISTRY, `${repository}:${tag}`, { answer: "HTTP 405 UNSUPPORTED" }, false)}\n`,
    ).join("");
  const everyManifest = () =>
    [...registry.manifests.entries()].flatMap(([repository, manifests]) =>
      [...manifests.keys()].map((digest) => `${repository}@${digest}`),
    );

  beforeEach(() => {
    registry = new FakeRegistry();
    registry.release(`${ORG}/frontend`, "v3.1.0", daysAgo(10));
    oldDev = registry.release(`${ORG}/frontend`, DEV, daysAgo(40));
  });

  it("sends one DELETE, deletes nothing, names every planned tag and what to do, exits 2", async () => {
    registry.refuseDeletesAfter = 0;
    const before = everyManifest();
    const run = await cleanup(deps(), ...args("--service", "frontend", "--now", NOW, "--apply"));
    expect(run.code).toBe(EXIT_USAGE);
    expect(registry.deletes()).toEqual([`DELETE /v2/${ORG}/frontend/manifests/${oldDev.index}`]);
    expect(everyManifest()).toEqual(before);
    expect(applied(run)).toBe(
      `${kept(`${ORG}/frontend`)}Deleted nothing of the 3 planned tags: ${REFUSED}.\n`,
    );
    expect(run.stderr).toBe(
      `battlescope-images: cleanup deleted nothing: ${REFUSED}; all 3 planned tags are still there\n`,
    );
  });

  it("sends no DELETE to a second repository once the first refused", async () => {
    registry.release(`${ORG}/init`, "v3.1.0", daysAgo(10));
    registry.release(`${ORG}/init`, DEV, daysAgo(40));
    registry.refuseDeletesAfter = 0;
    const before = everyManifest();
    const run = await cleanup(deps(), ...args("--now", NOW, "--apply"));
    expect(run.code).toBe(EXIT_USAGE);
    expect(registry.deletes()).toHaveLength(1);
    expect(everyManifest()).toEqual(before);
    const repositories = [`${ORG}/frontend`, `${ORG}/init`];
    expect(applied(run)).toBe(
      `${repositories.map(kept).join("")}Deleted nothing of the 6 planned tags: ${REFUSED}.\n`,
    );
  });

  it("stops at a refusal after the first deletes: no other root and no child goes, exits 1", async () => {
    registry.refuseDeletesAfter = 1;
    const run = await cleanup(deps(), ...args("--service", "frontend", "--now", NOW, "--apply"));
    expect(run.code).toBe(1);
    expect(registry.deletes()).toEqual(
      [oldDev.index, oldDev.perArch.amd64].map(
        (digest) => `DELETE /v2/${ORG}/frontend/manifests/${digest}`,
      ),
    );
    expect(registry.has(`${ORG}/frontend`, oldDev.index)).toBe(false);
    for (const digest of [oldDev.perArch.amd64, oldDev.perArch.arm64, ...oldDev.children]) {
      expect(registry.has(`${ORG}/frontend`, digest), digest).toBe(true);
    }
    const [, ...notDeleted] = kept(`${ORG}/frontend`).split("\n");
    expect(applied(run)).toContain(
      `deleted ${ORG}/frontend:${DEV}\n${notDeleted.join("\n")}Deleted 1 tag and 1 manifest. About `,
    );
    expect(run.stderr).toBe(
      `battlescope-images: cleanup: ${REFUSED} after the first deletes; 2 planned tags kept (listed above)\n`,
    );
  });
});

describe("cleanup --apply on Docker Hub (emulated) when a delete is refused as a whole", () => {
  const USER = "battlescope-ci";
  const TOKEN = "dckr_pat_cleanup-refused";
  const REPOSITORY = "battlescope/frontend";
  let hub: HubEmulator | undefined;
  let registry: FakeRegistry;
  let intercept: Map<string, () => Response>;

  /** A kept release and an old dev build, each with its arch tags, on the Hub and its registry. */
  function seed(emulator: HubEmulator): void {
    registry.manifests.set(REPOSITORY, new Map());
    emulator.state.repositories[REPOSITORY] = {
      namespace: "battlescope",
      name: "frontend",
      description: "",
      full_description: "",
      is_private: false,
      date_registered: daysAgo(400),
      last_updated: daysAgo(1),
      tags: [],
    };
    for (const [version, age] of [
      ["v3.1.0", 10],
      [DEV, 40],
    ] as const) {
      const image = (arch: string) => ({
        architecture: arch,
        os: "linux",
        digest: digestOf(`${version}-${arch}`),
      });
      const tag = (name: string, digest: string, arches: string[]) => {
        emulator.addTag(REPOSITORY, {
          name,
          digest,
          lastUpdated: daysAgo(age),
          images: arches.map(image),
        });
        registry.manifests.get(REPOSITORY)?.set(digest, { mediaType: INDEX, body: "{}" });
        registry.tag(REPOSITORY, name, digest);
      };
      tag(version, digestOf(version), ["amd64", "arm64"]);
      for (const arch of ["amd64", "arm64"])
        tag(`${version}-${arch}`, digestOf(`${version}/${arch}`), [arch]);
    }
  }

  async function start(options: { tagDeleteRoute?: boolean } = {}): Promise<HubEmulator> {
    hub = await startHubEmulator({ users: { [USER]: TOKEN }, ...options });
    seed(hub);
    return hub;
  }

  beforeEach(() => {
    registry = new FakeRegistry();
    intercept = new Map();
  });
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  const deps = (emulator: HubEmulator): CleanupDeps => ({
    env: { DOCKER_HUB_USERNAME: USER, DOCKER_HUB_TOKEN: TOKEN },
    sleep: async () => {},
    fetch: (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
      const url = String(input);
      if (!url.startsWith(emulator.url)) return registry.fetch(input, init);
      const answer = intercept.get(`${init?.method ?? "GET"} ${new URL(url).pathname}`);
      return answer === undefined ? fetch(url, init) : answer();
    }) as typeof fetch,
  });
  const args = (emulator: HubEmulator) => [
    "--registry",
    "docker.io",
    "--hub-url",
    emulator.url,
    "--service",
    "frontend",
    "--now",
    NOW,
    "--apply",
  ];
  const hubTags = (emulator: HubEmulator) =>
    (emulator.state.repositories[REPOSITORY]?.tags ?? []).map((tag) => tag.name).sort();

  it("deletes the tags through the Hub API, leaves their manifests to the Hub after one refused DELETE, exits 0", async () => {
    const emulator = await start();
    registry.refuseDeletesAfter = 0;
    const run = await cleanup(deps(emulator), ...args(emulator));
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(hubTags(emulator)).toEqual(["v3.1.0", "v3.1.0-amd64", "v3.1.0-arm64"]);
    expect(registry.deletes()).toEqual([`DELETE /v2/${REPOSITORY}/manifests/${digestOf(DEV)}`]);
    const refusal = { answer: "HTTP 405 UNSUPPORTED" };
    expect(applied(run)).toBe(
      [
        ...DEV_TAGS.map((tag) => `deleted ${REPOSITORY}:${tag}`),
        ...DEV_TAGS.map((tag) => refusalLine("docker.io", `${REPOSITORY}:${tag}`, refusal, true)),
        "Deleted 3 tags and 0 manifests. Their manifests stay on Docker Hub, untagged: registry docker.io does not allow deleting by digest (HTTP 405 UNSUPPORTED). Docker Hub gives no blob sizes: space freed is not estimated.\n",
      ].join("\n"),
    );
  });

  it("fails naming the tag delete route when the Hub no longer serves it, and reports nothing as deleted", async () => {
    const emulator = await start({ tagDeleteRoute: false });
    const before = hubTags(emulator);
    const run = await cleanup(deps(emulator), ...args(emulator));
    expect(run.code).toBe(EXIT_USAGE);
    expect(hubTags(emulator)).toEqual(before);
    expect(registry.deletes()).toEqual([]);
    const route = "DELETE /v2/repositories/{namespace}/{repository}/tags/{tag}/";
    expect(applied(run)).toBe(
      `failed  could not delete ${REPOSITORY}:${DEV}: Docker Hub delete tag ${REPOSITORY}:${DEV} failed: HTTP 404 from ${route} without the Hub's "tag not found" (it said: an HTML page titled "404 : Docker"): the Hub may have moved or removed this undocumented route\n` +
        `stopped Docker Hub answered 404 on ${route} for a tag it had just listed (the route may have moved), so nothing else is deleted (not tried: ${REPOSITORY}:${DEV}-amd64, ${REPOSITORY}:${DEV}-arm64)\n` +
        "Deleted nothing of the 3 planned tags: 1 delete failed.\n",
    );
    expect(run.stdout).not.toMatch(/^deleted /m);
    expect(run.stderr).toBe(
      "battlescope-images: cleanup deleted nothing: 1 delete failed (listed above)\n",
    );
  });

  it("reports a tag the Hub answers its own 'tag not found' for as gone, not as deleted", async () => {
    const emulator = await start();
    const path = `/v2/repositories/${REPOSITORY}/tags/${DEV}-arm64/`;
    intercept.set(`DELETE ${path}`, () =>
      Response.json({ message: `tag '${DEV}-arm64' not found`, errinfo: {} }, { status: 404 }),
    );
    const run = await cleanup(deps(emulator), ...args(emulator));
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(applied(run)).toBe(
      `deleted ${REPOSITORY}:${DEV}\ndeleted ${REPOSITORY}:${DEV}-amd64\n` +
        `gone    ${REPOSITORY}:${DEV}-arm64: the Hub no longer had it\n` +
        "Deleted 2 tags and 5 manifests; 1 tag was already gone. Docker Hub gives no blob sizes: space freed is not estimated.\n",
    );
  });
});
