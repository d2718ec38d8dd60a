/**
 * Stacks of the real program on the real engine, each with its own backend, work dir, Docker Hub
 * emulator and registry organization, against the local services (scripts/local-services.sh):
 * what the end-to-end tests (test/e2e/harness.ts) and the benchmarks (bench/) release with.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import {
  dockerConfigCredentials,
  dockerConfigFile,
  type RegistryCredential,
} from "../clients/dockerConfig";
import { OciRegistryClient } from "../clients/ociRegistry";
import { withScratchDir } from "../clients/scratch";
import { type HubEmulator, startHubEmulator } from "./hub-emulator/hubEmulator";
import { openStack, REPO_ROOT } from "./stack";

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

/**
 * The pull-only account the local services make for pull secrets (release-puller), when the
 * registry has accounts: the Deployments pull with it, as production's pull with a read-only token.
 */
export const PULL_LOGIN = pullOnlyLogin();

function pullOnlyLogin(): RegistryCredential | undefined {
  const username = process.env.BATTLESCOPE_PULL_USERNAME;
  const file = process.env.BATTLESCOPE_PULL_PASSWORD_FILE;
  if (username === undefined || file === undefined || !fs.existsSync(file)) return undefined;
  return { username, password: fs.readFileSync(file, "utf8").trim() };
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
  /** Stops the Hub emulator and removes the work dir, backend included. */
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
  let hub: HubEmulator | undefined;
  try {
    hub = await startHubEmulator({ users: { [HUB_USER]: HUB_TOKEN } });
    return await openE2eStack(organization, workDir, hub, config, stackName);
  } catch (error) {
    await hub?.close();
    removeDir(workDir);
    throw error;
  }
}

async function openE2eStack(
  organization: string,
  workDir: string,
  hub: HubEmulator,
  config: Record<string, string | undefined>,
  stackName: string,
): Promise<E2eStack> {
  const backendDir = path.join(workDir, "backend");
  const manifestsDir = path.join(workDir, "manifests");
  fs.mkdirSync(backendDir);
  fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(workDir, "Pulumi.yaml"));
  // Dynamic providers run in a Node process started in the work dir: it resolves the SDK there.
  fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(workDir, "node_modules"));
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
    // No vulnerability database can be downloaded here: the scan's own tests (test/e2e/scan.test.ts)
    // turn it on with a database they write.
    scan: "false",
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
    ...(PULL_LOGIN === undefined
      ? {}
      : {
          "battlescope:pullSecretUsername": { value: PULL_LOGIN.username, secret: true },
          "battlescope:pullSecretPassword": { value: PULL_LOGIN.password, secret: true },
        }),
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
      try {
        await hub.close();
      } finally {
        removeDir(workDir);
      }
    },
  };
}

/** Removes a scratch folder; retries, as an engine given up on may still be writing there. */
function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}

export async function setVersion(e2e: E2eStack, version: string): Promise<void> {
  await e2e.stack.setConfig("battlescope:version", { value: version });
}

/** A writable copy of the fixtures' source root for the length of `work`, for runs that change sources. */
export function withFixturesCopy<T>(work: (sourceRoot: string) => Promise<T>): Promise<T> {
  return withScratchDir("src", (dir) => {
    fs.cpSync(FIXTURES, dir, { recursive: true });
    return work(dir);
  });
}

/** The local stack's signing key and password, decrypted from Pulumi.local.yaml. */
export function localSigningKey(): Promise<{ key: string; password: string }> {
  return withScratchDir("localkey", async (dir) => {
    fs.mkdirSync(path.join(dir, "backend"));
    for (const file of ["Pulumi.yaml", "Pulumi.local.yaml"]) {
      fs.copyFileSync(path.join(REPO_ROOT, file), path.join(dir, file));
    }
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
    const stack = await openStack({
      stackName: "local",
      workDir: dir,
      envVars: {
        PULUMI_BACKEND_URL: `file://${path.join(dir, "backend")}`,
        PULUMI_CONFIG_PASSPHRASE: "battlescope-local",
      },
    });
    const key = (await stack.getConfig("battlescope:cosignKey")).value;
    const password = (await stack.getConfig("battlescope:cosignPassword")).value;
    return { key, password };
  });
}

/**
 * The config of a stack that signs with the local key pair (keys/local.pub), offline: plain keys
 * and the two secrets, for `setAllConfig`.
 */
/** The local signing key's public half (keys/README.md), which verify checks against. */
export const LOCAL_PUBLIC_KEY_FILE = path.join(REPO_ROOT, "keys/local.pub");

export async function localSigningConfig(): Promise<
  Record<string, { value: string; secret?: boolean }>
> {
  const { key, password } = await localSigningKey();
  return {
    "battlescope:sign": { value: "true" },
    "battlescope:cosignPublicKey": { value: LOCAL_PUBLIC_KEY_FILE },
    "battlescope:transparencyLog": { value: "false" },
    "battlescope:cosignKey": { value: key, secret: true },
    "battlescope:cosignPassword": { value: password, secret: true },
  };
}
