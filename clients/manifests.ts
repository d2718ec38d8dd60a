/** Manifests and indexes as the registry clients read them: their media types, entries and parse. */

/** Every manifest and index media type, so HEAD answers with the digest of what is stored. */
export const MANIFEST_MEDIA_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
];

export interface ManifestDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: {
    readonly architecture: string;
    readonly os: string;
    readonly variant?: string;
  };
  readonly annotations?: Readonly<Record<string, string>>;
  /** What an artifact is (a referrer's, such as a Sigstore bundle). */
  readonly artifactType?: string;
}

/** An index entry that is an attestation (BuildKit lists them as `unknown` OS), not an image. */
export function isAttestation(child: ManifestDescriptor): boolean {
  return (
    child.platform?.os === "unknown" ||
    child.annotations?.["vnd.docker.reference.type"] === "attestation-manifest"
  );
}

export interface Manifest {
  readonly digest: string;
  readonly mediaType: string;
  /** Children of an index or manifest list; empty for an image manifest. */
  readonly manifests: readonly ManifestDescriptor[];
  /** Layers and config of an image manifest; empty for an index. */
  readonly blobs: readonly ManifestDescriptor[];
  readonly raw: string;
}

/** A manifest's bytes as read, with the digest and media type the registry named. */
export function parseManifest(raw: string, digest: string, contentType: string): Manifest {
  const body = JSON.parse(raw) as {
    mediaType?: string;
    manifests?: ManifestDescriptor[];
    layers?: ManifestDescriptor[];
    config?: ManifestDescriptor;
  };
  return {
    digest,
    mediaType: body.mediaType ?? contentType,
    manifests: body.manifests ?? [],
    blobs: [...(body.config ? [body.config] : []), ...(body.layers ?? [])],
    raw,
  };
}
