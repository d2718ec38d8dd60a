/**
 * The read step of the release program (program.ts): with release/inputs.ts, the only code that
 * touches `pulumi.Config`, the secrets, the files and the registries' clients. It reads in the
 * order the checks need and runs the plan's checks (plan.ts, pure) on the way, so nothing more is
 * read once one fails: the config, the sources on this machine, the registry, the Hub token, the
 * signing key, the cluster. The Automation API runner (scripts/stack.ts) reads a stack's config
 * and secrets through it too.
 */

import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { NodesBuilder } from "../clients/buildxBuilder";
import { dockerConfigCredentials } from "../clients/dockerConfig";
import { DockerHubError } from "../clients/dockerHub";
import {
  expandPath,
  KubeconfigError,
  type KubeTarget,
  resolveKubeTarget,
} from "../clients/kubernetes";
import { RegistryError } from "../clients/ociRegistry";
import type { DatabaseStatus, VulnerabilityDatabase } from "../clients/scanner";
import { type SigningKey, SigningToolError } from "../clients/signing";
import type { SourceFacts } from "../lib/attestation";
import {
  CONFIG_NAMESPACE,
  ConfigError,
  type ConfigReader,
  DEFAULT_NODES_BUILDER,
  DEV_CHANNEL,
  loadStackConfig,
  platformArchitecture,
  releasedServices,
  SECRET_KEYS,
  type StackConfig,
} from "../lib/config";
import { builderTls } from "../lib/config/builderKeys";
import { vulnerabilityDbDirectory } from "../lib/config/scanKeys";
import { Refusal } from "../lib/refusal";
import type { PublishedRelease } from "../lib/releaseGuard";
import { databaseProblem } from "../lib/scanReport";
import type { Architecture } from "../lib/versions";
import {
  type ClusterFacts,
  checkSources,
  type LocalSources,
  planServices,
  publishedToRead,
  type RegistryFacts,
  type ReleaseFacts,
  releaseVersions,
  type SourcePaths,
  type StackSecrets,
  sourcePaths,
} from "./plan";

/** What the program reads from the world; tests give their own. */
export interface ProgramInputs {
  readonly readConfig: ConfigReader;
  /** Every config key the stack sets, with its namespace (`battlescope:version`). */
  readonly configKeys: readonly string[];
  /** Secret config values, absent when unset (`readSecrets`). */
  readonly secrets: StackSecrets<pulumi.Output<string>>;
  /**
   * Fails unless the key opens with the password and is the private half of the public key
   * (PEM text); the messages name the config keys.
   */
  readonly checkSigningKey: (key: SigningKey, publicKey: string) => Promise<void>;
  /** Where the source root's files come from (its git commit and remote), for the provenance. */
  readonly readSourceFacts: (sourceRoot: string) => SourceFacts;
  /** Fails unless the chosen kubeconfig context's API server answers. */
  readonly checkKubernetesApi: (target: KubeTarget, configKey: string) => Promise<void>;
  /**
   * Makes the buildx builder of the stack's `builders` and fails, naming the node, unless every
   * node answers with the platforms routed to it (clients/buildxBuilder.ts).
   */
  readonly prepareBuilder?: (builder: NodesBuilder) => Promise<void>;
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
  /**
   * The folder the engine starts the providers in (the stack's work dir, where Pulumi.yaml is):
   * build contexts inside it are given relative to it. The project root when not given.
   */
  readonly engineDir?: string;
  readonly buildContextExists: (contextPath: string) => boolean;
  /** A file's text, undefined when it does not exist: each Dockerfile and the source root's CHANGELOG. */
  readonly readFile: (file: string) => string | undefined;
  /** What grype says of a vulnerability database folder (`grype db status`). */
  readonly readDatabaseStatus: (database: VulnerabilityDatabase) => Promise<DatabaseStatus>;
  /** Now, for the exceptions' expiry and the database's age. */
  readonly today: Date;
}

/**
 * Reads everything the plan decides from, checking as it goes: the config first, then the
 * sources and secrets, before the registry is asked anything; a version tag holding other
 * content refuses the release before the Hub is asked; the signing key and the cluster are
 * checked before anything is declared. A registry, Hub, API server or signing tool that says
 * no, or does not answer, refuses the release (`dependencyRefusal`).
 */
export async function readRelease(
  inputs: ProgramInputs,
): Promise<ReleaseFacts<pulumi.Output<string>>> {
  try {
    return await readInOrder(inputs);
  } catch (error) {
    throw dependencyRefusal(error);
  }
}

/**
 * A dependency's no met while reading, as a refusal of the program (lib/refusal.ts): the
 * registry, Docker Hub, the cluster's API server or cosign refusing or not answering. Their
 * clients' messages name the dependency, what was asked and the answer, so a stack trace of the
 * client adds nothing. Any other error is a fault of the program and stays as it is.
 */
export function dependencyRefusal(error: unknown): unknown {
  const refused =
    error instanceof RegistryError ||
    error instanceof DockerHubError ||
    // Past readKubeconfig (which makes the kubeconfig's own problems config errors), only the
    // API server's check throws one.
    error instanceof KubeconfigError ||
    // Past checkSigningKey (which makes a key cosign cannot open a config error), only a cosign
    // that cannot run.
    error instanceof SigningToolError;
  return refused ? new Refusal(error.message, { cause: error }) : error;
}

async function readInOrder(inputs: ProgramInputs): Promise<ReleaseFacts<pulumi.Output<string>>> {
  const config = loadStackConfig(inputs.readConfig, inputs.configKeys, inputs.today);
  const paths = sourcePaths(config, inputs.projectDir, inputs.engineDir);
  const sources = readSources(config, paths, inputs);
  checkSources(config, paths, sources, inputs.secrets);
  if (config.builders !== undefined) await readBuilder(config, config.builders, inputs);
  const registry = await readRegistry(config, paths, sources.gitShortSha, inputs);
  // A version tag holding other content refuses the release here, before the Hub is asked
  // (planRelease decides the same again from these facts: the checks are pure and cheap).
  planServices(config, paths, sources.gitShortSha, registry);
  // A token that cannot write descriptions fails the preview here, after the config and the
  // registry are checked and before any image is built.
  if (config.publishDescriptions && inputs.secrets.dockerHubToken !== undefined) {
    await inputs.checkHubToken?.();
  }
  const provenance = config.sign ? await readSigning(paths, sources, inputs) : undefined;
  const vulnerabilityDb = config.scan ? await readDatabase(config, inputs) : undefined;
  const cluster =
    config.deploy && config.renderManifestsTo === undefined
      ? await readCluster(config, inputs)
      : undefined;
  return {
    readConfig: inputs.readConfig,
    configKeys: inputs.configKeys,
    projectDir: inputs.projectDir,
    ...(inputs.engineDir === undefined ? {} : { engineDir: inputs.engineDir }),
    secrets: inputs.secrets,
    sources,
    registry,
    ...(cluster === undefined ? {} : { cluster }),
    ...(provenance === undefined ? {} : { provenance }),
    ...(vulnerabilityDb === undefined ? {} : { vulnerabilityDb }),
    today: inputs.today,
  };
}

/**
 * The builder of `builders`, made and each node asked before the registry is read: a node that
 * does not answer, or whose certificates do not match, refuses the preview with nothing built.
 */
async function readBuilder(
  config: StackConfig,
  nodes: NonNullable<StackConfig["builders"]>,
  inputs: ProgramInputs,
): Promise<void> {
  const { problems, tls } = builderTls(nodes, await plainSecret(inputs.secrets.builderTls));
  if (problems.length > 0) throw new ConfigError(problems);
  await inputs.prepareBuilder?.({
    name: config.builder ?? DEFAULT_NODES_BUILDER,
    nodes,
    platforms: config.platforms,
    tls,
  });
}

/**
 * A stack that scans needs a database grype can read, no older than the stack allows: its folder,
 * resolved against the project like the other paths.
 */
async function readDatabase(config: StackConfig, inputs: ProgramInputs): Promise<string> {
  const dir = path.resolve(
    inputs.projectDir,
    vulnerabilityDbDirectory(config.vulnerabilityDb, process.env, os.homedir()),
  );
  const maxAgeHours = config.vulnerabilityDbMaxAgeHours;
  const status = await inputs.readDatabaseStatus({ dir, maxAgeHours });
  const problem = databaseProblem(status, dir, maxAgeHours, inputs.today);
  if (problem !== undefined) throw new Refusal(problem);
  return dir;
}

/** The files the checks read: each Dockerfile, the CHANGELOG, the public key; the git commit. */
function readSources(config: StackConfig, paths: SourcePaths, inputs: ProgramInputs): LocalSources {
  const dockerfiles = Object.fromEntries(
    Object.entries(paths.contexts).map(([service, context]) => [
      service,
      inputs.buildContextExists(context)
        ? inputs.readFile(path.join(context, "Dockerfile"))
        : undefined,
    ]),
  );
  const changelog = config.requireChangelog ? inputs.readFile(paths.changelog) : undefined;
  const publicKey = config.sign ? inputs.readFile(paths.publicKey) : undefined;
  // The dev channel's version comes from the source root's commit, read once.
  const gitShortSha =
    config.version === DEV_CHANNEL ? inputs.gitShortSha(paths.sourceRoot) : undefined;
  return {
    dockerfiles,
    ...(changelog === undefined ? {} : { changelog }),
    ...(publicKey === undefined ? {} : { publicKey }),
    ...(gitShortSha === undefined ? {} : { gitShortSha }),
  };
}

/**
 * Each image's tags, the hash of its sources, and what the registry holds under the versions
 * the plan looks at (`publishedToRead`), read before anything is built.
 */
async function readRegistry(
  config: StackConfig,
  paths: SourcePaths,
  gitShortSha: string | undefined,
  inputs: ProgramInputs,
): Promise<Record<string, RegistryFacts>> {
  const architectures = config.platforms.map(platformArchitecture);
  const services = releasedServices(config).map((service) => service.name);
  const repository = (service: string) => `${config.organization}/${service}`;
  const listed = await Promise.all(services.map((service) => inputs.listTags(repository(service))));
  const tagsByService = Object.fromEntries(
    services.map((service, i) => [service, listed[i] ?? []]),
  );
  const versions = releaseVersions(config, tagsByService, gitShortSha);
  const facts = await Promise.all(
    services.map(async (service): Promise<[string, RegistryFacts]> => {
      const tags = tagsByService[service] ?? [];
      const hash = inputs.hashSources(paths.contexts[service] as string, {
        platforms: config.platforms.join(","),
      });
      const read = publishedToRead(versions[service] as string, tags);
      const published = await Promise.all(
        read.map((version) => inputs.readPublished(repository(service), version, architectures)),
      );
      return [
        service,
        {
          tags,
          sourceHash: hash,
          published: Object.fromEntries(
            read.map((version, i) => [version, published[i] as PublishedRelease]),
          ),
        },
      ];
    }),
  );
  return Object.fromEntries(facts);
}

/** The signing key, checked against the repository's public key; the provenance's source. */
async function readSigning(
  paths: SourcePaths,
  sources: LocalSources,
  inputs: ProgramInputs,
): Promise<SourceFacts> {
  const [key, password] = await Promise.all([
    plainSecret(inputs.secrets.cosignKey),
    plainSecret(inputs.secrets.cosignPassword),
  ]);
  await inputs.checkSigningKey(
    { privateKey: key ?? "", password: password ?? "" },
    sources.publicKey ?? "",
  );
  return inputs.readSourceFacts(paths.sourceRoot);
}

/** The kubeconfig a cluster stack applies with, its API server checked to answer. */
async function readCluster(config: StackConfig, inputs: ProgramInputs): Promise<ClusterFacts> {
  const secret =
    config.kubeconfigPath === undefined ? await plainSecret(inputs.secrets.kubeconfig) : undefined;
  const kubeconfig = readKubeconfig(config, inputs.projectDir, inputs.readFile, secret);
  await inputs.checkKubernetesApi(kubeconfig.target, kubeconfig.source);
  return {
    kubeconfig: kubeconfig.text,
    context: kubeconfig.target.context,
    server: kubeconfig.target.server,
  };
}

export interface Kubeconfig {
  readonly text: string;
  readonly target: KubeTarget;
  /** The config key it came from. */
  readonly source: string;
}

/**
 * The kubeconfig a cluster stack applies with: the file `kubeconfigPath` names, else the secret
 * `kubeconfig`; the program and the runner read it alike. Refused with the config key's name.
 */
export function readKubeconfig(
  config: StackConfig,
  projectDir: string,
  readFile: (file: string) => string | undefined,
  secret: string | undefined,
): Kubeconfig {
  const source =
    config.kubeconfigPath === undefined
      ? `${CONFIG_NAMESPACE}:kubeconfig`
      : `${CONFIG_NAMESPACE}:kubeconfigPath`;
  try {
    if (config.kubeconfigPath !== undefined) {
      const file = path.resolve(projectDir, expandPath(config.kubeconfigPath));
      const text = readFile(file);
      if (text === undefined) throw new KubeconfigError(`${file} does not exist`);
      return {
        text,
        target: resolveKubeTarget(text, config.kubeContext, path.dirname(file)),
        source,
      };
    }
    if (secret === undefined) {
      throw new ConfigError([
        `missing secret config "${CONFIG_NAMESPACE}:kubeconfig": required because deploy is true and renderManifestsTo is unset, so the stack applies to a cluster; set it with \`pulumi config set --secret ${CONFIG_NAMESPACE}:kubeconfig < kubeconfig.yaml\` (or set ${CONFIG_NAMESPACE}:kubeconfigPath, or ${CONFIG_NAMESPACE}:renderManifestsTo to render the manifests to a folder instead)`,
      ]);
    }
    return { text: secret, target: resolveKubeTarget(secret, config.kubeContext), source };
  } catch (error) {
    if (error instanceof KubeconfigError) {
      throw new ConfigError([`invalid config "${source}": ${error.message}`]);
    }
    throw error;
  }
}

/**
 * A stack's secrets, read alike by the program (as Outputs) and the runner (plain): those set,
 * and the Docker client's login for the registry (what `docker login` and the local services
 * write) as registryUsername and registryPassword when the stack sets neither.
 */
export function readSecrets<S>(
  registry: string,
  secret: (key: string) => S | undefined,
  fromPlain: (value: string) => S,
): StackSecrets<S> {
  const secrets: { -readonly [K in keyof StackSecrets<S>]: S } = {};
  for (const key of SECRET_KEYS) {
    const value = secret(key);
    if (value !== undefined) secrets[key] = value;
  }
  if (secrets.registryUsername === undefined && secrets.registryPassword === undefined) {
    const login = dockerConfigCredentials(registry);
    if (login !== undefined) {
      secrets.registryUsername = fromPlain(login.username);
      secrets.registryPassword = fromPlain(login.password);
    }
  }
  return secrets;
}

/** A stack's config as the runner reads it (plain values, secrets decrypted), as the program does. */
export interface StackSettings {
  readonly config: StackConfig;
  readonly secrets: StackSecrets<string>;
}

/**
 * A stack's config from its values (`<namespace>:<key>` to value, as the Automation API's
 * `getAllConfig` gives them): validated as the program validates it, the secrets by its rules.
 */
export function readStackConfig(
  values: Readonly<Record<string, { readonly value: string }>>,
): StackSettings {
  const read = (key: string) => values[`${CONFIG_NAMESPACE}:${key}`]?.value;
  const config = loadStackConfig(read, Object.keys(values));
  return { config, secrets: readSecrets(config.registry, read, (value) => value) };
}

/** Credentials are needed as plain text to call the registry; they never leave this process. */
export function plainSecret(value: pulumi.Output<string> | undefined): Promise<string | undefined> {
  if (value === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    pulumi.unsecret(value).apply((plain) => {
      resolve(plain);
      return plain;
    });
  });
}
