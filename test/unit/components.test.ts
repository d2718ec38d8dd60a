import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { COMPONENT_TYPES, PLATFORMS, RESOURCE_TYPES } from "../../lib/vocabulary";
import { PULL_POLICY } from "../../policy/rules";
import type { ProgramInputs } from "../../program";
import { SERVICE_NAMES } from "../../services/catalog";
import {
  mockRuntime,
  outputValue,
  registryOutputs,
  secretValue,
  sha,
} from "../support/pulumiMocks";
import { freshDatabaseStatus } from "../support/vulnerabilityDatabase";

const runtime = mockRuntime(registryOutputs);
const { recorded } = runtime;

/** An exception for the frontend's images, expiring in 30 days. */
const FRONTEND_EXCEPTION = {
  id: "CVE-2022-30065",
  services: ["frontend"],
  reason: "the frontend never runs busybox awk",
  expires: new Date(Date.now() + 30 * 24 * 60 * 60 * 1000).toISOString().slice(0, 10),
};

const baseConfig: Record<string, string> = {
  version: "v3.1.0",
  sourceRoot: "src",
  registry: "docker.io",
  kubeContext: "prod",
  vulnerabilityDb: "/grype-db",
  vulnerabilityExceptions: JSON.stringify([FRONTEND_EXCEPTION]),
};

/** A kubeconfig with one context, as `kubectl config view --raw` prints it. */
const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
  - name: prod-cluster
    cluster: { server: "https://prod.example:6443" }
users:
  - name: release
    user: { token: not-a-real-token }
contexts:
  - name: prod
    context: { cluster: prod-cluster, user: release }
current-context: prod
`;

/** API servers the program checked, by context. */
const checkedClusters: string[] = [];

function inputs(
  overrides: Partial<ProgramInputs> & { config?: Record<string, string> } = {},
): ProgramInputs {
  const config = { ...baseConfig, ...overrides.config };
  return {
    readConfig: (key) => config[key],
    configKeys: Object.keys(config).map((key) => `battlescope:${key}`),
    secrets: {
      dockerHubUsername: pulumi.secret("release-bot"),
      dockerHubToken: pulumi.secret("dckr_pat_not-a-real-token"),
      kubeconfig: pulumi.secret(KUBECONFIG),
      serviceConfig: pulumi.secret(
        JSON.stringify({
          "search-service": { TYPESENSE_URL: "http://ts", TYPESENSE_API_KEY: "k" },
        }),
      ),
    },
    checkKubernetesApi: async (target) => {
      checkedClusters.push(`${target.context} ${target.server}`);
    },
    listTags: async (repository) =>
      repository.endsWith("/frontend") ? ["v3.2.0", "v3.2", "v3", "latest"] : ["v3.0.0"],
    readPublished: async () => ({ platforms: {} }),
    hashSources: (contextDir, extra) => sha(contextDir + JSON.stringify(extra)),
    gitShortSha: () => "abcdef1",
    checkSigningKey: async () => {},
    readDatabaseStatus: freshDatabaseStatus,
    today: new Date(),
    readSourceFacts: () => ({
      uri: "git+file:///work/project",
      commit: "a".repeat(40),
      dirty: false,
    }),
    projectDir: "/work/project",
    buildContextExists: () => true,
    // The source root stands for the fixtures' copy: their Dockerfiles and CHANGELOG.
    readFile: (file) =>
      file.startsWith("/nowhere/")
        ? undefined
        : fs.readFileSync(
            path.join(
              __dirname,
              "../../fixtures/battlescope",
              path.relative("/work/project/src", file),
            ),
            "utf8",
          ),
    ...overrides,
  };
}

function defined<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`no ${what} was declared`);
  return value;
}

const byType = (type: string) => recorded.filter((resource) => resource.type === type);

describe("the release stack under mocks", () => {
  let program: typeof import("../../program");
  let outputs: Record<string, unknown>;

  beforeAll(async () => {
    program = await import("../../program");
    outputs = await program.declareRelease(inputs());
    await runtime.settled();
  });

  it("declares one component of each kind per image", () => {
    expect(byType("battlescope:release:ServiceRelease")).toHaveLength(9);
    expect(byType("battlescope:images:MultiArchImage")).toHaveLength(9);
    expect(byType("battlescope:hub:DockerHubRepository")).toHaveLength(9);
    expect(byType("battlescope:kubernetes:ServiceDeployment")).toHaveLength(7);
    expect(byType("battlescope:kubernetes:RegistryCredentials")).toHaveLength(1);
    expect(byType("kubernetes:apps/v1:Deployment")).toHaveLength(7);
    expect(byType("kubernetes:core/v1:Service")).toHaveLength(7);
    // The pull secret, and a config Secret per running service with required variables.
    expect(byType("kubernetes:core/v1:Secret")).toHaveLength(6);
    expect(byType("docker-build:index:Image")).toHaveLength(18);
  });

  it("registers exactly the vocabulary's component types and the resource types the policy pack reads", () => {
    const ours = new Set(
      recorded.map((resource) => resource.type).filter((type) => type.includes("battlescope:")),
    );
    expect([...ours].sort()).toEqual(
      [
        ...Object.values(COMPONENT_TYPES),
        RESOURCE_TYPES.hubRepository,
        RESOURCE_TYPES.registryTagSet,
        RESOURCE_TYPES.imageScan,
      ].sort(),
    );
    // The engine types the policy pack's rules look at (no Index: manifest lists are tag sets).
    for (const type of [RESOURCE_TYPES.deployment, RESOURCE_TYPES.image]) {
      expect(byType(type).length).toBeGreaterThan(0);
    }
    expect(byType(RESOURCE_TYPES.index)).toEqual([]);
  });

  it("scans each version's platform images with the stack's gate, each with the exceptions that name it", () => {
    const scans = byType(RESOURCE_TYPES.imageScan);
    expect(scans.map((scan) => scan.name).sort()).toEqual(
      SERVICE_NAMES.map((service) => `${service}-scan`).sort(),
    );
    const frontend = defined(
      scans.find((scan) => scan.name === "frontend-scan"),
      "frontend-scan",
    );
    expect(frontend.inputs).toMatchObject({
      registry: "docker.io",
      repository: "battlescope/frontend",
      service: "frontend",
      version: "v3.1.0",
      failOn: "high",
      database: "/grype-db",
      maxDatabaseAgeHours: 120,
      exceptions: [FRONTEND_EXCEPTION],
      exceptionCount: 1,
    });
    const battle = defined(
      scans.find((scan) => scan.name === "battle-service-scan"),
      "battle-service-scan",
    );
    expect(battle.inputs).toMatchObject({ exceptions: [], exceptionCount: 1 });
  });

  it("builds one image per platform with its arch tags and a registry cache", () => {
    const amd64 = defined(
      recorded.find((r) => r.name === "battle-service-amd64"),
      "battle-service-amd64",
    );
    expect(amd64.type).toBe("docker-build:index:Image");
    expect(amd64.inputs).toMatchObject({
      push: false,
      exports: [
        {
          raw: "type=image,name=docker.io/battlescope/battle-service,push=true,push-by-digest=true,rewrite-timestamp=true",
        },
      ],
      platforms: ["linux/amd64"],
      context: { location: "src/battle-service" },
      buildOnPreview: false,
      buildArgs: { SOURCE_DATE_EPOCH: "0" },
      cacheFrom: [{ registry: { ref: "docker.io/battlescope/battle-service-buildcache:amd64" } }],
      cacheTo: [
        { registry: { ref: "docker.io/battlescope/battle-service-buildcache:amd64", mode: "max" } },
      ],
    });
    // Nothing in the image depends on the version: unchanged sources give the same images.
    expect(Object.keys(amd64.inputs.labels as Record<string, string>)).not.toContain(
      "org.opencontainers.image.version",
    );
    expect((amd64.inputs.labels as Record<string, string>)["org.battlescope.source-hash"]).toMatch(
      /^sha256:[0-9a-f]{64}$/,
    );
    expect(secretValue(amd64.inputs.registries)).toEqual([
      { address: "docker.io", username: "release-bot", password: "dckr_pat_not-a-real-token" },
    ]);
  });

  const setsOf = (prefix: string) =>
    byType("pulumi-nodejs:dynamic/battlescope:RegistryTagSet").filter((r) =>
      r.name.startsWith(prefix),
    );
  const archTargets = (service: string, tags: string[]) =>
    tags.flatMap((tag) =>
      ["amd64", "arm64"].map((arch) => ({
        tag: `${tag}-${arch}`,
        digest: sha(`${service}-${arch}`),
      })),
    );

  it("writes the version's tags create-only: its arch tags and its annotated manifest list", () => {
    expect(byType("docker-build:index:Index")).toEqual([]);
    const [version] = setsOf("battle-service-");
    expect(version?.name).toBe("battle-service-version-tags");
    expect(version?.inputs).toMatchObject({
      registry: "docker.io",
      repository: "battlescope/battle-service",
      createOnly: true,
      tags: [
        ...archTargets("battle-service", ["v3.1.0"]),
        {
          tag: "v3.1.0",
          index: {
            children: ["amd64", "arm64"].map((arch) => ({
              digest: sha(`battle-service-${arch}`),
              os: "linux",
              architecture: arch,
            })),
            annotations: {
              "org.opencontainers.image.title": "battle-service",
              "org.opencontainers.image.version": "v3.1.0",
              "org.opencontainers.image.licenses": "MIT",
            },
          },
        },
      ],
    });
    expect(secretValue(version?.inputs.password)).toBe("dckr_pat_not-a-real-token");
  });

  it("moves the floating tags after the version, as copies of its list and arch manifests", () => {
    const [version, floating] = setsOf("battle-service-");
    const list = (
      defined(version, "version tags").inputs.tags as Array<{ tag: string; index?: unknown }>
    ).find((target) => target.tag === "v3.1.0");
    const listDigest = sha(JSON.stringify(list?.index));
    expect(setsOf("battle-service-").map((r) => r.name)).toEqual([
      "battle-service-version-tags",
      "battle-service-floating-tags",
    ]);
    expect(floating?.inputs).toMatchObject({
      createOnly: false,
      tags: [
        { tag: "v3.1", digest: listDigest },
        { tag: "v3", digest: listDigest },
        { tag: "latest", digest: listDigest },
        ...archTargets("battle-service", ["v3.1", "v3", "latest"]),
      ],
    });
  });

  it("never moves a floating tag below the highest published release", () => {
    const floating = setsOf("frontend-floating-tags")[0];
    const tags = defined(floating, "frontend floating tags").inputs.tags as Array<{ tag: string }>;
    expect(tags.map((target) => target.tag)).toEqual(["v3.1", "v3.1-amd64", "v3.1-arm64"]);
  });

  it("pins each Deployment to the version and manifest list digest, never latest", async () => {
    const deployments = byType("kubernetes:apps/v1:Deployment");
    const releases = outputs.releases as Record<string, { digest: pulumi.Output<string> }>;
    for (const deployment of deployments) {
      const name = (deployment.inputs.metadata as { name: string }).name;
      const spec = (deployment.inputs.spec as { template: { spec: Record<string, unknown> } })
        .template.spec;
      const container = defined(
        (spec.containers as Array<Record<string, unknown>>)[0],
        "container",
      );
      const digest = await outputValue(
        (releases[name] as { digest: pulumi.Output<string> }).digest,
      );
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(container.image).toBe(`docker.io/battlescope/${name}:v3.1.0@${digest}`);
      expect(container.image).not.toContain("latest");
      // The policy pack keeps its own copy of the pull policy: it is the one the stack sets.
      expect(container.imagePullPolicy).toBe(PULL_POLICY);
      expect(spec.imagePullSecrets).toEqual([{ name: "docker-hub-creds" }]);
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
      expect(container.securityContext).toMatchObject({
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
      });
      expect((container.readinessProbe as { httpGet: unknown }).httpGet).toEqual({
        path: "/health",
        port: "http",
      });
      expect((container.livenessProbe as { httpGet: unknown }).httpGet).toEqual({
        path: "/health",
        port: "http",
      });
      expect((deployment.inputs.metadata as { namespace: string }).namespace).toBe("battlescope");
    }
  });

  it("exposes each service's port through a Service", () => {
    const frontend = defined(
      byType("kubernetes:core/v1:Service").find((r) => r.name === "frontend"),
      "frontend Service",
    );
    expect((frontend.inputs.spec as { ports: unknown }).ports).toEqual([
      { name: "http", port: 8080, targetPort: "http", protocol: "TCP" },
    ]);
  });

  it("builds docker-hub-creds as a dockerconfigjson Secret", () => {
    const secret = defined(byType("kubernetes:core/v1:Secret")[0], "Secret");
    expect(secret.inputs.type).toBe("kubernetes.io/dockerconfigjson");
    expect((secret.inputs.metadata as { name: string }).name).toBe("docker-hub-creds");
    const stringData = secretValue(secret.inputs.stringData) as Record<string, string>;
    const payload = JSON.parse(stringData[".dockerconfigjson"] as string);
    expect(payload).toEqual({
      auths: {
        "https://index.docker.io/v1/": {
          username: "release-bot",
          password: "dckr_pat_not-a-real-token",
          auth: Buffer.from("release-bot:dckr_pat_not-a-real-token").toString("base64"),
        },
      },
    });
  });

  it("leaves db-migrator and init without a Deployment", () => {
    const names = byType("kubernetes:apps/v1:Deployment").map((r) => r.name);
    expect(names).not.toContain("db-migrator");
    expect(names).not.toContain("init");
    expect(byType("docker-build:index:Image").map((r) => r.name)).toContain("init-arm64");
  });

  it("declares the services' config Secrets from serviceConfig, as secrets", () => {
    const search = defined(
      byType("kubernetes:core/v1:Secret").find((r) => r.name === "search-service-config"),
      "search-service config Secret",
    );
    expect(search.inputs.metadata).toEqual({
      name: "search-service-config",
      namespace: "battlescope",
    });
    expect(secretValue(search.inputs.stringData)).toEqual({
      TYPESENSE_URL: "http://ts",
      TYPESENSE_API_KEY: "k",
    });
  });

  it("applies to the kubeconfig's chosen context, checked first, with the namespace declared", async () => {
    expect(checkedClusters).toContain("prod https://prod.example:6443");
    const provider = defined(
      recorded.find((r) => r.type === "pulumi:providers:kubernetes"),
      "kubernetes provider",
    );
    expect(provider.inputs.context).toBe("prod");
    expect(secretValue(provider.inputs.kubeconfig)).toBe(KUBECONFIG);
    expect(byType("kubernetes:core/v1:Namespace").map((r) => r.inputs.metadata)).toEqual([
      { name: "battlescope", labels: { "app.kubernetes.io/part-of": "battlescope" } },
    ]);
    expect(outputs.cluster).toEqual({
      context: "prod",
      server: "https://prod.example:6443",
      namespace: "battlescope",
    });
  });

  it.each([
    {
      name: "no kubeconfig for a stack that applies to a cluster",
      change: (base: ProgramInputs): ProgramInputs => ({
        ...base,
        secrets: { ...base.secrets, kubeconfig: undefined },
      }),
      message:
        'missing secret config "battlescope:kubeconfig": required because deploy is true and renderManifestsTo is unset, so the stack applies to a cluster; set it with `pulumi config set --secret battlescope:kubeconfig < kubeconfig.yaml` (or set battlescope:kubeconfigPath, or battlescope:renderManifestsTo to render the manifests to a folder instead)',
    },
    {
      name: "a context the kubeconfig lacks",
      change: (base: ProgramInputs): ProgramInputs =>
        inputs({ config: { kubeContext: "staging" }, secrets: base.secrets }),
      message:
        'invalid config "battlescope:kubeconfig": unknown kubeconfig context "staging"; the kubeconfig has "prod"',
    },
    {
      name: "a kubeconfig file that does not exist",
      change: (base: ProgramInputs): ProgramInputs =>
        inputs({ config: { kubeconfigPath: "/nowhere/kubeconfig" }, secrets: base.secrets }),
      message: 'invalid config "battlescope:kubeconfigPath": /nowhere/kubeconfig does not exist',
    },
    {
      // Docker Hub's credentials stand for registry credentials on docker.io alone: no pull
      // secret (and no push login) from them for another registry.
      name: "a registry other than Docker Hub with only the Hub's credentials",
      change: (): ProgramInputs => inputs({ config: { registry: "127.0.0.1:5000" } }),
      message:
        'missing secret config "battlescope:registryUsername": required because deploy is true and the docker-hub-creds pull secret needs registry credentials; set it with `pulumi config set --secret battlescope:registryUsername <value>`',
    },
    {
      name: "a Docker Hub token that cannot write descriptions",
      change: (base: ProgramInputs): ProgramInputs => ({
        ...base,
        checkHubToken: async () => {
          throw new Error('Docker Hub token of release-bot has the permission "read-write"');
        },
      }),
      message: 'Docker Hub token of release-bot has the permission "read-write"',
    },
    {
      name: "an API server that does not answer",
      change: (base: ProgramInputs): ProgramInputs => ({
        ...base,
        checkKubernetesApi: async () => {
          throw new Error("cannot reach the Kubernetes API server https://prod.example:6443");
        },
      }),
      message: "cannot reach the Kubernetes API server https://prod.example:6443",
    },
  ])("refuses $name before declaring anything", async ({ change, message }) => {
    const before = recorded.length;
    await expect(program.declareRelease(change(inputs()))).rejects.toThrow(message);
    await runtime.settled();
    expect(recorded.length).toBe(before);
  });

  it("makes the builder of `builders` first, and builds each platform on its node's builder", async () => {
    const made: unknown[] = [];
    const before = recorded.length;
    const nodes = JSON.stringify([
      { name: "amd", endpoint: "unix:///run/amd.sock", platforms: ["linux/amd64"] },
      { name: "arm", endpoint: "unix:///run/arm.sock", platforms: ["linux/arm64"] },
    ]);
    await program.declareRelease(
      inputs({
        config: { builders: nodes },
        prepareBuilder: async (builder) => void made.push(builder),
      }),
    );
    await runtime.settled();
    expect(made).toMatchObject([{ name: "battlescope-nodes", platforms: PLATFORMS }]);
    const images = recorded
      .slice(before)
      .filter((r) => r.name === "frontend-amd64" || r.name === "frontend-arm64");
    expect(
      Object.fromEntries(
        images
          .filter((r) => r.type === "docker-build:index:Image")
          .map((r) => [r.name, (r.inputs.builder as { name: string }).name]),
      ),
    ).toEqual({
      "frontend-amd64": "battlescope-nodes-amd",
      "frontend-arm64": "battlescope-nodes-arm",
    });
  });

  it("refuses a tcp node without its certificates before making the builder", async () => {
    let made = 0;
    const nodes = JSON.stringify([
      { name: "amd", endpoint: "unix:///run/amd.sock", platforms: ["linux/amd64"] },
      { name: "arm", endpoint: "tcp://10.0.0.7:1234", platforms: ["linux/arm64"] },
    ]);
    const before = recorded.length;
    await expect(
      program.declareRelease(
        inputs({ config: { builders: nodes }, prepareBuilder: async () => void made++ }),
      ),
    ).rejects.toThrow(
      'missing secret config "battlescope:builderTls.arm": node arm at tcp://10.0.0.7:1234 is reached over mTLS',
    );
    await runtime.settled();
    expect([made, recorded.length]).toEqual([0, before]);
  });

  it("asks the Hub about the token only once the config is valid", async () => {
    let asked = 0;
    const base = inputs({ config: { platforms: '["linux/s390x"]' } });
    await expect(
      program.declareRelease({ ...base, checkHubToken: async () => void asked++ }),
    ).rejects.toThrow('invalid config "battlescope:platforms"');
    expect(asked).toBe(0);
  });

  it("fails before declaring anything on a bad config", async () => {
    const before = recorded.length;
    await expect(
      program.declareRelease(inputs({ config: { platforms: '["linux/s390x"]' } })),
    ).rejects.toThrow(
      'invalid config "battlescope:platforms": "linux/s390x" is not accepted; expected one of linux/amd64, linux/arm64',
    );
    await expect(
      program.declareRelease({ ...inputs(), secrets: { dockerHubUsername: pulumi.output("bot") } }),
    ).rejects.toThrow(
      'missing secret config "battlescope:dockerHubToken": required because publishDescriptions is true, and because deploy is true and the docker-hub-creds pull secret needs registry credentials; set it with `pulumi config set --secret battlescope:dockerHubToken <value>`',
    );
    await expect(
      program.declareRelease(inputs({ buildContextExists: (p) => !p.endsWith("/init") })),
    ).rejects.toThrow(
      'invalid config "battlescope:sourceRoot": "src" has no build context for init (looked for /work/project/src/init/Dockerfile)',
    );
    await runtime.settled();
    expect(recorded.length).toBe(before);
  });
});

describe("signed releases under mocks", () => {
  let program: typeof import("../../program");
  const PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----\nlocal\n-----END PUBLIC KEY-----\n";
  const checked: Array<{ key: string; password: string; publicKey: string }> = [];
  const signing = (
    overrides: Partial<ProgramInputs> = {},
    config: Record<string, string> = {},
  ): ProgramInputs => {
    const base = inputs({ config: { sign: "true", cosignPublicKey: "keys/local.pub", ...config } });
    return {
      ...base,
      secrets: {
        ...base.secrets,
        cosignKey: pulumi.secret("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"),
        cosignPassword: pulumi.secret("local-password"),
      },
      readFile: (file) =>
        file === "/work/project/keys/local.pub" ? PUBLIC_KEY : base.readFile(file),
      checkSigningKey: async (key, publicKey) => {
        checked.push({ key: key.privateKey, password: key.password, publicKey });
      },
      ...overrides,
    };
  };

  beforeAll(async () => {
    program = await import("../../program");
  });

  it.each([
    {
      name: "no signing key",
      change: (base: ProgramInputs): ProgramInputs => ({
        ...base,
        secrets: { ...base.secrets, cosignKey: undefined },
      }),
      message:
        'missing secret config "battlescope:cosignKey": required because sign is true; set it with `pulumi config set --secret battlescope:cosignKey < cosign.key` (the private half of keys/local.pub)',
    },
    {
      name: "no key password",
      change: (base: ProgramInputs): ProgramInputs => ({
        ...base,
        secrets: { ...base.secrets, cosignPassword: undefined },
      }),
      message:
        'missing secret config "battlescope:cosignPassword": required because sign is true (the password of cosignKey); set it with `pulumi config set --secret battlescope:cosignPassword <value>`',
    },
    {
      name: "no public key in the repository",
      change: (base: ProgramInputs): ProgramInputs => ({ ...base, readFile: () => undefined }),
      message:
        'invalid config "battlescope:cosignPublicKey": "keys/local.pub" does not exist; expected the signing key\'s public half, committed in the repository',
    },
    {
      name: "a key that is not the public key's private half",
      change: (base: ProgramInputs): ProgramInputs => ({
        ...base,
        checkSigningKey: async () => {
          throw new Error(
            'invalid secret config "battlescope:cosignKey": it is not the private half of keys/local.pub',
          );
        },
      }),
      message:
        'invalid secret config "battlescope:cosignKey": it is not the private half of keys/local.pub',
    },
  ])("refuses $name before declaring anything", async ({ change, message }) => {
    const before = recorded.length;
    await expect(program.declareRelease(change(signing()))).rejects.toThrow(message);
    await runtime.settled();
    expect(recorded.length).toBe(before);
  });

  it("checks the key against the repository's public key, then attests every release", async () => {
    const before = recorded.length;
    checked.length = 0;
    await program.declareRelease(
      signing({}, { version: "v3.3.0", requireChangelog: "false", transparencyLog: "false" }),
    );
    await runtime.settled();
    expect(checked).toEqual([
      {
        key: "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----",
        password: "local-password",
        publicKey: PUBLIC_KEY,
      },
    ]);
    const attestations = recorded
      .slice(before)
      .filter((r) => r.type === RESOURCE_TYPES.releaseAttestations);
    expect(attestations.map((r) => r.name).sort()).toEqual(
      SERVICE_NAMES.map((service) => `${service}-attestations`).sort(),
    );
    const frontend = defined(
      attestations.find((r) => r.name === "frontend-attestations"),
      "frontend attestations",
    );
    expect(secretValue(frontend.inputs.privateKey)).toBe(
      "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----",
    );
    expect(secretValue(frontend.inputs.keyPassword)).toBe("local-password");
    expect(frontend.inputs).toMatchObject({
      registry: "docker.io",
      repository: "battlescope/frontend",
      version: "v3.3.0",
      transparencyLog: false,
      context: "frontend",
      builder: "buildx://default",
      source: { uri: "git+file:///work/project", commit: "a".repeat(40), dirty: false },
    });
    expect(Object.keys(frontend.inputs.images as Record<string, string>)).toEqual([
      "linux/amd64",
      "linux/arm64",
    ]);
  });
});
