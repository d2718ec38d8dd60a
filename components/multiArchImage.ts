import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { type Platform, platformArchitecture } from "../lib/config";
import { archTag, type TagPlan } from "../lib/tagPlan";
import { RegistryTagSet } from "./registryTagSet";

export interface RegistryLogin {
  /** Registry host, e.g. `docker.io`. */
  readonly address: string;
  readonly username: pulumi.Input<string>;
  readonly password: pulumi.Input<string>;
}

export interface MultiArchImageArgs {
  /** Fully qualified repository without a tag, e.g. `docker.io/battlescope/frontend`. */
  readonly repository: string;
  /** The tags this release claims (rule 3); every one is written, no other. */
  readonly plan: TagPlan;
  /** Platforms built, one image each; the manifest lists reference exactly these. */
  readonly platforms: readonly Platform[];
  /** Absolute path of the build context holding the Dockerfile. */
  readonly context: string;
  /** buildx builder to build with; the provider's default when absent. */
  readonly builder?: string;
  /** Credentials for pushing; absent for registries that need none. */
  readonly login?: RegistryLogin;
  /** Read and write a registry build cache per platform at `<repository>-buildcache:<arch>`. */
  readonly registryCache: boolean;
  /** Build during preview as well as during update. */
  readonly buildOnPreview: boolean;
  /** Image config labels; the OCI version label makes every release's digests its own. */
  readonly labels?: Record<string, string>;
  /** Build arguments, the same for every platform. */
  readonly buildArgs?: Record<string, string>;
}

/**
 * The build pushes by digest only, so no tag is written until the version arch tag is claimed
 * with a create-only check. Builds are reproducible: timestamps come from SOURCE_DATE_EPOCH and
 * layer file times are rewritten, so the same sources give the same digests on any builder.
 */
export function imageExport(repository: string): string {
  return `type=image,name=${repository},push=true,push-by-digest=true,rewrite-timestamp=true`;
}
export const SOURCE_DATE_EPOCH = "0";

/**
 * The build cache lives in a repository of its own, so its manifests and tags stay out of the
 * image's tag list. (It moved there when the local registry was distribution 2.8, where the cache
 * export and the image push writing the same blob link at once failed the image's manifest.)
 */
export function buildCacheRef(repository: string, arch: string): string {
  return `${repository}-buildcache:${arch}`;
}

/** The digest part of a `<name>:<tag>@sha256:<hex>` reference. */
export function digestOfRef(ref: string): string {
  const at = ref.lastIndexOf("@");
  return at === -1 ? "" : ref.slice(at + 1);
}

/**
 * One image per platform, pushed under its version arch tag, one manifest list per claimed tag,
 * and the floating arch tags written as copies of the version's arch manifests.
 *
 * Everything that carries a tag is retained on delete: docker-build removes pushed digests when
 * a resource is deleted or replaced, and a release must survive version bumps and
 * `pulumi destroy` (rule 5). Only the retention command deletes.
 */
export class MultiArchImage extends pulumi.ComponentResource {
  /** Digest of the version's manifest list. */
  public readonly digest: pulumi.Output<string>;
  /** `<repository>:<version>@<manifest list digest>`. */
  public readonly ref: pulumi.Output<string>;
  /** Per-architecture image digests. */
  public readonly platformDigests: pulumi.Output<Record<string, string>>;
  /** Fully qualified manifest list tags written by this release. */
  public readonly manifestTags: string[];

  constructor(name: string, args: MultiArchImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("battlescope:images:MultiArchImage", name, {}, opts);
    const registries = args.login === undefined ? undefined : [args.login];
    const builder = args.builder === undefined ? undefined : { name: args.builder };

    // The platforms build at the same time. They often share layers (reproducible COPY layers are
    // byte-identical), so their pushes upload the same blob into one repository at once: the
    // registry must write blob links atomically (distribution v3.1.1 or later; 2.8 fails one
    // platform's manifest, bench/RESULTS.md "Registry race").
    const images = args.platforms.map((platform) => {
      const arch = platformArchitecture(platform);
      const cacheRef = buildCacheRef(args.repository, arch);
      const image = new dockerBuild.Image(
        `${name}-${arch}`,
        {
          push: false,
          exports: [{ raw: imageExport(args.repository) }],
          platforms: [platform as dockerBuild.Platform],
          context: { location: args.context },
          buildArgs: { ...args.buildArgs, SOURCE_DATE_EPOCH },
          labels: args.labels,
          buildOnPreview: args.buildOnPreview,
          builder,
          registries,
          cacheFrom: args.registryCache ? [{ registry: { ref: cacheRef } }] : undefined,
          cacheTo: args.registryCache
            ? [
                {
                  registry: {
                    ref: cacheRef,
                    mode: dockerBuild.CacheMode.Max,
                    imageManifest: true,
                    ociMediaTypes: true,
                  },
                },
              ]
            : undefined,
        },
        { parent: this, retainOnDelete: true },
      );
      return { arch, image };
    });

    const sources = images.map(
      ({ image }) => pulumi.interpolate`${args.repository}@${image.digest}`,
    );
    const registry = args.login;
    const [registryHost, ...repositoryPath] = args.repository.split("/");
    const [versionTag, ...floatingTags] = args.plan.manifestTags;
    const tagArgs = {
      registry: registryHost as string,
      repository: repositoryPath.join("/"),
      ...(args.login === undefined
        ? {}
        : { username: args.login.username, password: args.login.password }),
    };

    // The version's arch tags are claimed create-only, right before they are written: the check
    // the program made at startup is repeated at the last moment, so a concurrent release of the
    // same version with other sources fails here instead of overwriting.
    const versionArchTags = new RegistryTagSet(
      `${name}-${versionTag}-arch-tags`,
      {
        ...tagArgs,
        tags: images.map(({ arch, image }) => ({
          tag: archTag(versionTag as string, arch),
          digest: image.digest,
        })),
        createOnly: true,
      },
      { parent: this },
    );

    // Tag writes to one repository go one after another: the version's manifest list first, then
    // each floating tag (rule 6), so a floating tag never moves before the version exists. Being
    // sequential also keeps registries that write link files in place (distribution 2.8's
    // filesystem driver) from serving a half-written link to a concurrent read.
    const versionIndex = new dockerBuild.Index(
      `${name}-${versionTag}`,
      { tag: `${args.repository}:${versionTag}`, sources, push: true, registry },
      { parent: this, retainOnDelete: true, dependsOn: [versionArchTags] },
    );
    let previous: pulumi.Resource = versionIndex;
    for (const tag of floatingTags) {
      previous = new dockerBuild.Index(
        `${name}-${tag}`,
        { tag: `${args.repository}:${tag}`, sources, push: true, registry },
        { parent: this, retainOnDelete: true, dependsOn: [previous] },
      );
    }
    if (floatingTags.length > 0) {
      new RegistryTagSet(
        `${name}-floating-arch-tags`,
        {
          ...tagArgs,
          tags: floatingTags.flatMap((tag) =>
            images.map(({ arch, image }) => ({ tag: archTag(tag, arch), digest: image.digest })),
          ),
          createOnly: false,
        },
        { parent: this, dependsOn: [previous] },
      );
    }

    this.digest = versionIndex.ref.apply(digestOfRef);
    this.ref = pulumi.interpolate`${args.repository}:${args.plan.version}@${this.digest}`;
    this.platformDigests = pulumi
      .all(images.map(({ image }) => image.digest))
      .apply((digests) =>
        Object.fromEntries(images.map(({ arch }, i) => [arch, digests[i] ?? ""])),
      );
    this.manifestTags = args.plan.manifestTags.map((tag) => `${args.repository}:${tag}`);
    this.registerOutputs({
      digest: this.digest,
      ref: this.ref,
      platformDigests: this.platformDigests,
      manifestTags: this.manifestTags,
    });
  }
}
