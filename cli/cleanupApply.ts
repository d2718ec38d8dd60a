/**
 * `cleanup --apply`: deletes what retention planned, tags before the manifests behind them, and
 * says what happened to every planned tag. Exit codes: 0 when every planned delete went through
 * (on Docker Hub, with its manifests left to the Hub when its registry refuses deletes by digest),
 * 1 when some were deleted and some failed, 2 when nothing was deleted.
 */
import type { DockerHubClient } from "../clients/dockerHub";
import type { DeleteRefusedError, OciRegistryClient } from "../clients/ociRegistry";
import { deleteHubTags, deleteManifestUnits } from "../clients/registryDeletes";
import type { RepositorySnapshot } from "../clients/registryTags";
import {
  freedBlobs,
  type ManifestInfo,
  type ManifestUnit,
  type RetentionPlan,
} from "../lib/retention";
import { plural, UsageError } from "./shared";

/** Where the tags are read and deleted: an OCI registry, and the Hub API on Docker Hub. */
export interface TagSource {
  readonly client: OciRegistryClient;
  readonly hub: DockerHubClient | undefined;
}

/** One repository's plan: what the rules say, and the manifests behind it once digests are known. */
export interface RepositoryPlan {
  readonly label: string;
  readonly snapshot: RepositorySnapshot | undefined;
  readonly plan: RetentionPlan;
  readonly units: readonly ManifestUnit[];
  readonly reached: ReadonlySet<string>;
}

/** A cleanup that deleted nothing it planned: exit code 2, as for bad input. */
export class NothingDeletedError extends UsageError {
  constructor(message: string) {
    super(`cleanup deleted nothing: ${message}`);
    this.name = "NothingDeletedError";
  }
}

/** What one repository's deletes did; `refused` is the registry's refusal of deletes by digest. */
interface RepositoryOutcome {
  readonly deletedTags: readonly string[];
  readonly deletedManifests: readonly string[];
  readonly goneTags: readonly string[];
  readonly failures: readonly string[];
  /** Planned tags the refusal left standing (OCI) or left without their manifests (Hub). */
  readonly refusedTags: readonly string[];
  readonly refused: DeleteRefusedError | undefined;
  readonly halted: string | undefined;
}

/**
 * What to do about a tag the registry would not delete by digest. On Docker Hub the tag itself
 * went through the Hub API (the Hub's own tag deletion); its images stay on the Hub, untagged.
 */
export function refusalLine(
  registry: string,
  fullTag: string,
  refused: Pick<DeleteRefusedError, "answer">,
  hub: boolean,
): string {
  const why = `registry ${registry} does not allow deleting by digest (${refused.answer})`;
  return hub
    ? `note    ${fullTag}: deleted through the Docker Hub API; its manifests stay on Docker Hub, untagged: ${why}`
    : `kept    ${fullTag}: ${why}; to delete it, enable deletes in the registry's configuration (distribution: storage.delete.enabled: true) or delete it with the registry's own UI or API`;
}

/** What the deletes of every repository added up to. */
interface Tally {
  readonly planned: number;
  readonly deletedTags: number;
  readonly deletedDigests: readonly string[];
  readonly goneTags: number;
  readonly failures: readonly string[];
  /** Planned tags left standing by the refusal (OCI registries only). */
  readonly keptByRefusal: number;
  readonly refused: DeleteRefusedError | undefined;
}

/** Tags before the manifests behind them, one unit at a time, past single failures. */
export async function applyPlans(
  plans: readonly RepositoryPlan[],
  source: TagSource,
  say: (text: string) => void,
): Promise<void> {
  const hub = source.hub !== undefined;
  const tally = {
    planned: 0,
    deletedTags: 0,
    deletedDigests: [] as string[],
    goneTags: 0,
    failures: [] as string[],
    keptByRefusal: 0,
    refused: undefined as DeleteRefusedError | undefined,
  };
  for (const { snapshot, plan } of plans) {
    if (snapshot !== undefined) tally.planned += plan.delete.length;
  }
  for (const { snapshot, plan, units } of plans) {
    if (snapshot === undefined || plan.delete.length === 0) continue;
    const repository = snapshot.repository;
    const outcome = await deleteRepository(source, repository, plan, units, tally.refused);
    for (const tag of outcome.deletedTags) say(`deleted ${repository}:${tag}\n`);
    for (const tag of outcome.goneTags)
      say(`gone    ${repository}:${tag}: the Hub no longer had it\n`);
    for (const failure of outcome.failures) say(`failed  ${failure}\n`);
    const refused = tally.refused ?? outcome.refused;
    if (refused !== undefined) {
      for (const tag of outcome.refusedTags) {
        say(`${refusalLine(source.client.registry, `${repository}:${tag}`, refused, hub)}\n`);
      }
    }
    if (outcome.halted !== undefined) say(`stopped ${outcome.halted}\n`);
    tally.refused = refused;
    tally.deletedTags += outcome.deletedTags.length;
    tally.goneTags += outcome.goneTags.length;
    if (!hub) tally.keptByRefusal += outcome.refusedTags.length;
    tally.deletedDigests.push(...outcome.deletedManifests);
    tally.failures.push(...outcome.failures);
    if (outcome.halted !== undefined) break;
  }
  conclude(tally, plans, source, say);
}

/**
 * The last line, and the command's end: nothing deleted is exit code 2 (NothingDeletedError),
 * some deletes failed or refused is 1, otherwise 0.
 */
function conclude(
  tally: Tally,
  plans: readonly RepositoryPlan[],
  source: TagSource,
  say: (text: string) => void,
): void {
  const { planned, deletedTags, deletedDigests, goneTags, failures, refused } = tally;
  const hub = source.hub !== undefined;
  const refusal =
    refused === undefined
      ? ""
      : `registry ${source.client.registry} does not allow deleting by digest (${refused.answer})`;
  const gone = goneTags > 0 ? `; ${plural(goneTags, "tag was", "tags were")} already gone` : "";
  // On Docker Hub the tag deletes come first: when none went through, they are what failed.
  const refusedAll = !hub && refused !== undefined;
  const failed = refusedAll ? refusal : `${plural(failures.length, "delete")} failed`;
  const nothing = deletedTags === 0 && deletedDigests.length === 0 && planned > 0;
  if (nothing && (refusedAll || failures.length > 0)) {
    say(`Deleted nothing of the ${plural(planned, "planned tag")}: ${failed}${gone}.\n`);
    throw new NothingDeletedError(
      refusedAll
        ? `${refusal}; all ${plural(planned, "planned tag")} are still there`
        : `${failed} (listed above)`,
    );
  }
  const left =
    hub && refused !== undefined
      ? ` Their manifests stay on Docker Hub, untagged: ${refusal}.`
      : "";
  say(
    `Deleted ${plural(deletedTags, "tag")} and ${plural(deletedDigests.length, "manifest")}${gone}.${left} ${freedText(plans, deletedDigests, hub)}\n`,
  );
  if (refusedAll) {
    throw new Error(
      `cleanup: ${refusal} after the first deletes; ${plural(tally.keptByRefusal, "planned tag")} kept (listed above)`,
    );
  }
  if (failures.length > 0) {
    throw new Error(`cleanup: ${plural(failures.length, "delete")} failed (listed above)`);
  }
}

/**
 * One repository's deletes. On Docker Hub the tags go through the Hub API first; a manifest goes
 * only once all its tags are gone, and nothing more after the Hub failed without explaining.
 * Once the registry has refused a delete by digest (`refused`), no other is sent.
 */
async function deleteRepository(
  { client, hub }: TagSource,
  repository: string,
  plan: RetentionPlan,
  units: readonly ManifestUnit[],
  refused: DeleteRefusedError | undefined,
): Promise<RepositoryOutcome> {
  const plannedTags = plan.delete.map((decision) => decision.tag);
  if (hub === undefined) {
    const report =
      refused === undefined
        ? await deleteManifestUnits(client, repository, units)
        : { deletedManifests: [], deletedTags: [], failures: [], refused };
    const deleted = new Set(report.deletedTags);
    return {
      ...report,
      goneTags: [],
      refusedTags:
        report.refused === undefined ? [] : plannedTags.filter((tag) => !deleted.has(tag)),
      halted: undefined,
    };
  }
  const [namespace, name] = splitRepository(repository);
  const tagReport = await deleteHubTags(hub, namespace, name, plannedTags);
  const gone = new Set([...tagReport.deletedTags, ...tagReport.goneTags]);
  const free =
    tagReport.halted !== undefined
      ? []
      : units.filter((unit) => unit.tags.every((tag) => gone.has(tag)));
  const held = units.filter((unit) => !free.includes(unit));
  const manifestReport =
    refused === undefined
      ? await deleteManifestUnits(client, repository, free, held)
      : { deletedManifests: [], deletedTags: [], failures: [], refused };
  const withManifests = new Set(manifestReport.deletedTags);
  const refusedTags =
    manifestReport.refused === undefined
      ? []
      : free.flatMap((unit) => unit.tags).filter((tag) => !withManifests.has(tag));
  return {
    deletedTags: tagReport.deletedTags,
    goneTags: tagReport.goneTags,
    deletedManifests: manifestReport.deletedManifests,
    failures: [...tagReport.failures, ...manifestReport.failures],
    refusedTags,
    refused: manifestReport.refused,
    halted: tagReport.halted,
  };
}

function splitRepository(repository: string): [string, string] {
  const slash = repository.indexOf("/");
  return [repository.slice(0, slash), repository.slice(slash + 1)];
}

/** Bytes freed, over every repository read: a blob another kept manifest uses is not freed. */
export function estimate(plans: readonly RepositoryPlan[], deleted: readonly string[]) {
  const manifests = new Map<string, ManifestInfo>();
  const kept: string[] = [];
  for (const entry of plans) {
    for (const [digest, info] of entry.snapshot?.manifests ?? []) manifests.set(digest, info);
    kept.push(...entry.reached);
  }
  return freedBlobs(deleted, kept, manifests);
}

function freedText(
  plans: readonly RepositoryPlan[],
  deleted: readonly string[],
  hub: boolean,
): string {
  if (hub) return "Docker Hub gives no blob sizes: space freed is not estimated.";
  const { count: blobs, bytes } = estimate(plans, deleted);
  return `About ${formatBytes(bytes)} in ${plural(blobs, "blob")} is freed once the registry collects garbage (an estimate: the deleted manifests and the blobs only they reference; a blob another repository or an untagged manifest still uses stays).`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
