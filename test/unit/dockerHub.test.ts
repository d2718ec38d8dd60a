import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DockerHubClient,
  type DockerHubClientOptions,
  retryAfterMs,
} from "../../clients/dockerHub";
import { type HubEmulator, startHubEmulator } from "../../scripts/hub-emulator/hubEmulator";
import { exactly } from "../support/exactly";
import { makeTempDir } from "../support/tempDirs";

const USER = "battlescope-ci";
const TOKEN = "dckr_pat_Zq9-SECRET-never-print-me";
const NOW = Date.parse("2026-03-01T12:00:00Z");

let hub: HubEmulator;
let sleeps: number[];

beforeEach(async () => {
  hub = await startHubEmulator({ users: { [USER]: TOKEN } });
  sleeps = [];
});

afterEach(async () => {
  await hub.close();
});

function client(overrides: Partial<DockerHubClientOptions> = {}): DockerHubClient {
  return new DockerHubClient({
    baseUrl: hub.url,
    username: USER,
    token: TOKEN,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
}

/** `METHOD path` of every request the emulator answered, auth included. */
const calls = () => hub.requests.map((request) => `${request.method} ${request.path}`);
/** Only the writes. */
const writes = () =>
  hub.requests.filter((request) => request.method !== "GET" && request.path !== "/v2/auth/token");

async function seedRepository(description = "short", fullDescription = "# full"): Promise<void> {
  await client().createRepository("battlescope", {
    name: "frontend",
    description,
    fullDescription,
    isPrivate: false,
  });
  hub.requests.length = 0;
}

describe("repositories", () => {
  it("creates a public repository with both descriptions", async () => {
    const created = await client().createRepository("battlescope", {
      name: "frontend",
      description: "BattleScope V3 - Frontend - Web UI",
      fullDescription: "# BattleScope Frontend",
      isPrivate: false,
    });
    expect(created).toEqual({
      description: "BattleScope V3 - Frontend - Web UI",
      fullDescription: "# BattleScope Frontend",
      isPrivate: false,
    });
    expect(
      hub.requests.map(({ method, path, body, authorization }) => ({
        method,
        path,
        body,
        authorization,
      })),
    ).toEqual([
      {
        method: "POST",
        path: "/v2/auth/token",
        body: { identifier: USER, secret: "[redacted]" },
        authorization: undefined,
      },
      {
        method: "POST",
        path: "/v2/namespaces/battlescope/repositories",
        body: {
          name: "frontend",
          namespace: "battlescope",
          description: "BattleScope V3 - Frontend - Web UI",
          full_description: "# BattleScope Frontend",
          is_private: false,
        },
        authorization: "Bearer [redacted]",
      },
    ]);
    expect(hub.state.repositories["battlescope/frontend"]).toMatchObject({
      description: "BattleScope V3 - Frontend - Web UI",
      full_description: "# BattleScope Frontend",
      is_private: false,
    });
  });

  it("gets a repository, and undefined for one that does not exist", async () => {
    await seedRepository("short", "# full");
    expect(await client().getRepository("battlescope", "frontend")).toEqual({
      description: "short",
      fullDescription: "# full",
      isPrivate: false,
    });
    expect(await client().getRepository("battlescope", "missing")).toBeUndefined();
    expect(calls()).toEqual([
      "POST /v2/auth/token",
      "GET /v2/namespaces/battlescope/repositories/frontend",
      "POST /v2/auth/token",
      "GET /v2/namespaces/battlescope/repositories/missing",
    ]);
  });

  it("updates with PATCH on the trailing-slash path, sending only the given fields", async () => {
    await seedRepository("short", "# full");
    await client().updateRepository("battlescope", "frontend", { description: "new short" });
    expect(hub.requests.map(({ method, path, body }) => ({ method, path, body }))).toEqual([
      { method: "POST", path: "/v2/auth/token", body: { identifier: USER, secret: "[redacted]" } },
      {
        method: "PATCH",
        path: "/v2/repositories/battlescope/frontend/",
        body: { description: "new short" },
      },
    ]);
    expect(hub.state.repositories["battlescope/frontend"]).toMatchObject({
      description: "new short",
      full_description: "# full",
    });
  });

  it.each([
    {
      name: "missing repository -> created",
      seed: false,
      texts: { description: "d", fullDescription: "f" },
      action: "created",
      written: ["description", "fullDescription"],
      writeCalls: ["POST /v2/namespaces/battlescope/repositories"],
    },
    {
      name: "same text -> no write at all",
      seed: true,
      texts: { description: "short", fullDescription: "# full" },
      action: "unchanged",
      written: [],
      writeCalls: [],
    },
    {
      name: "short description changed -> one PATCH of that field",
      seed: true,
      texts: { description: "other", fullDescription: "# full" },
      action: "updated",
      written: ["description"],
      writeCalls: ["PATCH /v2/repositories/battlescope/frontend/"],
    },
    {
      name: "both changed -> one PATCH of both fields",
      seed: true,
      texts: { description: "other", fullDescription: "# other" },
      action: "updated",
      written: ["description", "fullDescription"],
      writeCalls: ["PATCH /v2/repositories/battlescope/frontend/"],
    },
  ])("ensureRepository: $name", async ({ seed, texts, action, written, writeCalls }) => {
    if (seed) {
      await seedRepository("short", "# full");
    }
    const result = await client().ensureRepository("battlescope", "frontend", texts);
    expect(result).toEqual({ action, written, isPrivate: false });
    expect(writes().map((request) => `${request.method} ${request.path}`)).toEqual(writeCalls);
    expect(hub.state.repositories["battlescope/frontend"]).toMatchObject({
      description: texts.description,
      full_description: texts.fullDescription,
    });
  });

  it("counts UTF-8 bytes: 25 emoji (100 bytes) fit the short description", async () => {
    const emoji = "🚀".repeat(25);
    await client().ensureRepository("battlescope", "frontend", {
      description: emoji,
      fullDescription: "",
    });
    expect(hub.state.repositories["battlescope/frontend"]?.description).toBe(emoji);
  });
});

describe("descriptions over the Hub's limits are refused before any request", () => {
  const short117 = `BattleScope V3 - Frontend - ${"x".repeat(89)}`;
  it.each([
    {
      name: "create, short description of 117 bytes",
      run: (c: DockerHubClient) =>
        c.createRepository("battlescope", {
          name: "frontend",
          description: short117,
          fullDescription: "",
          isPrivate: false,
        }),
      message:
        "Docker Hub repository battlescope/frontend: short description is 117 bytes, Docker Hub allows 100 (UTF-8 bytes, not characters)",
    },
    {
      name: "create, full description of 25,001 characters",
      run: (c: DockerHubClient) =>
        c.createRepository("battlescope", {
          name: "frontend",
          description: "ok",
          fullDescription: "y".repeat(25_001),
          isPrivate: false,
        }),
      message:
        "Docker Hub repository battlescope/frontend: full description is 25,001 bytes, Docker Hub allows 25,000 (UTF-8 bytes, not characters)",
    },
    {
      name: "update, short description of 101 characters",
      run: (c: DockerHubClient) =>
        c.updateRepository("battlescope", "frontend", { description: "z".repeat(101) }),
      message:
        "Docker Hub repository battlescope/frontend: short description is 101 bytes, Docker Hub allows 100 (UTF-8 bytes, not characters)",
    },
    {
      name: "update, full description of 30,000 characters",
      run: (c: DockerHubClient) =>
        c.updateRepository("battlescope", "frontend", { fullDescription: "w".repeat(30_000) }),
      message:
        "Docker Hub repository battlescope/frontend: full description is 30,000 bytes, Docker Hub allows 25,000 (UTF-8 bytes, not characters)",
    },
    {
      name: "ensure, both too long (the short one is named first)",
      run: (c: DockerHubClient) =>
        c.ensureRepository("battlescope", "frontend", {
          description: short117,
          fullDescription: "v".repeat(25_001),
        }),
      message:
        "Docker Hub repository battlescope/frontend: short description is 117 bytes, Docker Hub allows 100 (UTF-8 bytes, not characters)",
    },
  ])("$name", async ({ run, message }) => {
    await expect(run(client())).rejects.toThrow(exactly(message));
    expect(hub.requests).toEqual([]);
    expect(hub.state.repositories).toEqual({});
  });

  it("the Hub's 400 is turned into the byte count of the refused text, and nothing is written", async () => {
    await seedRepository();
    const c = client();
    await c.login();
    // The Hub's limits are its own: should they ever shrink, its 400 must still be readable.
    hub.failNext(400, {}, 1, {
      message: "httperror 400: request had 1 validation error",
      errinfo: {
        fielderrors: { description: ["Ensure this field has no more than 80 characters."] },
      },
    });
    await expect(
      c.updateRepository("battlescope", "frontend", { description: "🚀".repeat(24) }),
    ).rejects.toThrow(
      exactly(
        "Docker Hub update repository battlescope/frontend failed: HTTP 400: short description is 96 bytes, Docker Hub allows 100 (UTF-8 bytes, not characters) (the Hub says: httperror 400: request had 1 validation error)",
      ),
    );
    expect(hub.state.repositories["battlescope/frontend"]?.description).toBe("short");
  });

  it("the emulator itself refuses 26 emoji (104 bytes) with the Hub's 400", async () => {
    const login = await fetch(`${hub.url}/v2/auth/token`, {
      method: "POST",
      body: JSON.stringify({ identifier: USER, secret: TOKEN }),
    });
    const { access_token } = (await login.json()) as { access_token: string };
    const response = await fetch(`${hub.url}/v2/namespaces/battlescope/repositories`, {
      method: "POST",
      headers: { Authorization: `Bearer ${access_token}` },
      body: JSON.stringify({
        name: "frontend",
        description: "🚀".repeat(26),
        full_description: "",
      }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      message: "httperror 400: request had 1 validation error",
      errinfo: {
        fielderrors: { description: ["Ensure this field has no more than 100 characters."] },
      },
    });
    expect(hub.state.repositories).toEqual({});
  });
});

describe("tags", () => {
  it("lists 250 tags across three pages of 100, following next", async () => {
    await seedRepository();
    const start = Date.parse("2026-01-01T00:00:00Z");
    for (let i = 0; i < 250; i++) {
      hub.addTag("battlescope/frontend", {
        name: `v1.0.${i}`,
        lastUpdated: new Date(start + i * 60_000).toISOString(),
      });
    }
    const tags = await client().listTags("battlescope", "frontend");
    expect(tags).toHaveLength(250);
    expect(new Set(tags.map((tag) => tag.name)).size).toBe(250);
    expect(calls()).toEqual([
      "POST /v2/auth/token",
      "GET /v2/namespaces/battlescope/repositories/frontend/tags?page_size=100",
      "GET /v2/namespaces/battlescope/repositories/frontend/tags?page=2&page_size=100",
      "GET /v2/namespaces/battlescope/repositories/frontend/tags?page=3&page_size=100",
    ]);
    const stored = hub.state.repositories["battlescope/frontend"]?.tags.find(
      (tag) => tag.name === "v1.0.249",
    );
    expect(tags[0]).toEqual({
      name: "v1.0.249",
      lastUpdated: "2026-01-01T04:09:00.000Z",
      images: [
        { architecture: "amd64", os: "linux", digest: stored?.images[0]?.digest },
        { architecture: "arm64", os: "linux", digest: stored?.images[1]?.digest },
      ],
    });
  });

  it("keeps the variant and attestation entries of a tag", async () => {
    await seedRepository();
    hub.addTag("battlescope/frontend", {
      name: "v3.0.0",
      digest: "sha256:index",
      lastUpdated: "2026-02-01T00:00:00.000Z",
      images: [
        { architecture: "arm64", os: "linux", variant: "v8", digest: "sha256:arm" },
        { architecture: "unknown", os: "unknown", digest: "sha256:att" },
      ],
    });
    expect(await client().listTags("battlescope", "frontend")).toEqual([
      {
        name: "v3.0.0",
        lastUpdated: "2026-02-01T00:00:00.000Z",
        images: [
          { architecture: "arm64", os: "linux", variant: "v8", digest: "sha256:arm" },
          { architecture: "unknown", os: "unknown", digest: "sha256:att" },
        ],
      },
    ]);
  });

  it("follows next only on the Hub it talks to (the bearer token never goes elsewhere)", async () => {
    const seen: string[] = [];
    const fake: DockerHubClientOptions["fetch"] = async (url) => {
      seen.push(url);
      if (url.endsWith("/v2/auth/token")) {
        return Response.json({ access_token: "a.b.c" });
      }
      const first = url.includes("page_size=100") && !url.includes("page=2");
      return Response.json({
        next: first
          ? "https://elsewhere.example/v2/namespaces/battlescope/repositories/frontend/tags?page=2&page_size=100"
          : null,
        results: [{ name: first ? "a" : "b", digest: "sha256:x", last_updated: "t", images: [] }],
      });
    };
    const tags = await client({ baseUrl: "https://hub.example", fetch: fake }).listTags(
      "battlescope",
      "frontend",
    );
    expect(tags.map((tag) => tag.name)).toEqual(["a", "b"]);
    expect(seen).toEqual([
      "https://hub.example/v2/auth/token",
      "https://hub.example/v2/namespaces/battlescope/repositories/frontend/tags?page_size=100",
      "https://hub.example/v2/namespaces/battlescope/repositories/frontend/tags?page=2&page_size=100",
    ]);
  });

  it("deletes a tag with DELETE on the trailing-slash path; a missing tag answers false", async () => {
    await seedRepository();
    hub.addTag("battlescope/frontend", { name: "v1.0.0" });
    hub.addTag("battlescope/frontend", { name: "v1.0.1" });
    const c = client();
    expect(await c.deleteTag("battlescope", "frontend", "v1.0.0")).toBe(true);
    expect(await c.deleteTag("battlescope", "frontend", "v1.0.0")).toBe(false);
    expect(hub.state.repositories["battlescope/frontend"]?.tags.map((tag) => tag.name)).toEqual([
      "v1.0.1",
    ]);
    expect(hub.requests.map(({ method, path, status }) => `${method} ${path} ${status}`)).toEqual([
      "POST /v2/auth/token 200",
      "DELETE /v2/repositories/battlescope/frontend/tags/v1.0.0/ 204",
      "DELETE /v2/repositories/battlescope/frontend/tags/v1.0.0/ 404",
    ]);
  });
});

describe("authentication", () => {
  it.each([
    {
      name: "login with a bad token",
      run: (c: DockerHubClient) => c.login(),
      message: `Docker Hub login as ${USER} failed: HTTP 401: Incorrect authentication credentials`,
    },
    {
      name: "get repository with a bad token",
      run: (c: DockerHubClient) => c.getRepository("battlescope", "frontend"),
      message: `Docker Hub get repository battlescope/frontend failed: login as ${USER} failed: HTTP 401: Incorrect authentication credentials`,
    },
    {
      name: "delete tag with a bad token",
      run: (c: DockerHubClient) => c.deleteTag("battlescope", "frontend", "v1.0.0"),
      message: `Docker Hub delete tag battlescope/frontend:v1.0.0 failed: login as ${USER} failed: HTTP 401: Incorrect authentication credentials`,
    },
  ])("$name -> exact message without the token", async ({ run, message }) => {
    const wrongToken = `${TOKEN}-revoked`;
    const error = await run(client({ token: wrongToken })).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(exactly(message));
    expect((error as Error).message).not.toContain(TOKEN);
    expect(JSON.stringify(hub.requests)).not.toContain(TOKEN);
  });

  it("a Hub error that echoes the token is redacted", async () => {
    const c = client();
    await c.login();
    hub.failNext(500, {}, 1, { message: `internal error for secret ${TOKEN}` });
    await expect(c.getRepository("battlescope", "frontend")).rejects.toThrow(
      exactly(
        "Docker Hub get repository battlescope/frontend failed: HTTP 500: internal error for secret [redacted]",
      ),
    );
  });

  it("logs in once and reuses the access token", async () => {
    await seedRepository();
    const c = client();
    await c.getRepository("battlescope", "frontend");
    await c.listTags("battlescope", "frontend");
    await c.updateRepository("battlescope", "frontend", { description: "x" });
    expect(calls().filter((call) => call === "POST /v2/auth/token")).toHaveLength(1);
  });

  it("logs in again once when the Hub answers 401 to a request", async () => {
    await seedRepository();
    const c = client();
    await c.login();
    hub.failNext(401, {}, 1, { detail: "token expired" });
    expect(await c.getRepository("battlescope", "frontend")).toEqual({
      description: "short",
      fullDescription: "# full",
      isPrivate: false,
    });
    expect(hub.requests.map(({ method, path, status }) => `${method} ${path} ${status}`)).toEqual([
      "POST /v2/auth/token 200",
      "GET /v2/namespaces/battlescope/repositories/frontend 401",
      "POST /v2/auth/token 200",
      "GET /v2/namespaces/battlescope/repositories/frontend 200",
    ]);
  });

  it("a second 401 after logging in again is an error, not a loop", async () => {
    // The bearer token is lost on every GET (as with a token the Hub no longer accepts).
    const c = client({
      fetch: (url, init) => fetch(url, init?.method === "GET" ? { ...init, headers: {} } : init),
    });
    await expect(c.getRepository("battlescope", "frontend")).rejects.toThrow(
      exactly(
        "Docker Hub get repository battlescope/frontend failed: HTTP 401: authentication required",
      ),
    );
    expect(calls()).toEqual([
      "POST /v2/auth/token",
      "GET /v2/namespaces/battlescope/repositories/frontend",
      "POST /v2/auth/token",
      "GET /v2/namespaces/battlescope/repositories/frontend",
    ]);
  });

  it("renews the access token shortly before it expires", async () => {
    let now = NOW;
    await hub.close();
    hub = await startHubEmulator({ users: { [USER]: TOKEN }, now: () => now });
    await seedRepository();
    const c = client({ now: () => now });
    await c.getRepository("battlescope", "frontend");
    now += 8 * 60_000;
    await c.getRepository("battlescope", "frontend");
    now += 90_000;
    await c.getRepository("battlescope", "frontend");
    expect(calls()).toEqual([
      "POST /v2/auth/token",
      "GET /v2/namespaces/battlescope/repositories/frontend",
      "GET /v2/namespaces/battlescope/repositories/frontend",
      "POST /v2/auth/token",
      "GET /v2/namespaces/battlescope/repositories/frontend",
    ]);
  });

  it("the emulator refuses a request without a bearer token and a path without its slash", async () => {
    await seedRepository();
    const anonymous = await fetch(`${hub.url}/v2/repositories/battlescope/frontend/`);
    expect([anonymous.status, await anonymous.json()]).toEqual([
      401,
      { message: "authentication required", errinfo: {} },
    ]);
    const noSlash = await fetch(`${hub.url}/v2/repositories/battlescope/frontend`);
    expect(noSlash.status).toBe(404);
  });
});

describe("rate limits (429)", () => {
  it.each<{ name: string; headers: Record<string, string>; count: number; waits: number[] }>([
    {
      name: "X-Retry-After in seconds",
      headers: { "X-Retry-After": "3" },
      count: 1,
      waits: [3000],
    },
    {
      name: "X-Retry-After as a unix timestamp (the Hub's documented form)",
      headers: { "X-Retry-After": String(NOW / 1000 + 7) },
      count: 1,
      waits: [7000],
    },
    {
      name: "X-Retry-After timestamp already past -> no wait",
      headers: { "X-Retry-After": String(NOW / 1000 - 5) },
      count: 1,
      waits: [0],
    },
    {
      name: "standard Retry-After in seconds",
      headers: { "Retry-After": "2" },
      count: 1,
      waits: [2000],
    },
    {
      name: "only X-RateLimit-Reset",
      headers: { "X-RateLimit-Reset": String(NOW / 1000 + 4) },
      count: 1,
      waits: [4000],
    },
    { name: "no header -> exponential backoff", headers: {}, count: 3, waits: [1000, 2000, 4000] },
  ])("$name -> waits $waits then succeeds", async ({ headers, count, waits }) => {
    await seedRepository();
    const c = client({ now: () => NOW });
    await c.login();
    hub.failNext(429, headers, count);
    expect(await c.getRepository("battlescope", "frontend")).toEqual({
      description: "short",
      fullDescription: "# full",
      isPrivate: false,
    });
    expect(sleeps).toEqual(waits);
    expect(hub.requests.map((request) => request.status)).toEqual([
      200,
      ...Array(count).fill(429),
      200,
    ]);
  });

  it("a 429 on the login itself is waited out too", async () => {
    hub.failNext(429, { "X-Retry-After": "1" });
    await client().login();
    expect(sleeps).toEqual([1000]);
  });

  it.each([
    {
      name: "still limited after maxRetries",
      options: { maxRetries: 2 },
      headers: { "X-Retry-After": "1" },
      count: 3,
      message:
        "Docker Hub list tags of battlescope/frontend failed: HTTP 429: Too Many Requests (gave up after 2 retries)",
      waits: [1000, 1000],
    },
    {
      name: "asked to wait longer than the client accepts",
      options: { maxRetryWaitMs: 60_000 },
      headers: { "X-Retry-After": "3600" },
      count: 1,
      message:
        "Docker Hub list tags of battlescope/frontend failed: HTTP 429: Too Many Requests (the Hub asks to wait 3600 s, more than the 60 s this client waits)",
      waits: [],
    },
  ])("$name -> exact error", async ({ options, headers, count, message, waits }) => {
    await seedRepository();
    const c = client({ now: () => NOW, ...options });
    await c.login();
    hub.failNext(429, headers, count);
    await expect(c.listTags("battlescope", "frontend")).rejects.toThrow(exactly(message));
    expect(sleeps).toEqual(waits);
  });

  it.each<{ name: string; headers: Record<string, string>; expected: number | undefined }>([
    { name: "seconds", headers: { "x-retry-after": "30" }, expected: 30_000 },
    { name: "fractional seconds", headers: { "retry-after": "1.5" }, expected: 1500 },
    {
      name: "unix timestamp",
      headers: { "x-retry-after": String(NOW / 1000 + 60) },
      expected: 60_000,
    },
    {
      name: "HTTP date",
      headers: { "retry-after": new Date(NOW + 5000).toUTCString() },
      expected: 5000,
    },
    {
      name: "X-Retry-After wins over Retry-After",
      headers: { "x-retry-after": "9", "retry-after": "1" },
      expected: 9000,
    },
    { name: "nothing usable", headers: { "retry-after": "soon" }, expected: undefined },
    { name: "no header", headers: {}, expected: undefined },
  ])("retryAfterMs: $name -> $expected", ({ headers, expected }) => {
    expect(retryAfterMs(new Headers(headers), NOW)).toBe(expected);
  });
});

describe("other errors name the operation, the repository, the status and the Hub's message", () => {
  it.each([
    {
      name: "500 on update",
      status: 500,
      body: { message: "database unavailable" },
      run: (c: DockerHubClient) =>
        c.updateRepository("battlescope", "frontend", { description: "d" }),
      message:
        "Docker Hub update repository battlescope/frontend failed: HTTP 500: database unavailable",
    },
    {
      name: "403 on create (detail field)",
      status: 403,
      body: { detail: "You do not have permission to perform this action." },
      run: (c: DockerHubClient) =>
        c.createRepository("battlescope", {
          name: "frontend",
          description: "d",
          fullDescription: "f",
          isPrivate: false,
        }),
      message:
        'Docker Hub create repository battlescope/frontend failed: HTTP 403: You do not have permission to perform this action.; the access token needs the "Read, Write, Delete" permission to manage repositories (a "Read & Write" token pushes images but may not write descriptions or delete tags): create a personal access token with "Read, Write, Delete"',
    },
    {
      name: "404 on listing tags of a missing repository",
      status: undefined,
      body: undefined,
      run: (c: DockerHubClient) => c.listTags("battlescope", "missing"),
      message: "Docker Hub list tags of battlescope/missing failed: HTTP 404: object not found",
    },
    {
      name: "409 on creating an existing repository",
      status: undefined,
      body: undefined,
      run: async (c: DockerHubClient) => {
        await c.createRepository("battlescope", {
          name: "frontend",
          description: "d",
          fullDescription: "f",
          isPrivate: false,
        });
        return c.createRepository("battlescope", {
          name: "frontend",
          description: "d",
          fullDescription: "f",
          isPrivate: false,
        });
      },
      message:
        "Docker Hub create repository battlescope/frontend failed: HTTP 409: Repository with this Name and Namespace already exists.",
    },
  ])("$name", async ({ status, body, run, message }) => {
    const c = client();
    await c.login();
    if (status !== undefined) {
      hub.failNext(status, {}, 1, body);
    }
    await expect(run(c)).rejects.toThrow(exactly(message));
  });

  it("an unreachable Hub is named with the operation", async () => {
    const url = hub.url;
    await hub.close();
    hub = await startHubEmulator();
    const error = await client({ baseUrl: url })
      .getRepository("battlescope", "frontend")
      .catch((e: Error) => e);
    expect((error as Error).message).toMatch(
      /^Docker Hub get repository battlescope\/frontend failed: login as battlescope-ci failed: fetch failed \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/,
    );
  });
});

describe("the emulator as a standalone service (hubEmulatorMain.ts)", () => {
  const mainFile = path.resolve(__dirname, "../../scripts/hub-emulator/hubEmulatorMain.ts");

  /** Starts the service on a free port; resolves with its URL and a stop function. */
  async function startService(stateFile: string) {
    const child = spawn(process.execPath, [mainFile, "--port", "0", "--state-file", stateFile], {
      env: { ...process.env, HUB_EMULATOR_USERS: `${USER}:${TOKEN}` },
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("\n")) {
          resolve(out.split("\n")[0] ?? "");
        }
      });
      child.once("exit", (code) => reject(new Error(`emulator exited with ${code}: ${out}`)));
    });
    const stop = () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      });
    return { line, url: /listening on (\S+)/.exec(line)?.[1] ?? "", stop };
  }

  it("prints one line, keeps its state across a restart, and serves /_emulator/state and reset", async () => {
    const stateFile = path.join(makeTempDir("hub-emulator"), "state.json");
    const first = await startService(stateFile);
    expect(first.line).toMatch(
      new RegExp(
        `^Docker Hub emulator listening on http://127\\.0\\.0\\.1:\\d+ \\(state file: ${stateFile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}; users: ${USER}\\)$`,
      ),
    );
    await client({ baseUrl: first.url }).ensureRepository("battlescope", "frontend", {
      description: "kept",
      fullDescription: "# kept",
    });
    await first.stop();

    const second = await startService(stateFile);
    expect(await client({ baseUrl: second.url }).getRepository("battlescope", "frontend")).toEqual({
      description: "kept",
      fullDescription: "# kept",
      isPrivate: false,
    });
    const state = (await (await fetch(`${second.url}/_emulator/state`)).json()) as {
      repositories: Record<string, { description: string }>;
    };
    expect(Object.keys(state.repositories)).toEqual(["battlescope/frontend"]);
    expect(state.repositories["battlescope/frontend"]?.description).toBe("kept");
    const reset = await fetch(`${second.url}/_emulator/reset`, { method: "POST" });
    expect(await reset.json()).toEqual({ repositories: {} });
    await second.stop();
    expect(JSON.parse(fs.readFileSync(stateFile, "utf8"))).toEqual({ repositories: {} });
  });
});
