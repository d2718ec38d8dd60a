import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import * as pulumi from "@pulumi/pulumi";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DockerHubClient } from "../../clients/dockerHub";
import { providerStub } from "../../components/dynamicProvider";
import {
  createHubRepositoryProvider,
  DockerHubRepository,
  dockerHubRepositoryProvider,
  type HubRepositoryInputs,
  type HubRepositoryOutputs,
  type HubRepositoryProvider,
} from "../../components/hubRepository";
import { type HubEmulator, startHubEmulator } from "../../scripts/hub-emulator/hubEmulator";
import { exactly } from "../support/exactly";
import { makeTempDir } from "../support/tempDirs";

const USER = "battlescope-ci";
const TOKEN = "dckr_pat_Hq7-PROVIDER-SECRET";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** How Pulumi marks a secret value on the wire. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_MARK = "1b47061264138c4ac30d75fd1eb44270";
const SHORT = "BattleScope V3 - Frontend - React web interface";
const FULL = "# BattleScope Frontend\n\n**Architecture**: V3 Distributed Microservices\n";

let hub: HubEmulator;
let logs: string[];
let provider: HubRepositoryProvider;

beforeEach(async () => {
  hub = await startHubEmulator({ users: { [USER]: TOKEN } });
  logs = [];
  provider = createHubRepositoryProvider({
    log: (message) => logs.push(message),
    createClient: (options) => new DockerHubClient({ ...options, sleep: async () => {} }),
  });
});

afterEach(async () => {
  await hub.close();
});

function inputs(overrides: Partial<HubRepositoryInputs> = {}): HubRepositoryInputs {
  return {
    namespace: "battlescope",
    repository: "frontend",
    description: SHORT,
    fullDescription: FULL,
    hubUrl: hub.url,
    username: USER,
    token: TOKEN,
    ...overrides,
  };
}

function outputs(overrides: Partial<HubRepositoryOutputs> = {}): HubRepositoryOutputs {
  return {
    namespace: "battlescope",
    repository: "frontend",
    fullName: "battlescope/frontend",
    description: SHORT,
    fullDescription: FULL,
    hubUrl: hub.url,
    created: true,
    ...overrides,
  };
}

/** Puts a repository on the emulated Hub without recording the requests. */
async function seed(description: string, fullDescription: string): Promise<void> {
  await new DockerHubClient({ baseUrl: hub.url, username: USER, token: TOKEN }).createRepository(
    "battlescope",
    { name: "frontend", description, fullDescription, isPrivate: false },
  );
  hub.requests.length = 0;
}

const calls = () => hub.requests.map((request) => `${request.method} ${request.path}`);

describe("create", () => {
  it.each([
    {
      name: "missing repository -> created public with both texts",
      existing: undefined,
      created: true,
      expectedCalls: [
        "POST /v2/auth/token",
        "GET /v2/namespaces/battlescope/repositories/frontend",
        "POST /v2/namespaces/battlescope/repositories",
      ],
      expectedLogs: [
        "Docker Hub repository battlescope/frontend created (public, with its descriptions)",
      ],
    },
    {
      name: "existing repository with the same text -> adopted, no write",
      existing: { description: SHORT, fullDescription: FULL },
      created: false,
      expectedCalls: [
        "POST /v2/auth/token",
        "GET /v2/namespaces/battlescope/repositories/frontend",
      ],
      expectedLogs: [],
    },
    {
      name: "existing repository with other text -> adopted, one PATCH",
      existing: { description: "old", fullDescription: FULL },
      created: false,
      expectedCalls: [
        "POST /v2/auth/token",
        "GET /v2/namespaces/battlescope/repositories/frontend",
        "PATCH /v2/repositories/battlescope/frontend/",
      ],
      expectedLogs: ["Docker Hub repository battlescope/frontend: wrote description"],
    },
  ])("$name", async ({ existing, created, expectedCalls, expectedLogs }) => {
    if (existing) {
      await seed(existing.description, existing.fullDescription);
    }
    const result = await provider.create(inputs());
    expect(result).toEqual({ id: "battlescope/frontend", outs: outputs({ created }) });
    expect(calls()).toEqual(expectedCalls);
    expect(logs).toEqual(expectedLogs);
    expect(hub.state.repositories["battlescope/frontend"]).toMatchObject({
      description: SHORT,
      full_description: FULL,
      is_private: false,
    });
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });

  it("warns (without failing) when the adopted repository is private", async () => {
    await seed(SHORT, FULL);
    const stored = hub.state.repositories["battlescope/frontend"];
    if (stored) {
      stored.is_private = true;
    }
    await provider.create(inputs());
    expect(logs).toEqual([
      "Docker Hub repository battlescope/frontend is private; BattleScope images are meant to be public (change it on the Hub)",
    ]);
  });
});

describe("diff", () => {
  it.each([
    { name: "nothing changed", news: {}, changes: false, replaces: [] },
    {
      name: "only the token changed",
      news: { token: "dckr_pat_rotated" },
      changes: false,
      replaces: [],
    },
    {
      name: "only the username changed",
      news: { username: "someone-else" },
      changes: false,
      replaces: [],
    },
    {
      name: "short description changed",
      news: { description: "new" },
      changes: true,
      replaces: [],
    },
    {
      name: "full description changed",
      news: { fullDescription: "# new" },
      changes: true,
      replaces: [],
    },
    {
      name: "description unknown in preview",
      news: { description: UNKNOWN },
      changes: true,
      replaces: [],
    },
    {
      name: "hub URL changed",
      news: { hubUrl: "https://hub.example" },
      changes: true,
      replaces: [],
    },
    {
      name: "hub URL gained a trailing slash",
      news: { hubUrl: "SAME/" },
      changes: false,
      replaces: [],
    },
    {
      name: "namespace changed",
      news: { namespace: "other" },
      changes: true,
      replaces: ["namespace"],
    },
    {
      name: "repository changed",
      news: { repository: "web" },
      changes: true,
      replaces: ["repository"],
    },
    {
      name: "namespace and repository changed",
      news: { namespace: "other", repository: "web" },
      changes: true,
      replaces: ["namespace", "repository"],
    },
  ])("$name -> changes $changes, replaces $replaces", async ({ news, changes, replaces }) => {
    const next = inputs(news);
    if (next.hubUrl === "SAME/") {
      next.hubUrl = `${hub.url}/`;
    }
    const result = await provider.diff("battlescope/frontend", outputs(), next);
    expect(result.changes).toBe(changes);
    expect(result.replaces).toEqual(replaces);
    expect(result.deleteBeforeReplace).toBe(false);
    expect(hub.requests).toEqual([]);
  });
});

describe("update", () => {
  it.each([
    {
      name: "text unchanged on the Hub (only the token rotated) -> no PATCH",
      onHub: { description: SHORT, fullDescription: FULL },
      news: { token: TOKEN },
      patches: [],
    },
    {
      name: "short description changed -> exactly one PATCH with that field",
      onHub: { description: SHORT, fullDescription: FULL },
      news: { description: "BattleScope V3 - Frontend - New line" },
      patches: [{ description: "BattleScope V3 - Frontend - New line" }],
    },
    {
      name: "full description changed -> exactly one PATCH with that field",
      onHub: { description: SHORT, fullDescription: FULL },
      news: { fullDescription: "# New" },
      patches: [{ full_description: "# New" }],
    },
    {
      name: "state is stale but the Hub already holds the new text -> no PATCH",
      onHub: { description: "already new", fullDescription: FULL },
      news: { description: "already new" },
      patches: [],
    },
  ])("$name", async ({ onHub, news, patches }) => {
    await seed(onHub.description, onHub.fullDescription);
    const next = inputs(news);
    const result = await provider.update("battlescope/frontend", outputs({ created: false }), next);
    expect(result).toEqual({
      outs: outputs({
        created: false,
        description: next.description,
        fullDescription: next.fullDescription,
      }),
    });
    expect(hub.requests.filter((request) => request.method === "PATCH").map((r) => r.body)).toEqual(
      patches,
    );
    expect(
      hub.requests.filter(
        (request) => request.method === "POST" && request.path !== "/v2/auth/token",
      ),
    ).toEqual([]);
  });

  it("recreates a repository deleted on the Hub by hand", async () => {
    const result = await provider.update(
      "battlescope/frontend",
      outputs({ created: false }),
      inputs(),
    );
    expect(result).toEqual({ outs: outputs({ created: true }) });
    expect(calls()).toContain("POST /v2/namespaces/battlescope/repositories");
  });
});

describe("delete", () => {
  it("never touches the Hub and says so", async () => {
    await seed(SHORT, FULL);
    await provider.delete("battlescope/frontend", outputs());
    expect(hub.requests).toEqual([]);
    expect(hub.state.repositories["battlescope/frontend"]).toBeDefined();
    expect(logs).toEqual([
      "Docker Hub repository battlescope/frontend is left in place: this stack never deletes a Hub repository (its tags are the retention command's job)",
    ]);
  });
});

describe("check", () => {
  const short117 = `BattleScope V3 - Frontend - ${"x".repeat(89)}`;
  it.each([
    { name: "valid inputs", news: {}, failures: [] },
    {
      name: "short description of 117 characters",
      news: { description: short117 },
      failures: [
        {
          property: "description",
          reason:
            "Docker Hub repository battlescope/frontend: short description is 117 bytes, Docker Hub allows 100 (UTF-8 bytes, not characters)",
        },
      ],
    },
    {
      name: "full description of 25,001 characters",
      news: { fullDescription: "f".repeat(25_001) },
      failures: [
        {
          property: "fullDescription",
          reason:
            "Docker Hub repository battlescope/frontend: full description is 25,001 bytes, Docker Hub allows 25,000 (UTF-8 bytes, not characters)",
        },
      ],
    },
    {
      name: "both too long",
      news: { description: "d".repeat(101), fullDescription: "f".repeat(25_100) },
      failures: [
        {
          property: "description",
          reason:
            "Docker Hub repository battlescope/frontend: short description is 101 bytes, Docker Hub allows 100 (UTF-8 bytes, not characters)",
        },
        {
          property: "fullDescription",
          reason:
            "Docker Hub repository battlescope/frontend: full description is 25,100 bytes, Docker Hub allows 25,000 (UTF-8 bytes, not characters)",
        },
      ],
    },
    {
      name: "exactly at the limits",
      news: { description: "d".repeat(100), fullDescription: "f".repeat(25_000) },
      failures: [],
    },
    {
      name: "texts unknown during preview",
      news: { description: UNKNOWN, fullDescription: UNKNOWN },
      failures: [],
    },
    {
      name: "empty token",
      news: { token: "" },
      failures: [{ property: "token", reason: "token is required" }],
    },
    {
      name: "invalid repository name",
      news: { repository: "Front End" },
      failures: [
        {
          property: "repository",
          reason:
            'Docker Hub repository name "Front End" is invalid: use 2 to 255 lowercase letters and digits, separated by single ".", "_" or "-"',
        },
      ],
    },
  ])("$name", async ({ news, failures }) => {
    const result = await provider.check({}, inputs(news));
    expect(result.failures).toEqual(failures);
    expect(JSON.stringify(result.failures)).not.toContain(TOKEN);
    expect(hub.requests).toEqual([]);
  });

  it.each([
    { name: "absent -> the real Hub", hubUrl: undefined, expected: "https://hub.docker.com" },
    { name: "empty -> the real Hub", hubUrl: "", expected: "https://hub.docker.com" },
    {
      name: "trailing slashes are dropped",
      hubUrl: "http://127.0.0.1:5001//",
      expected: "http://127.0.0.1:5001",
    },
  ])("hubUrl $name", async ({ hubUrl, expected }) => {
    const news: Partial<HubRepositoryInputs> = inputs();
    delete news.hubUrl;
    if (hubUrl !== undefined) {
      news.hubUrl = hubUrl;
    }
    const result = await provider.check({}, news);
    expect(result.inputs?.hubUrl).toBe(expected);
  });
});

describe("errors never carry the token", () => {
  /** A provider whose Hub answers every repository request with a 500 that echoes the token. */
  const echoingProvider = () =>
    createHubRepositoryProvider({
      log: (message) => logs.push(message),
      createClient: (options) =>
        new DockerHubClient({
          ...options,
          fetch: async (url, init) =>
            url.includes("/repositories/frontend")
              ? Response.json({ message: `upstream said ${TOKEN}` }, { status: 500 })
              : fetch(url, init),
        }),
    });

  it.each([
    {
      name: "create with a revoked token",
      echo: false,
      run: (p: HubRepositoryProvider) => p.create(inputs({ token: `${TOKEN}-revoked` })),
      message: `Docker Hub get repository battlescope/frontend failed: login as ${USER} failed: HTTP 401: Incorrect authentication credentials`,
    },
    {
      name: "update with the Hub echoing the token in a 500",
      echo: true,
      run: (p: HubRepositoryProvider) =>
        p.update("battlescope/frontend", outputs(), inputs({ description: "changed" })),
      message:
        "Docker Hub get repository battlescope/frontend failed: HTTP 500: upstream said [redacted]",
    },
    {
      name: "create with an over-long short description (no request at all)",
      echo: false,
      run: (p: HubRepositoryProvider) => p.create(inputs({ description: "d".repeat(117) })),
      message:
        "Docker Hub repository battlescope/frontend: short description is 117 bytes, Docker Hub allows 100 (UTF-8 bytes, not characters)",
    },
  ])("$name", async ({ echo, run, message }) => {
    const error = await run(echo ? echoingProvider() : provider).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(exactly(message));
    expect((error as Error).message).not.toContain(TOKEN);
    expect(JSON.stringify(hub.requests)).not.toContain(TOKEN);
    expect(logs.join("\n")).not.toContain(TOKEN);
  });

  it("an over-long text makes no request at all", async () => {
    await provider.create(inputs({ fullDescription: "f".repeat(25_001) })).catch(() => undefined);
    expect(hub.requests).toEqual([]);
  });
});

describe("the serialized provider (what Pulumi stores in the state)", () => {
  let workDir: string;

  beforeAll(() => {
    workDir = makeTempDir("hub-provider");
  });

  it("captures nothing but a path, and runs in a plain Node process outside the project", async () => {
    const stub = providerStub(dockerHubRepositoryProvider);
    expect(stub).not.toContain("DockerHubClient");
    expect(stub).toContain(path.resolve(__dirname, "../../components/hubRepository.ts"));
    // Stored twice per resource and rewritten with the whole state after every step.
    expect(stub.length).toBeLessThan(1000);

    const providerFile = path.join(workDir, "provider.js");
    fs.writeFileSync(providerFile, stub);
    const requireFromString = require.resolve("require-from-string", {
      paths: [path.dirname(require.resolve("@pulumi/pulumi"))],
    });
    // The dynamic provider host loads the text with require-from-string, then calls handler().
    const script = `
      const fs = require("fs");
      const load = require(${JSON.stringify(requireFromString)});
      const provider = load(fs.readFileSync(${JSON.stringify(providerFile)}, "utf8")).handler();
      const inputs = JSON.parse(process.argv[1]);
      (async () => {
        const check = await provider.check({}, inputs);
        const created = await provider.create(check.inputs);
        const diff = await provider.diff(created.id, created.outs, { ...inputs, token: "rotated" });
        const updated = await provider.update(created.id, created.outs, { ...inputs, description: "second" });
        await provider.delete(created.id, updated.outs);
        process.stdout.write("RESULT " + JSON.stringify({ check, created, diff, updated }) + "\\n");
      })().catch((error) => { process.stdout.write("ERROR " + error.message + "\\n"); process.exit(1); });
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["-e", script, JSON.stringify(inputs())],
      { cwd: workDir, env: { ...process.env, NODE_OPTIONS: "" } },
    );
    const line = stdout.split("\n").find((candidate) => candidate.startsWith("RESULT "));
    expect(line, stdout).toBeDefined();
    const result = JSON.parse((line ?? "").slice("RESULT ".length));
    expect(result).toEqual({
      check: { inputs: inputs(), failures: [] },
      created: { id: "battlescope/frontend", outs: outputs({ created: true }) },
      diff: {
        changes: false,
        replaces: [],
        deleteBeforeReplace: false,
        stables: ["namespace", "repository", "fullName"],
      },
      updated: { outs: outputs({ created: true, description: "second" }) },
    });
    // What the provider itself printed (the engine shows it) never holds the token.
    const printed = stdout.split("\n").filter((candidate) => !candidate.startsWith("RESULT "));
    expect(printed).toEqual([
      "Docker Hub repository battlescope/frontend created (public, with its descriptions)",
      "Docker Hub repository battlescope/frontend: wrote description",
      "Docker Hub repository battlescope/frontend is left in place: this stack never deletes a Hub repository (its tags are the retention command's job)",
      "",
    ]);
    expect(calls()).toEqual([
      "POST /v2/auth/token",
      "GET /v2/namespaces/battlescope/repositories/frontend",
      "POST /v2/namespaces/battlescope/repositories",
      "POST /v2/auth/token",
      "GET /v2/namespaces/battlescope/repositories/frontend",
      "PATCH /v2/repositories/battlescope/frontend/",
    ]);
    expect(hub.state.repositories["battlescope/frontend"]?.description).toBe("second");
  });
});

describe("DockerHubRepository component (Pulumi mocks)", () => {
  interface Recorded {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
  }
  const recorded: Recorded[] = [];

  beforeAll(() => {
    pulumi.runtime.setMocks(
      {
        newResource(args) {
          recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
          const state: Record<string, unknown> = { ...args.inputs };
          delete state.token;
          delete state.username;
          delete state.__provider;
          state.fullName = `${args.inputs.namespace}/${args.inputs.repository}`;
          state.created = true;
          return { id: String(state.fullName), state };
        },
        call: (args) => args.inputs,
      },
      "battlescope",
      "test",
      false,
    );
  });

  const output = <T>(value: pulumi.Output<T>): Promise<T> =>
    new Promise((resolve) => value.apply(resolve));

  it("declares one dynamic resource under the component, with the token as a secret", async () => {
    recorded.length = 0;
    const component = new DockerHubRepository("frontend", {
      organization: "battlescope",
      repository: "frontend",
      description: SHORT,
      fullDescription: FULL,
      username: USER,
      token: TOKEN,
    });
    expect(await output(component.fullName)).toBe("battlescope/frontend");
    expect(await output(component.description)).toBe(SHORT);
    expect(recorded.map(({ type, name }) => ({ type, name }))).toEqual([
      { type: "battlescope:hub:DockerHubRepository", name: "frontend" },
      { type: "pulumi-nodejs:dynamic/battlescope:DockerHubRepository", name: "frontend" },
    ]);
    const child = recorded[1]?.inputs ?? {};
    // The token was given as a plain string; the component makes it a secret (encrypted in state).
    expect({ ...child, __provider: typeof child.__provider }).toEqual({
      namespace: "battlescope",
      repository: "frontend",
      description: SHORT,
      fullDescription: FULL,
      hubUrl: "https://hub.docker.com",
      username: USER,
      __provider: "string",
      token: { [SECRET_SIG]: SECRET_MARK, value: TOKEN },
    });
    expect(String(child.__provider)).not.toContain(TOKEN);
    expect(String(child.__provider)).toContain("createHubRepositoryProvider");
  });

  it.each([
    {
      name: "short description of 117 characters",
      args: { description: `BattleScope V3 - Frontend - ${"x".repeat(89)}` },
      message:
        "Docker Hub repository battlescope/frontend: short description is 117 bytes, Docker Hub allows 100 (UTF-8 bytes, not characters)",
    },
    {
      name: "full description of 25,001 characters",
      args: { fullDescription: "f".repeat(25_001) },
      message:
        "Docker Hub repository battlescope/frontend: full description is 25,001 bytes, Docker Hub allows 25,000 (UTF-8 bytes, not characters)",
    },
  ])("refuses at construction: $name", ({ args, message }) => {
    expect(
      () =>
        new DockerHubRepository(`too-long-${args.description ? "short" : "full"}`, {
          organization: "battlescope",
          repository: "frontend",
          description: SHORT,
          fullDescription: FULL,
          username: USER,
          token: TOKEN,
          ...args,
        }),
    ).toThrow(exactly(message));
  });
});
