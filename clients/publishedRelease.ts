import {
  type PublishedPlatform,
  type PublishedRelease,
  SOURCE_HASH_LABEL,
} from "../lib/releaseGuard";
import type { Architecture } from "../lib/versions";
import type { OciRegistryClient } from "./ociRegistry";

/**
 * Reads what a registry holds under a version before anything is built: the manifest list, and
 * each architecture's image with the source hash label of its config.
 */
export async function readPublishedRelease(
  client: OciRegistryClient,
  repository: string,
  version: string,
  architectures: readonly Architecture[],
): Promise<PublishedRelease> {
  const [index, ...images] = await Promise.all([
    client.getManifest(repository, version),
    ...architectures.map((arch) => client.getManifest(repository, `${version}-${arch}`)),
  ]);
  const platforms: Partial<Record<Architecture, PublishedPlatform>> = {};
  await Promise.all(
    architectures.map(async (arch, i) => {
      const image = images[i];
      if (image === undefined) return;
      const configDigest = image.blobs[0]?.digest;
      let sourceHash: string | undefined;
      if (configDigest !== undefined && image.manifests.length === 0) {
        const config = JSON.parse(
          (await client.getBlob(repository, configDigest)).toString("utf8"),
        ) as {
          config?: { Labels?: Record<string, string> | null };
        };
        sourceHash = config.config?.Labels?.[SOURCE_HASH_LABEL];
      }
      platforms[arch] =
        sourceHash === undefined ? { digest: image.digest } : { digest: image.digest, sourceHash };
    }),
  );
  if (index === undefined) return { platforms };
  const indexPlatforms: Partial<Record<Architecture, string>> = {};
  for (const child of index.manifests) {
    const arch = child.platform?.architecture as Architecture | undefined;
    if (child.platform?.os === "linux" && arch !== undefined) indexPlatforms[arch] = child.digest;
  }
  return { indexDigest: index.digest, indexPlatforms, platforms };
}
