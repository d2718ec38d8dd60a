import {
  MAX_BENCH_SERVICES,
  SERVICE_NAMES,
  SERVICES,
  type ServiceImage,
  withSyntheticCopies,
} from "../services/catalog";
import { type BuilderNode, builderKeys } from "./config/builderKeys";
import {
  CONFIG_NAMESPACE,
  ConfigError,
  type ConfigReader,
  type KeyReader,
  keyReader,
  problem,
  serviceMap,
} from "./config/keyReader";
import { type ScanConfig, scanKeys } from "./config/scanKeys";
import { nearestWord } from "./spelling";
import { ACCEPTED_VERSION_FORMS, InvalidVersionError, tryParseVersion } from "./versions";
import {
  DEFAULT_HUB_URL,
  DEFAULT_KUBERNETES_NAMESPACE,
  DEFAULT_ORGANIZATION,
  DOCKER_HUB_REGISTRY,
  PATH_COMPONENT,
  PATH_COMPONENT_FORM,
  PLATFORMS,
  type Platform,
  REGISTRY_HOST,
  REGISTRY_HOST_FORM,
} from "./vocabulary";

export { CONFIG_NAMESPACE, ConfigError, type ConfigReader } from "./config/keyReader";
export { PLATFORMS, type Platform, platformArchitecture } from "./vocabulary";

/** The builder the runner makes from `builders` when `builder` does not name it. */
export const DEFAULT_NODES_BUILDER = "battlescope-nodes";

/** `version: dev` releases the dev channel: `vX.Y.Z-dev-<git short sha>` of the source root. */
export const DEV_CHANNEL = "dev";
const ACCEPTED_STACK_VERSIONS = `${ACCEPTED_VERSION_FORMS}, or "${DEV_CHANNEL}" for the dev channel`;

/** The release signing key's public half, in the repository (keys/README.md). */
export const DEFAULT_COSIGN_PUBLIC_KEY = "keys/release.pub";

/**
 * The image pull secret the stack declares and every Deployment names; it holds the registry
 * credentials (registryUsername and registryPassword, or what stands for them).
 */
export const PULL_SECRET_NAME = "docker-hub-creds";

export interface StackConfig extends ScanConfig {
  /** Registry host the images are pushed to, e.g. `docker.io` or `127.0.0.1:5000`. */
  readonly registry: string;
  readonly organization: string;
  /** The release version of every service unless `versions` overrides it. */
  readonly version: string;
  /** Per-service version overrides, keyed by image name. */
  readonly versions: Readonly<Record<string, string>>;
  readonly platforms: readonly Platform[];
  /** Kubernetes namespace of the Deployments. */
  readonly namespace: string;
  readonly replicas: number;
  /** Folder holding one build context per image, named after the image. */
  readonly sourceRoot: string;
  /** False on stacks (dev) that must never move `vX.Y`, `vX` or `latest`. */
  readonly moveFloatingTags: boolean;
  /** Whether this stack writes Docker Hub repository descriptions. */
  readonly publishDescriptions: boolean;
  readonly dockerHubUrl: string;
  /** Build during `pulumi preview` too (slower previews that catch build errors early). */
  readonly buildOnPreview: boolean;
  /**
   * Name of the buildx builder the docker-build provider uses; its default when unset, and
   * `DEFAULT_NODES_BUILDER` when `builders` is set (the runner makes that builder).
   */
  readonly builder?: string;
  /**
   * The BuildKit nodes of the builder (lib/config/builderKeys.ts); unset: the builder named by
   * `builder` is used as it is (the local services' one node on the local stack).
   */
  readonly builders?: readonly BuilderNode[];
  /** Declare the Kubernetes Deployments, Services and pull secret. */
  readonly deploy: boolean;
  /** Render Kubernetes manifests to this folder instead of applying them to a cluster. */
  readonly renderManifestsTo?: string;
  /**
   * A kubeconfig file to apply with (`~` and `$VAR` expanded), for clusters whose kubeconfig is
   * made per machine; otherwise the secret `kubeconfig` holds the file's contents.
   */
  readonly kubeconfigPath?: string;
  /** The kubeconfig context naming the cluster; the kubeconfig's current-context when unset. */
  readonly kubeContext?: string;
  /** Seconds `up` waits for each Deployment's rollout before failing it. */
  readonly rolloutTimeoutSeconds: number;
  /** Per-service overrides of the catalog's health path, which both probes request. */
  readonly healthPaths: Readonly<Record<string, string>>;
  /** Push and read build caches in the registry (`<image>-buildcache:<arch>`). */
  readonly registryCache: boolean;
  /** A stable release needs an entry for its version in the source root's CHANGELOG.md. */
  readonly requireChangelog: boolean;
  /**
   * Sign every release with cosign and attach SBOMs and provenance
   * (docs/rules.md#signed-releases); needs the secrets `cosignKey` and `cosignPassword`.
   */
  readonly sign: boolean;
  /** The public half of the signing key, a file in the repository; checked against the key. */
  readonly cosignPublicKey: string;
  /**
   * Record signatures in the public transparency log (Rekor). False only where there is none to
   * reach (the local stack): cosign then signs and verifies offline with the key alone.
   */
  readonly transparencyLog: boolean;
  /**
   * Benchmarks only (bench/scaling.ts): release this many images, the catalog's nine and
   * synthetic copies of them (`withSyntheticCopies`). Unset on every real stack.
   */
  readonly benchServiceCount?: number;
}

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const BUILDER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const KUBE_NAME = /^[^\s]+$/;
const HTTP_PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;
const DEPLOYED_SERVICE_NAMES = SERVICES.filter((service) => service.deploy).map(
  (service) => service.name,
);

/** Where the images go: `registry` and `organization`. */
function registryKeys(keys: KeyReader): Pick<StackConfig, "registry" | "organization"> {
  return {
    registry: keys.text("registry", DOCKER_HUB_REGISTRY, REGISTRY_HOST, REGISTRY_HOST_FORM),
    organization: keys.text(
      "organization",
      DEFAULT_ORGANIZATION,
      PATH_COMPONENT,
      PATH_COMPONENT_FORM,
    ),
  };
}

/** What is released: `version`, and `versions` per image. */
function versionKeys(keys: KeyReader): Pick<StackConfig, "version" | "versions"> {
  const version = keys.read("version");
  if (version === undefined) {
    keys.problems.push(
      `missing config "${CONFIG_NAMESPACE}:version": expected ${ACCEPTED_STACK_VERSIONS}`,
    );
  } else if (version !== DEV_CHANNEL && tryParseVersion(version) instanceof InvalidVersionError) {
    keys.problems.push(problem("version", version, ACCEPTED_STACK_VERSIONS));
  }
  const versions = serviceMap(keys, "versions", {
    map: "a map of image name to version",
    names: SERVICE_NAMES,
    namesAre: "a BattleScope image",
    accepted: ACCEPTED_VERSION_FORMS,
    valid: (value) => !(tryParseVersion(value) instanceof InvalidVersionError),
  });
  return { version: version ?? "", versions };
}

/** The platforms built: `platforms`, a non-empty list of distinct known platforms. */
function platformKeys(keys: KeyReader): Pick<StackConfig, "platforms"> {
  const all = { platforms: [...PLATFORMS] };
  const raw = keys.json("platforms");
  if (raw === undefined) return all;
  const accepted = `a non-empty list of distinct platforms among ${PLATFORMS.join(", ")}`;
  if (!Array.isArray(raw) || raw.length === 0) {
    keys.problems.push(problem("platforms", raw, accepted));
    return all;
  }
  const bad = raw.filter((p) => !(PLATFORMS as readonly unknown[]).includes(p));
  for (const platform of bad) {
    keys.problems.push(problem("platforms", platform, `one of ${PLATFORMS.join(", ")}`));
  }
  if (bad.length > 0) return all;
  if (new Set(raw).size !== raw.length) {
    keys.problems.push(problem("platforms", raw, accepted));
    return all;
  }
  return { platforms: PLATFORMS.filter((p) => raw.includes(p)) };
}

/** How the Deployments run: namespace, replicas, rollout timeout and probes. */
function deploymentKeys(
  keys: KeyReader,
): Pick<StackConfig, "namespace" | "replicas" | "rolloutTimeoutSeconds" | "healthPaths"> {
  return {
    namespace: keys.text(
      "namespace",
      DEFAULT_KUBERNETES_NAMESPACE,
      DNS_LABEL,
      "a Kubernetes namespace name (DNS label)",
    ),
    replicas: keys.count("replicas", "2", 1, 100, "a whole number from 1 to 100"),
    rolloutTimeoutSeconds: keys.count(
      "rolloutTimeout",
      "300",
      10,
      3600,
      "a whole number of seconds from 10 to 3600",
    ),
    healthPaths: serviceMap(keys, "healthPaths", {
      map: "a map of service name to an HTTP path",
      names: DEPLOYED_SERVICE_NAMES,
      namesAre: "a BattleScope service that runs",
      accepted: "an absolute HTTP path such as /health",
      valid: (value) => HTTP_PATH.test(value),
    }),
  };
}

/** Which cluster: `kubeContext` and `kubeconfigPath` (the kubeconfig itself is a secret). */
function clusterKeys(keys: KeyReader): Pick<StackConfig, "kubeContext" | "kubeconfigPath"> {
  const kubeContext = keys.read("kubeContext");
  if (kubeContext !== undefined && !KUBE_NAME.test(kubeContext)) {
    keys.problems.push(problem("kubeContext", kubeContext, "a kubeconfig context name"));
  }
  const kubeconfigPath = keys.read("kubeconfigPath");
  if (kubeconfigPath !== undefined && kubeconfigPath.trim() === "") {
    keys.problems.push(problem("kubeconfigPath", kubeconfigPath, "the path of a kubeconfig file"));
  }
  return {
    ...(kubeContext === undefined ? {} : { kubeContext }),
    ...(kubeconfigPath === undefined ? {} : { kubeconfigPath }),
  };
}

type PathKeys = "sourceRoot" | "dockerHubUrl" | "builder" | "renderManifestsTo" | "cosignPublicKey";

/** Where things are: the sources, the Hub, the builder, the manifests and the public key. */
function pathKeys(keys: KeyReader): Pick<StackConfig, PathKeys> {
  const sourceRoot = keys.read("sourceRoot");
  if (sourceRoot === undefined || sourceRoot.trim() === "") {
    keys.problems.push(
      `missing config "${CONFIG_NAMESPACE}:sourceRoot": expected the folder holding one build context per image`,
    );
  }
  const dockerHubUrl = keys
    .text(
      "dockerHubUrl",
      DEFAULT_HUB_URL,
      /^https?:\/\/[^\s/]+(?:\/[^\s]*)?$/,
      `an http(s) URL such as ${DEFAULT_HUB_URL}`,
    )
    .replace(/\/+$/, "");
  const builder = keys.read("builder");
  if (builder !== undefined && !BUILDER_NAME.test(builder)) {
    keys.problems.push(problem("builder", builder, "a buildx builder name"));
  }
  const renderManifestsTo = keys.read("renderManifestsTo");
  const cosignPublicKey = keys.read("cosignPublicKey") ?? DEFAULT_COSIGN_PUBLIC_KEY;
  if (cosignPublicKey.trim() === "") {
    keys.problems.push(
      problem("cosignPublicKey", cosignPublicKey, "the path of a cosign public key file"),
    );
  }
  return {
    sourceRoot: sourceRoot ?? "",
    dockerHubUrl,
    cosignPublicKey,
    ...(builder === undefined ? {} : { builder }),
    ...(renderManifestsTo === undefined ? {} : { renderManifestsTo }),
  };
}

/** `benchServiceCount`: benchmarks only. */
function benchKeys(keys: KeyReader): Pick<StackConfig, "benchServiceCount"> {
  if (keys.read("benchServiceCount") === undefined) return {};
  const benchServiceCount = keys.count(
    "benchServiceCount",
    "",
    SERVICES.length,
    MAX_BENCH_SERVICES,
    `a whole number from ${SERVICES.length} to ${MAX_BENCH_SERVICES} (benchmarks only)`,
  );
  return { benchServiceCount };
}

type Switches =
  | "moveFloatingTags"
  | "publishDescriptions"
  | "buildOnPreview"
  | "deploy"
  | "registryCache"
  | "requireChangelog"
  | "sign"
  | "transparencyLog";

/** The stack's switches, each true or false. */
function switchKeys(keys: KeyReader): Pick<StackConfig, Switches> {
  return {
    moveFloatingTags: keys.bool("moveFloatingTags", true),
    publishDescriptions: keys.bool("publishDescriptions", true),
    buildOnPreview: keys.bool("buildOnPreview", false),
    deploy: keys.bool("deploy", true),
    registryCache: keys.bool("registryCache", true),
    requireChangelog: keys.bool("requireChangelog", true),
    sign: keys.bool("sign", false),
    transparencyLog: keys.bool("transparencyLog", true),
  };
}

/** Every plain key, read and judged group by group; `today` judges the exceptions' expiry. */
function readKeys(keys: KeyReader, today: Date): StackConfig {
  const registry = registryKeys(keys);
  const versions = versionKeys(keys);
  const platforms = platformKeys(keys);
  const builders = builderKeys(keys, platforms.platforms);
  return {
    ...registry,
    ...versions,
    ...platforms,
    ...(builders === undefined ? {} : { builders }),
    ...deploymentKeys(keys),
    ...clusterKeys(keys),
    ...pathKeys(keys),
    ...benchKeys(keys),
    ...switchKeys(keys),
    ...scanKeys(keys, today),
  };
}

/** The secret config keys, in the order `StackSecrets` (release/plan.ts) lists them. */
export const SECRET_KEYS = [
  "dockerHubUsername",
  "dockerHubToken",
  "registryUsername",
  "registryPassword",
  "pullSecretUsername",
  "pullSecretPassword",
  "kubeconfig",
  "serviceConfig",
  "cosignKey",
  "cosignPassword",
  "builderTls",
] as const;

/**
 * The groups above asked for their keys by an empty config: a key a group starts reading is a
 * setting without being listed again (each group asks for its keys whatever the values).
 */
const EMPTY_READ = (() => {
  const keys = keyReader(() => undefined);
  readKeys(keys, new Date(0));
  return keys;
})();

/** Every key of the namespace the program reads: the plain keys, then the secrets. */
export const STACK_SETTINGS: readonly string[] = [...EMPTY_READ.asked, ...SECRET_KEYS];

/** The settings that hold a map or a list, whose entries `pulumi config set --path` sets. */
const STRUCTURED_SETTINGS: readonly string[] = [...EMPTY_READ.structured];

/**
 * A problem for each key of the namespace that is no setting, in key order, with the setting it
 * most likely meant: a misspelt key would otherwise leave the setting at its default without a
 * word. `configKeys` are the stack's keys with their namespace; other namespaces' are not ours.
 */
export function unknownKeyProblems(configKeys: readonly string[]): string[] {
  const prefix = `${CONFIG_NAMESPACE}:`;
  return configKeys
    .filter((key) => key.startsWith(prefix) && !STACK_SETTINGS.includes(key.slice(prefix.length)))
    .sort()
    .map((key) => {
      const name = key.slice(prefix.length);
      // `pulumi config set battlescope:healthPaths.frontend /x` without --path names a key
      // "healthPaths.frontend"; with it, the entry of the map healthPaths.
      const head = name.split(".")[0] as string;
      if (name.includes(".") && STRUCTURED_SETTINGS.includes(head)) {
        return `${key} is not a setting; to set an entry of ${head}, use \`pulumi config set --path '${key}' <value>\``;
      }
      const meant = nearestWord(name, STACK_SETTINGS);
      return meant === undefined
        ? `${key} is not a setting (none is close; README.md#stacks-and-their-secrets lists them)`
        : `${key} is not a setting; did you mean ${meant}?`;
    });
}

/**
 * Validates the whole stack config before any resource is declared, and reports every bad
 * key at once, each with its value and what is accepted, in the order of the groups above;
 * then each key the stack sets that is no setting (`configKeys`, with their namespace).
 * `today` is the day vulnerability exceptions are judged against (how far ahead they expire).
 */
export function loadStackConfig(
  read: ConfigReader,
  configKeys: readonly string[],
  today: Date = new Date(),
): StackConfig {
  const keys = keyReader(read);
  const config = readKeys(keys, today);
  const problems = [...keys.problems, ...unknownKeyProblems(configKeys)];
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The images a stack releases: the catalog, grown by `benchServiceCount` on benchmark stacks. */
export function releasedServices(config: StackConfig): readonly ServiceImage[] {
  return config.benchServiceCount === undefined
    ? SERVICES
    : withSyntheticCopies(SERVICES, config.benchServiceCount);
}

/** The path each released service's probes request: its override, else the catalog's. */
export function probedPaths(config: StackConfig): Record<string, string> {
  return Object.fromEntries(
    releasedServices(config).flatMap((service) => {
      const probed = config.healthPaths[service.name] ?? service.healthPath;
      return probed === undefined ? [] : [[service.name, probed]];
    }),
  );
}

/** The version a service is released at: its override, else the stack's version. */
export function serviceVersion(config: StackConfig, service: string): string {
  return config.versions[service] ?? config.version;
}
