import { createHash } from "node:crypto";
import { referrersTag } from "../lib/attestation";
import { allowanceOf, type PullAllowance, pullLimitRefusal } from "../lib/pullLimit";
import { DOCKER_HUB_REGISTRY } from "../lib/vocabulary";
import { CACHED_BLOB_LIMIT, type ContentCache } from "./contentCache";
import {
  MANIFEST_MEDIA_TYPES,
  type Manifest,
  type ManifestDescriptor,
  parseManifest,
} from "./manifests";
import { DeleteRefusedError, PullLimitError, RegistryError } from "./registryErrors";
import {
  newRegistrySession,
  type RegistrySession,
  RegistryTokens,
  tokenAccess,
} from "./registryToken";

export {
  isAttestation,
  MANIFEST_MEDIA_TYPES,
  type Manifest,
  type ManifestDescriptor,
} from "./manifests";
export { DeleteRefusedError, PullLimitError, RegistryError } from "./registryErrors";
export { type RegistrySession, sharedRegistrySession, tokenAccess } from "./registryToken";

export interface OciRegistryOptions {
  /** Registry host with optional port: `docker.io`, `127.0.0.1:5000`. */
  readonly registry: string;
  readonly username?: string;
  readonly password?: string;
  readonly fetch?: typeof fetch;
  /** Per-request timeout; a registry that does not answer is an error, not a hang. */
  readonly timeoutMs?: number;
  /**
   * Manifests and configs by digest (clients/contentCache.ts): a manifest found there is
   * confirmed with a HEAD instead of read again with a GET.
   */
  readonly contentCache?: ContentCache;
  /** The clock a token's lifetime is counted on. */
  readonly now?: () => number;
  /**
   * Where the registry's tokens come from and the tokens got, shared by the clients given the
   * same one (`sharedRegistrySession`); each client has its own otherwise.
   */
  readonly session?: RegistrySession;
}

const RETRIES_ON_SERVER_ERROR = 4;

/** Docker Hub's registry API lives on its own host. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB_REGISTRY ? "registry-1.docker.io" : registry;
}

/** A client for the OCI distribution API: tags, manifests, deletes. */
export class OciRegistryClient {
  private readonly base: string;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;
  private readonly session: RegistrySession;
  private readonly now: () => number;
  private readonly tokens: RegistryTokens;
  /** The pull allowance the registry announced last (Docker Hub's ratelimit headers). */
  allowance: PullAllowance | undefined;

  constructor(private readonly options: OciRegistryOptions) {
    this.base = `https://${registryApiHost(options.registry)}`;
    this.fetch = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.session = options.session ?? newRegistrySession();
    this.tokens = new RegistryTokens(this.session, {
      registry: options.registry,
      fetch: this.fetch,
      timeoutMs: this.timeoutMs,
      now: this.now,
      basic: basicAuthorization(options.username, options.password),
      expectOk: (response, what) => this.expectOk(response, what),
    });
  }

  get registry(): string {
    return this.options.registry;
  }

  /** All tags of a repository, following `Link` pagination; none when it does not exist yet. */
  async listTags(repository: string): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = `/v2/${repository}/tags/list?n=1000`;
    while (path !== undefined) {
      const response = await this.request("GET", path, repository);
      if (response.status === 404) return tags;
      await this.expectOk(response, `list tags of ${repository}`);
      const body = (await response.json()) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      path = nextLink(response.headers.get("link"));
    }
    return tags;
  }

  /** The digest and media type a reference resolves to, or undefined when it does not exist. */
  async headManifest(
    repository: string,
    reference: string,
  ): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
    const response = await this.request(
      "HEAD",
      `/v2/${repository}/manifests/${reference}`,
      repository,
      {
        accept: MANIFEST_MEDIA_TYPES.join(", "),
      },
    );
    if (response.status === 404) return undefined;
    await this.expectOk(response, `resolve ${repository}:${reference}`);
    return {
      digest: response.headers.get("docker-content-digest") ?? "",
      mediaType: response.headers.get("content-type") ?? "",
      size: Number(response.headers.get("content-length") ?? "0"),
    };
  }

  /**
   * The manifest a tag or digest names, or undefined when it does not exist. With a content
   * cache, a HEAD names the digest (and proves the manifest is still there) and the cache gives
   * the bytes; a GET (by digest) happens only for content never read before.
   */
  async getManifest(repository: string, reference: string): Promise<Manifest | undefined> {
    const cache = this.options.contentCache;
    let wanted = reference;
    if (cache !== undefined) {
      const byDigest = reference.startsWith("sha256:");
      const known = byDigest ? cache.read(reference) : undefined;
      if (!byDigest || known !== undefined) {
        const head = await this.headManifest(repository, reference);
        if (head === undefined) return undefined;
        const digest = byDigest ? reference : head.digest;
        const bytes = known ?? cache.read(digest);
        if (bytes !== undefined)
          return parseManifest(bytes.toString("utf8"), digest, head.mediaType);
        if (digest !== "") wanted = digest;
      }
    }
    const response = await this.request(
      "GET",
      `/v2/${repository}/manifests/${wanted}`,
      repository,
      {
        accept: MANIFEST_MEDIA_TYPES.join(", "),
      },
    );
    if (response.status === 404) return undefined;
    await this.expectOk(response, `read ${repository}:${reference}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const digest = response.headers.get("docker-content-digest") ?? "";
    if (digest !== "") cache?.write(digest, bytes);
    return parseManifest(
      bytes.toString("utf8"),
      digest,
      response.headers.get("content-type") ?? "",
    );
  }

  /**
   * Whether anything refers to the digest (signatures, attestations), as the OCI distribution
   * spec tells a client to find out: the referrers API, else the referrers tag schema's tag
   * `sha256-<hex>` (what cosign writes on a registry without the API).
   */
  async hasReferrers(repository: string, digest: string): Promise<boolean> {
    if (((await this.referrersFromApi(repository, digest)) ?? []).length > 0) return true;
    // Also when the API answers: attachments written before the registry had it are under the tag.
    const tag = referrersTag(digest);
    return (await this.headManifest(repository, tag)) !== undefined;
  }

  /**
   * What refers to the digest: the referrers API's index, and the referrers tag's (attachments
   * written before the registry had the API, or on one without it). The tag's index is read
   * with a HEAD when its content is cached.
   */
  async listReferrers(repository: string, digest: string): Promise<ManifestDescriptor[]> {
    const found = new Map<string, ManifestDescriptor>();
    for (const entry of (await this.referrersFromApi(repository, digest)) ?? []) {
      found.set(entry.digest, entry);
    }
    const tagged = await this.getManifest(repository, referrersTag(digest));
    for (const entry of tagged?.manifests ?? []) found.set(entry.digest, entry);
    return [...found.values()];
  }

  /** The referrers API's answer; undefined where the registry has none (not asked again then). */
  private async referrersFromApi(
    repository: string,
    digest: string,
  ): Promise<ManifestDescriptor[] | undefined> {
    // Lookups started together wait for the first to learn whether the registry has the API,
    // rather than each asking a registry without it once.
    if (this.session.referrersApi === undefined && this.session.referrersProbe !== undefined) {
      await this.session.referrersProbe;
    }
    if (this.session.referrersApi === false) return undefined;
    const probing = this.session.referrersApi === undefined;
    let probed = () => {};
    if (probing) this.session.referrersProbe = new Promise<void>((resolve) => (probed = resolve));
    try {
      const response = await this.request(
        "GET",
        `/v2/${repository}/referrers/${digest}`,
        repository,
        { accept: "application/vnd.oci.image.index.v1+json" },
      );
      if (response.status === 404) {
        await response.arrayBuffer().catch(() => undefined);
        this.session.referrersApi = false;
        return undefined;
      }
      await this.expectOk(response, `list the referrers of ${repository}@${digest}`);
      this.session.referrersApi = true;
      const index = (await response.json()) as { manifests?: ManifestDescriptor[] | null };
      return index.manifests ?? [];
    } finally {
      if (probing) probed();
    }
  }

  /**
   * Uploads a blob, as one POST and one PUT, unless the repository has it (a HEAD; not asked for
   * content no one can have written yet, `fresh`).
   */
  async pushBlob(
    repository: string,
    bytes: Buffer,
    options: { fresh?: boolean } = {},
  ): Promise<string> {
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    if (options.fresh !== true) {
      const head = await this.request(
        "HEAD",
        `/v2/${repository}/blobs/${digest}`,
        repository,
        {},
        "push",
      );
      if (head.status === 200) return digest;
    }
    const started = await this.request(
      "POST",
      `/v2/${repository}/blobs/uploads/`,
      repository,
      {},
      "push",
    );
    await this.expectOk(started, `start an upload to ${repository}`);
    const location = new URL(started.headers.get("location") ?? "", this.base);
    location.searchParams.set("digest", digest);
    const done = await this.request(
      "PUT",
      location.pathname + location.search,
      repository,
      { "content-type": "application/octet-stream" },
      "push",
      bytes,
    );
    await this.expectOk(done, `upload blob ${digest} to ${repository}`);
    return digest;
  }

  async getBlob(repository: string, digest: string): Promise<Buffer> {
    const cached = this.options.contentCache?.read(digest);
    if (cached !== undefined) return cached;
    const response = await this.request("GET", `/v2/${repository}/blobs/${digest}`, repository);
    await this.expectOk(response, `read blob ${digest} of ${repository}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    if (bytes.length <= CACHED_BLOB_LIMIT) this.options.contentCache?.write(digest, bytes);
    return bytes;
  }

  /**
   * Writes a manifest under a tag (or digest) as exact bytes, so a copy keeps its digest: moving a
   * tag this way uploads no blob. Returns the digest the registry computed.
   */
  async putManifest(
    repository: string,
    reference: string,
    raw: string,
    mediaType: string,
  ): Promise<string> {
    return (await this.pushManifest(repository, reference, raw, mediaType)).digest;
  }

  /**
   * `putManifest`, also telling whether the registry took the manifest's `subject` into its
   * referrers API (its `OCI-Subject` answer): where it did not, the writer keeps the tag.
   */
  async pushManifest(
    repository: string,
    reference: string,
    raw: string,
    mediaType: string,
  ): Promise<{ digest: string; subjectKept: boolean }> {
    const response = await this.request(
      "PUT",
      `/v2/${repository}/manifests/${reference}`,
      repository,
      { "content-type": mediaType },
      "push",
      raw,
    );
    await this.expectOk(response, `write ${repository}:${reference}`);
    const digest = response.headers.get("docker-content-digest") ?? "";
    if (digest !== "") this.options.contentCache?.write(digest, Buffer.from(raw, "utf8"));
    return { digest, subjectKept: response.headers.get("oci-subject") !== null };
  }

  /** Deletes a manifest by digest; every tag pointing at it goes with it. */
  async deleteManifest(repository: string, digest: string): Promise<void> {
    const response = await this.request(
      "DELETE",
      `/v2/${repository}/manifests/${digest}`,
      repository,
      {},
      "delete",
    );
    if (response.status === 404) return;
    if (response.status === 405) {
      const code = await errorCode(response);
      const answer = `HTTP 405${code === undefined ? "" : ` ${code}`}`;
      throw new DeleteRefusedError(
        `registry ${this.options.registry} does not allow deleting by digest: DELETE /v2/${repository}/manifests/${digest} answered ${answer}`,
        answer,
      );
    }
    await this.expectOk(response, `delete ${repository}@${digest}`);
  }

  /**
   * The actions the registry's token server grants this client's account on a repository, read
   * from the token's `access` claim (the token specification's JWT, as auth.docker.io, GHCR and
   * Harbor issue); undefined when the registry does not use bearer tokens or its token is opaque.
   */
  async grantedActions(
    repository: string,
    actions: readonly string[],
  ): Promise<string[] | undefined> {
    if (this.session.challenge === undefined) await this.ping();
    if (this.session.challenge === undefined) return undefined;
    const token = await this.tokens.fetchToken(
      this.session.challenge,
      `repository:${repository}:${actions.join(",")}`,
    );
    return tokenAccess(token, repository);
  }

  /** Answers whether the registry speaks the API, failing with a clear error when unreachable. */
  async ping(): Promise<void> {
    const response = await this.request("GET", "/v2/", undefined);
    if (response.status !== 200 && response.status !== 401) {
      throw new RegistryError(
        `registry ${this.options.registry} answered /v2/ with HTTP ${response.status}`,
        response.status,
      );
    }
  }

  private async request(
    method: string,
    path: string,
    repository: string | undefined,
    headers: Record<string, string> = {},
    action: "pull" | "push" | "delete" = "pull",
    body?: string | Buffer,
  ): Promise<Response> {
    const actions = { pull: "pull", push: "pull,push", delete: "*" }[action];
    const scope = repository === undefined ? undefined : `repository:${repository}:${actions}`;
    const send = async (authorization?: string) => {
      const withAuth = authorization === undefined ? headers : { ...headers, authorization };
      // Every request here is idempotent (reads, manifest writes of exact bytes, deletes by
      // digest, an upload's start; a blob's PUT names its digest): a 5xx is retried a few times
      // before it is reported.
      for (let attempt = 1; ; attempt++) {
        const response = await this.send(method, path, withAuth, body);
        if (response.status < 500 || attempt >= RETRIES_ON_SERVER_ERROR) return response;
        await response.arrayBuffer().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    };
    return this.tokens.authorized(scope, send, (response) => {
      this.allowance = allowanceOf(response.headers) ?? this.allowance;
    });
  }

  private async send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: string | Buffer,
  ): Promise<Response> {
    try {
      return await this.fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const cause =
        error instanceof Error
          ? ((error.cause as Error | undefined)?.message ?? error.message)
          : String(error);
      throw new RegistryError(
        `registry ${this.options.registry} cannot be reached (${method} ${path}): ${cause}`,
      );
    }
  }

  private async expectOk(response: Response, what: string): Promise<void> {
    if (response.ok) return;
    if (response.status === 429) {
      await response.arrayBuffer().catch(() => undefined);
      const allowance = allowanceOf(response.headers);
      throw new PullLimitError(
        pullLimitRefusal(this.options.registry, what, allowance, new Date(this.now())),
        allowance,
      );
    }
    const detail = await response.text().catch(() => "");
    const message = detail.length > 0 ? `: ${detail.trim().slice(0, 300)}` : "";
    throw new RegistryError(
      `registry ${this.options.registry} refused to ${what}: HTTP ${response.status}${message}`,
      response.status,
    );
  }
}

/** The first errcode of a distribution error body (`{"errors":[{"code":...}]}`), if any. */
async function errorCode(response: Response): Promise<string | undefined> {
  const text = await response.text().catch(() => "");
  try {
    const code = (JSON.parse(text) as { errors?: { code?: unknown }[] }).errors?.[0]?.code;
    return typeof code === "string" && /^[A-Z_]+$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

function nextLink(header: string | null): string | undefined {
  if (header === null) return undefined;
  const match = /<([^>]+)>;\s*rel="?next"?/.exec(header);
  if (match === null) return undefined;
  const target = match[1] as string;
  return target.startsWith("http") ? new URL(target).pathname + new URL(target).search : target;
}

function basicAuthorization(username?: string, password?: string): string | undefined {
  if (username === undefined || password === undefined) return undefined;
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}
