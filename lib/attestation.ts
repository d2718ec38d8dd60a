/**
 * What a signed release attaches to its images, as pure data: the SLSA provenance predicate of
 * each platform image and version list, the version list's SBOM (its platforms' SBOMs in one
 * SPDX document), the names under which the registry keeps attachments, and the readers `verify`
 * uses on what it finds. See docs/rules.md#signed-releases.
 */

/** in-toto predicate types, as `cosign attest --type` writes them. */
export const PROVENANCE_PREDICATE_TYPE = "https://slsa.dev/provenance/v1";
export const SPDX_PREDICATE_TYPE = "https://spdx.dev/Document";
/** `cosign attest --type` names of the two predicates. */
export const COSIGN_PROVENANCE_TYPE = "slsaprovenance1";
export const COSIGN_SPDX_TYPE = "spdxjson";

/** The build type our provenance describes: a BuildKit build of one service's build context. */
export const BUILD_TYPE = "https://battlescope.dev/images/buildkit-release/v1";

/** Where the images' sources come from, read once from the source root before anything is built. */
export interface SourceFacts {
  /** `git+<remote>` or `git+file://<root>`; the source root's folder when it is not a checkout. */
  readonly uri: string;
  /** Full commit sha of the source root's HEAD; absent outside a git checkout. */
  readonly commit?: string | undefined;
  /** Files differ from that commit (the provenance says so rather than claim the commit). */
  readonly dirty: boolean;
}

export interface ImageProvenanceInput {
  readonly source: SourceFacts;
  /** The build context, relative to the source root. */
  readonly context: string;
  readonly platform: string;
  readonly buildArgs: Readonly<Record<string, string>>;
  /** The builder, e.g. `buildx builder battlescope (BuildKit v0.34.2)`. */
  readonly builder: string;
  /** The sources' hash the image is labelled with. */
  readonly sourceHash: string;
}

export interface ListProvenanceInput {
  readonly source: SourceFacts;
  /** `<registry>/<org>/<service>`: where the images are. */
  readonly repository: string;
  readonly context: string;
  readonly version: string;
  readonly builder: string;
  readonly sourceHash: string;
  /** The platform images the list references, by platform. */
  readonly images: Readonly<Record<string, string>>;
}

function resolvedSource(source: SourceFacts) {
  return [
    {
      uri: source.uri,
      ...(source.commit === undefined ? {} : { digest: { gitCommit: source.commit } }),
      annotations: { dirty: source.dirty },
    },
  ];
}

/** A SLSA v1 provenance predicate of our build type. */
function provenance(
  input: { readonly builder: string; readonly sourceHash: string },
  externalParameters: Record<string, unknown>,
  resolvedDependencies: readonly unknown[],
): Record<string, unknown> {
  return {
    buildDefinition: {
      buildType: BUILD_TYPE,
      externalParameters,
      internalParameters: { sourceHash: input.sourceHash },
      resolvedDependencies,
    },
    runDetails: { builder: { id: input.builder } },
  };
}

/** SLSA v1 provenance of one platform image: no version, the image is shared across versions. */
export function imageProvenance(input: ImageProvenanceInput): Record<string, unknown> {
  return provenance(
    input,
    {
      source: input.source.uri,
      context: input.context,
      dockerfile: "Dockerfile",
      platform: input.platform,
      buildArgs: { ...input.buildArgs },
    },
    resolvedSource(input.source),
  );
}

/** SLSA v1 provenance of a version's manifest list: the version and the images it names. */
export function listProvenance(input: ListProvenanceInput): Record<string, unknown> {
  return provenance(
    input,
    {
      source: input.source.uri,
      context: input.context,
      version: input.version,
      platforms: Object.keys(input.images),
    },
    [
      ...resolvedSource(input.source),
      ...Object.entries(input.images).map(([platform, digest]) => ({
        name: platform,
        uri: `oci://${input.repository}@${digest}`,
        digest: { sha256: digest.replace(/^sha256:/, "") },
      })),
    ],
  );
}

/** An SPDX 2.3 JSON document, as far as this module reads and writes it. */
export interface SpdxDocument {
  spdxVersion: string;
  SPDXID: string;
  name: string;
  documentNamespace: string;
  dataLicense?: string;
  creationInfo: { created: string; creators: string[] };
  packages?: SpdxElement[];
  files?: SpdxElement[];
  relationships?: SpdxRelationship[];
  [key: string]: unknown;
}
interface SpdxElement {
  SPDXID: string;
  name?: string;
  fileName?: string;
  [key: string]: unknown;
}
interface SpdxRelationship {
  spdxElementId: string;
  relatedSpdxElement: string;
  relationshipType: string;
  [key: string]: unknown;
}

/**
 * The version list's SBOM: a package for the list and one per platform image (each with its
 * digest), holding that platform's SBOM packages and files under ids prefixed by the platform.
 */
export function listSbom(input: {
  readonly repository: string;
  readonly version: string;
  readonly listDigest: string;
  readonly created: string;
  readonly platforms: Readonly<Record<string, { digest: string; sbom: SpdxDocument }>>;
}): SpdxDocument {
  const listId = "SPDXRef-ImageIndex";
  const packages: SpdxElement[] = [
    imagePackage(listId, input.repository, input.version, input.listDigest),
  ];
  const files: SpdxElement[] = [];
  const relationships: SpdxRelationship[] = [
    {
      spdxElementId: "SPDXRef-DOCUMENT",
      relatedSpdxElement: listId,
      relationshipType: "DESCRIBES",
    },
  ];
  for (const [platform, { digest, sbom }] of Object.entries(input.platforms)) {
    const prefix = `SPDXRef-${platform.replace(/[^A-Za-z0-9.]/g, "-")}-`;
    const imageId = `${prefix}Image`;
    const rename = (id: string) =>
      id === "SPDXRef-DOCUMENT" ? imageId : `${prefix}${id.replace(/^SPDXRef-/, "")}`;
    packages.push({
      ...imagePackage(imageId, input.repository, platform, digest),
      name: `${input.repository} ${platform}`,
    });
    relationships.push({
      spdxElementId: listId,
      relatedSpdxElement: imageId,
      relationshipType: "CONTAINS",
    });
    for (const element of sbom.packages ?? [])
      packages.push({ ...element, SPDXID: rename(element.SPDXID) });
    for (const element of sbom.files ?? [])
      files.push({ ...element, SPDXID: rename(element.SPDXID) });
    for (const relation of sbom.relationships ?? []) {
      if (relation.relationshipType === "DESCRIBES") continue;
      relationships.push({
        ...relation,
        spdxElementId: rename(relation.spdxElementId),
        relatedSpdxElement: /^SPDXRef-/.test(relation.relatedSpdxElement)
          ? rename(relation.relatedSpdxElement)
          : relation.relatedSpdxElement,
      });
    }
  }
  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: `${input.repository}:${input.version}`,
    documentNamespace: `https://battlescope.dev/spdx/${input.repository}/${input.listDigest}`,
    creationInfo: { created: input.created, creators: ["Tool: battlescope-images"] },
    packages,
    files,
    relationships,
  };
}

function imagePackage(
  id: string,
  repository: string,
  version: string,
  digest: string,
): SpdxElement {
  const hex = digest.replace(/^sha256:/, "");
  return {
    SPDXID: id,
    name: repository,
    versionInfo: version,
    downloadLocation: "NOASSERTION",
    filesAnalyzed: false,
    checksums: [{ algorithm: "SHA256", checksumValue: hex }],
    externalRefs: [
      {
        referenceCategory: "PACKAGE-MANAGER",
        referenceType: "purl",
        referenceLocator: `pkg:oci/${repository.split("/").pop()}@sha256%3A${hex}?repository_url=${encodeURIComponent(repository)}`,
      },
    ],
  };
}

/** The names an SBOM lists: its packages' names and its files' names. */
export function sbomNames(doc: SpdxDocument): { packages: string[]; files: string[] } {
  return {
    packages: (doc.packages ?? []).flatMap((element) =>
      element.name === undefined ? [] : [element.name],
    ),
    files: (doc.files ?? []).flatMap((element) =>
      element.fileName === undefined ? [] : [element.fileName],
    ),
  };
}

/** The source commit a provenance predicate names, if any. */
export function provenanceCommit(predicate: unknown): string | undefined {
  const dependencies = (predicate as { buildDefinition?: { resolvedDependencies?: unknown } })
    ?.buildDefinition?.resolvedDependencies;
  if (!Array.isArray(dependencies)) return undefined;
  for (const dependency of dependencies) {
    const commit = (dependency as { digest?: { gitCommit?: unknown } })?.digest?.gitCommit;
    if (typeof commit === "string") return commit;
  }
  return undefined;
}

/**
 * Tags that hold a manifest's attachments, by the subject's digest: the OCI referrers tag schema
 * (`sha256-<hex>`, an index of the referrers, what cosign v3 writes where the registry has no
 * referrers API) and cosign's older tags (`sha256-<hex>.sig`, `.att`, `.sbom`).
 */
const ATTACHMENT_TAG = /^sha256-([0-9a-f]{64})(?:\.(?:sig|att|sbom))?$/;

/** The subject digest of an attachment tag, undefined for any other tag. */
export function attachmentSubject(tag: string): string | undefined {
  const match = ATTACHMENT_TAG.exec(tag);
  return match === null ? undefined : `sha256:${match[1]}`;
}

/** The referrers tag of a digest (`sha256:<hex>` -> `sha256-<hex>`). */
export function referrersTag(digest: string): string {
  return digest.replace(":", "-");
}
