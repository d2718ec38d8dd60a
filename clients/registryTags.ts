/**
 * Tag sources for retention: an OCI registry (tags, manifests, push dates from image configs),
 * Docker Hub (the Hub's tag list with dates and per-platform digests) and a tags file. Each
 * gives a {@link RepositorySnapshot}: the tags with their digests and dates, and the manifest
 * graph behind them. The deletes are in clients/registryDeletes.ts.
 */

import * as fs from "node:fs";
import { type ManifestInfo, parseIsoDate, type TagRecord } from "../lib/retention";
import { DOCKER_TAG_PATTERN } from "../lib/versions";
import { DIGEST, DOCKER_HUB_REGISTRY } from "../lib/vocabulary";
import { dockerConfigCredentials, type RegistryCredential } from "./dockerConfig";
import { type DockerHubClient, DockerHubError, type HubTag, retryAfterMs } from "./dockerHub";
import { isAttestation, type Manifest, OciRegistryClient } from "./ociRegistry";

export interface RepositorySnapshot {
  /** `<organization>/<service>`. */
  readonly repository: string;
  readonly tags: TagRecord[];
  /** Every manifest the tags reach, by digest: indexes, per-arch and attestation manifests. */
  readonly manifests: Map<string, ManifestInfo>;
  /** Whether blob sizes are known (not on Docker Hub). */
  readonly sizesKnown: boolean;
}

/** Bad tag source input: the command exits with code 2 and deletes nothing. */
export class TagSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TagSourceError";
  }
}

export const TAGS_FILE_FORM = 'a JSON array of {"name", "lastUpdated", "digest"} objects';

/** Reads and checks a tags file: `[{"name": "v3.0.1", "lastUpdated": "<ISO 8601>", "digest": "sha256:..."}]`. */
export function readTagsFile(file: string): TagRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new TagSourceError(`cannot read tags file ${file}: ${(error as Error).message}`);
  }
  return parseTagsFile(text, file);
}

export function parseTagsFile(text: string, file: string): TagRecord[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new TagSourceError(`tags file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(body)) {
    throw new TagSourceError(`tags file ${file} must hold ${TAGS_FILE_FORM}`);
  }
  const seen = new Set<string>();
  return body.map((item: unknown, i): TagRecord => {
    const where = `tags file ${file}: item ${i + 1}`;
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      throw new TagSourceError(`${where} is not an object: expected ${TAGS_FILE_FORM}`);
    }
    const { name, lastUpdated, digest } = item as Record<string, unknown>;
    if (typeof name !== "string") throw new TagSourceError(`${where} has no "name" string`);
    if (!DOCKER_TAG_PATTERN.test(name)) {
      throw new TagSourceError(`${where} has an invalid tag name ${JSON.stringify(name)}`);
    }
    const label = `${where} (${name})`;
    if (typeof lastUpdated !== "string") {
      throw new TagSourceError(`${label} has no "lastUpdated" string`);
    }
    if (parseIsoDate(lastUpdated) === undefined) {
      throw new TagSourceError(
        `${label} has an invalid "lastUpdated" ${JSON.stringify(lastUpdated)}: expected an ISO 8601 date-time such as 2026-05-01T00:00:00Z`,
      );
    }
    if (digest !== undefined && (typeof digest !== "string" || !DIGEST.test(digest))) {
      throw new TagSourceError(
        `${label} has an invalid "digest" ${JSON.stringify(digest)}: expected sha256:<64 hex digits>`,
      );
    }
    if (seen.has(name)) throw new TagSourceError(`tags file ${file} lists ${name} twice`);
    seen.add(name);
    return digest === undefined ? { name, lastUpdated } : { name, lastUpdated, digest };
  });
}

/** Runs `task` over `items` with at most `limit` running at once, keeping the order of results. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export interface RateLimitOptions {
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** How many 429 answers are waited out before the 429 is returned. Default 5. */
  readonly maxRetries?: number;
  /**
   * The longest wait worth making (default 60 s): a pull limit that resets in hours (Docker Hub's
   * window is 6 h) is returned at once, for the client to stop with the reset time.
   */
  readonly maxWaitMs?: number;
}

/**
 * A `fetch` that waits out 429 answers as the server asks (`Retry-After`, `X-Retry-After`,
 * `X-RateLimit-Reset`; else exponential backoff), for the OCI registry client.
 */
export function rateLimitedFetch(options: RateLimitOptions = {}): typeof fetch {
  const send = options.fetch ?? fetch;
  const sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  const maxRetries = options.maxRetries ?? 5;
  const maxWaitMs = options.maxWaitMs ?? 60_000;
  return (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    for (let retry = 0; ; retry++) {
      const response = await send(input, init);
      if (response.status !== 429 || retry >= maxRetries) return response;
      const wait = retryAfterMs(response.headers, now()) ?? Math.min(1000 * 2 ** retry, 60_000);
      if (wait > maxWaitMs) return response;
      await response.body?.cancel();
      await sleep(wait);
    }
  }) as typeof fetch;
}

/** An image `created` before this is a reproducible build's fixed time, not when it was built. */
const PLAUSIBLE_DATE = Date.UTC(2000, 0, 1);

function toInfo(manifest: Manifest): ManifestInfo {
  return {
    digest: manifest.digest,
    children: manifest.manifests.map((child) => child.digest),
    blobs: manifest.blobs.map((blob) => ({ digest: blob.digest, size: blob.size })),
    size: Buffer.byteLength(manifest.raw),
  };
}

/**
 * Reads a repository of an OCI registry: every tag with its digest, every manifest reached
 * (children of indexes included), and for the tags `needsAge` asks about, the build date from
 * the image config's `created` (the registry API has no tag dates). A reproducible build's
 * fixed `created` (SOURCE_DATE_EPOCH=0, 1970) gives no date: such a tag's age is unknown.
 */
export async function readOciRepository(
  client: OciRegistryClient,
  repository: string,
  options: { needsAge?: (tag: string) => boolean; concurrency?: number } = {},
): Promise<RepositorySnapshot> {
  const concurrency = options.concurrency ?? 8;
  const names = await client.listTags(repository);
  const raw = new Map<string, Manifest>();
  const manifests = new Map<string, ManifestInfo>();
  const resolved = await mapLimit(names, concurrency, async (name) => {
    const manifest = await client.getManifest(repository, name);
    if (manifest === undefined) return undefined;
    raw.set(manifest.digest, manifest);
    manifests.set(manifest.digest, toInfo(manifest));
    return { name, digest: manifest.digest };
  });
  // Walk the indexes down to their per-arch and attestation manifests.
  let pending = [...manifests.values()].flatMap((info) => info.children);
  while (pending.length > 0) {
    const wanted = [...new Set(pending)].filter((digest) => !manifests.has(digest));
    const found = await mapLimit(wanted, concurrency, (digest) =>
      client.getManifest(repository, digest),
    );
    pending = [];
    for (const manifest of found) {
      if (manifest === undefined) continue;
      raw.set(manifest.digest, manifest);
      const info = toInfo(manifest);
      manifests.set(manifest.digest, info);
      pending.push(...info.children);
    }
  }

  const created = new Map<string, Promise<string | undefined>>();
  const createdOf = (digest: string): Promise<string | undefined> => {
    const manifest = raw.get(digest);
    if (manifest === undefined) return Promise.resolve(undefined);
    if (manifest.manifests.length > 0) {
      const image = manifest.manifests.find((child) => !isAttestation(child));
      return image === undefined ? Promise.resolve(undefined) : createdOf(image.digest);
    }
    const config = manifest.blobs[0]?.digest;
    if (config === undefined) return Promise.resolve(undefined);
    let pendingConfig = created.get(config);
    if (pendingConfig === undefined) {
      pendingConfig = client.getBlob(repository, config).then((blob) => {
        try {
          const value = (JSON.parse(blob.toString("utf8")) as { created?: unknown }).created;
          if (typeof value !== "string") return undefined;
          // Reproducible builds (SOURCE_DATE_EPOCH=0) say 1970: no date, not an old one.
          const time = parseIsoDate(value);
          return time === undefined || time < PLAUSIBLE_DATE ? undefined : value;
        } catch {
          return undefined;
        }
      });
      created.set(config, pendingConfig);
    }
    return pendingConfig;
  };

  const present = resolved.filter((entry) => entry !== undefined);
  const tags = await mapLimit(present, concurrency, async ({ name, digest }) => {
    const lastUpdated = options.needsAge?.(name) ? await createdOf(digest) : undefined;
    return lastUpdated === undefined ? { name, digest } : { name, digest, lastUpdated };
  });
  return { repository, tags, manifests, sizesKnown: true };
}

/**
 * Reads a repository through the Docker Hub API: tags with their dates; each tag's per-platform
 * images (attestations included, from `images[].digest`) are its index's children. The Hub's
 * documented tag schema holds no digest of the index itself, so `resolveDigest` (the registry)
 * names it; without it the tags carry no digest and no manifest is planned. A repository the Hub
 * does not have is empty; one it has never lists as empty because the tag listing failed.
 */
export async function readHubRepository(
  hub: DockerHubClient,
  namespace: string,
  name: string,
  resolveDigest?: (tag: string) => Promise<string | undefined>,
): Promise<RepositorySnapshot> {
  const repository = `${namespace}/${name}`;
  let listed: HubTag[];
  try {
    listed = await hub.listTags(namespace, name);
  } catch (error) {
    if (!(error instanceof DockerHubError && error.status === 404)) throw error;
    if ((await hub.getRepository(namespace, name)) !== undefined) {
      throw new DockerHubError(
        `${error.message}, yet the Hub has the repository ${repository}: its tags cannot be read`,
        error.operation,
        404,
      );
    }
    return { repository, tags: [], manifests: new Map(), sizesKnown: false };
  }
  const digests = await mapLimit(listed, 8, (tag) =>
    resolveDigest === undefined ? Promise.resolve(undefined) : resolveDigest(tag.name),
  );
  const manifests = new Map<string, ManifestInfo>();
  const tags = listed.map((tag, i): TagRecord => {
    const record: { name: string; lastUpdated?: string; digest?: string } = { name: tag.name };
    if (tag.lastUpdated !== "") record.lastUpdated = tag.lastUpdated;
    const digest = digests[i];
    if (digest !== undefined && digest !== "") {
      record.digest = digest;
      const children = tag.images
        .map((image) => image.digest)
        .filter((child) => child !== "" && child !== digest);
      manifests.set(digest, { digest, children, blobs: [] });
      for (const child of children) {
        if (!manifests.has(child)) manifests.set(child, { digest: child, children: [], blobs: [] });
      }
    }
    return record;
  });
  return { repository, tags, manifests, sizesKnown: false };
}

/**
 * The command line's registry login: DOCKER_HUB_USERNAME/DOCKER_HUB_TOKEN on Docker Hub,
 * BATTLESCOPE_REGISTRY_USERNAME/BATTLESCOPE_REGISTRY_PASSWORD elsewhere, else the Docker login.
 */
export function registryLoginFromEnv(
  registry: string,
  env: Readonly<Record<string, string | undefined>>,
): RegistryCredential | undefined {
  const hub = registry === DOCKER_HUB_REGISTRY;
  const username = hub ? env.DOCKER_HUB_USERNAME : env.BATTLESCOPE_REGISTRY_USERNAME;
  const password = hub ? env.DOCKER_HUB_TOKEN : env.BATTLESCOPE_REGISTRY_PASSWORD;
  return username && password ? { username, password } : dockerConfigCredentials(registry, env);
}

/** The registry client the command line uses: that login, and rate limits obeyed. */
export function registryClientFromEnv(
  registry: string,
  env: Readonly<Record<string, string | undefined>>,
  deps: RateLimitOptions,
): OciRegistryClient {
  const login = registryLoginFromEnv(registry, env);
  return new OciRegistryClient({
    registry,
    ...(login === undefined ? {} : login),
    fetch: rateLimitedFetch({
      ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
      ...(deps.sleep === undefined ? {} : { sleep: deps.sleep }),
    }),
  });
}
