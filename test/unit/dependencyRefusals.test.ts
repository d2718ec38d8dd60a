/**
 * The read step's checks of what the release depends on (release/read.ts): a registry, Docker
 * Hub, a cluster's API server or cosign that says no, or does not answer, refuses the release as
 * the program's refusals do (a Pulumi error, its message alone, no stack trace), with the real
 * clients' messages. Each dependency is real or stands in for one: a port nothing listens on,
 * the Hub emulator, an answer of the distribution API.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterEach, describe, expect, it } from "vitest";
import { assertTokenCanWrite, DockerHubClient } from "../../clients/dockerHub";
import { checkReachable } from "../../clients/kubernetes";
import { OciRegistryClient } from "../../clients/ociRegistry";
import { readPublishedRelease } from "../../clients/publishedRelease";
import { checkSigningKey } from "../../clients/signing";
import { Refusal } from "../../lib/refusal";
import { releaseProgramIn } from "../../program";
import { hubTagNames } from "../../release/inputs";
import { type ProgramInputs, readRelease } from "../../release/read";
import { asPulumiError } from "../../release/refusal";
import {
  type HubEmulator,
  type HubPermission,
  startHubEmulator,
} from "../../scripts/hub-emulator/hubEmulator";
import { mockRuntime } from "../support/pulumiMocks";
import { freshDatabaseStatus } from "../support/vulnerabilityDatabase";

mockRuntime();

const REPO_ROOT = path.join(__dirname, "../..");
const FIXTURES = path.join(REPO_ROOT, "fixtures/battlescope");
const HUB_USER = "release-bot";
const HUB_TOKEN = "dckr_pat_refusals";
const WRITE_HINT =
  'the access token needs the "Read, Write, Delete" permission to manage repositories (a "Read & Write" token pushes images but may not write descriptions or delete tags): create a personal access token with "Read, Write, Delete"';

/** A port that was just free: nothing listens there. */
async function closedPort(): Promise<number> {
  const probe = https.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** A registry that answers each request by its path (`/v2/` first). */
function answering(answer: (path: string) => Response): typeof fetch {
  return async (url) => answer(new URL(String(url)).pathname);
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });

/** The registry's reads, as the program makes them: its client pings once, then lists and reads. */
function registryReads(
  client: OciRegistryClient,
): Pick<ProgramInputs, "listTags" | "readPublished"> {
  const pinged = client.ping();
  return {
    listTags: async (repository) => {
      await pinged;
      return client.listTags(repository);
    },
    readPublished: async (repository, version, architectures) => {
      await pinged;
      return readPublishedRelease(client, repository, version, architectures);
    },
  };
}

/** A stack that releases the fixtures to a registry and deploys nothing; every check passes. */
function inputs(
  config: Record<string, string> = {},
  overrides: Partial<ProgramInputs> = {},
): ProgramInputs {
  const values: Record<string, string> = {
    registry: "registry.test",
    version: "v3.0.0",
    sourceRoot: FIXTURES,
    deploy: "false",
    publishDescriptions: "false",
    sign: "false",
    ...config,
  };
  return {
    readConfig: (key) => values[key],
    configKeys: Object.keys(values).map((key) => `battlescope:${key}`),
    secrets: {},
    listTags: async () => [],
    readPublished: async () => ({ platforms: {} }),
    hashSources: () => "sha256:0",
    gitShortSha: () => "abcdef1",
    projectDir: REPO_ROOT,
    buildContextExists: () => true,
    readFile: (file) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined),
    checkKubernetesApi: async () => {},
    checkSigningKey: async () => {},
    readDatabaseStatus: freshDatabaseStatus,
    today: new Date(),
    readSourceFacts: () => ({ uri: `file://${FIXTURES}`, dirty: false }),
    ...overrides,
  };
}

/** The read step's failure: a refusal, reported as a Pulumi error with its message alone. */
async function refusalOf(read: ProgramInputs): Promise<Refusal> {
  const error = await readRelease(read).then(
    () => {
      throw new Error("expected the read step to refuse");
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(Refusal);
  const reported = asPulumiError(error);
  expect(pulumi.RunError.isInstance(reported)).toBe(true);
  expect((reported as Error).message).toBe((error as Error).message);
  return error as Refusal;
}

/** The Hub emulator, closed once `use` is over. */
async function withHub<T>(
  permission: HubPermission | undefined,
  use: (hub: HubEmulator) => Promise<T>,
): Promise<T> {
  const hub = await startHubEmulator({
    users: { [HUB_USER]: HUB_TOKEN },
    ...(permission === undefined ? {} : { permissions: { [HUB_USER]: permission } }),
  });
  try {
    return await use(hub);
  } finally {
    await hub.close();
  }
}

const hubClient = (hub: HubEmulator, token: string) =>
  new DockerHubClient({ baseUrl: hub.url, username: HUB_USER, token, sleep: async () => {} });

describe("the registry", () => {
  it("nothing listens where the config says the registry is", async () => {
    const port = await closedPort();
    const registry = `127.0.0.1:${port}`;
    const refusal = await refusalOf(
      inputs({ registry }, registryReads(new OciRegistryClient({ registry }))),
    );
    expect(refusal.message).toBe(
      `registry 127.0.0.1:${port} cannot be reached (GET /v2/): connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });

  it.each([
    {
      name: "a host that is no registry",
      answer: () => new Response("not here", { status: 404 }),
      message: "registry registry.test answered /v2/ with HTTP 404",
    },
    {
      name: "a registry that refuses the login",
      answer: (at: string) =>
        at === "/v2/"
          ? new Response(null, { status: 401 })
          : json(401, { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }),
      message:
        'registry registry.test refused to list tags of battlescope/ingestion-service: HTTP 401: {"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
    },
    {
      name: "a registry that will not serve what a version holds",
      answer: (at: string) =>
        at.endsWith("/tags/list")
          ? json(200, { tags: ["v3.0.0"] })
          : at === "/v2/"
            ? json(200, {})
            : json(403, { errors: [{ code: "DENIED", message: "requested access is denied" }] }),
      message:
        'registry registry.test refused to read battlescope/ingestion-service:v3.0.0: HTTP 403: {"errors":[{"code":"DENIED","message":"requested access is denied"}]}',
    },
  ])("$name", async ({ answer, message }) => {
    const client = new OciRegistryClient({ registry: "registry.test", fetch: answering(answer) });
    const refusal = await refusalOf(inputs({}, registryReads(client)));
    expect(refusal.message).toBe(message);
  });
});

describe("Docker Hub", () => {
  it("lists the tags on docker.io with a token the Hub does not accept", async () => {
    const refusal = await withHub(undefined, (hub) => {
      const client = hubClient(hub, "dckr_pat_wrong");
      return refusalOf(
        inputs(
          { registry: "docker.io" },
          { listTags: (repository) => hubTagNames(client, repository) },
        ),
      );
    });
    expect(refusal.message).toBe(
      `Docker Hub get repository battlescope/ingestion-service failed: login as ${HUB_USER} failed: HTTP 401: Incorrect authentication credentials`,
    );
  });

  it.each<{ name: string; token: string; permission?: HubPermission; message: string }>([
    {
      name: "a token the Hub does not accept",
      token: "dckr_pat_wrong",
      message: `Docker Hub login as ${HUB_USER} failed: HTTP 401: Incorrect authentication credentials`,
    },
    {
      name: "a token that may not write descriptions",
      token: HUB_TOKEN,
      permission: "read",
      message: `Docker Hub token of ${HUB_USER} has the permission "Read-only": ${WRITE_HINT}`,
    },
  ])("checks the token before anything is built: $name", async ({ token, permission, message }) => {
    const refusal = await withHub(permission, (hub) => {
      const client = hubClient(hub, token);
      return refusalOf(
        inputs(
          { publishDescriptions: "true", dockerHubUrl: hub.url },
          {
            secrets: {
              dockerHubUsername: pulumi.secret(HUB_USER),
              dockerHubToken: pulumi.secret(token),
            },
            checkHubToken: async () => {
              await assertTokenCanWrite(client);
            },
          },
        ),
      );
    });
    expect(refusal.message).toBe(message);
  });
});

describe("the cluster and the signing tool", () => {
  it("nothing listens where the kubeconfig says the API server is", async () => {
    const port = await closedPort();
    const kubeconfig = `clusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}"}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: t}}]\ncurrent-context: x\n`;
    const refusal = await refusalOf(
      inputs(
        { deploy: "true", kubeContext: "x" },
        {
          secrets: {
            kubeconfig: pulumi.secret(kubeconfig),
            registryUsername: pulumi.secret("puller"),
            registryPassword: pulumi.secret("not-a-real-password"),
          },
          checkKubernetesApi: checkReachable,
        },
      ),
    );
    expect(refusal.message).toBe(
      `cannot reach the Kubernetes API server https://127.0.0.1:${port} of kubeconfig context "x" (battlescope:kubeconfig): connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });

  it("cosign is not installed where the stack signs", async () => {
    const missing = path.join(REPO_ROOT, "no-such-dir/cosign");
    const before = process.env.COSIGN_BINARY;
    process.env.COSIGN_BINARY = missing;
    try {
      const refusal = await refusalOf(
        inputs(
          {
            sign: "true",
            cosignPublicKey: "keys/local.pub",
            transparencyLog: "false",
            requireChangelog: "false",
          },
          {
            secrets: {
              cosignKey: pulumi.secret("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"),
              cosignPassword: pulumi.secret("local-password"),
            },
            checkSigningKey: (key, publicKey) => checkSigningKey(key, publicKey, "keys/local.pub"),
          },
        ),
      );
      expect(refusal.message).toBe(
        `cosign is not installed: ${missing} was not found on PATH (bash scripts/toolchain.sh builds it)`,
      );
    } finally {
      if (before === undefined) delete process.env.COSIGN_BINARY;
      else process.env.COSIGN_BINARY = before;
    }
  });
});

describe("what is no refusal", () => {
  it("a fault of the program stays a fault, stack and all", async () => {
    const fault = new TypeError("Cannot read properties of undefined (reading 'tags')");
    const error = await readRelease(inputs({}, { listTags: () => Promise.reject(fault) })).catch(
      (reason: unknown) => reason,
    );
    expect(error).toBe(fault);
    expect(asPulumiError(error)).toBe(fault);
  });
});

describe("releaseProgram, with the real clients", () => {
  afterEach(() => pulumi.runtime.setAllConfig({}));

  it("reports a registry nothing listens on as a Pulumi error, its message alone", async () => {
    const port = await closedPort();
    pulumi.runtime.setAllConfig({
      "battlescope:registry": `127.0.0.1:${port}`,
      "battlescope:version": "v3.0.0",
      "battlescope:sourceRoot": "fixtures/battlescope",
      "battlescope:deploy": "false",
      "battlescope:publishDescriptions": "false",
      "battlescope:sign": "false",
    });
    const error = await releaseProgramIn(process.cwd())().catch((reason: unknown) => reason);
    expect(pulumi.RunError.isInstance(error)).toBe(true);
    expect((error as Error).message).toBe(
      `registry 127.0.0.1:${port} cannot be reached (GET /v2/): connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });
});
