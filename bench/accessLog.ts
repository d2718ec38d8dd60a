/**
 * The registry's access log entries of a scenario (scripts/registryAccessLog.ts reads them),
 * classified by method and path kind, and the bytes the uploads carried.
 *
 * The log holds method, path, status, response bytes and user agent, but no request body size.
 * Bytes uploaded are therefore derived: every blob upload the registry completed (`PUT
 * .../blobs/uploads/<id>?digest=<d>` answered 201) is sized by a `HEAD .../blobs/<d>` afterwards,
 * and every manifest written (`PUT .../manifests/<ref>` answered 201) by a `HEAD` of the same
 * reference (a tag is read after the scenario, when it still holds what was written). Cross-
 * repository mounts (`POST ...?mount=`) move no bytes and are counted apart.
 */
import type { LogEntry } from "../scripts/registryAccessLog";

export const PATH_KINDS = ["manifests", "uploads", "blobs", "tags", "other"] as const;
export type PathKind = (typeof PATH_KINDS)[number];

/**
 * Requests in the same window that name no repository of any organization (`/v2/` pings) or the
 * base image (`library/...`): partly the scenario's, partly other users' of the shared registry.
 */
export function unscoped(entries: readonly LogEntry[]): LogEntry[] {
  return entries.filter(
    (entry) =>
      entry.path === "/v2/" ||
      entry.path.startsWith("/v2/?") ||
      entry.path.startsWith("/v2/library/"),
  );
}

export function pathKind(path: string): PathKind {
  const bare = path.split("?")[0] ?? path;
  if (bare.includes("/blobs/uploads/")) return "uploads";
  if (bare.includes("/manifests/")) return "manifests";
  if (bare.includes("/blobs/")) return "blobs";
  if (bare.endsWith("/tags/list")) return "tags";
  return "other";
}

/** `<kind>` -> `<METHOD>` -> count. */
export type RequestCounts = Record<PathKind, Record<string, number>>;

export function countRequests(entries: readonly LogEntry[]): RequestCounts {
  const counts = Object.fromEntries(PATH_KINDS.map((kind) => [kind, {}])) as RequestCounts;
  for (const entry of entries) {
    const byMethod = counts[pathKind(entry.path)];
    byMethod[entry.method] = (byMethod[entry.method] ?? 0) + 1;
  }
  return counts;
}

export function kindTotal(counts: RequestCounts, kind: PathKind): number {
  return Object.values(counts[kind]).reduce((sum, n) => sum + n, 0);
}

export function total(counts: RequestCounts): number {
  return PATH_KINDS.reduce((sum, kind) => sum + kindTotal(counts, kind), 0);
}

/** Which client sent a request, from its user agent. */
export function client(agent: string): string {
  if (agent.startsWith("buildkit/")) return "buildkit (builds, cache)";
  if (agent.startsWith("containerd/2.2")) return "docker-build Index (manifest lists)";
  if (agent.startsWith("containerd/")) return "buildx imagetools (manifest lists)";
  if (agent === "node") return "node (program reads, RegistryTagSet)";
  if (agent.startsWith("Docker-Client/")) return "docker CLI";
  return agent === "" ? "(none)" : agent;
}

export interface Upload {
  readonly repository: string;
  readonly digest: string;
  readonly agent: string;
}

/** Blob uploads the registry completed: each one carried that blob's bytes once. */
export function completedUploads(entries: readonly LogEntry[]): Upload[] {
  const uploads: Upload[] = [];
  for (const entry of entries) {
    if (entry.method !== "PUT" || entry.status !== 201) continue;
    const match = /^\/v2\/(.+)\/blobs\/uploads\/[^?]*\?(.*)$/.exec(entry.path);
    if (match === null) continue;
    const digest = new URLSearchParams(match[2]).get("digest");
    if (digest !== null)
      uploads.push({ repository: match[1] as string, digest, agent: entry.agent });
  }
  return uploads;
}

/** Cross-repository mounts the registry granted (201): a blob linked, no bytes sent. */
export function mounts(entries: readonly LogEntry[]): number {
  return entries.filter(
    (entry) => entry.method === "POST" && entry.status === 201 && entry.path.includes("mount="),
  ).length;
}

export interface ManifestWrite {
  readonly repository: string;
  readonly reference: string;
  readonly agent: string;
}

export function manifestWrites(entries: readonly LogEntry[]): ManifestWrite[] {
  const writes: ManifestWrite[] = [];
  for (const entry of entries) {
    if (entry.method !== "PUT" || entry.status !== 201) continue;
    const match = /^\/v2\/(.+)\/manifests\/([^?]+)/.exec(entry.path);
    if (match !== null) {
      writes.push({
        repository: match[1] as string,
        reference: decodeURIComponent(match[2] as string),
        agent: entry.agent,
      });
    }
  }
  return writes;
}

const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

async function contentLength(url: string, accept?: string): Promise<number> {
  const response = await fetch(url, {
    method: "HEAD",
    ...(accept === undefined ? {} : { headers: { Accept: accept } }),
  });
  if (!response.ok) return 0;
  return Number(response.headers.get("content-length") ?? 0);
}

export interface UploadedBytes {
  /** Blob bytes carried by completed uploads. */
  readonly blobBytes: number;
  /** Manifest bytes carried by manifest PUTs. */
  readonly manifestBytes: number;
  readonly blobUploads: number;
  readonly manifestPuts: number;
  readonly mounts: number;
}

/** Sizes what a scenario uploaded; call after the scenario's end mark (these HEADs are logged). */
export async function uploadedBytes(
  registry: string,
  entries: readonly LogEntry[],
): Promise<UploadedBytes> {
  const base = `https://${registry}/v2`;
  const uploads = completedUploads(entries);
  const writes = manifestWrites(entries);
  const blobSizes = await Promise.all(
    uploads.map((upload) => contentLength(`${base}/${upload.repository}/blobs/${upload.digest}`)),
  );
  const manifestSizes = await Promise.all(
    writes.map((write) =>
      contentLength(
        `${base}/${write.repository}/manifests/${encodeURIComponent(write.reference)}`,
        MANIFEST_ACCEPT,
      ),
    ),
  );
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  return {
    blobBytes: sum(blobSizes),
    manifestBytes: sum(manifestSizes),
    blobUploads: uploads.length,
    manifestPuts: writes.length,
    mounts: mounts(entries),
  };
}
