import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { parseAllDocuments } from "yaml";
import {
  dockerConfigCredentials,
  dockerConfigFile,
  type RegistryCredential,
} from "../../clients/dockerConfig";
import { type Manifest, OciRegistryClient } from "../../clients/ociRegistry";
import { type HubEmulator, startHubEmulator } from "../../scripts/hub-emulator/hubEmulator";
import { openStack, REPO_ROOT } from "../../scripts/stack";
import { SERVICES } from "../../services/catalog";

export const REGISTRY = process.env.BATTLESCOPE_REGISTRY ?? "127.0.0.1:5000";
export const BUILDER = process.env.BATTLESCOPE_BUILDER ?? "battlescope";
export const FIXTURES = path.join(REPO_ROOT, "fixtures/battlescope");
export const HUB_USER = "e2e-release-bot";
export const HUB_TOKEN = "dckr_pat_e2e-hub-token-4f1c9a";
/**
 * The local registry requires its generated login (scripts/local-services.sh writes it as the
 * Docker login for the registry): the stacks push and pull with it, the tests read with it.
 */
export const REGISTRY_LOGIN = requireRegistryLogin();
export const REGISTRY_USERNAME = REGISTRY_LOGIN.username;
export const REGISTRY_PASSWORD = REGISTRY_LOGIN.password;

function requireRegistryLogin(): RegistryCredential {
  const login = dockerConfigCredentials(REGISTRY);
  if (login === undefined) {
    throw new Error(
      `no Docker login for ${REGISTRY} in ${dockerConfigFile()}: start the local services (bash scripts/local-services.sh start)`,
    );
  }
  return login;
}

/** A client of the local registry with its login. */
export function registryClient(): OciRegistryClient {
  return new OciRegistryClient({ registry: REGISTRY, ...REGISTRY_LOGIN });
}

export interface E2eStack {
  readonly stack: Stack;
  readonly organization: string;
  readonly workDir: string;
  readonly backendDir: string;
  readonly manifestsDir: string;
  readonly hub: HubEmulator;
  readonly registry: OciRegistryClient;
  close(): Promise<void>;
}

/** A fresh organization per run, so every test starts from an empty set of repositories. */
export function uniqueOrganization(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}

/**
 * A stack of the real program on the real engine, with its own backend, work dir, Hub emulator
 * and registry organization. Config starts as the local stack's and can be changed per test.
 */
export async function createE2eStack(
  prefix: string,
  config: Record<string, string | undefined> = {},
  stackName = "e2e",
): Promise<E2eStack> {
  const organization = uniqueOrganization(prefix);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `battlescope-${prefix}-`));
  const backendDir = path.join(workDir, "backend");
  const manifestsDir = path.join(workDir, "manifests");
  fs.mkdirSync(backendDir);
  fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(workDir, "Pulumi.yaml"));
  // Dynamic providers run in a Node process started in the work dir: it resolves the SDK there.
  fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(workDir, "node_modules"));
  const hub = await startHubEmulator({ users: { [HUB_USER]: HUB_TOKEN } });

  const stack = await openStack({
    stackName,
    workDir,
    envVars: {
      PULUMI_BACKEND_URL: `file://${backendDir}`,
      PULUMI_CONFIG_PASSPHRASE: "e2e-passphrase",
    },
  });
  // A key given as undefined is left unset (e.g. renderManifestsTo, for stacks on the cluster).
  const plain: Record<string, string | undefined> = {
    registry: REGISTRY,
    organization,
    version: "v3.0.0",
    sourceRoot: FIXTURES,
    builder: BUILDER,
    dockerHubUrl: hub.url,
    renderManifestsTo: manifestsDir,
    replicas: "1",
    ...config,
  };
  await stack.setAllConfig({
    ...Object.fromEntries(
      Object.entries(plain).flatMap(([key, value]) =>
        value === undefined ? [] : [[`battlescope:${key}`, { value }]],
      ),
    ),
    "battlescope:dockerHubUsername": { value: HUB_USER, secret: true },
    "battlescope:dockerHubToken": { value: HUB_TOKEN, secret: true },
    "battlescope:registryUsername": { value: REGISTRY_USERNAME, secret: true },
    "battlescope:registryPassword": { value: REGISTRY_PASSWORD, secret: true },
  });
  return {
    stack,
    organization,
    workDir,
    backendDir,
    manifestsDir,
    hub,
    registry: registryClient(),
    async close() {
      await hub.close();
    },
  };
}

export async function setVersion(e2e: E2eStack, version: string): Promise<void> {
  await e2e.stack.setConfig("battlescope:version", { value: version });
}

/** Every release tag of every image in the organization, with the digest it resolves to. */
export async function tagDigests(e2e: E2eStack): Promise<Record<string, string>> {
  const entries = await Promise.all(
    SERVICES.map(async (service) => {
      const repository = `${e2e.organization}/${service.name}`;
      const tags = await e2e.registry.listTags(repository);
      return Promise.all(
        tags.map(async (tag) => {
          const head = await e2e.registry.headManifest(repository, tag);
          return [`${service.name}:${tag}`, head?.digest ?? "(missing)"] as const;
        }),
      );
    }),
  );
  return Object.fromEntries(entries.flat().sort(([a], [b]) => a.localeCompare(b)));
}

/** Platforms an index lists, leaving out attestation entries (`unknown/unknown`). */
export function indexPlatforms(index: Manifest): string[] {
  return index.manifests
    .filter((child) => child.platform !== undefined && child.platform.os !== "unknown")
    .map((child) => `${child.platform?.os}/${child.platform?.architecture}`)
    .sort();
}

export interface AccessLogEntry {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

const ACCESS_LOG = process.env.BATTLESCOPE_REGISTRY_ACCESS_LOG ?? "";

/** Marks the registry's access log, to read what a step sent afterwards. */
export function accessLogMark(): number {
  return fs.statSync(ACCESS_LOG).size;
}

export function accessLogSince(mark: number, organization: string): AccessLogEntry[] {
  const text = fs.readFileSync(ACCESS_LOG).subarray(mark).toString("utf8");
  const entries: AccessLogEntry[] = [];
  for (const line of text.split("\n")) {
    const match = /"([A-Z]+) (\S+) HTTP\/[0-9.]+" (\d{3})/.exec(line);
    if (match === null) continue;
    const [, method, requestPath, status] = match as unknown as [string, string, string, string];
    if (requestPath.startsWith(`/v2/${organization}/`)) {
      entries.push({ method, path: requestPath, status: Number(status) });
    }
  }
  return entries;
}

/** Writes to the registry: blob uploads and manifest pushes. */
export function pushes(entries: readonly AccessLogEntry[]): AccessLogEntry[] {
  return entries.filter((entry) => ["PUT", "POST", "PATCH"].includes(entry.method));
}

export function blobUploads(entries: readonly AccessLogEntry[]): AccessLogEntry[] {
  return entries.filter((entry) => entry.path.includes("/blobs/uploads/"));
}

/** Kubernetes objects rendered by the provider's renderYamlToDirectory. */
export function renderedObjects(manifestsDir: string): Array<Record<string, unknown>> {
  const objects: Array<Record<string, unknown>> = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".yaml")) {
        for (const doc of parseAllDocuments(fs.readFileSync(full, "utf8"))) {
          const value = doc.toJS() as Record<string, unknown> | null;
          if (value !== null) objects.push(value);
        }
      }
    }
  };
  if (fs.existsSync(manifestsDir)) walk(manifestsDir);
  return objects;
}

/** Every file of the stack's backend: state, backups and history. */
export function backendText(backendDir: string): string {
  const parts: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else parts.push(fs.readFileSync(full).toString("utf8"));
    }
  };
  walk(backendDir);
  return parts.join("\n");
}

/** A writable copy of the fixtures' source root, for tests that change sources. */
export function copyFixtures(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "battlescope-src-"));
  fs.cpSync(FIXTURES, dir, { recursive: true });
  return dir;
}

/** Runs the Automation API runner (`npm run stack`) on an e2e stack, as a release engineer would. */
export function runStackCommand(
  e2e: E2eStack,
  command: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      path.join(REPO_ROOT, "node_modules/.bin/tsx"),
      [path.join(REPO_ROOT, "scripts/stack.ts"), command, "--stack", "e2e", "--cwd", e2e.workDir],
      {
        env: {
          ...process.env,
          PULUMI_BACKEND_URL: `file://${e2e.backendDir}`,
          PULUMI_CONFIG_PASSPHRASE: "e2e-passphrase",
        },
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
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The text of a failed Automation API command: the engine's output and the program's error. */
export async function failureOf(operation: Promise<unknown>): Promise<string> {
  try {
    await operation;
  } catch (error) {
    return String(error);
  }
  throw new Error("expected the operation to fail");
}
