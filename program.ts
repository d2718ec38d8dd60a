import * as fs from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { OciRegistryClient } from "./clients/ociRegistry";
import type { RegistryLogin } from "./components/multiArchImage";
import { PULL_SECRET_NAME, RegistryCredentials } from "./components/registryCredentials";
import { type DockerHubSettings, ServiceRelease } from "./components/serviceRelease";
import {
  CONFIG_NAMESPACE,
  ConfigError,
  type ConfigReader,
  loadStackConfig,
  serviceVersion,
} from "./lib/config";
import { SERVICES } from "./services/catalog";

/** What the program reads from the world; tests give their own. */
export interface ProgramInputs {
  readonly readConfig: ConfigReader;
  /** Secret config values, absent when unset. */
  readonly secrets: {
    readonly dockerHubUsername?: pulumi.Output<string>;
    readonly dockerHubToken?: pulumi.Output<string>;
    readonly registryUsername?: pulumi.Output<string>;
    readonly registryPassword?: pulumi.Output<string>;
  };
  /** Tags each repository already holds (`<org>/<service>`), as the registry lists them. */
  readonly listTags: (repository: string) => Promise<string[]>;
  /** Directory relative config paths are resolved against (the project root). */
  readonly projectDir: string;
  readonly buildContextExists: (contextPath: string) => boolean;
}

export interface ReleaseSummary {
  readonly version: string;
  readonly ref: pulumi.Output<string>;
  readonly digest: pulumi.Output<string>;
  readonly tags: readonly string[];
  readonly platforms: readonly string[];
  readonly floatingTagMoves: readonly string[];
}

function secretMissing(key: string, why: string): string {
  return `missing secret config "${CONFIG_NAMESPACE}:${key}": required because ${why}; set it with \`pulumi config set --secret ${CONFIG_NAMESPACE}:${key} <value>\``;
}

/** Declares the whole release: config first, then one ServiceRelease per image. */
export async function declareRelease(inputs: ProgramInputs): Promise<Record<string, unknown>> {
  const config = loadStackConfig(inputs.readConfig);
  const { secrets } = inputs;
  const sourceRoot = path.resolve(inputs.projectDir, config.sourceRoot);

  const problems: string[] = [];
  for (const service of SERVICES) {
    const context = path.join(sourceRoot, service.buildContext);
    if (!inputs.buildContextExists(context)) {
      problems.push(
        `invalid config "${CONFIG_NAMESPACE}:sourceRoot": ${JSON.stringify(config.sourceRoot)} has no build context for ${service.name} (looked for ${path.join(context, "Dockerfile")})`,
      );
    }
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
  if (problems.length > 0) throw new ConfigError(problems);

  const existingTags = new Map(
    await Promise.all(
      SERVICES.map(async (service) => {
        const repository = `${config.organization}/${service.name}`;
        return [service.name, await inputs.listTags(repository)] as const;
      }),
    ),
  );

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

  let deployment:
    | { namespace: pulumi.Input<string>; replicas: number; pullSecretName: pulumi.Input<string> }
    | undefined;
  let manifestsDir: string | undefined;
  if (config.deploy && pullUsername !== undefined && pullPassword !== undefined) {
    manifestsDir =
      config.renderManifestsTo === undefined
        ? undefined
        : path.resolve(inputs.projectDir, config.renderManifestsTo);
    const provider = new k8s.Provider("kubernetes", {
      ...(manifestsDir === undefined ? {} : { renderYamlToDirectory: manifestsDir }),
    });
    const credentials = new RegistryCredentials(
      "registry-credentials",
      {
        namespace: config.namespace,
        registry: config.registry,
        username: pullUsername,
        password: pullPassword,
      },
      { provider },
    );
    deployment = {
      namespace: config.namespace,
      replicas: config.replicas,
      pullSecretName: credentials.secretName,
    };
    // Deployments render or apply through the same provider as the pull secret.
    return declareServices(provider);
  }
  return declareServices(undefined);

  function declareServices(provider: k8s.Provider | undefined): Record<string, unknown> {
    const releases: Record<string, ReleaseSummary> = {};
    for (const service of SERVICES) {
      const version = serviceVersion(config, service.name);
      const release = new ServiceRelease(
        service.name,
        {
          service,
          registry: config.registry,
          organization: config.organization,
          version,
          existingTags: existingTags.get(service.name) ?? [],
          moveFloatingTags: config.moveFloatingTags,
          platforms: config.platforms,
          context: path.join(sourceRoot, service.buildContext),
          builder: config.builder,
          login,
          registryCache: config.registryCache,
          buildOnPreview: config.buildOnPreview,
          dockerHub,
          deployment,
        },
        provider === undefined ? {} : { providers: { kubernetes: provider } },
      );
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
    return { releases, ...(manifestsDir === undefined ? {} : { manifestsDir }) };
  }
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

/**
 * The stack's program. `pulumi up` runs it through Pulumi.yaml; the Automation API runner
 * (scripts/stack.ts) passes it as an inline program.
 */
export async function releaseProgram(): Promise<Record<string, unknown>> {
  const config = new pulumi.Config();
  const secrets = {
    dockerHubUsername: config.getSecret("dockerHubUsername"),
    dockerHubToken: config.getSecret("dockerHubToken"),
    registryUsername: config.getSecret("registryUsername"),
    registryPassword: config.getSecret("registryPassword"),
  };
  const registry = config.get("registry") ?? "docker.io";

  return declareRelease({
    // Plain keys only: secrets above stay Outputs and are handed to providers as such.
    readConfig: (key) => config.get(key),
    secrets: Object.fromEntries(Object.entries(secrets).filter(([, value]) => value !== undefined)),
    listTags: async (repository) => {
      const [username, password] = await Promise.all([
        plainSecret(
          secrets.registryUsername ??
            (registry === "docker.io" ? secrets.dockerHubUsername : undefined),
        ),
        plainSecret(
          secrets.registryPassword ??
            (registry === "docker.io" ? secrets.dockerHubToken : undefined),
        ),
      ]);
      return new OciRegistryClient({ registry, username, password }).listTags(repository);
    },
    projectDir: __dirname,
    buildContextExists: (context) => fs.existsSync(path.join(context, "Dockerfile")),
  });
}
