/**
 * The real cosign and syft, run as child processes: signing, attesting and verifying a digest in
 * a registry, and an image's SBOM. Secrets never reach a command line or a file in the project:
 * the key travels in the environment (`--key env://…`), the registry login in a private
 * DOCKER_CONFIG folder removed when the command ends.
 */

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { SourceFacts, SpdxDocument } from "../lib/attestation";
import { CONFIG_NAMESPACE, ConfigError } from "../lib/config";
import { sbomServerAvailable, serverSbom } from "./sbomServer";
import { withScratchDir } from "./scratch";
import {
  pullLimitRefusalIn,
  type RegistryAuth,
  type RunResult,
  runTool,
  runToolWithLogin,
  SigningToolError,
  toolFailure,
} from "./tools";

export { type RegistryAuth, SigningToolError } from "./tools";

export interface SigningKey {
  /** The encrypted private key, as `cosign generate-key-pair` writes `cosign.key`. */
  readonly privateKey: string;
  readonly password: string;
}

/** What cosign signs and attests with, and whether there is a transparency log to write to. */
export interface SigningSettings {
  readonly key: SigningKey;
  /** False where no transparency log can be reached (the local stack): nothing is uploaded to Rekor. */
  readonly transparencyLog: boolean;
}

const KEY_ENV = "BATTLESCOPE_COSIGN_KEY";
const PUBLIC_KEY_ENV = "BATTLESCOPE_COSIGN_PUBLIC_KEY";

function keyEnv(key: SigningKey): Record<string, string> {
  return { [KEY_ENV]: key.privateKey, COSIGN_PASSWORD: key.password };
}

/** The flags that keep cosign off the public Sigstore services when there is no log to write to. */
function offlineSignFlags(transparencyLog: boolean): string[] {
  return transparencyLog ? [] : ["--use-signing-config=false", "--tlog-upload=false"];
}
function offlineVerifyFlags(transparencyLog: boolean): string[] {
  return transparencyLog ? [] : ["--insecure-ignore-tlog=true"];
}

/** Public keys already derived in this process, by a hash of the private key and its password. */
const publicKeys = new Map<string, Promise<string>>();

/**
 * The public key of an encrypted cosign private key; fails when the password does not open it.
 * Derived once per process: every release of a stack signs with the same key, and each
 * derivation is a cosign process.
 */
export function publicKeyOf(key: SigningKey): Promise<string> {
  const id = createHash("sha256")
    .update(key.privateKey)
    .update("\0")
    .update(key.password)
    .digest("hex");
  let found = publicKeys.get(id);
  if (found === undefined) {
    found = runTool("cosign", ["public-key", "--key", `env://${KEY_ENV}`], keyEnv(key)).then(
      (result) => {
        if (result.code !== 0) throw toolFailure("cosign", "public-key", result);
        return result.stdout;
      },
    );
    // A failure is not kept: the next call runs cosign again (a password fixed meanwhile).
    found.catch(() => publicKeys.delete(id));
    publicKeys.set(id, found);
  }
  return found;
}

/** Two PEM public keys are the same key (line endings and surrounding space aside). */
export function samePublicKey(a: string, b: string): boolean {
  const normal = (pem: string) => pem.replace(/\r/g, "").trim();
  return normal(a) === normal(b);
}

/**
 * Fails, naming the config keys, unless the key opens with its password and is the private half
 * of the repository's public key (`publicKeyFile` is named in the message).
 */
export async function checkSigningKey(
  key: SigningKey,
  publicKey: string,
  publicKeyFile: string,
): Promise<void> {
  let derived: string;
  try {
    derived = await publicKeyOf(key);
  } catch (error) {
    if (!(error instanceof SigningToolError) || error.exitCode === undefined) throw error;
    throw new ConfigError([
      `invalid secret config "${CONFIG_NAMESPACE}:cosignKey": cosign cannot open it with ${CONFIG_NAMESPACE}:cosignPassword (${error.message.split("\n").pop()}); expected the contents of a cosign.key written by \`cosign generate-key-pair\` and its password`,
    ]);
  }
  if (!samePublicKey(derived, publicKey)) {
    throw new ConfigError([
      `invalid secret config "${CONFIG_NAMESPACE}:cosignKey": it is not the private half of ${publicKeyFile} (${CONFIG_NAMESPACE}:cosignPublicKey), so what it signs would not verify; set the matching key, or commit its public key there`,
    ]);
  }
}

function git(dir: string, args: readonly string[]): string | undefined {
  try {
    return execFileSync("git", ["-C", dir, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return undefined;
  }
}

/** The remote as a URL: a clone of a local folder names it by path, which is no URL. */
function sourceUrl(remote: string | undefined, top: string): string {
  if (remote === undefined || remote === "") return `file://${top}`;
  return remote.startsWith("/") ? `file://${remote}` : remote;
}

/** The source root's commit, remote and whether its files differ from the commit. */
export function readSourceFacts(sourceRoot: string): SourceFacts {
  const commit = git(sourceRoot, ["rev-parse", "HEAD"]);
  if (commit === undefined) return { uri: `file://${sourceRoot}`, dirty: false };
  const remote = git(sourceRoot, ["remote", "get-url", "origin"]);
  const top = git(sourceRoot, ["rev-parse", "--show-toplevel"]) ?? sourceRoot;
  const status = git(sourceRoot, ["status", "--porcelain", "--", "."]);
  return {
    uri: `git+${sourceUrl(remote, top)}`,
    commit,
    dirty: status !== undefined && status !== "",
  };
}

/**
 * `cosign <command> --yes --key <the key> <args> <ref>`, signing with the stack's key; a failure
 * says `cosign <what> failed`.
 */
async function cosignSigning(
  what: string,
  command: string,
  args: readonly string[],
  ref: string,
  settings: SigningSettings,
  auth: RegistryAuth | undefined,
): Promise<void> {
  const result = await runToolWithLogin(
    "cosign",
    [
      command,
      "--yes",
      "--key",
      `env://${KEY_ENV}`,
      ...args,
      ...offlineSignFlags(settings.transparencyLog),
      ref,
    ],
    keyEnv(settings.key),
    auth,
  );
  if (result.code !== 0) throw toolFailure("cosign", what, result);
}

/** Signs `<repository>@<digest>` with the key (the signature is attached to that digest). */
export function signDigest(
  ref: string,
  settings: SigningSettings,
  auth: RegistryAuth | undefined,
): Promise<void> {
  return cosignSigning(`sign ${ref}`, "sign", [], ref, settings, auth);
}

/** Attaches a signed in-toto attestation of `type` (`spdxjson`, `slsaprovenance1`) to a digest. */
export async function attestDigest(
  ref: string,
  type: string,
  predicate: unknown,
  settings: SigningSettings,
  auth: RegistryAuth | undefined,
): Promise<void> {
  await withScratchDir("predicate", async (dir) => {
    const file = path.join(dir, "predicate.json");
    fs.writeFileSync(file, JSON.stringify(predicate));
    const args = ["--type", type, "--predicate", file];
    await cosignSigning(`attest --type ${type} ${ref}`, "attest", args, ref, settings, auth);
  });
}

export interface VerifyOptions {
  readonly publicKey: string;
  readonly transparencyLog: boolean;
}

/** `cosign <command> --key <the public key> <args> <ref>`, verifying what is attached. */
function cosignVerifying(
  command: string,
  args: readonly string[],
  ref: string,
  options: VerifyOptions,
  auth: RegistryAuth | undefined,
): Promise<RunResult> {
  return runToolWithLogin(
    "cosign",
    [
      command,
      "--key",
      `env://${PUBLIC_KEY_ENV}`,
      ...args,
      ...offlineVerifyFlags(options.transparencyLog),
      ref,
    ],
    { [PUBLIC_KEY_ENV]: options.publicKey },
    auth,
  );
}

/** Whether a signature by this public key is attached to the digest (cosign verify). */
export async function verifySignature(
  ref: string,
  options: VerifyOptions,
  auth: RegistryAuth | undefined,
): Promise<{ verified: boolean; detail: string }> {
  const result = await cosignVerifying("verify", [], ref, options, auth);
  if (result.code !== 0) return { verified: false, detail: lastLines(result) };
  // cosign v3 verifies any bundle attached to the digest, attestations too: a signature is an
  // entry of the cosign signature type.
  const verified = signatureTypes(result.stdout).includes(COSIGN_SIGNATURE_TYPE);
  return {
    verified,
    detail: verified ? "" : "no signature by this key, only attestations",
  };
}

/** The payload type of a cosign simple signing signature. */
export const COSIGN_SIGNATURE_TYPE = "https://sigstore.dev/cosign/sign/v1";

/** The `critical.type` of each entry `cosign verify` printed. */
export function signatureTypes(stdout: string): string[] {
  const start = stdout.indexOf("[");
  if (start < 0) return [];
  try {
    const entries = JSON.parse(stdout.slice(start)) as Array<{ critical?: { type?: unknown } }>;
    return entries.flatMap((entry) =>
      typeof entry.critical?.type === "string" ? [entry.critical.type] : [],
    );
  } catch {
    return [];
  }
}

/** An in-toto statement as cosign verifies it. */
export interface Statement {
  readonly predicateType: string;
  readonly subject: readonly { name?: string; digest: Record<string, string> }[];
  readonly predicate: unknown;
}

/**
 * The attestations of `type` attached to the digest that verify with this public key; empty when
 * there is none (or none by this key).
 */
export async function verifiedAttestations(
  ref: string,
  type: string,
  options: VerifyOptions,
  auth: RegistryAuth | undefined,
): Promise<{ statements: Statement[]; detail: string }> {
  const result = await cosignVerifying("verify-attestation", ["--type", type], ref, options, auth);
  if (result.code !== 0) return { statements: [], detail: lastLines(result) };
  return { statements: parseVerifiedStatements(result.stdout), detail: "" };
}

/** cosign prints one DSSE envelope (JSON) per line; the statement is its base64 payload. */
export function parseVerifiedStatements(stdout: string): Statement[] {
  const statements: Statement[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.trim().startsWith("{")) continue;
    const envelope = JSON.parse(line) as { payload?: string };
    if (envelope.payload === undefined) continue;
    statements.push(
      JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8")) as Statement,
    );
  }
  return statements;
}

function lastLines(result: RunResult): string {
  return (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-3).join("\n");
}

/** The SPDX 2.3 SBOM of one image by digest, every file listed with its SHA-256 (syft). */
async function syftSbom(ref: string, auth: RegistryAuth | undefined): Promise<SpdxDocument> {
  const result = await runToolWithLogin(
    "syft",
    ["scan", `registry:${ref}`, "--output", "spdx-json", "--quiet"],
    {
      SYFT_CHECK_FOR_APP_UPDATE: "false",
      SYFT_FILE_METADATA_SELECTION: "all",
      SYFT_FILE_METADATA_DIGESTS: "sha256",
    },
    auth,
  );
  if (result.code !== 0) throw toolFailure("syft", `scan ${ref}`, result);
  return JSON.parse(result.stdout) as SpdxDocument;
}

/**
 * The SBOM made now: by the process's battlescope-sbom server where the toolchain built it (one
 * license scanner for every image), else by a `syft scan` of its own. Both are syft's catalogers.
 */
async function freshSbom(ref: string, auth: RegistryAuth | undefined): Promise<SpdxDocument> {
  if (!sbomServerAvailable()) return syftSbom(ref, auth);
  return withScratchDir("sbom", async (dir) => {
    try {
      return await serverSbom(ref, auth, dir);
    } catch (error) {
      const refusal =
        error instanceof Error ? await pullLimitRefusalIn("syft", error.message, auth) : undefined;
      throw refusal ?? error;
    }
  });
}

/**
 * How long an SBOM made for one step of a release serves the next: the scan before the tags and
 * the attestation after them are minutes apart, and a digest's content never changes.
 */
const SBOM_CACHE_HOURS = 24;

/** Where SBOMs wait between the scan and the attestation (outside any checkout). */
export function sbomCacheDir(): string {
  return (
    process.env.BATTLESCOPE_SBOM_CACHE ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "battlescope/sbom")
  );
}

/**
 * The image's SBOM (`<repository>@sha256:…`), made by syft once and kept for a day by digest, so
 * the release's scan and its SBOM attestation read one syft run; another ref always runs syft.
 */
export async function imageSbom(
  ref: string,
  auth: RegistryAuth | undefined,
): Promise<SpdxDocument> {
  const digest = /@sha256:([0-9a-f]{64})$/.exec(ref)?.[1];
  if (digest === undefined) return freshSbom(ref, auth);
  const dir = sbomCacheDir();
  const file = path.join(dir, `${digest}.spdx.json`);
  try {
    if (Date.now() - fs.statSync(file).mtimeMs < SBOM_CACHE_HOURS * 60 * 60 * 1000) {
      return JSON.parse(fs.readFileSync(file, "utf8")) as SpdxDocument;
    }
  } catch {
    // None kept, or unreadable: syft makes it again.
  }
  const sbom = await freshSbom(ref, auth);
  fs.mkdirSync(dir, { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  fs.writeFileSync(partial, JSON.stringify(sbom));
  fs.renameSync(partial, file);
  pruneSbomCache(dir);
  return sbom;
}

/** Drops SBOMs past their day, so the cache holds about a day of releases. */
function pruneSbomCache(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    try {
      if (Date.now() - fs.statSync(file).mtimeMs > SBOM_CACHE_HOURS * 60 * 60 * 1000) {
        fs.rmSync(file, { force: true });
      }
    } catch {
      // Another release pruned it first.
    }
  }
}
