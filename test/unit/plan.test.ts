/**
 * The plan step (release/plan.ts) with plain values: no Pulumi, no mocks, no I/O. Secrets are
 * strings here; the program hands the same functions Outputs.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../lib/config";
import type { PublishedRelease } from "../../lib/releaseGuard";
import {
  buildLocation,
  planRelease,
  publishedToRead,
  type RegistryFacts,
  type ReleaseFacts,
  type ReleasePlan,
  ReleaseRefusedError,
  registryLogin,
  type StackSecrets,
} from "../../release/plan";
import { SERVICES } from "../../services/catalog";
import { exactly } from "../support/exactly";

const root = path.resolve(__dirname, "../..");
const FIXTURES = path.join(root, "fixtures/battlescope");
const DOCKERFILES = Object.fromEntries(
  SERVICES.map((service) => [
    service.name,
    fs.readFileSync(path.join(FIXTURES, service.buildContext, "Dockerfile"), "utf8"),
  ]),
);
const CHANGELOG = fs.readFileSync(path.join(FIXTURES, "CHANGELOG.md"), "utf8");

const HUB = { dockerHubUsername: "hub-bot", dockerHubToken: "hub-token" };
const REGISTRY = { registryUsername: "registry-bot", registryPassword: "registry-pw" };
const LOCAL = "127.0.0.1:5000";
const digest = (char: string) => `sha256:${char.repeat(64)}`;
const HASH = digest("1");

interface Outcome {
  readonly name: string;
  readonly change: Change;
  readonly check: (plan: ReleasePlan<string>) => void;
}

interface Refusal {
  readonly name: string;
  readonly change: Change;
  readonly error: typeof ConfigError | typeof ReleaseRefusedError;
  readonly message: string;
}

interface Change {
  /** Config keys to set; undefined unsets one. */
  readonly config?: Readonly<Record<string, string | undefined>>;
  readonly secrets?: StackSecrets<string>;
  readonly sources?: Partial<ReleaseFacts<string>["sources"]>;
  readonly registry?: Record<string, Partial<RegistryFacts>>;
  readonly cluster?: ReleaseFacts<string>["cluster"];
  readonly provenance?: ReleaseFacts<string>["provenance"];
}

/** A stack at v3.1.0 that renders its manifests, with the Hub's credentials, nothing published. */
function facts(change: Change = {}): ReleaseFacts<string> {
  const config: Record<string, string | undefined> = {
    version: "v3.1.0",
    sourceRoot: "src",
    renderManifestsTo: "manifests",
    ...change.config,
  };
  return {
    today: new Date(),
    vulnerabilityDb: "/grype-db",
    readConfig: (key) => config[key],
    configKeys: Object.entries(config).flatMap(([key, value]) =>
      value === undefined ? [] : [`battlescope:${key}`],
    ),
    projectDir: "/project",
    secrets: change.secrets ?? HUB,
    sources: { dockerfiles: DOCKERFILES, changelog: CHANGELOG, ...change.sources },
    registry: Object.fromEntries(
      SERVICES.map((service) => [
        service.name,
        { tags: [], sourceHash: HASH, published: {}, ...change.registry?.[service.name] },
      ]),
    ),
    ...(change.cluster === undefined ? {} : { cluster: change.cluster }),
    ...(change.provenance === undefined ? {} : { provenance: change.provenance }),
  };
}

/** What the registry holds of a release this stack built from `hash`: amd64 `char`, arm64 `f`. */
function published(hash: string, char: string): PublishedRelease {
  return {
    indexDigest: digest("0"),
    indexPlatforms: { amd64: digest(char), arm64: digest("f") },
    platforms: {
      amd64: { digest: digest(char), sourceHash: hash },
      arm64: { digest: digest("f"), sourceHash: hash },
    },
  };
}
const RELEASED = ["v3.0.0", "v3.0.0-amd64", "v3.0.0-arm64", "v3.0", "v3", "latest"];

const service = (plan: ReleasePlan<string>, name: string) => {
  const found = plan.services.find((entry) => entry.service.name === name);
  if (found === undefined) throw new Error(`no plan for ${name}`);
  return found;
};

describe("planRelease: each image's version, tags and reuse", () => {
  it.each<Outcome>([
    {
      name: "a first release: every image at the stack's version, every tag new",
      change: {},
      check: (plan: ReleasePlan<string>) => {
        expect(plan.services.map((entry) => entry.version)).toEqual(SERVICES.map(() => "v3.1.0"));
        expect(service(plan, "frontend").tagPlan.manifestTags).toEqual([
          "v3.1.0",
          "v3.1",
          "v3",
          "latest",
        ]);
        expect(service(plan, "frontend").context).toBe("src/frontend");
        expect(service(plan, "frontend").reuse).toBeUndefined();
      },
    },
    {
      name: "a per-image version",
      change: { config: { versions: '{"frontend":"v3.0.2"}' } },
      check: (plan: ReleasePlan<string>) => {
        expect(service(plan, "frontend").version).toBe("v3.0.2");
        expect(service(plan, "init").version).toBe("v3.1.0");
      },
    },
    {
      name: "the dev channel: the next patch after every image's releases, at the source's commit",
      change: {
        config: { version: "dev", moveFloatingTags: "false" },
        sources: { gitShortSha: "abcdef1" },
        registry: { init: { tags: ["v3.0.0", "v3.1.0"] } },
      },
      check: (plan: ReleasePlan<string>) => {
        expect(new Set(plan.services.map((entry) => entry.version))).toEqual(
          new Set(["v3.1.1-dev-abcdef1"]),
        );
        expect(service(plan, "frontend").tagPlan.manifestTags).toEqual(["v3.1.1-dev-abcdef1"]);
      },
    },
    {
      name: "sources unchanged since the release below: its images get the new version",
      change: {
        registry: {
          frontend: { tags: RELEASED, published: { "v3.0.0": published(HASH, "a") } },
        },
      },
      check: (plan: ReleasePlan<string>) => {
        expect(service(plan, "frontend").reuse).toEqual({
          from: "v3.0.0",
          platforms: { amd64: digest("a"), arm64: digest("f") },
        });
        expect(service(plan, "frontend").tagPlan.reusesFrom).toBe("v3.0.0");
        expect(service(plan, "init").reuse).toBeUndefined();
      },
    },
    {
      name: "sources changed since the release below: built anew",
      change: {
        registry: {
          frontend: {
            tags: RELEASED,
            published: { "v3.0.0": published(digest("9"), "a") },
          },
        },
      },
      check: (plan: ReleasePlan<string>) => {
        expect(service(plan, "frontend").reuse).toBeUndefined();
      },
    },
    {
      name: "the same version again from the same sources: nothing to refuse",
      change: {
        registry: {
          frontend: {
            tags: ["v3.1.0", "v3.1.0-amd64", "v3.1.0-arm64"],
            published: { "v3.1.0": published(HASH, "b") },
          },
        },
      },
      check: (plan: ReleasePlan<string>) => {
        expect(service(plan, "frontend").existingTags).toContain("v3.1.0");
      },
    },
  ])("$name", ({ change, check }) => {
    check(planRelease(facts(change)));
  });
});

describe("planRelease: refusals, with the program's messages", () => {
  const CREDENTIALS_NEEDED =
    "required because deploy is true and the docker-hub-creds pull secret needs registry credentials";
  it.each<Refusal>([
    {
      name: "a version tag holding images of other sources",
      change: {
        registry: {
          frontend: {
            tags: ["v3.1.0-amd64"],
            published: {
              "v3.1.0": { platforms: { amd64: { digest: digest("c"), sourceHash: digest("9") } } },
            },
          },
        },
      },
      error: ReleaseRefusedError,
      message: `refusing to overwrite docker.io/battlescope/frontend:v3.1.0-amd64: the registry already holds ${digest("c")}, built from other sources (source hash ${digest("9")}, these sources are ${HASH}); version tags are create-only: release these sources as v3.1.1`,
    },
    {
      name: "a platform that does not exist",
      change: { config: { platforms: '["linux/s390x"]' } },
      error: ConfigError,
      message:
        'invalid config "battlescope:platforms": "linux/s390x" is not accepted; expected one of linux/amd64, linux/arm64',
    },
    {
      name: "an image without a build context",
      change: { sources: { dockerfiles: { ...DOCKERFILES, init: undefined } } },
      error: ConfigError,
      message:
        'invalid config "battlescope:sourceRoot": "src" has no build context for init (looked for /project/src/init/Dockerfile)',
    },
    {
      name: "a Dockerfile that runs as root",
      change: { sources: { dockerfiles: { ...DOCKERFILES, init: "FROM busybox:1.36\n" } } },
      error: ConfigError,
      message: "/project/src/init/Dockerfile:1: non-root-user:",
    },
    {
      name: "a stable release without a CHANGELOG",
      change: { sources: { changelog: undefined } },
      error: ConfigError,
      message: "/project/src/CHANGELOG.md: changelog: not found; a stable release (v3.1.0)",
    },
    {
      name: "another registry with only Docker Hub's credentials (they stand in on docker.io alone)",
      change: { config: { registry: LOCAL } },
      error: ConfigError,
      message: `missing secret config "battlescope:registryUsername": ${CREDENTIALS_NEEDED}`,
    },
    {
      name: "another registry with a username and no password",
      change: {
        config: { registry: LOCAL },
        secrets: { ...HUB, registryUsername: "registry-bot" },
      },
      error: ConfigError,
      message: `missing secret config "battlescope:registryPassword": ${CREDENTIALS_NEEDED}`,
    },
    {
      name: "a pull secret account with a username and no password",
      change: { secrets: { ...HUB, pullSecretUsername: "pull-bot" } },
      error: ConfigError,
      message:
        'missing secret config "battlescope:pullSecretPassword": required because pullSecretUsername is set (the docker-hub-creds pull secret\'s account needs both); set it with `pulumi config set --secret battlescope:pullSecretPassword <value>`',
    },
    {
      name: "a pull secret account with a password and no username",
      change: { secrets: { ...HUB, pullSecretPassword: "pull-token" } },
      error: ConfigError,
      message:
        'missing secret config "battlescope:pullSecretUsername": required because pullSecretPassword is set (the docker-hub-creds pull secret\'s account needs both); set it with `pulumi config set --secret battlescope:pullSecretUsername <value>`',
    },
    {
      name: "Docker Hub without any credentials",
      change: { config: { publishDescriptions: "false" }, secrets: {} },
      error: ConfigError,
      message: `missing secret config "battlescope:dockerHubUsername": ${CREDENTIALS_NEEDED}`,
    },
    {
      name: "the dev channel outside a git checkout",
      change: { config: { version: "dev" } },
      error: ConfigError,
      message:
        'invalid config "battlescope:version": "dev" needs the source root /project/src to be a git checkout with a commit',
    },
    {
      name: "Docker Hub without credentials on a stack that publishes descriptions: one problem per secret",
      change: { secrets: {} },
      error: ConfigError,
      message: [
        "invalid stack config:",
        '  - missing secret config "battlescope:dockerHubToken": required because publishDescriptions is true; set it with `pulumi config set --secret battlescope:dockerHubToken <value>`',
        '  - missing secret config "battlescope:dockerHubUsername": required because publishDescriptions is true, and because deploy is true and the docker-hub-creds pull secret needs registry credentials; set it with `pulumi config set --secret battlescope:dockerHubUsername <value>`',
      ].join("\n"),
    },
    {
      name: "signing without a key",
      change: { config: { sign: "true" }, secrets: { ...HUB, cosignPassword: "pw" } },
      error: ConfigError,
      message: 'missing secret config "battlescope:cosignKey": required because sign is true',
    },
  ])("refuses $name", ({ change, error, message }) => {
    expect(() => planRelease(facts(change))).toThrow(error);
    expect(() => planRelease(facts(change))).toThrow(message);
  });
});

describe("planRelease: a problem of several services told once", () => {
  const NO_CONTEXTS = Object.fromEntries(SERVICES.map((entry) => [entry.name, undefined]));
  it.each<{ name: string; change: Change; message: string }>([
    {
      name: "a source root without any build context: one problem naming the nine",
      change: { sources: { dockerfiles: NO_CONTEXTS } },
      message:
        'invalid config "battlescope:sourceRoot": "src" has no build context for ingestion-service, enrichment-service, battle-service, search-service, notification-service, frontend-bff, frontend, db-migrator and init (looked for /project/src/<service>/Dockerfile)',
    },
    {
      name: "two Dockerfiles that break the same rules on the same lines",
      change: {
        sources: {
          dockerfiles: {
            ...DOCKERFILES,
            "db-migrator": "FROM busybox:1.36\n",
            init: "FROM busybox:1.36\n",
          },
        },
      },
      message: [
        "invalid stack config:",
        "  - /project/src/<service>/Dockerfile:1: multi-stage: only one stage (one FROM); build in a first stage (FROM <image>:<version> AS build) and COPY --from=build only what the image runs into a final stage (<service>: db-migrator and init)",
        "  - /project/src/<service>/Dockerfile:1: non-root-user: the final stage sets no USER, so the container runs as root; add a non-root USER (e.g. USER 10001:10001) after its last step that needs root (<service>: db-migrator and init)",
      ].join("\n"),
    },
    {
      name: "Dockerfiles that break a rule on different lines: each told",
      change: {
        sources: {
          dockerfiles: {
            ...DOCKERFILES,
            frontend: "FROM busybox:1.36 AS build\nFROM busybox:1.36\n",
            init: "FROM busybox:1.36 AS build\n\nFROM busybox:1.36\n",
          },
        },
      },
      message: [
        "invalid stack config:",
        "  - /project/src/frontend/Dockerfile:2: non-root-user: the final stage sets no USER, so the container runs as root; add a non-root USER (e.g. USER 10001:10001) after its last step that needs root",
        "  - /project/src/init/Dockerfile:3: non-root-user: the final stage sets no USER, so the container runs as root; add a non-root USER (e.g. USER 10001:10001) after its last step that needs root",
      ].join("\n"),
    },
  ])("$name", ({ change, message }) => {
    expect(() => planRelease(facts(change))).toThrow(exactly(message));
  });
});

describe("buildLocation: what BuildKit is given, the same in every checkout", () => {
  it.each([
    {
      name: "inside the project",
      context: "/ck/a/fixtures/frontend",
      expected: "fixtures/frontend",
    },
    { name: "the project itself", context: "/ck/a", expected: "/ck/a" },
    { name: "outside the project", context: "/tmp/copy/frontend", expected: "/tmp/copy/frontend" },
    {
      name: "a sibling whose name starts with the project's",
      context: "/ck/ab/x",
      expected: "/ck/ab/x",
    },
    {
      name: "a folder named like a parent",
      context: "/ck/a/..x/frontend",
      expected: "..x/frontend",
    },
  ])("$name", ({ context, expected }) => {
    expect(buildLocation(context, "/ck/a")).toBe(expected);
  });

  it("is the same for one commit in two checkouts", () => {
    const contexts = (projectDir: string) =>
      planRelease({ ...facts(), projectDir }).services.map((entry) => entry.context);
    expect(contexts("/home/one/repo")).toEqual(contexts("/runner/work/repo/repo"));
    expect(contexts("/home/one/repo")).toContain("src/frontend");
  });

  it("stays absolute for an engine working in another folder (an inline stack's work dir)", () => {
    const plan = planRelease({ ...facts(), projectDir: "/repo", engineDir: "/tmp/stack-work" });
    expect(plan.services.map((entry) => entry.context)).toContain("/repo/src/frontend");
  });
});

describe("registryLogin: one rule for the push, the pull secret and the registry client", () => {
  it.each([
    {
      name: "Docker Hub with its own credentials",
      registry: "docker.io",
      secrets: HUB,
      login: { address: "docker.io", username: "hub-bot", password: "hub-token" },
    },
    {
      name: "Docker Hub with registry credentials too: those win",
      registry: "docker.io",
      secrets: { ...HUB, ...REGISTRY },
      login: { address: "docker.io", username: "registry-bot", password: "registry-pw" },
    },
    {
      name: "Docker Hub with a registry username: the Hub's token stands in for its password",
      registry: "docker.io",
      secrets: { ...HUB, registryUsername: "registry-bot" },
      login: { address: "docker.io", username: "registry-bot", password: "hub-token" },
    },
    {
      name: "another registry with its credentials",
      registry: LOCAL,
      secrets: { ...HUB, ...REGISTRY },
      login: { address: LOCAL, username: "registry-bot", password: "registry-pw" },
    },
    {
      name: "another registry with only Docker Hub's credentials: none",
      registry: LOCAL,
      secrets: HUB,
      login: undefined,
    },
    {
      name: "another registry with a username alone: none",
      registry: LOCAL,
      secrets: { registryUsername: "registry-bot", dockerHubToken: "hub-token" },
      login: undefined,
    },
  ])("$name", ({ registry, secrets, login }) => {
    expect(registryLogin(registry, secrets)).toEqual(login);
  });
});

/** The UTC day `offset` days from now, as exceptions write it. */
const dayFromNow = (offset: number) =>
  new Date(Date.now() + offset * 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
const SOON_EXCEPTION = {
  id: "CVE-2021-42374",
  reason: "no image decompresses LZMA input",
  expires: dayFromNow(3),
};
const EXPIRED_EXCEPTION = {
  id: "CVE-2022-30065",
  services: ["frontend"],
  reason: "the frontend never runs busybox awk",
  expires: dayFromNow(-1),
};

describe("planRelease: the settings every image shares", () => {
  it.each<Outcome>([
    {
      name: "Docker Hub: the Hub's credentials push, fill the pull secret and write the pages",
      change: {},
      check: (plan: ReleasePlan<string>) => {
        expect(plan.login).toEqual({
          address: "docker.io",
          username: "hub-bot",
          password: "hub-token",
        });
        expect(plan.deployment?.pullSecret).toEqual(plan.login);
        expect(plan.dockerHub).toEqual({
          url: "https://hub.docker.com",
          username: "hub-bot",
          token: "hub-token",
        });
      },
    },
    {
      name: "another registry: its credentials push and pull, the Hub's write the pages only",
      change: { config: { registry: LOCAL }, secrets: { ...HUB, ...REGISTRY } },
      check: (plan: ReleasePlan<string>) => {
        expect(plan.login).toEqual({
          address: LOCAL,
          username: "registry-bot",
          password: "registry-pw",
        });
        expect(plan.deployment?.pullSecret).toEqual(plan.login);
        expect(plan.dockerHub?.username).toBe("hub-bot");
      },
    },
    {
      name: "a pull secret account of its own: the Deployments pull with it, the push keeps the push login",
      change: {
        config: { registry: LOCAL },
        secrets: {
          ...HUB,
          ...REGISTRY,
          pullSecretUsername: "pull-bot",
          pullSecretPassword: "pull-pw",
        },
      },
      check: (plan: ReleasePlan<string>) => {
        expect(plan.login?.username).toBe("registry-bot");
        expect(plan.deployment?.pullSecret).toEqual({
          address: LOCAL,
          username: "pull-bot",
          password: "pull-pw",
        });
      },
    },
    {
      name: "the vulnerability gate: the database the read step found, failOn, every exception, a warning for each that expired or expires within 14 days",
      change: {
        config: {
          failOn: "critical",
          vulnerabilityExceptions: JSON.stringify([SOON_EXCEPTION, EXPIRED_EXCEPTION]),
        },
      },
      check: (plan: ReleasePlan<string>) => {
        expect(plan.scan).toEqual({
          failOn: "critical",
          database: "/grype-db",
          maxDatabaseAgeHours: 120,
          exceptions: [SOON_EXCEPTION, EXPIRED_EXCEPTION],
          warnings: [
            `vulnerability exception for CVE-2022-30065 (frontend) expired on ${dayFromNow(-1)} and no longer applies: remove battlescope:vulnerabilityExceptions[1], or renew it with a new expiry if its reason still holds`,
            `vulnerability exception for CVE-2021-42374 expires ${dayFromNow(3)} (in 3 days): fix the finding, or renew battlescope:vulnerabilityExceptions[0] with a new expiry if its reason still holds`,
          ],
        });
      },
    },
    {
      name: "a stack that does not scan: no gate",
      change: { config: { scan: "false" } },
      check: (plan: ReleasePlan<string>) => {
        expect(plan.scan).toBeUndefined();
      },
    },
    {
      name: "another registry with only the Hub's credentials, deploying nothing: no login at all",
      change: { config: { registry: LOCAL, deploy: "false" } },
      check: (plan: ReleasePlan<string>) => {
        expect(plan.login).toBeUndefined();
        expect(plan.deployment).toBeUndefined();
      },
    },
    {
      name: "rendered manifests, in a folder of the project",
      change: { config: { publishDescriptions: "false", healthPaths: '{"frontend":"/healthz"}' } },
      check: (plan: ReleasePlan<string>) => {
        expect(plan.dockerHub).toBeUndefined();
        expect(plan.deployment).toMatchObject({
          namespace: "battlescope",
          replicas: 2,
          rolloutTimeoutSeconds: 300,
          target: { kind: "render", manifestsDir: "/project/manifests" },
        });
        expect(plan.deployment?.healthPaths.frontend).toBe("/healthz");
      },
    },
    {
      name: "a cluster, its kubeconfig as the read step found it",
      change: {
        config: { renderManifestsTo: undefined },
        cluster: { kubeconfig: "apiVersion: v1", context: "prod", server: "https://prod:6443" },
        secrets: { ...HUB, serviceConfig: "{}" },
      },
      check: (plan: ReleasePlan<string>) => {
        expect(plan.deployment?.target).toEqual({
          kind: "cluster",
          kubeconfig: "apiVersion: v1",
          context: "prod",
          server: "https://prod:6443",
        });
        expect(plan.deployment?.serviceConfig).toBe("{}");
      },
    },
    {
      name: "signed releases: the key, the log and the provenance's source and builder",
      change: {
        config: { sign: "true", transparencyLog: "false", builder: "battlescope" },
        secrets: { ...HUB, cosignKey: "key", cosignPassword: "pw" },
        sources: { publicKey: "-----BEGIN PUBLIC KEY-----" },
        provenance: { uri: "git+file:///project", commit: "a".repeat(40), dirty: false },
      },
      check: (plan: ReleasePlan<string>) => {
        expect(plan.builder).toBe("battlescope");
        expect(plan.signing).toEqual({
          privateKey: "key",
          keyPassword: "pw",
          transparencyLog: false,
          source: { uri: "git+file:///project", commit: "a".repeat(40), dirty: false },
          builder: "buildx://battlescope",
        });
      },
    },
  ])("$name", ({ change, check }) => {
    check(planRelease(facts(change)));
  });
});

describe("publishedToRead: what the registry is asked before the plan", () => {
  it.each([
    { name: "nothing published", tags: [], read: [] },
    { name: "a release below", tags: RELEASED, read: ["v3.0.0"] },
    { name: "the version's arch tag alone", tags: ["v3.1.0-amd64"], read: ["v3.1.0"] },
    {
      name: "the version and a release below",
      tags: [...RELEASED, "v3.1.0"],
      read: ["v3.1.0", "v3.0.0"],
    },
    { name: "only releases above", tags: ["v3.2.0"], read: [] },
  ])("$name", ({ tags, read }) => {
    expect(publishedToRead("v3.1.0", tags)).toEqual(read);
  });
});

describe("the plan step is pure", () => {
  /** release/plan.ts and every project file it imports, through relative imports. */
  function imports(file: string, seen = new Set<string>()): Set<string> {
    if (seen.has(file)) return seen;
    seen.add(file);
    const text = fs.readFileSync(path.join(root, file), "utf8");
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!fileName.startsWith(".")) {
        seen.add(fileName);
        continue;
      }
      imports(path.join(path.dirname(file), `${fileName}.ts`), seen);
    }
    return seen;
  }

  it("imports nothing from Pulumi, the clients or the components, even indirectly", () => {
    const reached = [...imports("release/plan.ts")];
    expect(reached.filter((name) => name.startsWith("@pulumi/"))).toEqual([]);
    expect(
      reached.filter((name) => name.startsWith("clients/") || name.startsWith("components/")),
    ).toEqual([]);
    expect(reached.filter((name) => /^node:(fs|child_process|net|http|https)$/.test(name))).toEqual(
      [],
    );
  });
});
