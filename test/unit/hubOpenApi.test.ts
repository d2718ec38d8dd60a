/**
 * Every request the Docker Hub client sends, checked against Docker's published OpenAPI file
 * (test/fixtures/docker-hub-api, with its source) by Prism as a validating proxy in front of the
 * Hub emulator. Prism forwards each request once and says what it found in its `sl-violations`
 * header. A request to a documented endpoint that breaks the file (a missing field, a wrong
 * type, a query parameter the file does not allow, the wrong security) fails the test with
 * Prism's words. A request to an endpoint the file does not have must be in UNDOCUMENTED, with
 * the reason the client sends it anyway: a new undocumented request fails the test too. What the
 * emulator answers is checked against the file as well: every difference is in
 * RESPONSE_DIFFERENCES, with its source.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { DockerHubClient } from "../../clients/dockerHub";
import { type HubEmulator, startHubEmulator } from "../../scripts/hub-emulator/hubEmulator";
import { REPO_ROOT } from "../../scripts/stack";
import { makeTempDir } from "../support/tempDirs";

const API_FILE = path.join(REPO_ROOT, "test/fixtures/docker-hub-api/latest.yaml");
/** The vendored file, byte for byte (test/fixtures/docker-hub-api/README.md). */
const API_FILE_SHA256 = "13855546562c7ea757f40409da8ab3f42dcfbff6c70d68a418202df1a7f34e8d";
const PRISM = path.join(REPO_ROOT, "node_modules/@stoplight/prism-cli/dist/index.js");
const USER = "release-bot";
const TOKEN = "dckr_pat_openapi";

/** Requests the client sends to endpoints Docker's file does not have, and why it sends them. */
const UNDOCUMENTED: readonly { readonly call: string; readonly reason: string }[] = [
  {
    call: "PATCH /v2/repositories/{namespace}/{repository}/",
    reason:
      "the only way to write a repository's descriptions: the file documents none (docker/hub-feedback#2321)",
  },
  {
    call: "DELETE /v2/repositories/{namespace}/{repository}/tags/{tag}/",
    reason: "the only tag delete, as the Hub UI sends it: the file documents none",
  },
  {
    call: "GET /v2/repositories/{namespace}/{repository}/",
    reason:
      "deprecated on 2025-09-19 and gone from the file (docker/docs content/reference/api/hub/deprecated.md): read only when the documented GET is not served",
  },
];

/** The documented operations the client's requests reach, as the file names their paths. */
const DOCUMENTED = [
  "POST /v2/auth/token",
  "GET /v2/namespaces/{namespace}/repositories/{repository}",
  "POST /v2/namespaces/{namespace}/repositories",
  "GET /v2/namespaces/{namespace}/repositories/{repository}/tags",
];

/**
 * Where the Hub's answers differ from Docker's file, the emulator answers as the Hub does; each
 * difference, as Prism words it (item indexes as `N`), with the source that shows the Hub's answer.
 */
const RESPONSE_DIFFERENCES: readonly { readonly violation: string; readonly source: string }[] = [
  {
    violation: `${DOCUMENTED[3]}: response.body.results.N.images: Response body property results.N.images must be object`,
    source:
      "the Hub answers an array of images (docker/docs#20552, and hub-feedback#2484's answer); the client reads images[]",
  },
  {
    violation: `${DOCUMENTED[3]}: response.body.results.N.v2: Response body property results.N.v2 must be string`,
    source: 'the Hub answers "v2": true (docker/hub-feedback#2484)',
  },
];

/** A request path as the file's path templates name it (the client's namespace is `acme`). */
function template(method: string, url: string): string {
  const { pathname } = new URL(url);
  const templated = pathname
    .replace(/^\/v2\/namespaces\/acme\//, "/v2/namespaces/{namespace}/")
    .replace(/^\/v2\/repositories\/acme\//, "/v2/repositories/{namespace}/")
    .replace(
      /^(\/v2\/(namespaces\/\{namespace\}\/)?repositories\/)(\{namespace\}\/)?[^/]+/,
      "$1$3{repository}",
    )
    .replace(/\/tags\/[^/]+\/$/, "/tags/{tag}/");
  return `${method} ${templated}`;
}

let dir: string;
let hub: HubEmulator;
let prism: ChildProcess | undefined;
let prismOutput = "";
let prismUrl: string;
let spec: { paths: Record<string, Record<string, unknown>> };

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The published file with the two defects that stop Prism mended (README.md of the fixture);
 * throws when a defect is gone, so the patch goes with it.
 */
function loadableCopy(text: string): string {
  const document = parse(text) as {
    paths: Record<string, Record<string, { security?: Record<string, unknown>[] }>>;
    components: { schemas: Record<string, unknown>; responses: Record<string, unknown> };
  };
  if (
    document.components.schemas.team_repo === undefined ||
    document.components.responses.team_repo !== undefined
  ) {
    throw new Error("Docker's file no longer refers to a missing team_repo: drop that patch");
  }
  delete document.components.schemas.team_repo;
  const create = document.paths["/v2/namespaces/{namespace}/repositories"]?.post;
  if (JSON.stringify(create?.security) !== JSON.stringify([{ BearerAuth: [] }])) {
    throw new Error("Docker's file no longer names the BearerAuth scheme: drop that patch");
  }
  if (create !== undefined) create.security = [{ bearerAuth: [] }];
  return stringify(document);
}

interface Violation {
  readonly location: readonly string[];
  readonly severity: string;
  readonly message: string;
}

/**
 * Prism's `sl-violations` header: request violations first, then response ones. Past 8 kB Prism
 * cuts it after "Too many violations! ": the complete entries before the cut are kept.
 */
function parseViolations(header: string | null): Violation[] {
  if (header === null) return [];
  const json = header.slice(header.indexOf("["));
  try {
    return JSON.parse(json) as Violation[];
  } catch {
    const complete = json.slice(0, json.lastIndexOf("},{") + 1);
    return JSON.parse(`${complete}]`) as Violation[];
  }
}

/** Requests the client sent through Prism, templated, and what Prism found in each. */
const checked: { readonly call: string; readonly violations: Violation[] }[] = [];

/**
 * The client's fetch: every request goes through Prism, which forwards it to the emulator and
 * reports what breaks the file. `documentedReadNotServed` answers the documented repository read
 * with 405 without sending it, as a Hub that no longer serves it would.
 */
function throughPrism(options: { documentedReadNotServed?: boolean } = {}) {
  return async (url: string, init?: RequestInit): Promise<Response> => {
    const method = init?.method ?? "GET";
    const call = template(method, url);
    if (options.documentedReadNotServed && call === DOCUMENTED[1]) {
      return new Response("", { status: 405 });
    }
    const { pathname, search } = new URL(url);
    const answer = await fetch(`${prismUrl}${pathname}${search}`, init);
    checked.push({ call, violations: parseViolations(answer.headers.get("sl-violations")) });
    return answer;
  };
}

/** Prism's warning for a request no path of the file matches: it forwards it all the same. */
const NO_ROUTE = "Selected route not found";

beforeAll(async () => {
  const text = fs.readFileSync(API_FILE, "utf8");
  expect(createHash("sha256").update(text).digest("hex")).toBe(API_FILE_SHA256);
  dir = makeTempDir("hub-openapi");
  const document = path.join(dir, "latest.yaml");
  fs.writeFileSync(document, loadableCopy(text));
  spec = parse(fs.readFileSync(document, "utf8")) as typeof spec;
  hub = await startHubEmulator({ users: { [USER]: TOKEN } });
  const port = await freePort();
  prismUrl = `http://127.0.0.1:${port}`;
  prism = spawn(
    process.execPath,
    [PRISM, "proxy", document, hub.url, "--host", "127.0.0.1", "--port", `${port}`],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Prism did not start:\n${prismOutput}`)),
      50_000,
    );
    const read = (chunk: Buffer) => {
      prismOutput += chunk;
      if (prismOutput.includes("Prism is listening")) {
        clearTimeout(timer);
        resolve();
      }
    };
    prism?.stdout?.on("data", read);
    prism?.stderr?.on("data", read);
    prism?.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Prism exited with ${code}:\n${prismOutput}`));
    });
  });

  // Every request the client sends: log in, create, read, write descriptions, list two pages
  // of tags, delete a tag, and the deprecated read the client falls back to.
  const client = new DockerHubClient({
    baseUrl: hub.url,
    username: USER,
    token: TOKEN,
    fetch: throughPrism(),
  });
  await client.checkToken();
  await client.ensureRepository("acme", "frontend", { description: "a", fullDescription: "b" });
  await client.ensureRepository("acme", "frontend", { description: "c", fullDescription: "d" });
  for (let i = 0; i < 101; i++) hub.addTag("acme/frontend", { name: `v1.0.${i}` });
  expect(await client.listTags("acme", "frontend")).toHaveLength(101);
  expect(await client.deleteTag("acme", "frontend", "v1.0.0")).toBe(true);
  const fallback = new DockerHubClient({
    baseUrl: hub.url,
    username: USER,
    token: TOKEN,
    warn: () => undefined,
    fetch: throughPrism({ documentedReadNotServed: true }),
  });
  expect((await fallback.getRepository("acme", "frontend"))?.description).toBe("c");
}, 60_000);

afterAll(async () => {
  const running = prism;
  if (running !== undefined && running.exitCode === null) {
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGTERM");
    await exited;
  }
  await hub?.close();
});

describe("the Docker Hub client against Docker's OpenAPI file (Prism)", () => {
  const requestViolations = (call: (typeof checked)[number]) =>
    call.violations.filter(({ location }) => location[0] === "request");

  it("sends no request that breaks the file", () => {
    const broken = checked.flatMap((entry) =>
      requestViolations(entry)
        .filter(({ message }) => message !== NO_ROUTE)
        .map(({ location, message }) => `${entry.call}: ${location.join(".")}: ${message}`),
    );
    expect(broken).toEqual([]);
  });

  it("sends an undocumented request only where UNDOCUMENTED says why, and the file has none of them", () => {
    const unmatched = checked
      .filter((entry) => requestViolations(entry).some(({ message }) => message === NO_ROUTE))
      .map(({ call }) => call);
    expect([...new Set(unmatched)].sort()).toEqual(UNDOCUMENTED.map(({ call }) => call).sort());
    for (const { call } of UNDOCUMENTED) {
      const [method, route] = call.split(" ") as [string, string];
      expect(spec.paths[route]?.[method.toLowerCase()], call).toBeUndefined();
    }
  });

  it("reaches each documented operation it relies on, and the file has each", () => {
    const reached = new Set(
      checked.map(({ call }) => call).filter((call) => !UNDOCUMENTED.some((u) => u.call === call)),
    );
    expect([...reached].sort()).toEqual([...DOCUMENTED].sort());
    for (const call of DOCUMENTED) {
      const [method, route] = call.split(" ") as [string, string];
      expect(spec.paths[route]?.[method.toLowerCase()], call).toBeDefined();
    }
  });

  it("gets answers that differ from the file only where RESPONSE_DIFFERENCES shows the Hub does", () => {
    const differences = new Set(
      checked.flatMap(({ call, violations }) =>
        violations
          .filter(({ location }) => location[0] === "response")
          .map(({ location, message }) =>
            `${call}: ${location.join(".")}: ${message}`.replace(/\.\d+\./g, ".N."),
          ),
      ),
    );
    expect([...differences].sort()).toEqual(RESPONSE_DIFFERENCES.map((d) => d.violation).sort());
  });
});
