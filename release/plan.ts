/**
 * The plan step of the release program (program.ts): what the release is, decided from what the
 * read step (read.ts) found. Pure: no I/O and nothing from Pulumi, so each decision is tested with
 * plain values (test/unit/plan.test.ts). Secrets pass through as opaque values `S` (Pulumi Outputs
 * in the program, strings in the tests and the runner): the plan decides where each one goes,
 * never what it holds.
 */
import * as path from "node:path";
import type { SourceFacts } from "../lib/attestation";
import { CHANGELOG_FILE, checkChangelog } from "../lib/changelog";
import {
  CONFIG_NAMESPACE,
  ConfigError,
  type ConfigReader,
  DEFAULT_NODES_BUILDER,
  DEV_CHANNEL,
  loadStackConfig,
  type Platform,
  PULL_SECRET_NAME,
  platformArchitecture,
  probedPaths,
  releasedServices,
  type StackConfig,
  serviceVersion,
} from "../lib/config";
import { platformBuilders } from "../lib/config/builderKeys";
import { checkDockerfile, formatViolation } from "../lib/dockerfileRules";
import { foldServiceProblems, Refusal, type ServiceProblem } from "../lib/refusal";
import {
  guardVersion,
  highestReleaseBelow,
  type PublishedRelease,
  type Reuse,
  reusableRelease,
} from "../lib/releaseGuard";
import { planTags, type TagPlan } from "../lib/tagPlan";
import { devVersion } from "../lib/versions";
import { DOCKER_HUB_REGISTRY } from "../lib/vocabulary";
import {
  exceptionWarnings,
  type FailOn,
  type VulnerabilityException,
} from "../lib/vulnerabilities";
import { SERVICES, type ServiceImage } from "../services/catalog";

/** A release that would overwrite a version tag: refused before anything is built or pushed. */
export class ReleaseRefusedError extends Refusal {
  constructor(readonly conflicts: readonly string[]) {
    super(conflicts.join("\n"));
    this.name = "ReleaseRefusedError";
  }
}

/** The stack's secret config values that are set (`S`: how the caller holds a secret). */
export interface StackSecrets<S> {
  readonly dockerHubUsername?: S;
  readonly dockerHubToken?: S;
  /** Set from the Docker login for the registry by the read step when the stack sets neither. */
  readonly registryUsername?: S;
  readonly registryPassword?: S;
  /**
   * The pull secret's own account, when it is not the pushing one: a read-only token on Docker
   * Hub, a pull-only robot account elsewhere. Both or neither.
   */
  readonly pullSecretUsername?: S;
  readonly pullSecretPassword?: S;
  /** The target cluster's kubeconfig (its contents), unless kubeconfigPath names a file. */
  readonly kubeconfig?: S;
  /** Values of the services' required variables: `{"<service>": {"<NAME>": "<value>"}}`. */
  readonly serviceConfig?: S;
  /** The encrypted cosign private key (`cosign.key`'s contents) and its password. */
  readonly cosignKey?: S;
  readonly cosignPassword?: S;
  /** mTLS material of the tcp:// builder nodes: `{"<node>": {"ca", "cert", "key"}}` (PEM). */
  readonly builderTls?: S;
}

/** A registry login: where, and the credentials. */
export interface RegistryLogin<S> {
  readonly address: string;
  readonly username: S;
  readonly password: S;
}

/**
 * The registry credentials, one rule for the push, the pull secret and the registry client:
 * registryUsername and registryPassword (the Docker login for the registry when the stack sets
 * neither); on Docker Hub alone, the Hub's credentials stand in for a missing one.
 */
export function registryLogin<S>(
  registry: string,
  secrets: StackSecrets<S>,
): RegistryLogin<S> | undefined {
  const onHub = registry === DOCKER_HUB_REGISTRY;
  const username = secrets.registryUsername ?? (onHub ? secrets.dockerHubUsername : undefined);
  const password = secrets.registryPassword ?? (onHub ? secrets.dockerHubToken : undefined);
  return username === undefined || password === undefined
    ? undefined
    : { address: registry, username, password };
}

/** The pull secret's login: its own account when the stack names one, else the push login. */
export function pullSecretLogin<S>(
  registry: string,
  secrets: StackSecrets<S>,
): RegistryLogin<S> | undefined {
  const { pullSecretUsername: username, pullSecretPassword: password } = secrets;
  return username !== undefined && password !== undefined
    ? { address: registry, username, password }
    : registryLogin(registry, secrets);
}

/** The secret to set when `registryLogin` finds no credentials: the first missing one. */
function missingCredential<S>(registry: string, secrets: StackSecrets<S>): string {
  const onHub = registry === DOCKER_HUB_REGISTRY;
  if (secrets.registryUsername === undefined) {
    if (!onHub) return "registryUsername";
    return secrets.dockerHubUsername === undefined ? "dockerHubUsername" : "dockerHubToken";
  }
  return "registryPassword";
}

/** The paths the plan reads from, named by the config: the read step reads what they hold. */
export interface SourcePaths {
  readonly sourceRoot: string;
  /** Each released image's build context (absolute), by image name. */
  readonly contexts: Readonly<Record<string, string>>;
  /** Each build context as BuildKit is given it (see {@link buildLocation}), by image name. */
  readonly buildLocations: Readonly<Record<string, string>>;
  readonly changelog: string;
  readonly publicKey: string;
}

/**
 * A build context relative to the engine's folder when it lies inside it: the docker-build
 * provider keeps the location it is given in the stack's state, so an absolute path would make
 * every image an update when the same commit is previewed from another checkout (another
 * engineer, another runner's folder). The provider resolves it in the folder the engine starts
 * it in, the stack's work dir, which for an inline program need not be the project root.
 */
export function buildLocation(context: string, engineDir: string): string {
  const relative = path.relative(engineDir, context);
  const outside = relative === ".." || relative.startsWith(`..${path.sep}`);
  return relative === "" || outside || path.isAbsolute(relative) ? context : relative;
}

export function sourcePaths(
  config: StackConfig,
  projectDir: string,
  engineDir = projectDir,
): SourcePaths {
  const sourceRoot = path.resolve(projectDir, config.sourceRoot);
  const contexts = Object.fromEntries(
    releasedServices(config).map((service) => [
      service.name,
      path.join(sourceRoot, service.buildContext),
    ]),
  );
  return {
    sourceRoot,
    contexts,
    buildLocations: Object.fromEntries(
      Object.entries(contexts).map(([name, context]) => [name, buildLocation(context, engineDir)]),
    ),
    changelog: path.join(sourceRoot, CHANGELOG_FILE),
    publicKey: path.resolve(projectDir, config.cosignPublicKey),
  };
}

/** What the read step found on this machine, before it asks the registry anything. */
export interface LocalSources {
  /** Each released image's Dockerfile, by image name; undefined when its build context has none. */
  readonly dockerfiles: Readonly<Record<string, string | undefined>>;
  /** The source root's CHANGELOG, when the stack requires one and it exists. */
  readonly changelog?: string;
  /** The signing key's public half (PEM text), when the stack signs and the file exists. */
  readonly publicKey?: string;
  /** The source root's git short sha, for the dev channel; undefined outside a git checkout. */
  readonly gitShortSha?: string;
}

function secretMissing(key: string, why: string): string {
  return `missing secret config "${CONFIG_NAMESPACE}:${key}": required because ${why}; set it with \`pulumi config set --secret ${CONFIG_NAMESPACE}:${key} <value>\``;
}

/**
 * The build contexts and their Dockerfiles' rules (docs/rules.md#image-rules), a problem found
 * in several services told once; then the CHANGELOG.
 */
function sourceProblems(config: StackConfig, paths: SourcePaths, sources: LocalSources): string[] {
  const found: ServiceProblem[] = [];
  const services = releasedServices(config);
  for (const { name: service } of services) {
    const dockerfile = path.join(paths.contexts[service] as string, "Dockerfile");
    const text = sources.dockerfiles[service];
    if (text === undefined) {
      found.push({
        service,
        text: `invalid config "${CONFIG_NAMESPACE}:sourceRoot": ${JSON.stringify(config.sourceRoot)} has no build context for ${service} (looked for ${dockerfile})`,
      });
    } else {
      // One line per violation with its file and line.
      for (const violation of checkDockerfile(dockerfile, text)) {
        found.push({ service, text: formatViolation(violation) });
      }
    }
  }
  const problems = foldServiceProblems(found);
  if (config.requireChangelog) {
    const versions = services.map((service) => serviceVersion(config, service.name));
    problems.push(...checkChangelog(paths.changelog, sources.changelog, versions));
  }
  return problems;
}

/** The secrets the config's switches need, and the public key a signing stack checks against. */
function secretProblems<S>(
  config: StackConfig,
  secrets: StackSecrets<S>,
  sources: LocalSources,
): string[] {
  // A secret two switches need is one problem giving both reasons.
  const needed = new Map<string, string[]>();
  const need = (key: string, why: string) => needed.set(key, [...(needed.get(key) ?? []), why]);
  if (config.publishDescriptions && secrets.dockerHubToken === undefined) {
    need("dockerHubToken", "publishDescriptions is true");
  }
  if (config.publishDescriptions && secrets.dockerHubUsername === undefined) {
    need("dockerHubUsername", "publishDescriptions is true");
  }
  if (config.deploy && pullSecretLogin(config.registry, secrets) === undefined) {
    need(
      missingCredential(config.registry, secrets),
      `deploy is true and the ${PULL_SECRET_NAME} pull secret needs registry credentials`,
    );
  }
  if ((secrets.pullSecretUsername === undefined) !== (secrets.pullSecretPassword === undefined)) {
    const [set, unset] =
      secrets.pullSecretUsername === undefined
        ? ["pullSecretPassword", "pullSecretUsername"]
        : ["pullSecretUsername", "pullSecretPassword"];
    need(unset, `${set} is set (the ${PULL_SECRET_NAME} pull secret's account needs both)`);
  }
  const problems = [...needed].map(([key, whys]) =>
    secretMissing(key, whys.join(", and because ")),
  );
  if (config.sign) {
    if (secrets.cosignKey === undefined) {
      problems.push(
        `missing secret config "${CONFIG_NAMESPACE}:cosignKey": required because sign is true; set it with \`pulumi config set --secret ${CONFIG_NAMESPACE}:cosignKey < cosign.key\` (the private half of ${config.cosignPublicKey})`,
      );
    }
    if (secrets.cosignPassword === undefined) {
      problems.push(secretMissing("cosignPassword", "sign is true (the password of cosignKey)"));
    }
    if (sources.publicKey === undefined) {
      problems.push(
        `invalid config "${CONFIG_NAMESPACE}:cosignPublicKey": ${JSON.stringify(config.cosignPublicKey)} does not exist; expected the signing key's public half, committed in the repository`,
      );
    }
  }
  return problems;
}

/** Paths and secrets that config alone cannot check, all reported at once. */
export function checkSources<S>(
  config: StackConfig,
  paths: SourcePaths,
  sources: LocalSources,
  secrets: StackSecrets<S>,
): void {
  const problems = [
    ...sourceProblems(config, paths, sources),
    ...secretProblems(config, secrets, sources),
  ];
  if (config.version === DEV_CHANNEL && sources.gitShortSha === undefined) {
    problems.push(
      `invalid config "${CONFIG_NAMESPACE}:version": "${DEV_CHANNEL}" needs the source root ${paths.sourceRoot} to be a git checkout with a commit`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

/**
 * The version each image is released at, by image name: its configured version, or on the dev
 * channel the next dev version after every image's published tags.
 */
export function releaseVersions(
  config: StackConfig,
  tagsByService: Readonly<Record<string, readonly string[]>>,
  gitShortSha: string | undefined,
): Record<string, string> {
  const dev =
    gitShortSha === undefined
      ? undefined
      : devVersion(Object.values(tagsByService).flat(), gitShortSha);
  return Object.fromEntries(
    releasedServices(config).map((service) => {
      const configured = serviceVersion(config, service.name);
      return [service.name, configured === DEV_CHANNEL ? (dev as string) : configured];
    }),
  );
}

/**
 * The versions whose published content the plan looks at: the version itself when the tags
 * mention it (the guard), and the highest release below it (images to reuse).
 */
export function publishedToRead(version: string, existingTags: readonly string[]): string[] {
  const mentioned = existingTags.some((tag) => tag === version || tag.startsWith(`${version}-`));
  const below = highestReleaseBelow(existingTags, version);
  return [...(mentioned ? [version] : []), ...(below === undefined ? [] : [below])];
}

/** What the registry says of one image, and the hash of its sources. */
export interface RegistryFacts {
  /** Tags the repository holds, as the registry lists them. */
  readonly tags: readonly string[];
  /** The hash of the build context's files and of the other inputs that decide the image. */
  readonly sourceHash: string;
  /** What the registry holds under each version `publishedToRead` names. */
  readonly published: Readonly<Record<string, PublishedRelease>>;
}

/** One image's release. */
export interface ServicePlan {
  readonly service: ServiceImage;
  readonly version: string;
  /** Tags the repository holds before this release. */
  readonly existingTags: readonly string[];
  readonly sourceHash: string;
  /** An earlier release from the same sources: its images get this version's tags. */
  readonly reuse?: Reuse;
  readonly tagPlan: TagPlan;
  /** The build context as BuildKit is given it: relative to the project root when inside it. */
  readonly context: string;
}

/** One image's plan, and why its version tag cannot be written when it holds other content. */
function planService(
  config: StackConfig,
  service: ServiceImage,
  version: string,
  facts: RegistryFacts & { readonly context: string },
): { plan: ServicePlan; conflict?: string } {
  const architectures = config.platforms.map(platformArchitecture);
  const { tags: existingTags, sourceHash, published } = facts;
  const decision = guardVersion({
    repository: `${config.registry}/${config.organization}/${service.name}`,
    version,
    architectures,
    sourceHash,
    published: published[version] ?? { platforms: {} },
    existingTags,
  });
  // The highest release below this version, by its tags: the same images when its sources
  // are these. Lower, so a re-run of this release finds the same one and changes nothing.
  const below = highestReleaseBelow(existingTags, version);
  const previous = below === undefined ? undefined : published[below];
  const reuse =
    below === undefined || previous === undefined
      ? undefined
      : reusableRelease({
          architectures,
          sourceHash,
          previous: { version: below, published: previous },
        });
  const plan: ServicePlan = {
    service,
    version,
    existingTags,
    sourceHash,
    ...(reuse === undefined ? {} : { reuse }),
    tagPlan: planTags({
      version,
      existingTags,
      architectures,
      moveFloatingTags: config.moveFloatingTags,
      ...(reuse === undefined ? {} : { reusesFrom: reuse.from }),
    }),
    context: facts.context,
  };
  return decision.kind === "conflict" ? { plan, conflict: decision.message } : { plan };
}

/**
 * Each image's version, tag plan and reuse, from the registry's tags and published content; a
 * version tag holding other content refuses the whole release (every conflict at once).
 */
export function planServices(
  config: StackConfig,
  paths: SourcePaths,
  gitShortSha: string | undefined,
  registry: Readonly<Record<string, RegistryFacts>>,
): ServicePlan[] {
  const facts = (name: string): RegistryFacts => {
    const found = registry[name];
    if (found === undefined) throw new Error(`the read step found nothing of ${name}`);
    return found;
  };
  const tagsByService = Object.fromEntries(
    releasedServices(config).map((service) => [service.name, facts(service.name).tags]),
  );
  const versions = releaseVersions(config, tagsByService, gitShortSha);
  const conflicts: ServiceProblem[] = [];
  const planned = releasedServices(config).map((service) => {
    const { plan, conflict } = planService(config, service, versions[service.name] as string, {
      ...facts(service.name),
      context: paths.buildLocations[service.name] as string,
    });
    if (conflict !== undefined) conflicts.push({ service: service.name, text: conflict });
    return plan;
  });
  if (conflicts.length > 0) throw new ReleaseRefusedError(foldServiceProblems(conflicts));
  return planned;
}

/** The cluster a stack applies to: its kubeconfig, read and checked by the read step. */
export interface ClusterFacts {
  readonly kubeconfig: string;
  readonly context: string;
  readonly server: string;
}

/** Everything the read step found, in the order it read it. */
export interface ReleaseFacts<S> {
  /** The stack's plain config values. */
  readonly readConfig: ConfigReader;
  /** Every config key the stack sets, with its namespace (`battlescope:version`). */
  readonly configKeys: readonly string[];
  /** Directory relative config paths are resolved against (the project root). */
  readonly projectDir: string;
  /**
   * The folder the engine starts the providers in (the stack's work dir, where Pulumi.yaml is):
   * build contexts inside it are given relative to it. The project root when not given.
   */
  readonly engineDir?: string;
  readonly secrets: StackSecrets<S>;
  readonly sources: LocalSources;
  /** By image name. */
  readonly registry: Readonly<Record<string, RegistryFacts>>;
  /** Read when the stack applies to a cluster (deploy true, renderManifestsTo unset). */
  readonly cluster?: ClusterFacts;
  /** Where the sources come from, for the provenance; read when the stack signs. */
  readonly provenance?: SourceFacts;
  /** The day the release runs, for the exceptions' expiry. */
  readonly today: Date;
  /** The vulnerability database folder, resolved; read when the stack scans. */
  readonly vulnerabilityDb?: string;
}

export interface HubPlan<S> {
  readonly url: string;
  readonly username: S;
  readonly token: S;
}

export interface DeploymentPlan<S> {
  readonly namespace: string;
  readonly replicas: number;
  readonly rolloutTimeoutSeconds: number;
  /** The path each running service's probes request, by service name. */
  readonly healthPaths: Readonly<Record<string, string>>;
  /** The pull secret's credentials (`pullSecretLogin`). */
  readonly pullSecret: RegistryLogin<S>;
  /** The secret `{"<service>": {"<NAME>": "<value>"}}`, parsed where it is known (`parseServiceConfig`). */
  readonly serviceConfig?: S;
  /** Render the manifests to a folder, or apply them to a cluster. */
  readonly target:
    | { readonly kind: "render"; readonly manifestsDir: string }
    | ({ readonly kind: "cluster" } & ClusterFacts);
}

/** How every image is scanned before its tags (components/imageScan.ts). */
export interface ScanPlan {
  readonly failOn: FailOn;
  readonly database: string;
  readonly maxDatabaseAgeHours: number;
  /** Every exception of the stack, expired ones too (they no longer cover anything). */
  readonly exceptions: readonly VulnerabilityException[];
  /** What the preview says of exceptions that expired or expire within 14 days. */
  readonly warnings: readonly string[];
}

export interface SigningPlan<S> {
  readonly privateKey: S;
  readonly keyPassword: S;
  readonly transparencyLog: boolean;
  readonly source: SourceFacts;
  readonly builder: string;
}

/** The release: one plan per image, and the settings every image shares. */
export interface ReleasePlan<S> {
  readonly registry: string;
  readonly organization: string;
  readonly platforms: readonly Platform[];
  readonly builder?: string;
  /** The builder of each platform's images, when the stack sets `builders` (their routes). */
  readonly platformBuilders?: Readonly<Partial<Record<Platform, string>>>;
  readonly registryCache: boolean;
  readonly buildOnPreview: boolean;
  readonly services: readonly ServicePlan[];
  /** Push credentials; absent for a registry that needs none. */
  readonly login?: RegistryLogin<S>;
  /** Where descriptions are written; absent on stacks that do not publish them. */
  readonly dockerHub?: HubPlan<S>;
  /** Absent on stacks that do not deploy. */
  readonly deployment?: DeploymentPlan<S>;
  /** Absent on stacks that do not sign. */
  readonly signing?: SigningPlan<S>;
  /** Absent on stacks that do not scan. */
  readonly scan?: ScanPlan;
}

function deploymentPlan<S>(
  config: StackConfig,
  facts: ReleaseFacts<S>,
  pullSecret: RegistryLogin<S>,
): DeploymentPlan<S> {
  let target: DeploymentPlan<S>["target"];
  if (config.renderManifestsTo !== undefined) {
    target = {
      kind: "render",
      manifestsDir: path.resolve(facts.projectDir, config.renderManifestsTo),
    };
  } else if (facts.cluster !== undefined) {
    target = { kind: "cluster", ...facts.cluster };
  } else {
    throw new Error("the stack applies to a cluster, but no kubeconfig was read");
  }
  return {
    namespace: config.namespace,
    replicas: config.replicas,
    rolloutTimeoutSeconds: config.rolloutTimeoutSeconds,
    healthPaths: probedPaths(config),
    pullSecret,
    ...(facts.secrets.serviceConfig === undefined
      ? {}
      : { serviceConfig: facts.secrets.serviceConfig }),
    target,
  };
}

/**
 * The release, from everything the read step found: the config validated, the sources and
 * secrets checked, each image's version guarded against the registry, then the settings.
 */
export function planRelease<S>(facts: ReleaseFacts<S>): ReleasePlan<S> {
  const config = loadStackConfig(facts.readConfig, facts.configKeys, facts.today);
  const paths = sourcePaths(config, facts.projectDir, facts.engineDir);
  checkSources(config, paths, facts.sources, facts.secrets);
  const services = planServices(config, paths, facts.sources.gitShortSha, facts.registry);
  const { secrets } = facts;
  const login = registryLogin(config.registry, secrets);
  const pullSecret = pullSecretLogin(config.registry, secrets);
  const { dockerHubUsername: username, dockerHubToken: token } = secrets;
  return {
    registry: config.registry,
    organization: config.organization,
    platforms: config.platforms,
    ...(builderName(config) === undefined ? {} : { builder: builderName(config) }),
    ...(config.builders === undefined
      ? {}
      : {
          platformBuilders: platformBuilders(
            builderName(config) as string,
            config.builders,
            config.platforms,
          ),
        }),
    registryCache: config.registryCache,
    buildOnPreview: config.buildOnPreview,
    services,
    ...(login === undefined ? {} : { login }),
    ...(config.publishDescriptions && username !== undefined && token !== undefined
      ? { dockerHub: { url: config.dockerHubUrl, username, token } }
      : {}),
    ...(config.deploy && pullSecret !== undefined
      ? { deployment: deploymentPlan(config, facts, pullSecret) }
      : {}),
    ...(config.sign ? { signing: signingPlan(config, facts) } : {}),
    ...(config.scan ? { scan: scanPlan(config, facts) } : {}),
  };
}

function scanPlan<S>(config: StackConfig, facts: ReleaseFacts<S>): ScanPlan {
  const exceptions = config.vulnerabilityExceptions;
  if (facts.vulnerabilityDb === undefined) {
    throw new Error("the stack scans, but the read step found no vulnerability database");
  }
  return {
    failOn: config.failOn,
    database: facts.vulnerabilityDb,
    maxDatabaseAgeHours: config.vulnerabilityDbMaxAgeHours,
    exceptions,
    warnings: exceptionWarnings(exceptions, facts.today),
  };
}

/** The buildx builder the images build on: `builder`, else the one made from `builders`. */
function builderName(config: StackConfig): string | undefined {
  return config.builder ?? (config.builders === undefined ? undefined : DEFAULT_NODES_BUILDER);
}

function signingPlan<S>(config: StackConfig, facts: ReleaseFacts<S>): SigningPlan<S> {
  const { cosignKey: privateKey, cosignPassword: keyPassword } = facts.secrets;
  if (privateKey === undefined || keyPassword === undefined || facts.provenance === undefined) {
    throw new Error("the stack signs, but the read step found no signing key or provenance");
  }
  return {
    privateKey,
    keyPassword,
    transparencyLog: config.transparencyLog,
    source: facts.provenance,
    builder: `buildx://${builderName(config) ?? "default"}`,
  };
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
