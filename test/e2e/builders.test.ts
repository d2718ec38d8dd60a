/**
 * `builders` on the real engine, BuildKit and registry: two BuildKit daemons of the test's own
 * (test/support/buildkitNode.ts), declared as the amd64 and the arm64 node. Each platform image
 * is built on its node, as each daemon's own build records show; a node killed during an `up`
 * fails it naming the node, with no tag written for a service whose image it did not finish;
 * bad builder config is refused at preview with nothing pushed.
 *
 * The daemons are the test's, not the local services' (`start --builders 2`): the test kills one
 * mid-release and reads each one's records, which other tests building on the shared daemons at
 * the same time would disturb.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVICE_NAMES } from "../../services/catalog";
import {
  type BuildkitNode,
  makeMtlsFiles,
  removeNodesBuilder,
  startBuildkitNode,
} from "../support/buildkitNode";
import { makeTempDir } from "../support/tempDirs";
import {
  accessLogMark,
  accessLogSince,
  createE2eStack,
  type E2eStack,
  failureOf,
  indexPlatforms,
  type LogEntry,
  pushes,
  REGISTRY,
  runStackCommand,
} from "./harness";

const nodesConfig = (amd64: string, arm64: string) =>
  JSON.stringify([
    { name: "amd64", endpoint: amd64, platforms: ["linux/amd64"] },
    { name: "arm64", endpoint: arm64, platforms: ["linux/arm64"] },
  ]);

/** Manifest PUTs by tag in the images' repositories (the build caches' are no release). */
function tagWrites(entries: readonly LogEntry[]): LogEntry[] {
  return pushes(entries).filter(
    (entry) =>
      /\/manifests\/(?!sha256:)[^/?]+/.test(entry.path) &&
      !/-buildcache\/manifests\//.test(entry.path),
  );
}

/** The buildx builder a stack made, and its certificates, removed with the stack. */
/** Each service's platforms this node built for the organization, from the daemon's records. */
function builtOn(node: BuildkitNode, organization: string): Record<string, string[]> {
  const prefix = `${REGISTRY}/${organization}/`;
  const built: Record<string, string[]> = {};
  for (const record of node.histories()) {
    for (const name of record.names) {
      if (!name.startsWith(prefix)) continue;
      const service = name.slice(prefix.length);
      built[service] = [...(built[service] ?? []), record.platform].sort();
    }
  }
  return built;
}

const everyService = (platform: string) =>
  Object.fromEntries([...SERVICE_NAMES].sort().map((service) => [service, [platform]]));

describe("a builder of two nodes, one per platform", () => {
  let amd64: BuildkitNode;
  let arm64: BuildkitNode;
  const stacks: E2eStack[] = [];
  const builders: string[] = [];

  const nodesStack = async (prefix: string, config: Record<string, string> = {}) => {
    const builder = `battlescope-${prefix}-${Date.now().toString(36)}`;
    builders.push(builder);
    // No registry cache export: where each platform builds is what is looked at.
    const e2e = await createE2eStack(prefix, {
      builder,
      builders: nodesConfig(amd64.address, arm64.address),
      registryCache: "false",
      ...config,
    });
    stacks.push(e2e);
    return e2e;
  };

  beforeAll(async () => {
    [amd64, arm64] = await Promise.all([
      startBuildkitNode("node-amd64"),
      startBuildkitNode("node-arm64"),
    ]);
  }, 120_000);

  afterAll(async () => {
    for (const e2e of stacks) await e2e.close();
    for (const builder of builders) removeNodesBuilder(builder);
    await Promise.all([amd64?.stop(), arm64?.stop()]);
  }, 120_000);

  it("builds each platform image on its own node, as each daemon's records show", async () => {
    const e2e = await nodesStack("nodes");
    await e2e.stack.up();
    expect(builtOn(amd64, e2e.organization)).toEqual(everyService("linux/amd64"));
    expect(builtOn(arm64, e2e.organization)).toEqual(everyService("linux/arm64"));
    const index = await e2e.registry.getManifest(`${e2e.organization}/frontend`, "v3.0.0");
    expect(index === undefined ? [] : indexPlatforms(index)).toEqual([
      "linux/amd64",
      "linux/arm64",
    ]);
  }, 600_000);

  it("fails an up whose node dies mid-release, naming it; no tag for a service it did not finish; the next up completes", async () => {
    const e2e = await nodesStack("nodedies");
    const mark = accessLogMark();
    // The runner (npm run stack), as a release engineer runs it: it names the nodes after a failure.
    const up = runStackCommand(e2e, "up");
    // Killed once its first build for this release is on record, the others still running.
    const deadline = Date.now() + 120_000;
    while (Object.keys(builtOn(arm64, e2e.organization)).length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    arm64.kill();
    const failed = await up;
    expect(failed.code).not.toBe(0);
    const socket = arm64.address.replace(/^unix:\/\//, "");
    expect(failed.stderr).toContain(
      `builder nodes that do not answer:\n  - builder node arm64 at ${arm64.address} cannot be reached: failed to list workers: Unavailable: connection error: desc = "transport: Error while dialing: dial unix ${socket}: connect: connection refused"; the release's linux/arm64 images build on it`,
    );
    const output = `${failed.stdout}\n${failed.stderr}`;
    const unfinished = SERVICE_NAMES.filter((service) =>
      output.includes(`docker-build:index:Image (${service}-arm64):`),
    );
    expect(unfinished.length).toBeGreaterThan(0);
    const written = tagWrites(accessLogSince(mark, e2e.organization));
    for (const service of unfinished) {
      expect(
        written.filter((entry) => entry.path.startsWith(`/v2/${e2e.organization}/${service}/`)),
      ).toEqual([]);
    }

    await arm64.start();
    const next = await runStackCommand(e2e, "up");
    expect(next.stderr).not.toContain("do not answer");
    expect(next.code).toBe(0);
    for (const service of SERVICE_NAMES) {
      const index = await e2e.registry.getManifest(`${e2e.organization}/${service}`, "v3.0.0");
      expect(index === undefined ? [] : indexPlatforms(index)).toEqual([
        "linux/amd64",
        "linux/arm64",
      ]);
    }
    expect(Object.keys(builtOn(arm64, e2e.organization)).sort()).toEqual([...SERVICE_NAMES].sort());
  }, 600_000);
});

/** A TCP port nobody listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe("bad builder config at preview", () => {
  let amd64: BuildkitNode;
  let mtls: BuildkitNode;
  let certs: ReturnType<typeof makeMtlsFiles>;
  let e2e: E2eStack;
  let builder: string;
  const pem = (files: { ca: string; cert: string; key: string }) =>
    JSON.stringify({
      arm64: {
        ca: fs.readFileSync(files.ca, "utf8"),
        cert: fs.readFileSync(files.cert, "utf8"),
        key: fs.readFileSync(files.key, "utf8"),
      },
    });
  const setNodes = async (arm64Endpoint: string, tls?: string) => {
    await e2e.stack.setConfig("battlescope:builders", {
      value: nodesConfig(amd64.address, arm64Endpoint),
    });
    if (tls === undefined) await e2e.stack.removeConfig("battlescope:builderTls");
    else await e2e.stack.setConfig("battlescope:builderTls", { value: tls, secret: true });
  };
  const refusal = async () => {
    const mark = accessLogMark();
    const failure = await failureOf(e2e.stack.preview());
    expect(pushes(accessLogSince(mark, e2e.organization))).toEqual([]);
    return failure;
  };

  beforeAll(async () => {
    certs = makeMtlsFiles(makeTempDir("mtls"));
    [amd64, mtls] = await Promise.all([
      startBuildkitNode("node-amd64"),
      freePort().then((port) =>
        startBuildkitNode("node-mtls", {
          tcpPort: port,
          serverTls: certs.server,
          clientTls: certs.client,
        }),
      ),
    ]);
    builder = `battlescope-badnodes-${Date.now().toString(36)}`;
    e2e = await createE2eStack("badnodes", { builder, registryCache: "false" });
  }, 120_000);

  afterAll(async () => {
    await e2e?.close();
    removeNodesBuilder(builder);
    await Promise.all([amd64?.stop(), mtls?.stop()]);
  }, 120_000);

  it("names a node that does not answer, with its address; nothing is pushed", async () => {
    const socket = path.join(makeTempDir("nobody"), "buildkitd.sock");
    await setNodes(`unix://${socket}`);
    expect(await refusal()).toContain(
      `error: builder node arm64 at unix://${socket} cannot be reached: failed to list workers: Unavailable: connection error: desc = "transport: Error while dialing: dial unix ${socket}: connect: no such file or directory"`,
    );
  }, 300_000);

  it("refuses a release platform no node builds", async () => {
    await e2e.stack.setConfig("battlescope:builders", {
      value: JSON.stringify([
        { name: "amd64", endpoint: amd64.address, platforms: ["linux/amd64"] },
      ]),
    });
    expect(await refusal()).toContain(
      'error: invalid config "battlescope:builders": no node builds linux/arm64, a platform of the release; add a node with "platforms": ["linux/arm64"], or list it under "emulates" of a node that has QEMU for it',
    );
  }, 300_000);

  it("refuses a tcp node without its certificates", async () => {
    await setNodes(mtls.address);
    expect(await refusal()).toContain(
      `error: missing secret config "battlescope:builderTls.arm64": node arm64 at ${mtls.address} is reached over mTLS and needs a CA, a client certificate and its key; set it with`,
    );
  }, 300_000);

  it("refuses a daemon whose certificate the stack's CA did not sign", async () => {
    await setNodes(mtls.address, pem({ ...certs.client, ca: certs.strangerClient.ca }));
    const failure = await refusal();
    expect(failure).toContain(
      `error: builder node arm64 at ${mtls.address} refused the mTLS connection:`,
    );
  }, 300_000);

  it("refuses a client certificate the daemon does not trust", async () => {
    await setNodes(mtls.address, pem({ ...certs.strangerClient, ca: certs.client.ca }));
    const failure = await refusal();
    expect(failure).toContain(
      `error: builder node arm64 at ${mtls.address} refused the mTLS connection:`,
    );
  }, 300_000);

  it("builds on the mTLS node with the matching certificates", async () => {
    await setNodes(mtls.address, pem(certs.client));
    await e2e.stack.up();
    expect(Object.keys(builtOn(mtls, e2e.organization)).sort()).toEqual([...SERVICE_NAMES].sort());
  }, 600_000);
});
