import {
  MAX_BENCH_SERVICES,
  SERVICE_NAMES,
  SERVICES,
  type ServiceImage,
  withSyntheticCopies,
} from "../services/catalog";
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

export { PLATFORMS, type Platform, platformArchitecture } from "./vocabulary";

/** `version: dev` releases the dev channel: `vX.Y.Z-dev-<git short sha>` of the source root. */
export const DEV_CHANNEL = "dev";
const ACCEPTED_STACK_VERSIONS = `${ACCEPTED_VERSION_FORMS}, or "${DEV_CHANNEL}" for the dev channel`;

/** The release signing key's public half, in the repository (keys/README.md). */
export const DEFAULT_COSIGN_PUBLIC_KEY = "keys/release.pub";

/** The Pulumi project name, and so the namespace of every config key. */
export const CONFIG_NAMESPACE = "battlescope";

export interface StackConfig {
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
  /** Name of the buildx builder the docker-build provider uses; its default when unset. */
  readonly builder?: string;
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

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      problems.length === 1
        ? (problems[0] as string)
        : `invalid stack config:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

/** Reads one key's raw value as Pulumi stores it: structured values arrive as JSON text. */
export type ConfigReader = (key: string) => string | undefined;

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const BUILDER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const KUBE_NAME = /^[^\s]+$/;
const HTTP_PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;
const DEPLOYED_SERVICE_NAMES = SERVICES.filter((service) => service.deploy).map(
  (service) => service.name,
);

function problem(key: string, value: unknown, accepted: string): string {
  return `invalid config "${CONFIG_NAMESPACE}:${key}": ${JSON.stringify(value)} is not accepted; expected ${accepted}`;
}

/**
 * Validates the whole stack config before any resource is declared, and reports every bad
 * key at once, each with its value and what is accepted.
 */
export function loadStackConfig(read: ConfigReader): StackConfig {
  const problems: string[] = [];

  function text(key: string, fallback: string, pattern: RegExp, accepted: string): string {
    const value = read(key) ?? fallback;
    if (!pattern.test(value)) problems.push(problem(key, value, accepted));
    return value;
  }

  function bool(key: string, fallback: boolean): boolean {
    const value = read(key);
    if (value === undefined) return fallback;
    if (value === "true") return true;
    if (value === "false") return false;
    problems.push(problem(key, value, "true or false"));
    return fallback;
  }

  function json(key: string): unknown {
    const value = read(key);
    if (value === undefined) return undefined;
    try {
      return JSON.parse(value);
    } catch {
      // A plain string where a list or map is expected: reported by the caller with the value.
      return value;
    }
  }

  function checkVersion(key: string, value: string): void {
    const parsed = tryParseVersion(value);
    if (parsed instanceof InvalidVersionError)
      problems.push(problem(key, value, ACCEPTED_VERSION_FORMS));
  }

  const registry = text("registry", DOCKER_HUB_REGISTRY, REGISTRY_HOST, REGISTRY_HOST_FORM);
  const organization = text(
    "organization",
    DEFAULT_ORGANIZATION,
    PATH_COMPONENT,
    PATH_COMPONENT_FORM,
  );

  const version = read("version");
  if (version === undefined) {
    problems.push(
      `missing config "${CONFIG_NAMESPACE}:version": expected ${ACCEPTED_STACK_VERSIONS}`,
    );
  } else if (version !== DEV_CHANNEL && tryParseVersion(version) instanceof InvalidVersionError) {
    problems.push(problem("version", version, ACCEPTED_STACK_VERSIONS));
  }

  const versions: Record<string, string> = {};
  const rawVersions = json("versions");
  if (rawVersions !== undefined) {
    if (typeof rawVersions !== "object" || rawVersions === null || Array.isArray(rawVersions)) {
      problems.push(problem("versions", rawVersions, "a map of image name to version"));
    } else {
      for (const [service, override] of Object.entries(rawVersions)) {
        if (!SERVICE_NAMES.includes(service)) {
          problems.push(
            `invalid config "${CONFIG_NAMESPACE}:versions": ${JSON.stringify(service)} is not a BattleScope image; expected one of ${SERVICE_NAMES.join(", ")}`,
          );
        } else if (typeof override !== "string") {
          problems.push(problem(`versions.${service}`, override, ACCEPTED_VERSION_FORMS));
        } else {
          checkVersion(`versions.${service}`, override);
          versions[service] = override;
        }
      }
    }
  }

  let platforms: Platform[] = [...PLATFORMS];
  const rawPlatforms = json("platforms");
  if (rawPlatforms !== undefined) {
    const accepted = `a non-empty list of distinct platforms among ${PLATFORMS.join(", ")}`;
    if (!Array.isArray(rawPlatforms) || rawPlatforms.length === 0) {
      problems.push(problem("platforms", rawPlatforms, accepted));
    } else {
      const bad = rawPlatforms.filter((p) => !(PLATFORMS as readonly unknown[]).includes(p));
      if (bad.length > 0) {
        for (const platform of bad)
          problems.push(problem("platforms", platform, `one of ${PLATFORMS.join(", ")}`));
      } else if (new Set(rawPlatforms).size !== rawPlatforms.length) {
        problems.push(problem("platforms", rawPlatforms, accepted));
      } else {
        platforms = PLATFORMS.filter((p) => rawPlatforms.includes(p));
      }
    }
  }

  const namespace = text(
    "namespace",
    DEFAULT_KUBERNETES_NAMESPACE,
    DNS_LABEL,
    "a Kubernetes namespace name (DNS label)",
  );

  const rawReplicas = read("replicas") ?? "2";
  const replicas = Number(rawReplicas);
  if (!/^[0-9]+$/.test(rawReplicas) || replicas < 1 || replicas > 100) {
    problems.push(problem("replicas", rawReplicas, "a whole number from 1 to 100"));
  }

  const rawTimeout = read("rolloutTimeout") ?? "300";
  const rolloutTimeoutSeconds = Number(rawTimeout);
  if (!/^[0-9]+$/.test(rawTimeout) || rolloutTimeoutSeconds < 10 || rolloutTimeoutSeconds > 3600) {
    problems.push(
      problem("rolloutTimeout", rawTimeout, "a whole number of seconds from 10 to 3600"),
    );
  }

  const healthPaths: Record<string, string> = {};
  const rawHealthPaths = json("healthPaths");
  if (rawHealthPaths !== undefined) {
    if (
      typeof rawHealthPaths !== "object" ||
      rawHealthPaths === null ||
      Array.isArray(rawHealthPaths)
    ) {
      problems.push(
        problem("healthPaths", rawHealthPaths, "a map of service name to an HTTP path"),
      );
    } else {
      for (const [service, healthPath] of Object.entries(rawHealthPaths)) {
        if (!DEPLOYED_SERVICE_NAMES.includes(service)) {
          problems.push(
            `invalid config "${CONFIG_NAMESPACE}:healthPaths": ${JSON.stringify(service)} is not a BattleScope service that runs; expected one of ${DEPLOYED_SERVICE_NAMES.join(", ")}`,
          );
        } else if (typeof healthPath !== "string" || !HTTP_PATH.test(healthPath)) {
          problems.push(
            problem(`healthPaths.${service}`, healthPath, "an absolute HTTP path such as /health"),
          );
        } else {
          healthPaths[service] = healthPath;
        }
      }
    }
  }

  const kubeContext = read("kubeContext");
  if (kubeContext !== undefined && !KUBE_NAME.test(kubeContext)) {
    problems.push(problem("kubeContext", kubeContext, "a kubeconfig context name"));
  }
  const kubeconfigPath = read("kubeconfigPath");
  if (kubeconfigPath !== undefined && kubeconfigPath.trim() === "") {
    problems.push(problem("kubeconfigPath", kubeconfigPath, "the path of a kubeconfig file"));
  }

  const sourceRoot = read("sourceRoot");
  if (sourceRoot === undefined || sourceRoot.trim() === "") {
    problems.push(
      `missing config "${CONFIG_NAMESPACE}:sourceRoot": expected the folder holding one build context per image`,
    );
  }

  const dockerHubUrl = text(
    "dockerHubUrl",
    DEFAULT_HUB_URL,
    /^https?:\/\/[^\s/]+(?:\/[^\s]*)?$/,
    `an http(s) URL such as ${DEFAULT_HUB_URL}`,
  ).replace(/\/+$/, "");

  const builder = read("builder");
  if (builder !== undefined && !BUILDER_NAME.test(builder)) {
    problems.push(problem("builder", builder, "a buildx builder name"));
  }
  const renderManifestsTo = read("renderManifestsTo");
  const cosignPublicKey = read("cosignPublicKey") ?? DEFAULT_COSIGN_PUBLIC_KEY;
  if (cosignPublicKey.trim() === "") {
    problems.push(
      problem("cosignPublicKey", cosignPublicKey, "the path of a cosign public key file"),
    );
  }

  const rawServiceCount = read("benchServiceCount");
  const benchServiceCount = rawServiceCount === undefined ? undefined : Number(rawServiceCount);
  if (
    rawServiceCount !== undefined &&
    (!/^[0-9]+$/.test(rawServiceCount) ||
      (benchServiceCount as number) < SERVICES.length ||
      (benchServiceCount as number) > MAX_BENCH_SERVICES)
  ) {
    problems.push(
      problem(
        "benchServiceCount",
        rawServiceCount,
        `a whole number from ${SERVICES.length} to ${MAX_BENCH_SERVICES} (benchmarks only)`,
      ),
    );
  }

  const config: StackConfig = {
    registry,
    organization,
    version: version ?? "",
    versions,
    platforms,
    namespace,
    replicas,
    sourceRoot: sourceRoot ?? "",
    moveFloatingTags: bool("moveFloatingTags", true),
    publishDescriptions: bool("publishDescriptions", true),
    dockerHubUrl,
    buildOnPreview: bool("buildOnPreview", false),
    deploy: bool("deploy", true),
    registryCache: bool("registryCache", true),
    requireChangelog: bool("requireChangelog", true),
    sign: bool("sign", false),
    cosignPublicKey,
    transparencyLog: bool("transparencyLog", true),
    ...(builder === undefined ? {} : { builder }),
    ...(renderManifestsTo === undefined ? {} : { renderManifestsTo }),
    ...(kubeconfigPath === undefined ? {} : { kubeconfigPath }),
    ...(kubeContext === undefined ? {} : { kubeContext }),
    ...(benchServiceCount === undefined ? {} : { benchServiceCount }),
    rolloutTimeoutSeconds,
    healthPaths,
  };
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
