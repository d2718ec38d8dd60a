import * as pulumi from "@pulumi/pulumi";
import { type Platform, platformArchitecture } from "../lib/config";
import { fullDescription, shortDescription } from "../lib/readme";
import { type Reuse, SOURCE_HASH_LABEL } from "../lib/releaseGuard";
import type { TagPlan } from "../lib/tagPlan";
import type { ServiceImage } from "../services/catalog";
import { DockerHubRepository } from "./hubRepository";
import {
  type ImageScanning,
  type ImageSigning,
  MultiArchImage,
  type RegistryLogin,
} from "./multiArchImage";
import { ServiceDeployment } from "./serviceDeployment";

export interface DockerHubSettings {
  readonly url: string;
  readonly username: pulumi.Input<string>;
  readonly token: pulumi.Input<string>;
}

/** How a stack signs its releases; the same for every image. */
export type SigningSettings = Omit<ImageSigning, "context" | "sourceHash">;

/** How a stack scans its releases; the exceptions are the ones naming this image or every image. */
export type ScanSettings = Omit<ImageScanning, "service">;

export interface DeploymentSettings {
  readonly namespace: pulumi.Input<string>;
  readonly replicas: number;
  readonly pullSecretName: pulumi.Input<string>;
  /** Seconds `up` waits for a rollout to become Ready. */
  readonly rolloutTimeoutSeconds?: number;
  /** The path each running service's probes request, by service name. */
  readonly healthPaths?: Readonly<Record<string, string>>;
  /** Values of the services' required variables, by service name (a secret). */
  readonly serviceConfig?: pulumi.Output<Record<string, Record<string, string>>>;
  /** What must exist in the cluster first (its namespace). */
  readonly dependsOn?: readonly pulumi.Resource[];
}

export interface ServiceReleaseArgs {
  readonly service: ServiceImage;
  readonly registry: string;
  readonly organization: string;
  readonly version: string;
  /** Tags the repository holds before this release, as the registry lists them. */
  readonly existingTags: readonly string[];
  /** Hash of the sources, stamped on the images so a re-release can tell them apart. */
  readonly sourceHash: string;
  /** An earlier release built from the same sources: its images get this version's tags. */
  readonly reuse?: Reuse;
  /** The tags this release writes and moves (`planTags`, from the existing tags and the reuse). */
  readonly tagPlan: TagPlan;
  readonly platforms: readonly Platform[];
  /** The service's build context: absolute, or relative to the project root (the engine's cwd). */
  readonly context: string;
  readonly builder?: string;
  /** The builder of each platform's image, where a platform has its own (`builders`). */
  readonly platformBuilders?: Readonly<Partial<Record<Platform, string>>>;
  readonly login?: RegistryLogin;
  readonly registryCache: boolean;
  readonly buildOnPreview: boolean;
  /** Where descriptions are written; absent on stacks that do not publish them. */
  readonly dockerHub?: DockerHubSettings;
  /** Kubernetes settings; absent when this image is not deployed by the stack. */
  readonly deployment?: DeploymentSettings;
  /** Sign and attest the release; absent on stacks that do not sign. */
  readonly signing?: SigningSettings;
  /** Scan the release before any tag; absent on stacks that do not scan. */
  readonly scan?: ScanSettings;
}

/** One image's release: its tag plan, its images and manifest lists, its Hub page, its rollout. */
export class ServiceRelease extends pulumi.ComponentResource {
  public readonly plan: TagPlan;
  public readonly image: MultiArchImage;
  /** What the Deployment runs, pinned: `<repository>:<version>@<digest>`. */
  public readonly pinnedRef: pulumi.Output<string>;

  constructor(name: string, args: ServiceReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("battlescope:release:ServiceRelease", name, {}, opts);
    const { service } = args;
    this.plan = args.tagPlan;
    const repository = `${args.registry}/${args.organization}/${service.name}`;
    // What the images' labels and the version list's annotations both say of the service.
    const describing = {
      "org.opencontainers.image.title": service.name,
      "org.opencontainers.image.description": shortDescription(service),
      "org.opencontainers.image.licenses": "MIT",
    };

    this.image = new MultiArchImage(
      name,
      {
        repository,
        plan: this.plan,
        platforms: args.platforms,
        context: args.context,
        builder: args.builder,
        ...(args.platformBuilders === undefined ? {} : { platformBuilders: args.platformBuilders }),
        login: args.login,
        registryCache: args.registryCache,
        buildOnPreview: args.buildOnPreview,
        // The images do not carry the version, so unchanged sources give the same images under
        // the next version; the version is in the tags, the list's annotations and the
        // Deployment's SERVICE_VERSION.
        labels: { ...describing, [SOURCE_HASH_LABEL]: args.sourceHash },
        annotations: { ...describing, "org.opencontainers.image.version": args.version },
        ...(args.reuse === undefined ? {} : { reuse: args.reuse.platforms }),
        ...(args.signing === undefined
          ? {}
          : {
              signing: {
                ...args.signing,
                context: service.buildContext,
                sourceHash: args.sourceHash,
              },
            }),
        ...(args.scan === undefined ? {} : { scan: { ...args.scan, service: service.name } }),
      },
      { parent: this },
    );
    this.pinnedRef = this.image.ref;

    if (args.dockerHub !== undefined) hubPage(this, name, args, args.dockerHub, this.image);
    if (args.deployment !== undefined && service.deploy) {
      rollout(this, name, args, args.deployment, this.image);
    }

    // Results are read from the properties: the engine rewrites the whole state per changed output.
    this.registerOutputs({});
  }
}

/** The service's Docker Hub page, once the tags it describes are published. */
function hubPage(
  parent: pulumi.Resource,
  name: string,
  args: ServiceReleaseArgs,
  hub: DockerHubSettings,
  image: MultiArchImage,
): void {
  const { service } = args;
  const readme = {
    service,
    registry: args.registry,
    organization: args.organization,
    version: args.version,
    existingTags: args.existingTags,
    architectures: args.platforms.map(platformArchitecture),
  };
  new DockerHubRepository(
    name,
    {
      organization: args.organization,
      repository: service.name,
      description: shortDescription(service),
      fullDescription: fullDescription(readme),
      hubUrl: hub.url,
      username: hub.username,
      token: hub.token,
    },
    { parent, dependsOn: [image] },
  );
}

/**
 * The service's Deployment, pinned to the release. The rollout starts once every tag of the
 * release is published, so a rollout that fails leaves the release complete in the registry and
 * the next `up` only rolls out.
 */
function rollout(
  parent: pulumi.Resource,
  name: string,
  args: ServiceReleaseArgs,
  deployment: DeploymentSettings,
  image: MultiArchImage,
): void {
  const { service } = args;
  const healthPath = deployment.healthPaths?.[service.name];
  // Only services with required variables read a config Secret.
  const readsConfig =
    deployment.serviceConfig !== undefined && service.env.some((env) => env.default === "required");
  new ServiceDeployment(
    name,
    {
      service,
      namespace: deployment.namespace,
      replicas: deployment.replicas,
      image: image.ref,
      version: args.version,
      pullSecretName: deployment.pullSecretName,
      ...(deployment.rolloutTimeoutSeconds === undefined
        ? {}
        : { rolloutTimeoutSeconds: deployment.rolloutTimeoutSeconds }),
      ...(healthPath === undefined ? {} : { healthPath }),
      ...(readsConfig
        ? { configValues: deployment.serviceConfig?.apply((all) => all[service.name] ?? {}) }
        : {}),
    },
    { parent, dependsOn: [image, ...(deployment.dependsOn ?? [])] },
  );
}
