/**
 * A local emulator of the Docker Hub API endpoints this project speaks
 * (docs/reference.md#the-docker-hub-api), with in-memory state. Used by unit tests in-process
 * and, through hubEmulatorMain.ts, as the local stack's Docker Hub.
 *
 * Endpoints:
 * - `POST /v2/auth/token` `{identifier, secret}` -> `{access_token}` (JWT, 10 minutes)
 * - `POST /v2/namespaces/{ns}/repositories` `{name, description, full_description, is_private}`
 * - `GET /v2/namespaces/{ns}/repositories/{repo}` (the documented read)
 * - `GET`/`PATCH /v2/repositories/{ns}/{repo}/` (trailing slash required; the GET is deprecated
 *   and can be made to fail with {@link HubEmulator.failLegacy})
 * - `GET /v2/namespaces/{ns}/repositories/{repo}/tags?page=&page_size=` (max 100, `next` links)
 * - `DELETE /v2/repositories/{ns}/{repo}/tags/{tag}/` (trailing slash required; the
 *   `tagDeleteRoute: false` option removes it, as the Hub may: then the Hub's 404 HTML page)
 * - control plane, without auth and not recorded: `GET /_emulator/state`,
 *   `PUT /_emulator/state` (replace the repositories), `POST /_emulator/reset`.
 *
 * Every `/v2` endpoint except the token endpoint requires `Authorization: Bearer <access_token>`.
 * Tokens carry a permission: creating a repository, writing descriptions and deleting tags need
 * read-write-delete, otherwise the Hub's 403. The access token's JWT holds the permission as the
 * Hub's `scope` claim (`repo:read`, `repo:write`, `repo:admin`). Tags are listed in the
 * documented schema only: `images[].digest`, no tag-level `digest`.
 * descriptions over 100 / 25,000 UTF-8 bytes are refused with the Hub's 400.
 */
import { createHmac, randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export const EMULATOR_SHORT_LIMIT = 100;
export const EMULATOR_FULL_LIMIT = 25_000;

export interface EmulatedImage {
  architecture: string;
  os: string;
  variant?: string;
  digest: string;
  size: number;
  status: "active" | "inactive";
  last_pushed: string;
  last_pulled: string | null;
}

export interface EmulatedTag {
  name: string;
  /** The index digest the registry resolves the tag to; the Hub's tag listing does not show it. */
  digest: string;
  last_updated: string;
  tag_last_pushed: string;
  tag_last_pulled: string | null;
  images: EmulatedImage[];
}

export interface EmulatedRepository {
  namespace: string;
  name: string;
  description: string;
  full_description: string;
  is_private: boolean;
  date_registered: string;
  last_updated: string;
  tags: EmulatedTag[];
}

/** Everything the emulator holds; keys of `repositories` are `namespace/name`. JSON-safe. */
export interface HubEmulatorState {
  repositories: Record<string, EmulatedRepository>;
}

/** One request the emulator answered (control-plane requests are not recorded). */
export interface RecordedRequest {
  method: string;
  /** Path with query string, e.g. `/v2/repositories/battlescope/frontend/`. */
  path: string;
  /** Parsed JSON body (raw text if not JSON, undefined if empty); `secret` is redacted. */
  body: unknown;
  /** `Bearer [redacted]` when an Authorization header was sent. */
  authorization?: string;
  status: number;
}

export interface HubEmulatorOptions {
  /** Port to listen on; 0 or absent picks a free one. */
  port?: number;
  /** Interface to listen on, default 127.0.0.1. */
  host?: string;
  /** Accepted credentials, username -> token. Default `{ "release-bot": "dckr_pat_emulator" }`. */
  users?: Record<string, string>;
  /** Each user's token permission, default read-write-delete (what the local stack needs). */
  permissions?: Record<string, HubPermission>;
  /** Leave the `scope` claim out of access tokens (as for a password login): default false. */
  omitScopeClaim?: boolean;
  /** Initial state (used as the live state object). */
  state?: HubEmulatorState;
  /** Lifetime of issued access tokens in seconds, default 600 (the Hub's 10 minutes). */
  tokenLifetimeSeconds?: number;
  /** Clock in milliseconds, default Date.now. */
  now?: () => number;
  /** Called after every change of the state (used to persist it). */
  onChange?: (state: HubEmulatorState) => void;
  /**
   * Serve the undocumented tag delete (default true). False answers it as the Hub answers a path
   * it does not serve: a 404 HTML page, not the JSON "tag not found" of a missing tag.
   */
  tagDeleteRoute?: boolean;
}

export interface HubEmulator {
  /** Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash). */
  url: string;
  /** The live state; tests may read and seed it directly. */
  state: HubEmulatorState;
  /** Every `/v2` request answered, in order; `requests.length = 0` clears it. */
  requests: RecordedRequest[];
  /** The next `count` `/v2` requests (default 1) are answered with `status` and `headers`. */
  failNext(status: number, headers?: Record<string, string>, count?: number, body?: unknown): void;
  /**
   * From now on the deprecated `GET /v2/repositories/{ns}/{repo}/` answers this status (404 or
   * 410, as the Hub may once it removes it); undefined serves it again.
   */
  failLegacy(status: 404 | 410 | undefined): void;
  /**
   * From now on deleting these tags (every tag when `tags` is absent) answers this status: 403 as
   * PATs got in 2020 and 2022, 500 as in 2024. Undefined deletes normally again.
   */
  failTagDeletes(status: 403 | 500 | undefined, tags?: readonly string[]): void;
  /** Adds (or replaces) a tag in an existing repository `namespace/name`. */
  addTag(fullName: string, tag: TagSeed): EmulatedTag;
  close(): Promise<void>;
}

export interface TagSeed {
  name: string;
  digest?: string;
  lastUpdated?: string;
  images?: { architecture: string; os: string; variant?: string; digest: string }[];
}

/** A personal access token's permission: "Read-only", "Read & Write", "Read, Write, Delete". */
export type HubPermission = "read" | "read-write" | "read-write-delete";

export const HUB_PERMISSIONS: readonly HubPermission[] = [
  "read",
  "read-write",
  "read-write-delete",
];

/** The JWT `scope` claim the Hub puts in an access token issued for a PAT of each permission. */
export const PERMISSION_SCOPES: Readonly<Record<HubPermission, string>> = {
  read: "repo:read",
  "read-write": "repo:write",
  "read-write-delete": "repo:admin",
};

export const DEFAULT_EMULATOR_USERS: Readonly<Record<string, string>> = Object.freeze({
  "release-bot": "dckr_pat_emulator",
});

const REPOSITORY_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const TAG_PATH = /^\/v2\/repositories\/[^/]+\/[^/]+\/tags\/[^/]+\/$/;
/** What the Hub answers for a path it does not serve (docker/hub-feedback#2250), shortened. */
const NOT_SERVED_PAGE =
  '<!doctype html>\n<html lang="en">\n<head>\n\t<meta charset="utf-8">\n\t<title>404 : Docker</title>\n</head>\n<body><div id="message">Page not found</div></body>\n</html>\n';

interface Failure {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

class HttpError extends Error {
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, body: unknown) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

const hubError = (status: number, message: string, errinfo: Record<string, unknown> = {}) =>
  new HttpError(status, { message, errinfo });

/** An empty state. */
export function emptyHubState(): HubEmulatorState {
  return { repositories: {} };
}

/** A fake sha256 digest derived from a seed, stable across runs. */
export function fakeDigest(seed: string): string {
  return `sha256:${createHmac("sha256", "hub-emulator").update(seed).digest("hex")}`;
}

/** What the emulator holds and switches while it runs; the route handlers read and change it. */
interface Emulation {
  readonly users: Record<string, string>;
  readonly permissions: Record<string, HubPermission>;
  readonly omitScopeClaim: boolean;
  readonly state: HubEmulatorState;
  readonly now: () => number;
  /** Lifetime of issued access tokens, in seconds. */
  readonly lifetime: number;
  readonly signingKey: string;
  readonly issued: Map<string, { username: string; expiresAt: number }>;
  readonly requests: RecordedRequest[];
  readonly failures: Failure[];
  legacyFailure: 404 | 410 | undefined;
  tagDeleteFailure: { status: 403 | 500; tags: Set<string> | undefined } | undefined;
  readonly tagDeleteRoute: boolean;
  /** Tells the owner (the state file) that the state changed. */
  readonly changed: () => void;
}

/** One `/v2` request as the route handlers see it. */
interface HubRequest {
  readonly method: string;
  readonly url: URL;
  /** The path's segments, decoded: `["", "v2", "namespaces", ...]`. */
  readonly parts: readonly string[];
  /** The JSON body's fields (empty without a body). */
  readonly fields: Record<string, unknown>;
  readonly req: http.IncomingMessage;
}

interface Answer {
  status: number;
  body?: unknown;
}

export async function startHubEmulator(options: HubEmulatorOptions = {}): Promise<HubEmulator> {
  const state = options.state ?? emptyHubState();
  const emulation: Emulation = {
    users: { ...(options.users ?? DEFAULT_EMULATOR_USERS) },
    permissions: options.permissions ?? {},
    omitScopeClaim: options.omitScopeClaim ?? false,
    state,
    now: options.now ?? Date.now,
    lifetime: options.tokenLifetimeSeconds ?? 600,
    signingKey: randomUUID(),
    issued: new Map(),
    requests: [],
    failures: [],
    legacyFailure: undefined,
    tagDeleteFailure: undefined,
    tagDeleteRoute: options.tagDeleteRoute ?? true,
    changed: () => options.onChange?.(state),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => serve(emulation, req, res, Buffer.concat(chunks).toString("utf8")));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return handle(emulation, server, `http://${host}:${address.port}`);
}

/** The emulator as its users drive it: its URL, state, recorded requests and failure switches. */
function handle(emulation: Emulation, server: http.Server, url: string): HubEmulator {
  return {
    url,
    state: emulation.state,
    requests: emulation.requests,
    failNext(status, headers = {}, count = 1, body) {
      for (let i = 0; i < count; i++) {
        emulation.failures.push({
          status,
          headers,
          body: body ?? { message: http.STATUS_CODES[status] ?? `HTTP ${status}`, errinfo: {} },
        });
      }
    },
    failLegacy(status) {
      emulation.legacyFailure = status;
    },
    failTagDeletes(status, tags) {
      emulation.tagDeleteFailure =
        status === undefined ? undefined : { status, tags: tags ? new Set(tags) : undefined };
    },
    addTag: (fullName, seed) => addTag(emulation, fullName, seed),
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

function iso(emulation: Emulation): string {
  return new Date(emulation.now()).toISOString();
}

function addTag(emulation: Emulation, fullName: string, seed: TagSeed): EmulatedTag {
  const repository = emulation.state.repositories[fullName];
  if (!repository) {
    throw new Error(`hub emulator: no repository ${fullName}`);
  }
  const when = seed.lastUpdated ?? iso(emulation);
  const digest = seed.digest ?? fakeDigest(`${fullName}:${seed.name}`);
  const images = (
    seed.images ?? [
      { architecture: "amd64", os: "linux", digest: fakeDigest(`${digest}/amd64`) },
      { architecture: "arm64", os: "linux", digest: fakeDigest(`${digest}/arm64`) },
    ]
  ).map((image) => ({
    ...image,
    size: 1024,
    status: "active" as const,
    last_pushed: when,
    last_pulled: null,
  }));
  const tag: EmulatedTag = {
    name: seed.name,
    digest,
    last_updated: when,
    tag_last_pushed: when,
    tag_last_pulled: null,
    images,
  };
  repository.tags = repository.tags.filter((candidate) => candidate.name !== seed.name);
  repository.tags.push(tag);
  emulation.changed();
  return tag;
}

// ---------------------------------------------------------------------------------------------
// Serving: the control plane, the recorded `/v2` requests, injected failures

function serve(
  emulation: Emulation,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  text: string,
): void {
  const method = req.method ?? "GET";
  const url = new URL(req.url ?? "/", "http://emulator.invalid");
  let body: unknown;
  let bodyIsJson = true;
  if (text !== "") {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
      bodyIsJson = false;
    }
  }
  const reply = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
    const data = payload === undefined ? "" : JSON.stringify(payload);
    res.writeHead(status, {
      ...(payload === undefined ? {} : { "Content-Type": "application/json" }),
      ...headers,
    });
    res.end(data);
  };
  if (url.pathname.startsWith("/_emulator/")) {
    const answer = control(emulation, method, url.pathname, body);
    reply(answer.status, answer.body);
    return;
  }
  const record: RecordedRequest = {
    method,
    path: `${url.pathname}${url.search}`,
    body: redactBody(body),
    status: 0,
  };
  if (req.headers.authorization !== undefined) {
    record.authorization = "Bearer [redacted]";
  }
  emulation.requests.push(record);
  if (!emulation.tagDeleteRoute && method === "DELETE" && TAG_PATH.test(url.pathname)) {
    record.status = 404;
    res.writeHead(404, { "Content-Type": "text/html; charset=utf-8" });
    res.end(NOT_SERVED_PAGE);
    return;
  }
  const failure = emulation.failures.shift();
  if (failure) {
    record.status = failure.status;
    reply(failure.status, failure.body, failure.headers);
    return;
  }
  const answer = answerV2(emulation, { method, url, body, bodyIsJson, req });
  record.status = answer.status;
  reply(answer.status, answer.body);
}

/** A `/v2` request's answer; a handler's HttpError is the Hub's error answer. */
function answerV2(
  emulation: Emulation,
  request: {
    method: string;
    url: URL;
    body: unknown;
    bodyIsJson: boolean;
    req: http.IncomingMessage;
  },
): Answer {
  try {
    if (!request.bodyIsJson) {
      throw hubError(400, "JSON parse error");
    }
    const parts = request.url.pathname.split("/").map((segment) => decodeURIComponent(segment));
    const fields = (request.body ?? {}) as Record<string, unknown>;
    return route(emulation, { ...request, parts, fields });
  } catch (error) {
    if (error instanceof HttpError) {
      return { status: error.status, body: error.body };
    }
    return {
      status: 500,
      body: { message: `emulator error: ${(error as Error).message}`, errinfo: {} },
    };
  }
}

/** `GET`/`PUT /_emulator/state` and `POST /_emulator/reset`, without auth and not recorded. */
function control(emulation: Emulation, method: string, path: string, body: unknown): Answer {
  const { state } = emulation;
  if (path === "/_emulator/state" && method === "GET") {
    return { status: 200, body: state };
  }
  if (path === "/_emulator/state" && method === "PUT") {
    const next = (body ?? {}) as Partial<HubEmulatorState>;
    state.repositories = next.repositories ?? {};
    emulation.changed();
    return { status: 200, body: state };
  }
  if (path === "/_emulator/reset" && method === "POST") {
    state.repositories = {};
    emulation.requests.length = 0;
    emulation.failures.length = 0;
    emulation.changed();
    return { status: 200, body: state };
  }
  return { status: 404, body: { message: `Not found: ${method} ${path}` } };
}

// ---------------------------------------------------------------------------------------------
// Routes

function route(emulation: Emulation, request: HubRequest): Answer {
  const { method, parts } = request;
  const path = request.url.pathname;
  if (path === "/v2/auth/token") {
    return createToken(emulation, request);
  }
  const namespaces = parts[2] === "namespaces" && parts[4] === "repositories";
  if (parts.length === 5 && namespaces) {
    return createRepository(emulation, request);
  }
  if (parts.length === 6 && namespaces) {
    authenticate(emulation, request.req);
    allow(method, "GET");
    return { status: 200, body: repositoryJson(repositoryOf(emulation, parts[3], parts[5])) };
  }
  if (parts[2] === "repositories" && parts.length >= 5 && parts.length <= 8) {
    return legacyRepositoryRoute(emulation, request);
  }
  if (parts.length === 7 && namespaces && parts[6] === "tags") {
    return listTags(emulation, request);
  }
  throw hubError(404, `Not found: ${method} ${path}`);
}

function allow(method: string, allowed: string): void {
  if (method !== allowed) {
    throw hubError(405, `Method "${method}" not allowed.`);
  }
}

/** `POST /v2/auth/token` `{identifier, secret}` -> `{access_token}`. */
function createToken(emulation: Emulation, { method, fields }: HubRequest): Answer {
  allow(method, "POST");
  const { identifier, secret } = fields;
  if (typeof identifier !== "string" || typeof secret !== "string") {
    throw hubError(400, "identifier and secret are required");
  }
  if (emulation.users[identifier] === undefined || emulation.users[identifier] !== secret) {
    throw hubError(401, "Incorrect authentication credentials");
  }
  return { status: 200, body: { access_token: issueToken(emulation, identifier) } };
}

/** `POST /v2/namespaces/{ns}/repositories`. */
function createRepository(
  emulation: Emulation,
  { method, parts, fields, req }: HubRequest,
): Answer {
  const username = authenticate(emulation, req);
  allow(method, "POST");
  requireDelete(emulation, username);
  const namespace = parts[3] ?? "";
  const name = fields.name;
  if (
    typeof name !== "string" ||
    name.length < 2 ||
    name.length > 255 ||
    !REPOSITORY_NAME.test(name)
  ) {
    throw hubError(400, "name: Enter a valid repository name.", { field: "name" });
  }
  if (fields.namespace !== undefined && fields.namespace !== namespace) {
    throw hubError(400, "namespace: does not match the namespace in the path", {
      field: "namespace",
    });
  }
  checkTexts(fields);
  const key = `${namespace}/${name}`;
  if (emulation.state.repositories[key]) {
    throw hubError(409, "Repository with this Name and Namespace already exists.");
  }
  const created: EmulatedRepository = {
    namespace,
    name,
    description: typeof fields.description === "string" ? fields.description : "",
    full_description: typeof fields.full_description === "string" ? fields.full_description : "",
    is_private: fields.is_private === true,
    date_registered: iso(emulation),
    last_updated: iso(emulation),
    tags: [],
  };
  emulation.state.repositories[key] = created;
  emulation.changed();
  return { status: 201, body: repositoryJson(created) };
}

/** `GET`/`PATCH /v2/repositories/{ns}/{repo}/` and `DELETE .../tags/{tag}/` (trailing slash). */
function legacyRepositoryRoute(emulation: Emulation, request: HubRequest): Answer {
  const { method, parts } = request;
  const path = request.url.pathname;
  const trailing = parts[parts.length - 1] === "";
  const isTag = parts.length >= 7;
  if (!trailing || (isTag && parts[5] !== "tags")) {
    throw hubError(
      404,
      `Not found: ${path} (this endpoint is ${isTag ? "/v2/repositories/{ns}/{repo}/tags/{tag}/" : "/v2/repositories/{ns}/{repo}/"}, with the trailing slash)`,
    );
  }
  const username = authenticate(emulation, request.req);
  if (!isTag && method === "GET" && emulation.legacyFailure !== undefined) {
    const status = emulation.legacyFailure;
    throw hubError(status, status === 410 ? "gone" : "not found");
  }
  const repository = repositoryOf(emulation, parts[3], parts[4]);
  if (isTag) {
    allow(method, "DELETE");
    return deleteTag(emulation, username, repository, parts[6] ?? "");
  }
  if (method === "GET") {
    return { status: 200, body: repositoryJson(repository) };
  }
  allow(method, "PATCH");
  requireDelete(emulation, username);
  checkTexts(request.fields);
  const { description, full_description } = request.fields;
  if (typeof description === "string") {
    repository.description = description;
  }
  if (typeof full_description === "string") {
    repository.full_description = full_description;
  }
  repository.last_updated = iso(emulation);
  emulation.changed();
  return { status: 200, body: repositoryJson(repository) };
}

/** `DELETE /v2/repositories/{ns}/{repo}/tags/{tag}/`, or the failure it was told to answer. */
function deleteTag(
  emulation: Emulation,
  username: string,
  repository: EmulatedRepository,
  tag: string,
): Answer {
  const failure = emulation.tagDeleteFailure;
  if (failure && (failure.tags?.has(tag) ?? true)) {
    throw failure.status === 403
      ? new HttpError(403, {
          detail: "access to the resource is forbidden with personal access token",
        })
      : hubError(500, "internal server error");
  }
  requireDelete(emulation, username);
  const index = repository.tags.findIndex((candidate) => candidate.name === tag);
  if (index < 0) {
    throw hubError(404, `tag '${tag}' not found`);
  }
  repository.tags.splice(index, 1);
  emulation.changed();
  return { status: 204 };
}

/** `GET /v2/namespaces/{ns}/repositories/{repo}/tags?page=&page_size=` (newest first). */
function listTags(emulation: Emulation, { method, url, parts, req }: HubRequest): Answer {
  authenticate(emulation, req);
  allow(method, "GET");
  const repository = repositoryOf(emulation, parts[3], parts[5]);
  const pageSize = Math.min(
    100,
    Math.max(1, Number(url.searchParams.get("page_size") ?? 10) || 10),
  );
  const page = Math.max(1, Number(url.searchParams.get("page") ?? 1) || 1);
  const sorted = [...repository.tags].sort(
    (a, b) => b.last_updated.localeCompare(a.last_updated) || a.name.localeCompare(b.name),
  );
  const start = (page - 1) * pageSize;
  if (start > 0 && start >= sorted.length) {
    throw hubError(404, "Invalid page.");
  }
  const link = (n: number) =>
    `http://${req.headers.host}${url.pathname}?page=${n}&page_size=${pageSize}`;
  return {
    status: 200,
    body: {
      count: sorted.length,
      next: start + pageSize < sorted.length ? link(page + 1) : null,
      previous: page > 1 ? link(page - 1) : null,
      results: sorted.slice(start, start + pageSize).map((tag) => tagJson(repository, tag)),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Tokens, permissions, texts, and the Hub's JSON

function permissionOf(emulation: Emulation, username: string): HubPermission {
  return emulation.permissions[username] ?? "read-write-delete";
}

/** An HS256 JWT holding the permission as the Hub's `scope` claim; valid `lifetime` seconds. */
function issueToken(emulation: Emulation, username: string): string {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const iat = Math.floor(emulation.now() / 1000);
  const claims: Record<string, unknown> = {
    sub: username,
    iat,
    exp: iat + emulation.lifetime,
    jti: randomUUID(),
  };
  if (!emulation.omitScopeClaim) {
    claims.scope = PERMISSION_SCOPES[permissionOf(emulation, username)];
  }
  const head = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  const signature = createHmac("sha256", emulation.signingKey).update(head).digest("base64url");
  const token = `${head}.${signature}`;
  emulation.issued.set(token, { username, expiresAt: (iat + emulation.lifetime) * 1000 });
  return token;
}

/** The user of a valid, unexpired bearer token; the Hub's 401 otherwise. */
function authenticate(emulation: Emulation, req: http.IncomingMessage): string {
  const header = req.headers.authorization ?? "";
  const match = /^Bearer (.+)$/.exec(header);
  const entry = match?.[1] ? emulation.issued.get(match[1]) : undefined;
  if (!entry || entry.expiresAt <= emulation.now()) {
    throw hubError(401, "authentication required");
  }
  return entry.username;
}

function requireDelete(emulation: Emulation, username: string): void {
  if (permissionOf(emulation, username) !== "read-write-delete") {
    throw hubError(403, "forbidden");
  }
}

function repositoryOf(
  emulation: Emulation,
  namespace: string | undefined,
  name: string | undefined,
): EmulatedRepository {
  const repository = emulation.state.repositories[`${namespace ?? ""}/${name ?? ""}`];
  if (!repository) {
    throw hubError(404, "object not found");
  }
  return repository;
}

/**
 * The Hub counts UTF-8 bytes (25 emoji pass as a short description, 26 do not) and answers
 * every validation failure with one generic message and the failing fields in errinfo.
 */
function checkTexts(fields: Record<string, unknown>): void {
  const fielderrors: Record<string, string[]> = {};
  for (const [field, limit] of [
    ["description", EMULATOR_SHORT_LIMIT],
    ["full_description", EMULATOR_FULL_LIMIT],
  ] as const) {
    const value = fields[field];
    if (value === undefined || value === null) {
      continue;
    }
    if (typeof value !== "string") {
      fielderrors[field] = ["Not a valid string."];
    } else if (Buffer.byteLength(value, "utf8") > limit) {
      fielderrors[field] = [`Ensure this field has no more than ${limit} characters.`];
    }
  }
  const count = Object.keys(fielderrors).length;
  if (count > 0) {
    throw hubError(
      400,
      `httperror 400: request had ${count} validation error${count === 1 ? "" : "s"}`,
      { fielderrors },
    );
  }
}

/** A repository with every field Docker's OpenAPI file requires of `repository_info`. */
function repositoryJson(repository: EmulatedRepository) {
  return {
    user: repository.namespace,
    name: repository.name,
    namespace: repository.namespace,
    repository_type: "image",
    status: 1,
    status_description: "active",
    description: repository.description,
    is_private: repository.is_private,
    is_automated: false,
    star_count: 0,
    pull_count: 0,
    last_updated: repository.last_updated,
    date_registered: repository.date_registered,
    collaborator_count: 0,
    has_starred: false,
    full_description: repository.full_description,
    permissions: { read: true, write: true, admin: true },
    media_types: ["application/vnd.oci.image.index.v1+json"],
    content_types: ["image"],
    categories: [],
    immutable_tags_settings: { enabled: false, rules: [] },
  };
}

/** A tag in the documented schema: its images' digests, no digest of its own. */
function tagJson(repository: EmulatedRepository, tag: EmulatedTag) {
  return {
    creator: 1,
    id: 1,
    images: tag.images,
    last_updated: tag.last_updated,
    last_updater: 1,
    last_updater_username: repository.namespace,
    name: tag.name,
    repository: 1,
    full_size: tag.images.reduce((sum, image) => sum + image.size, 0),
    v2: true,
    tag_status: "active",
    tag_last_pulled: tag.tag_last_pulled,
    tag_last_pushed: tag.tag_last_pushed,
    media_type: "application/vnd.oci.image.index.v1+json",
    content_type: "image",
  };
}

function redactBody(body: unknown): unknown {
  if (body !== null && typeof body === "object" && !Array.isArray(body) && "secret" in body) {
    return { ...(body as Record<string, unknown>), secret: "[redacted]" };
  }
  return body;
}
