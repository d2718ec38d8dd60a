/**
 * What the end-to-end suites share: the stacks and the registry's access log come from
 * scripts/e2eStack.ts and scripts/registryAccessLog.ts (the benchmarks release and measure with
 * them too); the rest reads what a release left behind.
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { parseAllDocuments } from "yaml";
import type { Manifest, OciRegistryClient } from "../../clients/ociRegistry";
import { type E2eStack, FIXTURES } from "../../scripts/e2eStack";

export type { LogEntry } from "../../scripts/registryAccessLog";

import {
  ACCESS_LOG,
  inOrganization,
  type LogEntry,
  logSize,
  readLog,
} from "../../scripts/registryAccessLog";
import { REPO_ROOT } from "../../scripts/stack";
import { SERVICES } from "../../services/catalog";
import { makeTempDir } from "../support/tempDirs";

export {
  BUILDER,
  createE2eStack,
  type E2eStack,
  FIXTURES,
  HUB_TOKEN,
  HUB_USER,
  REGISTRY,
  REGISTRY_LOGIN,
  REGISTRY_PASSWORD,
  REGISTRY_USERNAME,
  registryClient,
  setVersion,
  uniqueOrganization,
} from "../../scripts/e2eStack";

/**
 * Stack config for a release at little cost, for tests that look at the engine, the state or the
 * checkout rather than the images: one platform, no cache export, no signing.
 */
export const LIGHT_RELEASE = {
  platforms: '["linux/amd64"]',
  registryCache: "false",
  sign: "false",
} as const;

/** A writable copy of the fixtures' source root, for runs that change sources. */
export function copyFixtures(): string {
  const dir = makeTempDir("src");
  fs.cpSync(FIXTURES, dir, { recursive: true });
  return dir;
}

/** A writable git checkout of the fixtures: a signed release's provenance names its commit. */
export function gitFixtures(): { dir: string; commit: string } {
  const dir = copyFixtures();
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" }).trim();
  git("init", "--quiet");
  git("add", "--all");
  git(
    "-c",
    "user.name=e2e",
    "-c",
    "user.email=e2e@battlescope.test",
    "commit",
    "--quiet",
    "-m",
    "fixtures",
  );
  return { dir, commit: git("rev-parse", "HEAD") };
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

/** What one platform image holds, read from its config and layers in the registry. */
export interface ImageContents {
  readonly config: {
    readonly architecture: string;
    readonly config: {
      readonly User?: string;
      readonly Entrypoint?: string[];
      readonly Cmd?: string[];
      readonly Labels?: Record<string, string>;
    };
  };
  /**
   * A regular file's bytes from the topmost layer holding it (`etc/passwd`), or undefined
   * (whiteouts are not applied: read files the image is expected to hold).
   */
  readFile(file: string): Buffer | undefined;
}

/**
 * Reads a platform image's config and layers through the registry client. The layers are gzip
 * tarballs (BuildKit's default); GNU tar lists and extracts them, so a test reads the files each
 * build step left, per platform.
 */
export async function imageContents(
  registry: OciRegistryClient,
  repository: string,
  reference: string,
): Promise<ImageContents> {
  const image = await registry.getManifest(repository, reference);
  if (image === undefined) throw new Error(`${repository}:${reference} does not exist`);
  const [configBlob, ...layerBlobs] = image.blobs;
  if (configBlob === undefined) throw new Error(`${repository}:${reference} has no config`);
  const config = JSON.parse(
    (await registry.getBlob(repository, configBlob.digest)).toString("utf8"),
  ) as ImageContents["config"];
  const layers = await Promise.all(
    layerBlobs.map(async (blob) => {
      const compressed = await registry.getBlob(repository, blob.digest);
      const tarball = blob.mediaType.endsWith("gzip") ? zlib.gunzipSync(compressed) : compressed;
      const tar = (...args: string[]) =>
        execFileSync("tar", ["-f", "-", ...args], { input: tarball, maxBuffer: 1 << 30 });
      // Each member's path without a leading "./", to the name the tarball gives it.
      const names = new Map(
        tar("-t")
          .toString("utf8")
          .split("\n")
          .map((name) => [name.replace(/^\.\//, ""), name] as const),
      );
      return { names, tar };
    }),
  );
  return {
    config,
    readFile(file) {
      for (const layer of [...layers].reverse()) {
        const name = layer.names.get(file);
        if (name !== undefined) return layer.tar("-x", "-O", "--", name);
      }
      return undefined;
    },
  };
}

/** The ELF machine of a binary (e_machine): 62 is x86-64, 183 is AArch64. */
export const ELF_MACHINES: Record<string, number> = { amd64: 62, arm64: 183 };
export function elfMachine(binary: Buffer): number | undefined {
  const isElf = binary.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  return isElf && binary.length >= 20 ? binary.readUInt16LE(18) : undefined;
}

/** Marks the registry's access log, to read what a step sent afterwards. */
export function accessLogMark(): number {
  return logSize(ACCESS_LOG);
}

/** What the organization's repositories were sent since the mark. */
export function accessLogSince(mark: number, organization: string): LogEntry[] {
  return inOrganization(readLog(ACCESS_LOG, mark, logSize(ACCESS_LOG)), organization);
}

/** Writes to the registry: blob uploads and manifest pushes. */
export function pushes(entries: readonly LogEntry[]): LogEntry[] {
  return entries.filter((entry) => ["PUT", "POST", "PATCH"].includes(entry.method));
}

export function blobUploads(entries: readonly LogEntry[]): LogEntry[] {
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

/**
 * Runs the Automation API runner (`npm run stack`) on an e2e stack, as a release engineer would:
 * this checkout's, or that of another checkout of the project (`projectRoot`), with its program,
 * its engine working in the stack's work dir or in another folder holding its settings.
 */
export function runStackCommand(
  e2e: E2eStack,
  command: string,
  projectRoot = REPO_ROOT,
  workDir = e2e.workDir,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      path.join(REPO_ROOT, "node_modules/.bin/tsx"),
      [path.join(projectRoot, "scripts/stack.ts"), command, "--stack", "e2e", "--cwd", workDir],
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

/** The local cluster the e2e stacks deploy to (scripts/local-services.sh). */
export const KUBECONFIG = process.env.BATTLESCOPE_KUBECONFIG ?? "";
export const CONTEXT = "battlescope-local";
/** The local stack's service configuration, which the deployed stacks reuse. */
export const SERVICE_CONFIG =
  (/battlescope:serviceConfig: '(.*)'/.exec(
    fs.readFileSync(path.join(REPO_ROOT, "Pulumi.local.yaml"), "utf8"),
  ) ?? [])[1] ?? "{}";
