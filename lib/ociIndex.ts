import { createHash } from "node:crypto";
import type { Manifest, ManifestDescriptor } from "../clients/ociRegistry";

export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

/** One platform image of a manifest list, as the registry serves it. */
export interface IndexEntry {
  readonly os: string;
  readonly architecture: string;
  readonly digest: string;
  readonly manifest: Pick<Manifest, "mediaType" | "manifests" | "raw">;
}

/**
 * The bytes and digest of an OCI index of platform images, the same for the same inputs on any
 * machine. A platform given as an index itself (an image with its attestation, as buildx pushes
 * them) contributes its entries, as `buildx imagetools create` does.
 */
export function indexManifest(
  entries: readonly IndexEntry[],
  annotations: Readonly<Record<string, string>>,
): { raw: string; digest: string; mediaType: string } {
  const manifests: ManifestDescriptor[] = entries.flatMap((entry) =>
    entry.manifest.manifests.length > 0
      ? entry.manifest.manifests
      : [
          {
            mediaType: entry.manifest.mediaType,
            digest: entry.digest,
            size: Buffer.byteLength(entry.manifest.raw),
            platform: { architecture: entry.architecture, os: entry.os },
          },
        ],
  );
  const sorted = Object.fromEntries(
    Object.keys(annotations)
      .sort()
      .map((key) => [key, annotations[key] as string]),
  );
  const raw = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests,
    ...(Object.keys(sorted).length === 0 ? {} : { annotations: sorted }),
  });
  return {
    raw,
    digest: `sha256:${createHash("sha256").update(raw).digest("hex")}`,
    mediaType: OCI_INDEX,
  };
}
