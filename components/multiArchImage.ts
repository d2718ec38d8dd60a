import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import type { SourceFacts } from "../lib/attestation";
import { type Platform, platformArchitecture } from "../lib/config";
import { archTag, type TagPlan } from "../lib/tagPlan";
import type { Architecture } from "../lib/versions";
import type { FailOn, VulnerabilityException } from "../lib/vulnerabilities";
import { ImageScan } from "./imageScan";
import { RegistryTagSet, type RegistryTagSetArgs } from "./registryTagSet";
import { ReleaseAttestations } from "./releaseAttestations";

export interface RegistryLogin {
  /** Registry host, e.g. `docker.io`. */
  readonly address: string;
  readonly username: pulumi.Input<string>;
  readonly password: pulumi.Input<string>;
}

export interface MultiArchImageArgs {
  /** Fully qualified repository without a tag, e.g. `docker.io/battlescope/frontend`. */
  readonly repository: string;
  /** The tags this release claims (docs/rules.md#the-tag-plan); every one is written, no other. */
  readonly plan: TagPlan;
  /** Platforms built, one image each; the manifest lists reference exactly these. */
  readonly platforms: readonly Platform[];
  /** The build context holding the Dockerfile: absolute, or relative to the project root. */
  readonly context: string;
  /** buildx builder to build with; the provider's default when absent. */
  readonly builder?: string;
  /**
   * The builder of each platform's image, where a platform has its own (`builders`: the
   * single-node builder of the node it is routed to); `builder` for the others.
   */
  readonly platformBuilders?: Readonly<Partial<Record<Platform, string>>>;
  /** Credentials for pushing; absent for registries that need none. */
  readonly login?: RegistryLogin;
  /** Read and write a registry build cache per platform at `<repository>-buildcache:<arch>`. */
  readonly registryCache: boolean;
  /** Build during preview as well as during update. */
  readonly buildOnPreview: boolean;
  /** Image config labels: nothing that changes from one version to the next. */
  readonly labels?: Record<string, string>;
  /** Build arguments, the same for every platform. */
  readonly buildArgs?: Record<string, string>;
  /** Annotations of the version's manifest list (its version, title...). */
  readonly annotations: Record<string, string>;
  /**
   * The image digest per architecture of an earlier release built from the same sources: nothing
   * is built, the version's tags point at those images.
   */
  readonly reuse?: Readonly<Partial<Record<string, string>>>;
  /** Sign and attest the release before any floating tag moves; unsigned when absent. */
  readonly signing?: ImageSigning;
  /** Scan the platform images before any tag names them; unscanned when absent. */
  readonly scan?: ImageScanning;
}

export interface ImageScanning {
  readonly service: string;
  readonly failOn: FailOn;
  /** The grype database folder, and how old it may be. */
  readonly database: string;
  readonly maxDatabaseAgeHours: number;
  /** The exceptions that apply to this service. */
  readonly exceptions: readonly VulnerabilityException[];
  /** How many exceptions the stack has (the refusal's example adds the next one). */
  readonly exceptionCount: number;
  /**
   * Every scan of the release (other services' too): the version's tags wait for all of them, so
   * one refused image leaves every repository of the release untagged.
   */
  readonly publishAfter?: Promise<readonly pulumi.Resource[]>;
}

export interface ImageSigning {
  /** The encrypted cosign private key and its password (secrets). */
  readonly privateKey: pulumi.Input<string>;
  readonly keyPassword: pulumi.Input<string>;
  readonly transparencyLog: boolean;
  /** What the provenance says of the build. */
  readonly source: SourceFacts;
  /** The build context, relative to the source root. */
  readonly context: string;
  readonly builder: string;
  readonly sourceHash: string;
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

/**
 * One image per platform (or an earlier release's images, when the sources are the same), pushed
 * under its version arch tag, the version's manifest list, and the floating tags written as copies
 * of the version's list and arch manifests.
 *
 * Everything that carries a tag is retained on delete: docker-build removes pushed digests when
 * a resource is deleted or replaced, and a release must survive version bumps and
 * `pulumi destroy` (docs/rules.md#nothing-published-is-deleted-by-the-stack). Only the retention
 * command deletes.
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
  /** The platform images' vulnerability scan, when the stack scans. */
  public readonly scan?: ImageScan;

  constructor(name: string, args: MultiArchImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("battlescope:images:MultiArchImage", name, {}, opts);
    const images = platformImages(this, name, args);
    const [registryHost, ...repositoryPath] = args.repository.split("/");
    const tagArgs: TagArgs = {
      registry: registryHost as string,
      repository: repositoryPath.join("/"),
      ...(args.login === undefined
        ? {}
        : { username: args.login.username, password: args.login.password }),
    };
    if (args.scan !== undefined) {
      this.scan = scanImages(this, name, args, args.scan, images, tagArgs);
    }
    const scan = this.scan;
    const scanned: pulumi.Input<pulumi.Resource[]> =
      scan === undefined
        ? []
        : (args.scan?.publishAfter ?? Promise.resolve([])).then((all) => [scan, ...all]);
    const versionTags = writeVersionTags(this, name, args, images, tagArgs, scanned);
    const listDigest = versionTags.digests.apply(
      (digests) => digests[versionTagOf(args.plan)] ?? "",
    );
    // The version is signed and attested before any floating tag points at it.
    const signed: pulumi.Resource[] = [versionTags];
    if (args.signing !== undefined) {
      signed.push(
        attest(this, name, args, args.signing, images, tagArgs, listDigest, versionTags, this.scan),
      );
    }
    writeFloatingTags(this, name, args, images, tagArgs, listDigest, signed);

    this.digest = listDigest;
    this.ref = pulumi.interpolate`${args.repository}:${args.plan.version}@${this.digest}`;
    this.platformDigests = digestsByArch(images, (arch) => arch);
    this.manifestTags = args.plan.manifestTags.map((tag) => `${args.repository}:${tag}`);
    // Results are read from the properties: the engine rewrites the whole state per changed output.
    this.registerOutputs({});
  }
}

/** The version's own manifest tag: the plan's first (the floating ones follow). */
function versionTagOf(plan: TagPlan): string {
  return plan.manifestTags[0] as string;
}

interface PlatformImage {
  readonly arch: Architecture;
  readonly digest: pulumi.Output<string>;
}

/** Where the tag sets write: the registry, the repository and its login. */
type TagArgs = Pick<RegistryTagSetArgs, "registry" | "repository" | "username" | "password">;

/** The images' digests keyed by `key(arch)`. */
function digestsByArch(
  images: readonly PlatformImage[],
  key: (arch: Architecture) => string,
): pulumi.Output<Record<string, string>> {
  return pulumi
    .all(images.map(({ digest }) => digest))
    .apply((digests) =>
      Object.fromEntries(images.map(({ arch }, i) => [key(arch), digests[i] ?? ""])),
    );
}

/**
 * One image per platform, built at the same time, or an earlier release's. They often share
 * layers (reproducible COPY layers are byte-identical), so their pushes upload the same blob into
 * one repository at once: the registry must write blob links atomically (distribution v3.1.1 or
 * later; 2.8 fails one platform's manifest, bench/RESULTS.md "Registry race").
 */
function platformImages(
  parent: pulumi.Resource,
  name: string,
  args: MultiArchImageArgs,
): PlatformImage[] {
  const registries = args.login === undefined ? undefined : [args.login];
  return args.platforms.map((platform) => {
    const builderName = args.platformBuilders?.[platform] ?? args.builder;
    const builder = builderName === undefined ? undefined : { name: builderName };
    const arch = platformArchitecture(platform);
    if (args.reuse !== undefined) {
      const reused = args.reuse[arch];
      if (reused === undefined) throw new Error(`no ${arch} image to reuse for ${name}`);
      return { arch, digest: pulumi.output(reused) };
    }
    const cacheRef = buildCacheRef(args.repository, arch);
    const cache = {
      ref: cacheRef,
      mode: dockerBuild.CacheMode.Max,
      imageManifest: true,
      ociMediaTypes: true,
    };
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
        cacheTo: args.registryCache ? [{ registry: cache }] : undefined,
      },
      { parent, retainOnDelete: true },
    );
    return { arch, digest: image.digest };
  });
}

/**
 * The version's tags, claimed create-only right before they are written: the check the program
 * made at startup is repeated at the last moment, so a concurrent release of the same version with
 * other sources fails here instead of overwriting. Its manifest list is written with them, from
 * the same image manifests.
 *
 * Named without the version, as the scan and the attestations are: the next release updates these
 * resources instead of creating new ones and deleting the old (which never removed anything from
 * the registry), and what depends on the image keeps the same dependencies. Each of those steps
 * was one more rewrite of the whole state (bench/RESULTS.md, the patch release).
 */
function writeVersionTags(
  parent: pulumi.Resource,
  name: string,
  args: MultiArchImageArgs,
  images: readonly PlatformImage[],
  tagArgs: TagArgs,
  after: pulumi.Input<pulumi.Resource[]>,
): RegistryTagSet {
  const version = versionTagOf(args.plan);
  return new RegistryTagSet(
    `${name}-version-tags`,
    {
      ...tagArgs,
      tags: [
        ...images.map(({ arch, digest }) => ({ tag: archTag(version, arch), digest })),
        {
          tag: version,
          index: {
            children: images.map(({ arch, digest }) => ({
              digest,
              os: "linux",
              architecture: arch,
            })),
            annotations: args.annotations,
          },
        },
      ],
      createOnly: true,
    },
    { parent, dependsOn: after, aliases: versionNamed(name, args, "tags") },
  );
}

/**
 * The name a version's resource had before its name lost the version: a stack last released under
 * that name keeps the resource when it runs the same version again.
 */
function versionNamed(name: string, args: MultiArchImageArgs, kind: string): pulumi.Alias[] {
  return [{ name: `${name}-${versionTagOf(args.plan)}-${kind}` }];
}

/** The platform images' scan, before any tag names them (components/imageScan.ts). */
function scanImages(
  parent: pulumi.Resource,
  name: string,
  args: MultiArchImageArgs,
  scanning: ImageScanning,
  images: readonly PlatformImage[],
  tagArgs: TagArgs,
): ImageScan {
  const platformOf = new Map(
    args.platforms.map((platform) => [platformArchitecture(platform), platform]),
  );
  return new ImageScan(
    `${name}-scan`,
    {
      ...tagArgs,
      service: scanning.service,
      version: args.plan.version,
      images: digestsByArch(images, (arch) => platformOf.get(arch) as string),
      failOn: scanning.failOn,
      database: scanning.database,
      maxDatabaseAgeHours: scanning.maxDatabaseAgeHours,
      exceptions: [...scanning.exceptions],
      exceptionCount: scanning.exceptionCount,
    },
    { parent, aliases: versionNamed(name, args, "scan") },
  );
}

/** The version's SBOMs, provenance, scan results and signature, once its tags exist. */
function attest(
  parent: pulumi.Resource,
  name: string,
  args: MultiArchImageArgs,
  signing: ImageSigning,
  images: readonly PlatformImage[],
  tagArgs: TagArgs,
  listDigest: pulumi.Output<string>,
  versionTags: RegistryTagSet,
  scan: ImageScan | undefined,
): ReleaseAttestations {
  const platformOf = new Map(
    args.platforms.map((platform) => [platformArchitecture(platform), platform]),
  );
  return new ReleaseAttestations(
    `${name}-attestations`,
    {
      ...tagArgs,
      privateKey: signing.privateKey,
      keyPassword: signing.keyPassword,
      transparencyLog: signing.transparencyLog,
      version: args.plan.version,
      listDigest,
      images: digestsByArch(images, (arch) => platformOf.get(arch) as string),
      source: signing.source,
      context: signing.context,
      buildArgs: { ...args.buildArgs, SOURCE_DATE_EPOCH },
      builder: signing.builder,
      sourceHash: signing.sourceHash,
      ...(scan === undefined ? {} : { scans: scan.results }),
    },
    { parent, dependsOn: [versionTags], aliases: versionNamed(name, args, "attestations") },
  );
}

/**
 * Floating tags move only once the version exists, signed when the stack signs
 * (docs/rules.md#publishing-order), all as copies: the version's list read once and written under
 * each floating tag, and the arch twins likewise.
 */
function writeFloatingTags(
  parent: pulumi.Resource,
  name: string,
  args: MultiArchImageArgs,
  images: readonly PlatformImage[],
  tagArgs: TagArgs,
  listDigest: pulumi.Output<string>,
  after: pulumi.Resource[],
): void {
  const floatingTags = args.plan.manifestTags.slice(1);
  if (floatingTags.length === 0) return;
  new RegistryTagSet(
    `${name}-floating-tags`,
    {
      ...tagArgs,
      tags: [
        ...floatingTags.map((tag) => ({ tag, digest: listDigest })),
        ...floatingTags.flatMap((tag) =>
          images.map(({ arch, digest }) => ({ tag: archTag(tag, arch), digest })),
        ),
      ],
      createOnly: false,
    },
    { parent, dependsOn: after },
  );
}
