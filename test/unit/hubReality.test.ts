/**
 * Docker Hub as it really behaves, against the emulator made as strict as the documented and
 * observed Hub: token permissions, the documented read endpoint, the documented tag schema, and
 * the list of every Hub call the client makes with the public source that says how it behaves.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  assertTokenCanWrite,
  DockerHubClient,
  type DockerHubClientOptions,
} from "../../clients/dockerHub";
import { readHubRepository } from "../../clients/registryTags";
import {
  type HubEmulator,
  type HubPermission,
  startHubEmulator,
} from "../../scripts/hub-emulator/hubEmulator";
import { exactly } from "../support/exactly";

const USER = "release-bot";
const TOKEN = "dckr_pat_reality";
const HINT =
  'the access token needs the "Read, Write, Delete" permission to manage repositories (a "Read & Write" token pushes images but may not write descriptions or delete tags): create a personal access token with "Read, Write, Delete"';

let hub: HubEmulator;
let warnings: string[];

async function start(permission?: HubPermission, omitScopeClaim = false): Promise<void> {
  await hub?.close();
  hub = await startHubEmulator({
    users: { [USER]: TOKEN },
    ...(permission === undefined ? {} : { permissions: { [USER]: permission } }),
    omitScopeClaim,
  });
}

beforeEach(async () => {
  hub = await startHubEmulator({ users: { [USER]: TOKEN } });
  warnings = [];
});
afterEach(async () => {
  await hub.close();
});

function client(overrides: Partial<DockerHubClientOptions> = {}): DockerHubClient {
  return new DockerHubClient({
    baseUrl: hub.url,
    username: USER,
    token: TOKEN,
    sleep: async () => undefined,
    warn: (message) => warnings.push(message),
    ...overrides,
  });
}

function seed(description = "old", tags: string[] = []): void {
  hub.state.repositories["battlescope/frontend"] = {
    namespace: "battlescope",
    name: "frontend",
    description,
    full_description: "# old",
    is_private: false,
    date_registered: "2026-01-01T00:00:00.000Z",
    last_updated: "2026-01-01T00:00:00.000Z",
    tags: [],
  };
  for (const name of tags) hub.addTag("battlescope/frontend", { name });
}

const writes = () => hub.requests.filter((r) => r.method !== "GET" && r.path !== "/v2/auth/token");

describe("token permissions", () => {
  it.each([
    {
      name: "a Read-only token writing descriptions",
      permission: "read" as const,
      seeded: true,
      message: `Docker Hub update repository battlescope/frontend failed: HTTP 403: forbidden; ${HINT}`,
    },
    {
      name: "a Read & Write token writing descriptions (it can push, but not this)",
      permission: "read-write" as const,
      seeded: true,
      message: `Docker Hub update repository battlescope/frontend failed: HTTP 403: forbidden; ${HINT}`,
    },
    {
      name: "a Read & Write token creating the repository",
      permission: "read-write" as const,
      seeded: false,
      message: `Docker Hub create repository battlescope/frontend failed: HTTP 403: forbidden; ${HINT}`,
    },
  ])("$name is refused with the permission to create", async ({ permission, seeded, message }) => {
    await start(permission);
    if (seeded) seed();
    await expect(
      client().ensureRepository("battlescope", "frontend", {
        description: "new",
        fullDescription: "# new",
      }),
    ).rejects.toThrow(exactly(message));
    expect(writes().map((r) => r.status)).toEqual([403]);
    expect(hub.state.repositories["battlescope/frontend"]?.description).toBe(
      seeded ? "old" : undefined,
    );
  });

  it.each([
    { permission: "read" as const, expected: "Read-only" },
    { permission: "read-write" as const, expected: "Read & Write" },
    { permission: "read-write-delete" as const, expected: "Read, Write, Delete" },
  ])(
    "checkToken reads $expected from the access token's scope claim",
    async ({ permission, expected }) => {
      await start(permission);
      expect(await client().checkToken()).toEqual({ permission: expected });
      expect(hub.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["POST /v2/auth/token"]);
    },
  );

  it.each([
    { permission: "read" as const, shown: "Read-only" },
    { permission: "read-write" as const, shown: "Read & Write" },
  ])(
    "the preview's check refuses a $shown token before any write",
    async ({ permission, shown }) => {
      await start(permission);
      await expect(assertTokenCanWrite(client())).rejects.toThrow(
        exactly(`Docker Hub token of release-bot has the permission "${shown}": ${HINT}`),
      );
      expect(writes()).toEqual([]);
    },
  );

  it("the preview's check passes a Read, Write, Delete token, and one it cannot read", async () => {
    await start("read-write-delete");
    expect(await assertTokenCanWrite(client())).toBe("Read, Write, Delete");
    await start("read-write", true);
    expect(await assertTokenCanWrite(client())).toBeUndefined();
  });

  it("checkToken says nothing of a token whose access token has no scope claim", async () => {
    await start("read-write", true);
    expect(await client().checkToken()).toEqual({ permission: undefined });
  });

  it("checkToken fails for a token the Hub does not accept, without printing it", async () => {
    await expect(client({ token: "dckr_pat_wrong" }).checkToken()).rejects.toThrow(
      exactly(
        "Docker Hub login as release-bot failed: HTTP 401: Incorrect authentication credentials",
      ),
    );
  });

  it("the local stack's token (release-bot, dckr_pat_emulator) may do everything by default", async () => {
    await hub.close();
    hub = await startHubEmulator();
    const result = await client({ token: "dckr_pat_emulator" }).ensureRepository(
      "battlescope",
      "frontend",
      { description: "d", fullDescription: "f" },
    );
    expect(result.action).toBe("created");
  });
});

describe("endpoints: the documented read, the deprecated one only as a fallback", () => {
  it.each([404, 410] as const)(
    "with the deprecated GET answering %i, ensureRepository still updates an existing repository and never creates it",
    async (status) => {
      seed();
      hub.failLegacy(status);
      const result = await client().ensureRepository("battlescope", "frontend", {
        description: "new",
        fullDescription: "# old",
      });
      expect(result).toEqual({ action: "updated", written: ["description"], isPrivate: false });
      expect(hub.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
        "POST /v2/auth/token 200",
        "GET /v2/namespaces/battlescope/repositories/frontend 200",
        "PATCH /v2/repositories/battlescope/frontend/ 200",
      ]);
      expect(warnings).toEqual([]);
    },
  );

  it("falls back to the deprecated GET when the documented one is not served, and says so", async () => {
    seed();
    const c = client({
      fetch: async (url, init) =>
        url.includes("/v2/namespaces/battlescope/repositories/frontend")
          ? Response.json({ message: "method not allowed" }, { status: 405 })
          : fetch(url, init),
    });
    expect(await c.getRepository("battlescope", "frontend")).toEqual({
      description: "old",
      fullDescription: "# old",
      isPrivate: false,
    });
    expect(warnings).toEqual([
      "Docker Hub get repository battlescope/frontend: the documented GET /v2/namespaces/{ns}/repositories/{repo} answered HTTP 405; reading through the deprecated GET /v2/repositories/{ns}/{repo}/ instead",
    ]);
  });

  it("a fallback whose deprecated GET is gone too is an error, never a missing repository", async () => {
    seed();
    hub.failLegacy(410);
    const c = client({
      fetch: async (url, init) =>
        url.includes("/v2/namespaces/battlescope/repositories/frontend")
          ? new Response("", { status: 501 })
          : fetch(url, init),
    });
    await expect(
      c.ensureRepository("battlescope", "frontend", { description: "new", fullDescription: "" }),
    ).rejects.toThrow(
      exactly("Docker Hub get repository battlescope/frontend failed: HTTP 410: gone"),
    );
    expect(writes()).toEqual([]);
  });

  it("a tag listing that fails with 404 for a repository the Hub has is an error, not an empty list", async () => {
    seed("old", ["v3.0.0", "v3.0.1"]);
    const c = client({
      fetch: async (url, init) =>
        url.includes("/tags?")
          ? Response.json({ message: "not found", errinfo: {} }, { status: 404 })
          : fetch(url, init),
    });
    await expect(readHubRepository(c, "battlescope", "frontend")).rejects.toThrow(
      exactly(
        "Docker Hub list tags of battlescope/frontend failed: HTTP 404: not found, yet the Hub has the repository battlescope/frontend: its tags cannot be read",
      ),
    );
  });

  it("a repository the Hub does not have reads as empty", async () => {
    expect(await readHubRepository(client(), "battlescope", "frontend")).toEqual({
      repository: "battlescope/frontend",
      tags: [],
      manifests: new Map(),
      sizesKnown: false,
    });
  });
});

describe("the documented tag schema", () => {
  it("serves images[].digest, last_updated and tag_last_pushed, and no tag-level digest", async () => {
    seed("old", ["v3.0.0"]);
    const c = client();
    const response = await fetch(
      `${hub.url}/v2/namespaces/battlescope/repositories/frontend/tags`,
      {
        headers: { Authorization: `Bearer ${await c.login()}` },
      },
    );
    const [tag] = ((await response.json()) as { results: Record<string, unknown>[] }).results;
    expect(tag).not.toHaveProperty("digest");
    expect(tag).toHaveProperty("last_updated");
    expect(tag).toHaveProperty("tag_last_pushed");
    expect(((tag?.images ?? []) as { digest: string }[]).map((image) => image.digest)).toHaveLength(
      2,
    );
  });

  it("retention's digests come from the registry (the index) and images[].digest (its children)", async () => {
    seed();
    hub.addTag("battlescope/frontend", {
      name: "v3.0.0",
      digest: "sha256:index",
      images: [
        { architecture: "amd64", os: "linux", digest: "sha256:amd" },
        { architecture: "unknown", os: "unknown", digest: "sha256:att" },
      ],
    });
    const snapshot = await readHubRepository(client(), "battlescope", "frontend", async (tag) =>
      tag === "v3.0.0" ? "sha256:index" : undefined,
    );
    expect(snapshot.tags.map((t) => [t.name, t.digest])).toEqual([["v3.0.0", "sha256:index"]]);
    expect(snapshot.manifests.get("sha256:index")?.children).toEqual(["sha256:amd", "sha256:att"]);
  });
});
