/** Reading manifests: what an index lists, and how a digest is shown. */

import { isAttestation, type Manifest, type ManifestDescriptor } from "../../clients/ociRegistry";

export const short = (digest: string) => digest.replace(/^sha256:/, "").slice(0, 12);
export const isIndex = (manifest: Manifest) =>
  manifest.mediaType.includes("index") || manifest.mediaType.includes("manifest.list");

/** An image entry of an index: a platform is named, and it is not an attestation. */
export function isImageEntry(child: ManifestDescriptor): boolean {
  return (
    child.platform !== undefined &&
    child.platform.architecture !== "unknown" &&
    !isAttestation(child)
  );
}

export function platformOf(child: ManifestDescriptor): string {
  const { os, architecture, variant } = child.platform ?? { os: "?", architecture: "?" };
  return variant === undefined ? `${os}/${architecture}` : `${os}/${architecture}/${variant}`;
}
