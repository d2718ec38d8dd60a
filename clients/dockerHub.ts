/**
 * Docker Hub API client (hub.docker.com, not the registry): repositories, descriptions and tags.
 * Every call it makes, with its public source, is listed in test/unit/hubCalls.test.ts:
 * - `POST /v2/auth/token` `{identifier, secret}` -> `{access_token}` (a JWT valid ~10 minutes)
 * - `GET /v2/namespaces/{ns}/repositories/{repo}`; the deprecated
 *   `GET /v2/repositories/{ns}/{repo}/` only when the documented one is not served, with a warning
 * - `PATCH /v2/repositories/{ns}/{repo}/` (trailing slash; undocumented, the only description write)
 * - `POST /v2/namespaces/{ns}/repositories`
 * - `GET /v2/namespaces/{ns}/repositories/{repo}/tags?page_size=100` (follows `next`)
 * - `DELETE /v2/repositories/{ns}/{repo}/tags/{tag}/` (undocumented; a 404 other than the Hub's
 *   "tag not found" is a {@link HubRouteError}, never "already gone")
 *
 * Rules: the personal access token never appears in an error message; over-long descriptions are
 * refused before any request (never cut); 429 responses are retried after the wait the Hub asks
 * for, a bounded number of times. No `@pulumi/*` import: the CLI and the dynamic provider share it.
 */
import {
  DEFAULT_HUB_URL,
  type DescriptionField,
  lengthMessage,
  lengthProblems,
  utf8Length,
} from "../lib/vocabulary";

import {
  hubAnswer,
  hubMessage,
  isTagNotFound,
  jwtClaims,
  jwtExpiry,
  retryAfterMs,
} from "./hubAnswers";

export { DEFAULT_HUB_URL } from "../lib/vocabulary";
export { isTagNotFound, retryAfterMs } from "./hubAnswers";

/** The part of `fetch` this client uses; inject a fake or an instrumented one in tests. */
export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

export interface DockerHubClientOptions {
  /** Base URL of the Hub API, default `https://hub.docker.com` (an emulator in tests). */
  baseUrl?: string;
  /** Docker Hub username (or organization name for an organization access token). */
  username: string;
  /** Personal or organization access token. Never logged, never put in an error message. */
  token: string;
  /** HTTP implementation, default the global `fetch`. */
  fetch?: FetchLike;
  /** How waits are made, default `setTimeout`; tests inject a recorder. */
  sleep?: (ms: number) => Promise<void>;
  /** How many times a 429 (or 502/503/504) is retried before giving up. Default 5. */
  maxRetries?: number;
  /** Longest single wait the client accepts for a 429, in milliseconds. Default 10 minutes. */
  maxRetryWaitMs?: number;
  /** Clock in milliseconds since the epoch, default `Date.now`. */
  now?: () => number;
  /** Where the client says it fell back to a deprecated endpoint; default `console.warn`. */
  warn?: (message: string) => void;
}

/** What the Hub holds about a repository, as far as this project cares. */
export interface HubRepository {
  description: string;
  fullDescription: string;
  isPrivate: boolean;
}

export interface HubRepositoryCreate {
  name: string;
  description: string;
  fullDescription: string;
  isPrivate: false;
}

export interface HubDescriptions {
  description: string;
  fullDescription: string;
}

/** What {@link DockerHubClient.ensureRepository} did. */
export interface EnsureResult {
  action: "created" | "updated" | "unchanged";
  /** The fields sent to the Hub (empty when unchanged). */
  written: (keyof HubDescriptions)[];
  /** Whether the Hub reports the repository as private (it should be public). */
  isPrivate: boolean;
}

/** One image (platform entry) behind a Hub tag; attestations show up as `unknown/unknown`. */
export interface HubTagImage {
  architecture: string;
  os: string;
  variant?: string;
  digest: string;
}

/**
 * One tag as the Hub lists it. The documented schema has no digest of the tag's manifest list,
 * only its images' digests: the index digest is the registry's to say.
 */
export interface HubTag {
  name: string;
  lastUpdated: string;
  images: HubTagImage[];
}

/** An error answered by the Hub (or a refused request); the message never holds the token. */
export class DockerHubError extends Error {
  readonly operation: string;
  readonly status: number | undefined;

  constructor(message: string, operation: string, status?: number) {
    super(message);
    this.name = "DockerHubError";
    this.operation = operation;
    this.status = status;
  }
}

/**
 * A 404 from a route that answers something other than "not found" for the object asked: the
 * route itself is not (or no longer) served there. `route` is its method and path template.
 */
export class HubRouteError extends DockerHubError {
  readonly route: string;

  constructor(message: string, operation: string, route: string) {
    super(message, operation, 404);
    this.name = "HubRouteError";
    this.route = route;
  }
}

/** The tag delete, undocumented (not in Docker's Hub OpenAPI file), as the Hub UI sends it. */
export const TAG_DELETE_ROUTE = "DELETE /v2/repositories/{namespace}/{repository}/tags/{tag}/";

/**
 * Every length problem of a pair of descriptions, as exact one-line messages; empty when both
 * fit. `fullName` is `namespace/repository`.
 */
export function descriptionProblems(
  fullName: string,
  texts: { description?: string | undefined; fullDescription?: string | undefined },
): { field: DescriptionField; message: string }[] {
  return lengthProblems(texts).map(({ field, message }) => ({
    field,
    message: `Docker Hub repository ${fullName}: ${message}`,
  }));
}

/** Throws the first length problem (see {@link descriptionProblems}); never shortens a text. */
export function assertDescriptionsFit(
  fullName: string,
  texts: { description?: string | undefined; fullDescription?: string | undefined },
): void {
  const [first] = descriptionProblems(fullName, texts);
  if (first) {
    throw new Error(first.message);
  }
}

const RETRYABLE = new Set([429, 502, 503, 504]);
/** Answers of an endpoint that is not (or no longer) served, rather than of a missing object. */
const NOT_SERVED = new Set([405, 410, 501]);

/** A personal access token's permission, in the Hub's own words. */
export type TokenPermission = "Read-only" | "Read & Write" | "Read, Write, Delete";
/** The permission this project's writes need (descriptions, repositories, tag deletes). */
export const WRITE_PERMISSION: TokenPermission = "Read, Write, Delete";
/** The `scope` claim of a Hub access token and the PAT permission it stands for, highest first. */
const SCOPE_PERMISSIONS: readonly (readonly [string, TokenPermission])[] = [
  ["repo:admin", "Read, Write, Delete"],
  ["repo:write", "Read & Write"],
  ["repo:read", "Read-only"],
  ["repo:public_read", "Read-only"],
];
const TOKEN_MARGIN_MS = 60_000;
const DEFAULT_TOKEN_LIFETIME_MS = 10 * 60_000;

interface RequestOptions {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  url: string;
  body?: unknown;
}

/** A client for the Docker Hub API. One instance per credential; it caches its access token. */
export class DockerHubClient {
  readonly baseUrl: string;
  readonly username: string;
  readonly #token: string;
  readonly #fetch: FetchLike;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #maxRetries: number;
  readonly #maxRetryWaitMs: number;
  readonly #now: () => number;
  readonly #warn: (message: string) => void;
  #accessToken: { value: string; refreshAt: number } | undefined;
  #pendingLogin: Promise<string> | undefined;

  constructor(options: DockerHubClientOptions) {
    this.baseUrl = (options.baseUrl ?? DEFAULT_HUB_URL).replace(/\/+$/, "");
    this.username = options.username;
    this.#token = options.token;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#maxRetries = options.maxRetries ?? 5;
    this.#maxRetryWaitMs = options.maxRetryWaitMs ?? 10 * 60_000;
    this.#now = options.now ?? Date.now;
    this.#warn = options.warn ?? ((message) => console.warn(message));
  }

  /**
   * Logs in and says what the token may do, as far as the Hub's access token tells: its JWT's
   * `scope` claim (`repo:admin` for "Read, Write, Delete"), which the Hub does not document;
   * `permission` is undefined when the claim is missing or unknown (then the first write finds out).
   */
  async checkToken(): Promise<{ permission: TokenPermission | undefined }> {
    const scope = jwtClaims(await this.login())?.scope;
    const scopes = typeof scope === "string" ? scope.split(/\s+/) : [];
    for (const [claim, permission] of SCOPE_PERMISSIONS) {
      if (scopes.includes(claim)) {
        return { permission };
      }
    }
    return { permission: undefined };
  }

  /** Exchanges username and token for an access token (cached until shortly before it expires). */
  async login(): Promise<string> {
    const cached = this.#accessToken;
    if (cached && this.#now() < cached.refreshAt) {
      return cached.value;
    }
    this.#pendingLogin ??= this.#login(`login as ${this.username}`).finally(() => {
      this.#pendingLogin = undefined;
    });
    return this.#pendingLogin;
  }

  /**
   * The repository's descriptions and visibility, or undefined when the documented endpoint says
   * it does not exist. The deprecated endpoint is asked only when the documented one is not
   * served, and its 404 is never taken for a missing repository: it may be the endpoint that is gone.
   */
  async getRepository(namespace: string, repository: string): Promise<HubRepository | undefined> {
    const operation = `get repository ${namespace}/${repository}`;
    const response = await this.#authorized(operation, {
      method: "GET",
      url: `${this.baseUrl}/v2/namespaces/${enc(namespace)}/repositories/${enc(repository)}`,
    });
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    if (!NOT_SERVED.has(response.status)) {
      return toRepository(await this.#expectOk(operation, response));
    }
    await response.body?.cancel();
    this.#warn(
      `Docker Hub ${operation}: the documented GET /v2/namespaces/{ns}/repositories/{repo} answered HTTP ${response.status}; reading through the deprecated GET /v2/repositories/{ns}/{repo}/ instead`,
    );
    const legacy = await this.#authorized(operation, {
      method: "GET",
      url: `${this.baseUrl}/v2/repositories/${enc(namespace)}/${enc(repository)}/`,
    });
    return toRepository(await this.#expectOk(operation, legacy));
  }

  /** Creates a public repository with its descriptions (lengths are checked first). */
  async createRepository(namespace: string, create: HubRepositoryCreate): Promise<HubRepository> {
    const fullName = `${namespace}/${create.name}`;
    assertDescriptionsFit(fullName, create);
    const operation = `create repository ${fullName}`;
    const response = await this.#authorized(operation, {
      method: "POST",
      url: `${this.baseUrl}/v2/namespaces/${enc(namespace)}/repositories`,
      body: {
        name: create.name,
        namespace,
        description: create.description,
        full_description: create.fullDescription,
        is_private: create.isPrivate,
      },
    });
    return toRepository(await this.#expectOk(operation, response, explainWrite(create)));
  }

  /**
   * Writes the given descriptions (only the fields present) with `PATCH`. Lengths are checked
   * first; deciding whether a write is needed at all is the caller's job.
   */
  async updateRepository(
    namespace: string,
    repository: string,
    update: Partial<HubDescriptions>,
  ): Promise<HubRepository> {
    const fullName = `${namespace}/${repository}`;
    assertDescriptionsFit(fullName, update);
    const operation = `update repository ${fullName}`;
    const body: Record<string, string> = {};
    if (update.description !== undefined) {
      body.description = update.description;
    }
    if (update.fullDescription !== undefined) {
      body.full_description = update.fullDescription;
    }
    const response = await this.#authorized(operation, {
      method: "PATCH",
      url: `${this.baseUrl}/v2/repositories/${enc(namespace)}/${enc(repository)}/`,
      body,
    });
    return toRepository(await this.#expectOk(operation, response, explainWrite(update)));
  }

  /**
   * Makes the Hub hold these descriptions for a public repository: creates it when missing,
   * otherwise writes (one `PATCH`, only the fields that differ) when the text really differs,
   * and writes nothing when it is the same. Lengths are checked before any request.
   */
  async ensureRepository(
    namespace: string,
    repository: string,
    texts: HubDescriptions,
  ): Promise<EnsureResult> {
    assertDescriptionsFit(`${namespace}/${repository}`, texts);
    const existing = await this.getRepository(namespace, repository);
    if (existing === undefined) {
      await this.createRepository(namespace, { name: repository, ...texts, isPrivate: false });
      return { action: "created", written: ["description", "fullDescription"], isPrivate: false };
    }
    const patch: Partial<HubDescriptions> = {};
    if (existing.description !== texts.description) {
      patch.description = texts.description;
    }
    if (existing.fullDescription !== texts.fullDescription) {
      patch.fullDescription = texts.fullDescription;
    }
    const written = Object.keys(patch) as (keyof HubDescriptions)[];
    if (written.length === 0) {
      return { action: "unchanged", written, isPrivate: existing.isPrivate };
    }
    await this.updateRepository(namespace, repository, patch);
    return { action: "updated", written, isPrivate: existing.isPrivate };
  }

  /** Every tag of the repository, following the Hub's `next` links 100 tags at a time. */
  async listTags(namespace: string, repository: string): Promise<HubTag[]> {
    const operation = `list tags of ${namespace}/${repository}`;
    const tags: HubTag[] = [];
    const seen = new Set<string>();
    let url: string | undefined =
      `${this.baseUrl}/v2/namespaces/${enc(namespace)}/repositories/${enc(repository)}/tags?page_size=100`;
    while (url !== undefined) {
      if (seen.has(url)) {
        throw new DockerHubError(
          `Docker Hub ${operation} failed: the Hub's next link repeats ${url}`,
          operation,
        );
      }
      seen.add(url);
      const response = await this.#authorized(operation, { method: "GET", url });
      if (response.status === 404 && tags.length > 0) {
        await response.body?.cancel();
        throw new DockerHubError(
          `Docker Hub ${operation} failed: HTTP 404 on a later page after ${tags.length} tags; the listing is incomplete`,
          operation,
          404,
        );
      }
      const page = (await this.#expectOk(operation, response)) as {
        next?: string | null;
        results?: unknown[];
      };
      for (const raw of page.results ?? []) {
        tags.push(toTag(raw));
      }
      url = page.next ? this.#sameOrigin(page.next) : undefined;
    }
    return tags;
  }

  /**
   * Deletes one tag. Resolves true when deleted, false when the Hub answers its own "tag not
   * found" (see {@link isTagNotFound}). Any other 404 is a {@link HubRouteError} naming the route:
   * taking it for "already gone" would report a cleanup that deleted nothing as a success.
   */
  async deleteTag(namespace: string, repository: string, tag: string): Promise<boolean> {
    const operation = `delete tag ${namespace}/${repository}:${tag}`;
    const response = await this.#authorized(operation, {
      method: "DELETE",
      url: `${this.baseUrl}/v2/repositories/${enc(namespace)}/${enc(repository)}/tags/${enc(tag)}/`,
    });
    if (response.status === 404) {
      const { message, body } = await hubAnswer(response);
      if (isTagNotFound(body)) {
        return false;
      }
      throw new HubRouteError(
        this.#redact(
          `Docker Hub ${operation} failed: HTTP 404 from ${TAG_DELETE_ROUTE} without the Hub's "tag not found" (it said: ${message}): the Hub may have moved or removed this undocumented route`,
        ),
        operation,
        TAG_DELETE_ROUTE,
      );
    }
    await this.#expectOk(operation, response, explainWrite({}));
    return true;
  }

  async #login(operation: string): Promise<string> {
    const response = await this.#send(operation, {
      method: "POST",
      url: `${this.baseUrl}/v2/auth/token`,
      body: { identifier: this.username, secret: this.#token },
    });
    const body = (await this.#expectOk(operation, response)) as { access_token?: unknown };
    if (typeof body.access_token !== "string" || body.access_token === "") {
      throw new DockerHubError(
        `Docker Hub ${operation} failed: the answer holds no access_token`,
        operation,
        response.status,
      );
    }
    const expiresAt = jwtExpiry(body.access_token) ?? this.#now() + DEFAULT_TOKEN_LIFETIME_MS;
    this.#accessToken = { value: body.access_token, refreshAt: expiresAt - TOKEN_MARGIN_MS };
    return body.access_token;
  }

  /** A request with the bearer token; on a 401 it logs in again once and retries. */
  async #authorized(operation: string, request: RequestOptions): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let accessToken: string;
      try {
        accessToken = await this.login();
      } catch (error) {
        const status = error instanceof DockerHubError ? error.status : undefined;
        const detail = (error as Error).message.replace(/^Docker Hub login as \S+ failed: /, "");
        throw new DockerHubError(
          this.#redact(
            `Docker Hub ${operation} failed: login as ${this.username} failed: ${detail}`,
          ),
          operation,
          status,
        );
      }
      const response = await this.#send(operation, request, accessToken);
      if (response.status === 401 && attempt === 0) {
        await response.body?.cancel();
        this.#accessToken = undefined;
        continue;
      }
      return response;
    }
  }

  /** One request, with 429 (and 502/503/504) retries. */
  async #send(operation: string, request: RequestOptions, accessToken?: string): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (accessToken !== undefined) {
      headers.Authorization = `Bearer ${accessToken}`;
    }
    if (request.body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    for (let retry = 0; ; retry++) {
      let response: Response;
      try {
        response = await this.#fetch(request.url, {
          method: request.method,
          headers,
          body: request.body === undefined ? undefined : JSON.stringify(request.body),
          redirect: "error",
        });
      } catch (error) {
        const cause = (error as Error & { cause?: { message?: string } }).cause?.message;
        const reason = cause ? `${(error as Error).message} (${cause})` : (error as Error).message;
        throw new DockerHubError(
          this.#redact(`Docker Hub ${operation} failed: ${reason}`),
          operation,
        );
      }
      if (!RETRYABLE.has(response.status)) {
        return response;
      }
      if (retry >= this.#maxRetries) {
        const message = await hubMessage(response);
        throw new DockerHubError(
          this.#redact(
            `Docker Hub ${operation} failed: HTTP ${response.status}: ${message} (gave up after ${retry} ${retry === 1 ? "retry" : "retries"})`,
          ),
          operation,
          response.status,
        );
      }
      const asked = retryAfterMs(response.headers, this.#now());
      const wait = asked ?? Math.min(1000 * 2 ** retry, 60_000);
      if (wait > this.#maxRetryWaitMs) {
        const message = await hubMessage(response);
        throw new DockerHubError(
          this.#redact(
            `Docker Hub ${operation} failed: HTTP ${response.status}: ${message} (the Hub asks to wait ${Math.ceil(wait / 1000)} s, more than the ${Math.ceil(this.#maxRetryWaitMs / 1000)} s this client waits)`,
          ),
          operation,
          response.status,
        );
      }
      await response.body?.cancel();
      await this.#sleep(wait);
    }
  }

  async #expectOk(operation: string, response: Response, explain?: Explain): Promise<unknown> {
    if (response.ok) {
      const text = await response.text();
      if (text.trim() === "") {
        return {};
      }
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new DockerHubError(
          this.#redact(
            `Docker Hub ${operation} failed: HTTP ${response.status} with a body that is not JSON`,
          ),
          operation,
          response.status,
        );
      }
    }
    const { message, body } = await hubAnswer(response);
    const explained = explain?.(response.status, body, message) ?? message;
    throw new DockerHubError(
      this.#redact(`Docker Hub ${operation} failed: HTTP ${response.status}: ${explained}`),
      operation,
      response.status,
    );
  }

  /** Follows a `next` link only on the Hub the client talks to (the bearer token goes there). */
  #sameOrigin(next: string): string {
    const parsed = new URL(next, `${this.baseUrl}/`);
    const base = new URL(`${this.baseUrl}/`);
    return `${base.origin}${parsed.pathname}${parsed.search}`;
  }

  #redact(text: string): string {
    let out = text;
    for (const secret of [this.#token, this.#accessToken?.value]) {
      if (secret && secret.length >= 4) {
        out = out.split(secret).join("[redacted]");
      }
    }
    return out;
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function asString(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function toRepository(raw: unknown): HubRepository {
  const body = (raw ?? {}) as Record<string, unknown>;
  return {
    description: asString(body.description),
    fullDescription: asString(body.full_description),
    isPrivate: body.is_private === true,
  };
}

function toTag(raw: unknown): HubTag {
  const body = (raw ?? {}) as Record<string, unknown>;
  const images = Array.isArray(body.images) ? body.images : [];
  return {
    name: asString(body.name),
    lastUpdated: asString(body.last_updated) || asString(body.tag_last_pushed),
    images: images.map((image: Record<string, unknown>) => {
      const entry: HubTagImage = {
        architecture: asString(image.architecture),
        os: asString(image.os),
        digest: asString(image.digest),
      };
      if (typeof image.variant === "string" && image.variant !== "") {
        entry.variant = image.variant;
      }
      return entry;
    }),
  };
}

/**
 * The token permission a write needs, said where the Hub answers 403. A "Read & Write" token
 * pushes images but is refused descriptions and tag deletes; the Hub's 403 does not say why.
 */
export const WRITE_PERMISSION_HINT =
  'the access token needs the "Read, Write, Delete" permission to manage repositories (a "Read & Write" token pushes images but may not write descriptions or delete tags): create a personal access token with "Read, Write, Delete"';

/** What to say for a refused write: a 403 names the permission, a 400 the byte count. */
function explainWrite(texts: Partial<HubDescriptions>): Explain {
  return (status, body, hub) => {
    if (status === 403) {
      return `${hub}; ${WRITE_PERMISSION_HINT}`;
    }
    if (status !== 400) {
      return undefined;
    }
    const errinfo = ((body ?? {}) as { errinfo?: { fielderrors?: unknown } }).errinfo;
    const named = Object.keys((errinfo?.fielderrors ?? {}) as Record<string, unknown>);
    const refused = (
      [
        ["description", "description"],
        ["full_description", "fullDescription"],
      ] as const
    ).filter(([wire]) => named.includes(wire));
    const explained = refused.flatMap(([, field]) => {
      const text = texts[field];
      return text === undefined ? [] : [lengthMessage(field, utf8Length(text))];
    });
    return explained.length === 0 ? undefined : `${explained.join("; ")} (the Hub says: ${hub})`;
  };
}

type Explain = (status: number, body: unknown, hubMessage: string) => string | undefined;

/**
 * The preview's early check, before anything is built: the token logs in, and it has the write
 * permission where its access token tells (see {@link DockerHubClient.checkToken}). A token whose
 * permission cannot be read passes here and meets the permission hint at its first write.
 */
export async function assertTokenCanWrite(
  hub: Pick<DockerHubClient, "checkToken" | "username">,
): Promise<TokenPermission | undefined> {
  const { permission } = await hub.checkToken();
  if (permission !== undefined && permission !== WRITE_PERMISSION) {
    throw new DockerHubError(
      `Docker Hub token of ${hub.username} has the permission "${permission}": ${WRITE_PERMISSION_HINT}`,
      "check token",
    );
  }
  return permission;
}
