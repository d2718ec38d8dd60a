/**
 * A registry that refuses deletes by digest, as Docker Hub's registry does
 * (docker/hub-feedback#2360): the real registry (distribution, the toolchain's `registry`) with
 * `storage.delete.enabled: false`, this file's own, on a free port with a throwaway certificate.
 * `cleanup --apply` runs as the command line runs, a process that trusts that certificate: the
 * registry receives one DELETE and answers it 405 UNSUPPORTED; the command names every planned
 * tag and what to do, deletes nothing and exits 2; every tag and manifest is still there.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { refusalLine } from "../../cli/cleanupApply";
import { EXIT_USAGE } from "../../cli/shared";
import { OciRegistryClient } from "../../clients/ociRegistry";
import { which } from "../../clients/which";
import { REPO_ROOT } from "../../scripts/stack";
import { makeTempDir } from "../support/tempDirs";

const ORGANIZATION = "refused";
const REPOSITORY = `${ORGANIZATION}/frontend`;
const NOW = "2026-05-10T00:00:00Z";
const DAY_MS = 24 * 60 * 60 * 1000;
const DEV = "v3.1.1-dev-a1b2c3d";
const INDEX = "application/vnd.oci.image.index.v1+json";
const IMAGE = "application/vnd.oci.image.manifest.v1+json";

let dir: string;
let registryHost: string;
let registryProcess: ChildProcess | undefined;
let registryLog = "";
let defaultCas: string[] | undefined;
let client: OciRegistryClient;

const digestOf = (bytes: Buffer | string) =>
  `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForRegistry(): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await client.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline || registryProcess?.exitCode !== null) {
        throw new Error(`the registry did not start: ${(error as Error).message}\n${registryLog}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** A blob, uploaded in one PUT after the upload's POST. */
async function pushBlob(bytes: Buffer): Promise<{ digest: string; size: number }> {
  const digest = digestOf(bytes);
  const started = await fetch(`https://${registryHost}/v2/${REPOSITORY}/blobs/uploads/`, {
    method: "POST",
  });
  expect(started.status).toBe(202);
  const location = new URL(started.headers.get("location") ?? "", `https://${registryHost}`);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: new Uint8Array(bytes),
  });
  expect(put.status).toBe(201);
  return { digest, size: bytes.length };
}

/** A manifest under a tag, or untagged (by its digest) when `tag` is undefined. */
async function pushManifest(tag: string | undefined, body: object, mediaType: string) {
  const raw = JSON.stringify({ schemaVersion: 2, mediaType, ...body });
  const digest = await client.putManifest(REPOSITORY, tag ?? digestOf(raw), raw, mediaType);
  return { mediaType, digest, size: Buffer.byteLength(raw) };
}

/** A release as the stack pushes it: `<version>-<arch>` indexes and the `<version>` index. */
async function pushRelease(version: string, ageDays: number): Promise<void> {
  const created = new Date(Date.parse(NOW) - ageDays * DAY_MS).toISOString();
  const entries = [];
  for (const architecture of ["amd64", "arm64"]) {
    const layer = await pushBlob(Buffer.from(`${version} ${architecture} layer`));
    const config = await pushBlob(
      Buffer.from(
        JSON.stringify({
          architecture,
          os: "linux",
          created,
          rootfs: { type: "layers", diff_ids: [layer.digest] },
        }),
      ),
    );
    const image = await pushManifest(
      undefined,
      {
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }],
      },
      IMAGE,
    );
    const entry = { ...image, platform: { architecture, os: "linux" } };
    entries.push(entry);
    await pushManifest(`${version}-${architecture}`, { manifests: [entry] }, INDEX);
  }
  await pushManifest(version, { manifests: entries }, INDEX);
}

/** Every tag with its digest, and every manifest the tags reach, each checked to resolve. */
async function snapshot(): Promise<{ tags: Record<string, string>; manifests: string[] }> {
  const tags: Record<string, string> = {};
  const manifests = new Set<string>();
  for (const tag of (await client.listTags(REPOSITORY)).sort()) {
    const manifest = await client.getManifest(REPOSITORY, tag);
    tags[tag] = manifest?.digest ?? "(missing)";
    for (const child of manifest?.manifests ?? []) {
      const resolved = await client.headManifest(REPOSITORY, child.digest);
      manifests.add(`${child.digest} ${resolved?.digest === child.digest ? "ok" : "missing"}`);
    }
  }
  return { tags, manifests: [...manifests].sort() };
}

/** The command line as a user runs it, trusting only this file's certificate. */
function runCli(
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const {
    BATTLESCOPE_REGISTRY_USERNAME: _user,
    BATTLESCOPE_REGISTRY_PASSWORD: _password,
    ...env
  } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, "bin/battlescope-images.js"), ...args],
      {
        env: {
          ...env,
          NODE_EXTRA_CA_CERTS: path.join(dir, "cert.pem"),
          DOCKER_CONFIG: path.join(dir, "docker"),
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The requests the registry logged (distribution's JSON access entries), as `METHOD path status`. */
function loggedRequests(method: string): string[] {
  return registryLog
    .split("\n")
    .filter((line) => line.includes('"http.request.method"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry["http.request.method"] === method && "http.response.status" in entry)
    .map(
      (entry) =>
        `${entry["http.request.method"]} ${entry["http.request.uri"]} ${entry["http.response.status"]}`,
    );
}

beforeAll(async () => {
  const registryBinary = which("registry", process.env.PATH ?? "");
  if (registryBinary === undefined) {
    throw new Error(
      "no `registry` on PATH: `bash scripts/toolchain.sh` installs it (eval its --print-env)",
    );
  }
  dir = makeTempDir("cleanup-refused");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
      ...["-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")],
    ],
    { stdio: "ignore" },
  );
  registryHost = `127.0.0.1:${await freePort()}`;
  const config = path.join(dir, "config.yml");
  fs.writeFileSync(
    config,
    stringify({
      version: 0.1,
      log: { level: "info", formatter: "json" },
      storage: {
        filesystem: { rootdirectory: path.join(dir, "data") },
        delete: { enabled: false },
      },
      http: {
        addr: registryHost,
        tls: { certificate: path.join(dir, "cert.pem"), key: path.join(dir, "key.pem") },
      },
    }),
  );
  registryProcess = spawn(registryBinary, ["serve", config], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [registryProcess.stdout, registryProcess.stderr]) {
    stream?.on("data", (chunk) => {
      registryLog += chunk;
    });
  }
  // This process reads and writes the registry too: it trusts the certificate until afterAll.
  defaultCas = tls.getCACertificates("default");
  tls.setDefaultCACertificates([
    ...defaultCas,
    fs.readFileSync(path.join(dir, "cert.pem"), "utf8"),
  ]);
  client = new OciRegistryClient({ registry: registryHost });
  await waitForRegistry();
  await pushRelease("v3.1.0", 10);
  await pushRelease(DEV, 40);
});

afterAll(async () => {
  if (defaultCas !== undefined) tls.setDefaultCACertificates(defaultCas);
  const running = registryProcess;
  if (running !== undefined && running.exitCode === null) {
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGTERM");
    await exited;
  }
});

describe("cleanup --apply on a registry with deletes disabled", () => {
  it("sends one DELETE, deletes nothing, says per planned tag what to do, and exits 2", async () => {
    const before = await snapshot();
    expect(Object.keys(before.tags)).toHaveLength(6);
    expect(before.manifests).toHaveLength(4);
    const run = await runCli([
      ...["cleanup", "--registry", registryHost, "--organization", ORGANIZATION],
      ...["--service", "frontend", "--now", NOW, "--apply"],
    ]);

    const refused = `registry ${registryHost} does not allow deleting by digest (HTTP 405 UNSUPPORTED)`;
    const planned = [DEV, `${DEV}-amd64`, `${DEV}-arm64`];
    expect(run.stdout.split("Deleting now.\n")[1]).toBe(
      [
        ...planned.map((tag) =>
          refusalLine(
            registryHost,
            `${REPOSITORY}:${tag}`,
            { answer: "HTTP 405 UNSUPPORTED" },
            false,
          ),
        ),
        `Deleted nothing of the 3 planned tags: ${refused}.\n`,
      ].join("\n"),
    );
    expect(run.stderr).toBe(
      `battlescope-images: cleanup deleted nothing: ${refused}; all 3 planned tags are still there\n`,
    );
    expect(run.code).toBe(EXIT_USAGE);

    // The registry met one delete, the first planned index, and refused it.
    const deletes = loggedRequests("DELETE");
    expect(deletes).toEqual([`DELETE /v2/${REPOSITORY}/manifests/${before.tags[DEV]} 405`]);
    expect(await snapshot()).toEqual(before);
  });
});
