/**
 * The deletes retention plans, in the order it needs them: manifest units on an OCI registry
 * (each index before its children) and tags through the Docker Hub API. A registry that does not
 * delete by digest at all ({@link DeleteRefusedError}) stops the deletes at its first refusal:
 * it is the registry's setting, so every later delete would be refused too.
 */
import type { ManifestUnit } from "../lib/retention";
import { type DockerHubClient, DockerHubError, HubRouteError } from "./dockerHub";
import { DeleteRefusedError, type OciRegistryClient } from "./ociRegistry";

export interface DeleteReport {
  readonly deletedManifests: string[];
  /** The tags whose manifest was deleted (on an OCI registry a tag goes with its manifest). */
  readonly deletedTags: string[];
  readonly failures: string[];
}

export interface ManifestDeleteReport extends DeleteReport {
  /** The registry refused deleting by digest: nothing was tried after that refusal. */
  readonly refused: DeleteRefusedError | undefined;
}

/**
 * Deletes manifest units on an OCI registry: every unit's root (index) first, then the
 * children of the roots that were deleted. A child whose index could not be deleted stays, so
 * no surviving index ever points at a missing manifest. Keeps going past a failure, but not past
 * a registry that refuses deleting by digest: then nothing more is tried, no child either.
 */
export async function deleteManifestUnits(
  client: OciRegistryClient,
  repository: string,
  units: readonly ManifestUnit[],
  /** Units not to delete (their tags could not be removed): their children stay too. */
  standing: readonly ManifestUnit[] = [],
): Promise<ManifestDeleteReport> {
  const report: DeleteReport = { deletedManifests: [], deletedTags: [], failures: [] };
  const deletedRoots = new Set<string>();
  const failedRoots = new Set<string>();
  for (const unit of units) {
    try {
      await client.deleteManifest(repository, unit.digest);
      deletedRoots.add(unit.digest);
      report.deletedManifests.push(unit.digest);
      report.deletedTags.push(...unit.tags);
    } catch (error) {
      if (error instanceof DeleteRefusedError) return { ...report, refused: error };
      failedRoots.add(unit.digest);
      report.failures.push(
        `could not delete ${repository}@${unit.digest} (${unit.tags.join(", ")}): ${(error as Error).message}`,
      );
    }
  }
  // A child goes only when every unit that lists it lost its root: a surviving index never
  // points at a missing manifest.
  const owners = new Map<string, string[]>();
  for (const unit of [...units, ...standing]) {
    for (const child of unit.children) {
      owners.set(child, [...(owners.get(child) ?? []), unit.digest]);
    }
  }
  for (const [child, roots] of owners) {
    if (deletedRoots.has(child)) continue;
    const left = roots.filter((root) => !deletedRoots.has(root));
    if (left.length > 0) {
      const failed = left.filter((root) => failedRoots.has(root));
      if (failed.length > 0) {
        report.failures.push(
          `kept ${repository}@${child}: index ${failed.join(", ")} still lists it`,
        );
      }
      continue;
    }
    try {
      await client.deleteManifest(repository, child);
      report.deletedManifests.push(child);
    } catch (error) {
      if (error instanceof DeleteRefusedError) return { ...report, refused: error };
      report.failures.push(
        `could not delete ${repository}@${child} (child of ${roots.join(", ")}): ${(error as Error).message}`,
      );
    }
  }
  return { ...report, refused: undefined };
}

export interface HubTagsReport extends DeleteReport {
  /** Tags the Hub answered "tag not found" for: gone, but not deleted by this run. */
  readonly goneTags: string[];
  /** Why nothing else was deleted, naming the tags not tried; undefined when all were tried. */
  readonly halted: string | undefined;
}

/**
 * Deletes tags through the Docker Hub API one by one. A refused delete (403, 4xx) is reported and
 * the others go on. Two failures stop everything: an unexplained one (5xx after the retries, no
 * answer), since the undocumented endpoint may be deleting something other than asked, and a 404
 * that is not the Hub's "tag not found" for a tag it has just listed, since the route itself may
 * have moved ({@link HubRouteError}): every other delete would meet the same answer.
 */
export async function deleteHubTags(
  hub: DockerHubClient,
  namespace: string,
  name: string,
  tags: readonly string[],
): Promise<HubTagsReport> {
  const report: HubTagsReport = {
    deletedManifests: [],
    deletedTags: [],
    failures: [],
    goneTags: [],
    halted: undefined,
  };
  for (const [i, tag] of tags.entries()) {
    try {
      if (await hub.deleteTag(namespace, name, tag)) report.deletedTags.push(tag);
      else report.goneTags.push(tag);
    } catch (error) {
      report.failures.push(
        `could not delete ${namespace}/${name}:${tag}: ${(error as Error).message}`,
      );
      const status = error instanceof DockerHubError ? error.status : undefined;
      const why =
        error instanceof HubRouteError
          ? `Docker Hub answered 404 on ${error.route} for a tag it had just listed (the route may have moved)`
          : status === undefined || status >= 500
            ? "Docker Hub's failure is unexplained"
            : undefined;
      if (why !== undefined) {
        const left = tags.slice(i + 1);
        const halted = `${why}, so nothing else is deleted${left.length > 0 ? ` (not tried: ${left.map((t) => `${namespace}/${name}:${t}`).join(", ")})` : ""}`;
        return { ...report, halted };
      }
    }
  }
  return report;
}
