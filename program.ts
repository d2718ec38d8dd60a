import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { readBuildContext } from "./clients/buildContext";
import { dockerConfigCredentials } from "./clients/dockerConfig";
import { assertTokenCanWrite, DEFAULT_HUB_URL, DockerHubClient } from "./clients/dockerHub";
import {
  checkReachable,
  expandPath,
  KubeconfigError,
  type KubeTarget,
  resolveKubeTarget,
} from "./clients/kubernetes";
import { OciRegistryClient } from "./clients/ociRegistry";
import { readPublishedRelease } from "./clients/publishedRelease";
import { checkSigningKey, readSourceFacts, type SigningKey } from "./clients/signing";
import type { RegistryLogin } from "./components/multiArchImage";
import { PULL_SECRET_NAME, RegistryCredentials } from "./components/registryCredentials";
import {
  type DeploymentSettings,
  type DockerHubSettings,
  ServiceRelease,
  type SigningSettings,
} from "./components/serviceRelease";
import type { SourceFacts } from "./lib/attestation";
import { CHANGELOG_FILE, checkChangelog } from "./lib/changelog";
import {
  CONFIG_NAMESPACE,
  ConfigError,
  type ConfigReader,
  DEFAULT_COSIGN_PUBLIC_KEY,
  DEV_CHANNEL,
  loadStackConfig,
  platformArchitecture,
  probedPaths,
  releasedServices,
  type StackConfig,
  serviceVersion,
} from "./lib/config";
import { checkDockerfile, formatViolation } from "./lib/dockerfileRules";
import {
  guardVersion,
  highestReleaseBelow,
  type PublishedRelease,
  type Reuse,
  reusableRelease,
  sourceHash,
} from "./lib/releaseGuard";
import { describePlan } from "./lib/tagPlan";
import { type Architecture, devVersion } from "./lib/versions";
import { SERVICES, type ServiceImage } from "./services/catalog";

/** What the program reads from the world; tests give their own. */
export interface ProgramInputs {
  readonly readConfig: ConfigReader;
  /** Secret config values, absent when unset. */
  readonly secrets: {
    readonly dockerHubUsername?: pulumi.Output<string>;
    readonly dockerHubToken?: pulumi.Output<string>;
    readonly registryUsername?: pulumi.Output<string>;
    readonly registryPassword?: pulumi.Output<string>;
    /** The target cluster's kubeconfig (its contents), unless kubeconfigPath names a file. */
    readonly kubeconfig?: pulumi.Output<string>;
    /** Values of the services' required variables: `{"<service>": {"<NAME>": "<value>"}}`. */
    readonly serviceConfig?: pulumi.Output<string>;
    /** The encrypted cosign private key (`cosign.key`'s contents) and its password. */
    readonly cosignKey?: pulumi.Output<string>;
    readonly cosignPassword?: pulumi.Output<string>;
  };
  /**
   * Fails unless the key opens with the password and is the private half of the public key
   * (PEM text); the messages name the config keys.
   */
  readonly checkSigningKey: (key: SigningKey, publicKey: string) => Promise<void>;
  /** Where the source root's files come from (its git commit and remote), for the provenance. */
  readonly readSourceFacts: (sourceRoot: string) => SourceFacts;
  /** Fails unless the chosen kubeconfig context's API server answers. */
  readonly checkKubernetesApi: (target: KubeTarget, configKey: string) => Promise<void>;
  /** Fails when the Docker Hub token cannot write descriptions (where the Hub tells). */
  readonly checkHubToken?: () => Promise<void>;
  /** Tags each repository already holds (`<org>/<service>`), as the registry lists them. */
  readonly listTags: (repository: string) => Promise<string[]>;
  /** What the registry holds under a version (`<org>/<service>`), read before anything is built. */
  readonly readPublished: (
    repository: string,
    version: string,
    architectures: readonly Architecture[],
  ) => Promise<PublishedRelease>;
  /** The hash of a build context's files and of the other inputs that decide the image. */
  readonly hashSources: (contextDir: string, extra: Readonly<Record<string, string>>) => string;
  /** The source root's git short sha, for dev versions; undefined outside a git checkout. */
  readonly gitShortSha: (sourceRoot: string) => string | undefined;
  /** Directory relative config paths are resolved against (the project root). */
  readonly projectDir: string;
  readonly buildContextExists: (contextPath: string) => boolean;
  /** A file's text, undefined when it does not exist: each Dockerfile and the source root's CHANGELOG. */
  readonly readFile: (file: string) => string | undefined;
}

export interface ReleaseSummary {
  readonly version: string;
  readonly ref: pulumi.Output<string>;
  readonly digest: pulumi.Output<string>;
  readonly tags: readonly string[];
  readonly platforms: readonly string[];
  readonly floatingTagMoves: readonly string[];
}

/** A release that would overwrite a version tag: refused before anything is built or pushed. */
export class ReleaseRefusedError extends Error {
  constructor(readonly conflicts: readonly string[]) {
    super(conflicts.join("\n"));
    this.name = "ReleaseRefusedError";
  }
}

function secretMissing(key: string, why: string): string {
  return `missing secret config "${CONFIG_NAMESPACE}:${key}": required because ${why}; set it with \`pulumi config set --secret ${CONFIG_NAMESPACE}:${key} <value>\``;
}

/** Secrets and paths that config alone cannot check, all reported at once. */
function checkInputs(
  config: StackConfig,
  inputs: ProgramInputs,
  sourceRoot: string,
  devSha: string | undefined,
): void {
  const { secrets } = inputs;
  const problems: string[] = [];
  const services = releasedServices(config);
  for (const service of services) {
    const context = path.join(sourceRoot, service.buildContext);
    if (!inputs.buildContextExists(context)) {
      problems.push(
        `invalid config "${CONFIG_NAMESPACE}:sourceRoot": ${JSON.stringify(config.sourceRoot)} has no build context for ${service.name} (looked for ${path.join(context, "Dockerfile")})`,
      );
    } else {
      // The image rules (docs/rules.md#image-rules), one line per violation with its file and line.
      const dockerfile = path.join(context, "Dockerfile");
      const text = inputs.readFile(dockerfile);
      if (text !== undefined)
        problems.push(...checkDockerfile(dockerfile, text).map(formatViolation));
    }
  }
  if (config.requireChangelog) {
    const changelog = path.join(sourceRoot, CHANGELOG_FILE);
    const versions = services.map((service) => serviceVersion(config, service.name));
    problems.push(...checkChangelog(changelog, inputs.readFile(changelog), versions));
  }
  if (config.publishDescriptions && secrets.dockerHubToken === undefined) {
    problems.push(secretMissing("dockerHubToken", "publishDescriptions is true"));
  }
  if (config.publishDescriptions && secrets.dockerHubUsername === undefined) {
    problems.push(secretMissing("dockerHubUsername", "publishDescriptions is true"));
  }
  const pullUsername = secrets.registryUsername ?? secrets.dockerHubUsername;
  const pullPassword = secrets.registryPassword ?? secrets.dockerHubToken;
  if (config.deploy && (pullUsername === undefined || pullPassword === undefined)) {
    problems.push(
      secretMissing(
        secrets.registryUsername === undefined ? "dockerHubUsername" : "registryPassword",
        `deploy is true and the ${PULL_SECRET_NAME} pull secret needs registry credentials`,
      ),
    );
  }
  if (config.sign) {
    if (secrets.cosignKey === undefined) {
      problems.push(
        `missing secret config "${CONFIG_NAMESPACE}:cosignKey": required because sign is true; set it with \`pulumi config set --secret ${CONFIG_NAMESPACE}:cosignKey < cosign.key\` (the private half of ${config.cosignPublicKey})`,
      );
    }
    if (secrets.cosignPassword === undefined) {
      problems.push(secretMissing("cosignPassword", "sign is true (the password of cosignKey)"));
    }
    if (inputs.readFile(path.resolve(inputs.projectDir, config.cosignPublicKey)) === undefined) {
      problems.push(
        `invalid config "${CONFIG_NAMESPACE}:cosignPublicKey": ${JSON.stringify(config.cosignPublicKey)} does not exist; expected the signing key's public half, committed in the repository`,
      );
    }
  }
  if (config.version === DEV_CHANNEL && devSha === undefined) {
    problems.push(
      `invalid config "${CONFIG_NAMESPACE}:version": "${DEV_CHANNEL}" needs the source root ${sourceRoot} to be a git checkout with a commit`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

interface PlannedService {
  readonly service: ServiceImage;
  readonly version: string;
  readonly existingTags: readonly string[];
  readonly sourceHash: string;
  readonly reuse?: Reuse;
}

/**
 * Reads the registry and decides each image's version before any resource exists: published
 * tags feed the tag plans, and a version tag holding other content refuses the whole release.
 */
async function planServices(
  config: StackConfig,
  inputs: ProgramInputs,
  sourceRoot: string,
  devSha: string | undefined,
): Promise<PlannedService[]> {
  const architectures = config.platforms.map(platformArchitecture);
  const services = releasedServices(config);
  const tagsByService = await Promise.all(
    services.map((service) => inputs.listTags(`${config.organization}/${service.name}`)),
  );
  const devChannelVersion =
    devSha === undefined ? undefined : devVersion(tagsByService.flat(), devSha);

  const planned = await Promise.all(
    services.map(async (service, i): Promise<PlannedService & { conflict?: string }> => {
      const existingTags = tagsByService[i] ?? [];
      const configured = serviceVersion(config, service.name);
      const version = configured === DEV_CHANNEL ? (devChannelVersion as string) : configured;
      const hash = inputs.hashSources(path.join(sourceRoot, service.buildContext), {
        platforms: config.platforms.join(","),
      });
      const mentioned = existingTags.some(
        (tag) => tag === version || tag.startsWith(`${version}-`),
      );
      const published: PublishedRelease = mentioned
        ? await inputs.readPublished(
            `${config.organization}/${service.name}`,
            version,
            architectures,
          )
        : { platforms: {} };
      const decision = guardVersion({
        repository: `${config.registry}/${config.organization}/${service.name}`,
        version,
        architectures,
        sourceHash: hash,
        published,
        existingTags,
      });
      if (decision.kind === "conflict") {
        return { service, version, existingTags, sourceHash: hash, conflict: decision.message };
      }
      // The highest release below this version, by its tags: the same images when its sources
      // are these. Lower, so a re-run of this release finds the same one and changes nothing.
      const below = highestReleaseBelow(existingTags, version);
      const reuse =
        below === undefined
          ? undefined
          : reusableRelease({
              architectures,
              sourceHash: hash,
              previous: {
                version: below,
                published: await inputs.readPublished(
                  `${config.organization}/${service.name}`,
                  below,
                  architectures,
                ),
              },
            });
      return {
        service,
        version,
        existingTags,
        sourceHash: hash,
        ...(reuse === undefined ? {} : { reuse }),
      };
    }),
  );
  const conflicts = planned.flatMap((entry) =>
    entry.conflict === undefined ? [] : [entry.conflict],
  );
  if (conflicts.length > 0) throw new ReleaseRefusedError(conflicts);
  return planned;
}

/** Declares the whole release: config and registry checks first, then one ServiceRelease per image. */
export async function declareRelease(inputs: ProgramInputs): Promise<Record<string, unknown>> {
  const config = loadStackConfig(inputs.readConfig);
  const { secrets } = inputs;
  const sourceRoot = path.resolve(inputs.projectDir, config.sourceRoot);
  // The dev channel's version comes from the source root's commit, read once.
  const devSha = config.version === DEV_CHANNEL ? inputs.gitShortSha(sourceRoot) : undefined;
  checkInputs(config, inputs, sourceRoot, devSha);
  const planned = await planServices(config, inputs, sourceRoot, devSha);
  // A token that cannot write descriptions fails the preview here, after the config and the
  // registry are checked and before any image is built.
  if (config.publishDescriptions && secrets.dockerHubToken !== undefined) {
    await inputs.checkHubToken?.();
  }
  const signing = config.sign ? await readSigning(config, inputs, sourceRoot) : undefined;

  const pullUsername = secrets.registryUsername ?? secrets.dockerHubUsername;
  const pullPassword = secrets.registryPassword ?? secrets.dockerHubToken;
  const login: RegistryLogin | undefined =
    pullUsername !== undefined &&
    pullPassword !== undefined &&
    (secrets.registryUsername !== undefined || config.registry === "docker.io")
      ? { address: config.registry, username: pullUsername, password: pullPassword }
      : undefined;
  const dockerHub: DockerHubSettings | undefined =
    config.publishDescriptions &&
    secrets.dockerHubUsername !== undefined &&
    secrets.dockerHubToken !== undefined
      ? {
          url: config.dockerHubUrl,
          username: secrets.dockerHubUsername,
          token: secrets.dockerHubToken,
        }
      : undefined;

  let deployment: DeploymentSettings | undefined;
  let provider: k8s.Provider | undefined;
  let manifestsDir: string | undefined;
  let cluster: KubeTarget | undefined;
  if (config.deploy && pullUsername !== undefined && pullPassword !== undefined) {
    manifestsDir =
      config.renderManifestsTo === undefined
        ? undefined
        : path.resolve(inputs.projectDir, config.renderManifestsTo);
    const dependsOn: pulumi.Resource[] = [];
    if (manifestsDir !== undefined) {
      provider = new k8s.Provider("kubernetes", { renderYamlToDirectory: manifestsDir });
    } else {
      const kubeconfig = await readKubeconfig(config, inputs);
      cluster = kubeconfig.target;
      await inputs.checkKubernetesApi(cluster, kubeconfig.source);
      // The provider is given the kubeconfig and context explicitly: never the ambient one.
      provider = new k8s.Provider("kubernetes", {
        kubeconfig: pulumi.secret(kubeconfig.text),
        context: cluster.context,
      });
      dependsOn.push(
        new k8s.core.v1.Namespace(
          "namespace",
          {
            metadata: {
              name: config.namespace,
              labels: { "app.kubernetes.io/part-of": "battlescope" },
            },
          },
          { provider },
        ),
      );
    }
    const credentials = new RegistryCredentials(
      "registry-credentials",
      {
        namespace: config.namespace,
        registry: config.registry,
        username: pullUsername,
        password: pullPassword,
      },
      { provider, dependsOn },
    );
    deployment = {
      namespace: config.namespace,
      replicas: config.replicas,
      pullSecretName: credentials.secretName,
      rolloutTimeoutSeconds: config.rolloutTimeoutSeconds,
      healthPaths: probedPaths(config),
      ...(secrets.serviceConfig === undefined
        ? {}
        : { serviceConfig: secrets.serviceConfig.apply(parseServiceConfig) }),
      dependsOn,
    };
  }

  const releases: Record<string, ReleaseSummary> = {};
  for (const { service, version, existingTags, sourceHash: hash, reuse } of planned) {
    const release = new ServiceRelease(
      service.name,
      {
        service,
        registry: config.registry,
        organization: config.organization,
        version,
        existingTags,
        sourceHash: hash,
        ...(reuse === undefined ? {} : { reuse }),
        moveFloatingTags: config.moveFloatingTags,
        platforms: config.platforms,
        context: path.join(sourceRoot, service.buildContext),
        builder: config.builder,
        login,
        registryCache: config.registryCache,
        buildOnPreview: config.buildOnPreview,
        dockerHub,
        deployment,
        ...(signing === undefined ? {} : { signing }),
      },
      // Deployments render or apply through the same provider as the pull secret.
      provider === undefined ? {} : { providers: { kubernetes: provider } },
    );
    pulumi.log.info(describePlan(service.name, release.plan, existingTags), release);
    releases[service.name] = {
      version,
      ref: release.pinnedRef,
      digest: release.image.digest,
      tags: release.plan.manifestTags,
      platforms: config.platforms,
      floatingTagMoves: release.plan.moves.map(
        (move) => `${move.tag}: ${move.from ?? "(new)"} -> ${move.to}`,
      ),
    };
  }
  return {
    releases,
    ...(manifestsDir === undefined ? {} : { manifestsDir }),
    ...(cluster === undefined
      ? {}
      : {
          cluster: {
            context: cluster.context,
            server: cluster.server,
            namespace: config.namespace,
          },
        }),
  };
}

/** The signing key, checked against the repository's public key before anything is built. */
async function readSigning(
  config: StackConfig,
  inputs: ProgramInputs,
  sourceRoot: string,
): Promise<SigningSettings> {
  const privateKey = inputs.secrets.cosignKey as pulumi.Output<string>;
  const keyPassword = inputs.secrets.cosignPassword as pulumi.Output<string>;
  const publicKey = inputs.readFile(path.resolve(inputs.projectDir, config.cosignPublicKey)) ?? "";
  const [key, password] = await Promise.all([plainSecret(privateKey), plainSecret(keyPassword)]);
  await inputs.checkSigningKey({ privateKey: key ?? "", password: password ?? "" }, publicKey);
  return {
    privateKey,
    keyPassword,
    transparencyLog: config.transparencyLog,
    source: inputs.readSourceFacts(sourceRoot),
    builder: `buildx://${config.builder ?? "default"}`,
  };
}

/** The kubeconfig a cluster stack applies with, checked before anything is declared. */
async function readKubeconfig(
  config: StackConfig,
  inputs: ProgramInputs,
): Promise<{ text: string; target: KubeTarget; source: string }> {
  const source =
    config.kubeconfigPath === undefined
      ? `${CONFIG_NAMESPACE}:kubeconfig`
      : `${CONFIG_NAMESPACE}:kubeconfigPath`;
  try {
    let text: string | undefined;
    let baseDir: string | undefined;
    if (config.kubeconfigPath !== undefined) {
      const file = path.resolve(inputs.projectDir, expandPath(config.kubeconfigPath));
      text = inputs.readFile(file);
      if (text === undefined) throw new KubeconfigError(`${file} does not exist`);
      baseDir = path.dirname(file);
    } else {
      text = await plainSecret(inputs.secrets.kubeconfig);
      if (text === undefined) {
        throw new ConfigError([
          `missing secret config "${CONFIG_NAMESPACE}:kubeconfig": required because deploy is true and renderManifestsTo is unset, so the stack applies to a cluster; set it with \`pulumi config set --secret ${CONFIG_NAMESPACE}:kubeconfig < kubeconfig.yaml\` (or set ${CONFIG_NAMESPACE}:kubeconfigPath, or ${CONFIG_NAMESPACE}:renderManifestsTo to render the manifests to a folder instead)`,
        ]);
      }
    }
    return { text, target: resolveKubeTarget(text, config.kubeContext, baseDir), source };
  } catch (error) {
    if (error instanceof KubeconfigError) {
      throw new ConfigError([`invalid config "${source}": ${error.message}`]);
    }
    throw error;
  }
}

/** `{"<service>": {"<NAME>": "<value>"}}`, the values of the services' required variables. */
export function parseServiceConfig(text: string): Record<string, Record<string, string>> {
  const accepted = `expected a JSON map of service name to a map of variable name to string value`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError([
      `invalid config "${CONFIG_NAMESPACE}:serviceConfig": not JSON; ${accepted}`,
    ]);
  }
  const problems: string[] = [];
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    problems.push(`invalid config "${CONFIG_NAMESPACE}:serviceConfig": ${accepted}`);
  } else {
    for (const [service, values] of Object.entries(parsed)) {
      const known = SERVICES.find((entry) => entry.name === service && entry.deploy);
      if (known === undefined) {
        problems.push(
          `invalid config "${CONFIG_NAMESPACE}:serviceConfig": ${JSON.stringify(service)} is not a BattleScope service that runs`,
        );
      } else if (
        typeof values !== "object" ||
        values === null ||
        Object.values(values).some((value) => typeof value !== "string")
      ) {
        problems.push(`invalid config "${CONFIG_NAMESPACE}:serviceConfig.${service}": ${accepted}`);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed as Record<string, Record<string, string>>;
}

/** Credentials are needed as plain text to call the registry; they never leave this process. */
function plainSecret(value: pulumi.Output<string> | undefined): Promise<string | undefined> {
  if (value === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    pulumi.unsecret(value).apply((plain) => {
      resolve(plain);
      return plain;
    });
  });
}

/** Tags of `<namespace>/<name>` through the Hub API; none while the repository does not exist. */
export async function hubTagNames(
  hub: Pick<DockerHubClient, "getRepository" | "listTags">,
  repository: string,
): Promise<string[]> {
  const [namespace, name] = repository.split("/") as [string, string];
  if ((await hub.getRepository(namespace, name)) === undefined) return [];
  return (await hub.listTags(namespace, name)).map((tag) => tag.name);
}

function gitShortSha(dir: string): string | undefined {
  try {
    return execFileSync("git", ["-C", dir, "rev-parse", "--short=7", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return undefined;
  }
}

/**
 * The stack's program. `pulumi up` runs it through Pulumi.yaml; the Automation API runner
 * (scripts/stack.ts) passes it as an inline program.
 */
export async function releaseProgram(): Promise<Record<string, unknown>> {
  const config = new pulumi.Config();
  const registry = config.get("registry") ?? "docker.io";
  // Registry credentials: the stack's secrets, else the Docker client's login for the registry
  // (what `docker login` and the local services write), read here once for push and pull.
  const configuredUsername = config.getSecret("registryUsername");
  const configuredPassword = config.getSecret("registryPassword");
  const dockerLogin =
    configuredUsername === undefined && configuredPassword === undefined
      ? dockerConfigCredentials(registry)
      : undefined;
  const secrets = {
    dockerHubUsername: config.getSecret("dockerHubUsername"),
    dockerHubToken: config.getSecret("dockerHubToken"),
    registryUsername:
      configuredUsername ??
      (dockerLogin === undefined ? undefined : pulumi.secret(dockerLogin.username)),
    registryPassword:
      configuredPassword ??
      (dockerLogin === undefined ? undefined : pulumi.secret(dockerLogin.password)),
    kubeconfig: config.getSecret("kubeconfig"),
    serviceConfig: config.getSecret("serviceConfig"),
    cosignKey: config.getSecret("cosignKey"),
    cosignPassword: config.getSecret("cosignPassword"),
  };
  let client: Promise<OciRegistryClient> | undefined;
  const registryClient = () => {
    client ??= Promise.all([
      plainSecret(
        secrets.registryUsername ??
          (registry === "docker.io" ? secrets.dockerHubUsername : undefined),
      ),
      plainSecret(
        secrets.registryPassword ?? (registry === "docker.io" ? secrets.dockerHubToken : undefined),
      ),
    ]).then(async ([username, password]) => {
      const registryClient = new OciRegistryClient({ registry, username, password });
      // One clear error up front when the registry is down, before any tag is listed.
      await registryClient.ping();
      return registryClient;
    });
    return client;
  };

  let hubClient: Promise<DockerHubClient> | undefined;
  const dockerHubClient = () => {
    hubClient ??= Promise.all([
      plainSecret(secrets.dockerHubUsername),
      plainSecret(secrets.dockerHubToken),
    ]).then(
      ([username, token]) =>
        new DockerHubClient({
          baseUrl: config.get("dockerHubUrl") ?? DEFAULT_HUB_URL,
          username: username ?? "",
          token: token ?? "",
        }),
    );
    return hubClient;
  };

  return declareRelease({
    // Plain keys only: secrets above stay Outputs and are handed to providers as such.
    readConfig: (key) => config.get(key),
    secrets: Object.fromEntries(Object.entries(secrets).filter(([, value]) => value !== undefined)),
    listTags: async (repository) => {
      if (registry !== "docker.io" || secrets.dockerHubToken === undefined) {
        return (await registryClient()).listTags(repository);
      }
      // On Docker Hub the Hub's tags API lists tags without touching the registry's rate limits.
      await registryClient();
      return hubTagNames(await dockerHubClient(), repository);
    },
    readPublished: async (repository, version, architectures) =>
      readPublishedRelease(await registryClient(), repository, version, architectures),
    hashSources: (contextDir, extra) => sourceHash(readBuildContext(contextDir), extra),
    gitShortSha,
    projectDir: __dirname,
    buildContextExists: (context) => fs.existsSync(path.join(context, "Dockerfile")),
    readFile: (file) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined),
    checkKubernetesApi: checkReachable,
    checkSigningKey: (key, publicKey) =>
      checkSigningKey(key, publicKey, config.get("cosignPublicKey") ?? DEFAULT_COSIGN_PUBLIC_KEY),
    readSourceFacts,
    checkHubToken: async () => {
      await assertTokenCanWrite(await dockerHubClient());
    },
  });
}
