/**
 * `battlescope-images scan <service> <version>` and `scan --stack <name>`: re-scans published
 * releases against the current vulnerability database, from each platform image's signed SPDX
 * SBOM attestation (no image is pulled), and judges the findings the way the stack's gate does
 * (`failOn`, the unexpired exceptions). Prints a table, or JSON with --json. Exit code 0 when no
 * finding at or above `failOn` is left uncovered, 1 when one is (or an image has no SBOM that
 * verifies), 2 for bad input.
 *
 * With --stack, the releases are the ones the stack's outputs name and the settings (registry,
 * organization, failOn, database, exceptions, public key) are the stack's config, read with the
 * pulumi CLI from the project folder.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Command } from "commander";
import { isAttestation, RegistryError } from "../clients/ociRegistry";
import { registryClientFromEnv, registryLoginFromEnv } from "../clients/registryTags";
import { databaseStatus, scanSbom, type VulnerabilityDatabase } from "../clients/scanner";
import { verifiedAttestations } from "../clients/signing";
import { COSIGN_SPDX_TYPE, type SpdxDocument } from "../lib/attestation";
import {
  ConfigError,
  DEFAULT_COSIGN_PUBLIC_KEY,
  loadStackConfig,
  type StackConfig,
} from "../lib/config";
import { parseDbMaxAge, readExceptionList, vulnerabilityDbDirectory } from "../lib/config/scanKeys";
import { findingsFromGrype } from "../lib/grypeReport";
import { databaseProblem, type ImageScan, scanRows, scanTable } from "../lib/scanReport";
import { DEFAULT_ORGANIZATION, DOCKER_HUB_REGISTRY } from "../lib/vocabulary";
import {
  DEFAULT_FAIL_ON,
  exceptionsFor,
  FAIL_ON_SEVERITIES,
  type FailOn,
  judgeFindings,
  type VulnerabilityException,
} from "../lib/vulnerabilities";
import { SERVICE_NAMES } from "../services/catalog";
import {
  type CliIo,
  type Env,
  type HttpDeps,
  readPublicKeyOption,
  requireService,
  UsageError,
} from "./shared";

export type ScanDeps = HttpDeps & {
  /** Today, for the exceptions' expiry; default now. */
  readonly today?: Date;
};

interface ScanOptions {
  readonly stack?: string;
  readonly projectDir?: string;
  readonly registry: string;
  readonly organization: string;
  readonly key?: string;
  readonly offline?: boolean;
  readonly db?: string;
  readonly maxDbAge?: string;
  readonly failOn?: string;
  readonly exceptions?: string;
  readonly json?: boolean;
}

/** What one run scans, and how it judges. */
interface ScanRun {
  readonly registry: string;
  readonly organization: string;
  readonly releases: readonly Release[];
  readonly publicKey: string;
  readonly keyFile: string;
  readonly transparencyLog: boolean;
  readonly database: VulnerabilityDatabase;
  readonly failOn: FailOn;
  readonly exceptions: readonly VulnerabilityException[];
}

interface Release {
  readonly service: string;
  readonly version: string;
}

/** A platform image whose SBOM could not be read: it cannot be scanned without a pull. */
interface Unscanned {
  readonly service: string;
  readonly version: string;
  readonly platform: string;
  readonly digest: string;
  readonly reason: string;
}

export function registerScan(program: Command, io: CliIo, deps: ScanDeps = {}): Command {
  return program
    .command("scan")
    .description(
      "Re-scan published releases against the current vulnerability database, from their signed SBOM attestations (no image pull); exit 1 when a finding at or above the fail-on severity is not covered by an unexpired exception",
    )
    .argument("[service]", `one of ${SERVICE_NAMES.join(", ")}`)
    .argument("[version]", "the release: vX.Y.Z, vX.Y.Z-<prerelease> or vX.Y.Z-dev-<sha>")
    .option(
      "--stack <name>",
      "scan every release the stack deploys (its outputs), with its config (read with the pulumi CLI)",
    )
    .option("--project-dir <dir>", "with --stack: the Pulumi project folder (default: here)")
    .option("--registry <host>", "registry host", DOCKER_HUB_REGISTRY)
    .option("--organization <org>", "registry organization", DEFAULT_ORGANIZATION)
    .option(
      "--key <file>",
      "the cosign public key the SBOM attestations verify with (default keys/release.pub, or the stack's cosignPublicKey)",
    )
    .option("--offline", "verify with the key alone, without the transparency log")
    .option("--db <dir>", "the grype database folder (GRYPE_DB_CACHE_DIR; default grype's own)")
    .option("--max-db-age <age>", "refuse a database older than this, <n>h or <n>d (default 120h)")
    .option(
      "--fail-on <severity>",
      `the lowest severity that fails: ${FAIL_ON_SEVERITIES.join(", ")}`,
    )
    .option(
      "--exceptions <file>",
      "a JSON list of {id, services?, reason, expires}, as the stack's vulnerabilityExceptions",
    )
    .option("--json", "print JSON instead of a table")
    .action(async (service: string | undefined, version: string | undefined, options) => {
      await runScan(service, version, options as ScanOptions, io, deps);
    });
}

async function runScan(
  service: string | undefined,
  version: string | undefined,
  options: ScanOptions,
  io: CliIo,
  deps: ScanDeps,
): Promise<void> {
  const env = deps.env ?? process.env;
  const today = deps.today ?? new Date();
  const run =
    options.stack === undefined
      ? argumentRun(service, version, options, env, today)
      : await stackRun(options.stack, service, version, options, env, today);
  const status = await databaseStatus(run.database);
  const problem = databaseProblem(status, run.database.dir, run.database.maxAgeHours, today);
  if (problem !== undefined) throw new UsageError(problem);
  const scans: ImageScan[] = [];
  const unscanned: Unscanned[] = [];
  for (const release of run.releases) {
    const found = await scanRelease(run, release, env, deps, today);
    scans.push(...found.scans);
    unscanned.push(...found.unscanned);
  }
  const rows = scanRows(scans);
  const blocking = rows.filter((row) => row.status === "blocking").length;
  if (options.json === true) {
    const database = { dir: run.database.dir, built: status.built };
    const report = { failOn: run.failOn, database, findings: rows, unscanned };
    io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    io.stdout(scanTable(rows));
    for (const image of unscanned) {
      io.stdout(
        `not scanned: ${image.service} ${image.version} ${image.platform} (${image.digest}): ${image.reason}\n`,
      );
    }
    io.stdout(
      `${run.releases.length} release(s), ${scans.length} image(s) scanned against the database built ${status.built}; ${blocking} finding(s) at or above ${run.failOn} not covered by an exception\n`,
    );
  }
  if (blocking > 0 || unscanned.length > 0) {
    throw new ScanFindings(
      blocking > 0
        ? `${blocking} finding(s) at or above ${run.failOn} not covered by an unexpired exception`
        : `${unscanned.length} image(s) could not be scanned`,
    );
  }
}

/** A scan that found what fails it: exit code 1. */
export class ScanFindings extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScanFindings";
  }
}

/** The stack config's checks, for values given on the command line; bad input names the option. */
function configOf(values: Readonly<Record<string, string | undefined>>, today: Date): StackConfig {
  try {
    return loadStackConfig((key) => values[key], [], today);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

function failOnOption(value: string | undefined, fallback: FailOn): FailOn {
  if (value === undefined) return fallback;
  if (!(FAIL_ON_SEVERITIES as readonly string[]).includes(value)) {
    throw new UsageError(
      `invalid --fail-on ${JSON.stringify(value)}: expected one of ${FAIL_ON_SEVERITIES.join(", ")}`,
    );
  }
  return value as FailOn;
}

function maxAgeOption(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const hours = parseDbMaxAge(value);
  if (hours === undefined) {
    throw new UsageError(
      `invalid --max-db-age ${JSON.stringify(value)}: expected hours or days such as 120h or 5d`,
    );
  }
  return hours;
}

function readExceptions(file: string, today: Date): readonly VulnerabilityException[] {
  if (!fs.existsSync(file)) {
    throw new UsageError(`invalid --exceptions ${JSON.stringify(file)}: no such file`);
  }
  try {
    return readExceptionList(fs.readFileSync(file, "utf8"), today);
  } catch (error) {
    if (error instanceof ConfigError)
      throw new UsageError(`invalid --exceptions ${JSON.stringify(file)}: ${error.message}`);
    throw error;
  }
}

function databaseDir(configured: string | undefined, env: Env, base: string): string {
  return path.resolve(base, vulnerabilityDbDirectory(configured, env, os.homedir()));
}

/** `scan <service> <version>` with the options for everything else. */
function argumentRun(
  service: string | undefined,
  version: string | undefined,
  options: ScanOptions,
  env: Env,
  today: Date,
): ScanRun {
  if (service === undefined || version === undefined) {
    throw new UsageError("scan needs <service> <version>, or --stack <name>");
  }
  requireService(service);
  const keyFile = options.key ?? DEFAULT_COSIGN_PUBLIC_KEY;
  return {
    registry: options.registry,
    organization: options.organization,
    releases: [{ service, version }],
    publicKey: readPublicKeyOption(keyFile),
    keyFile,
    transparencyLog: options.offline !== true,
    database: {
      dir: databaseDir(options.db, env, process.cwd()),
      maxAgeHours: maxAgeOption(options.maxDbAge, 120),
    },
    failOn: failOnOption(options.failOn, DEFAULT_FAIL_ON),
    exceptions: options.exceptions === undefined ? [] : readExceptions(options.exceptions, today),
  };
}

function pulumiJson(args: readonly string[], cwd: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(
      process.env.PULUMI_BINARY ?? "pulumi",
      [...args, "--json", "--non-interactive"],
      { cwd, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error !== null) {
          const detail = (stderr.trim() || error.message).split("\n").slice(-3).join(" ");
          reject(new UsageError(`pulumi ${args.join(" ")} failed: ${detail}`));
          return;
        }
        resolve(JSON.parse(stdout) as unknown);
      },
    );
  });
}

/** `scan --stack <name> [service]`: the stack's config and the releases its outputs name. */
async function stackRun(
  stack: string,
  service: string | undefined,
  version: string | undefined,
  options: ScanOptions,
  env: Env,
  today: Date,
): Promise<ScanRun> {
  if (version !== undefined) {
    throw new UsageError("scan --stack takes a service at most: the stack names the versions");
  }
  if (service !== undefined) requireService(service);
  const cwd = path.resolve(options.projectDir ?? process.cwd());
  const [configJson, outputs] = await Promise.all([
    pulumiJson(["config", "--stack", stack], cwd),
    pulumiJson(["stack", "output", "--stack", stack], cwd),
  ]);
  const values: Record<string, string | undefined> = {};
  for (const [key, entry] of Object.entries(
    configJson as Record<string, { value?: unknown; objectValue?: unknown; secret?: boolean }>,
  )) {
    if (!key.startsWith("battlescope:") || entry.secret === true) continue;
    const value = entry.value;
    values[key.slice("battlescope:".length)] =
      typeof value === "string" ? value : JSON.stringify(entry.objectValue ?? value);
  }
  const config = configOf(values, today);
  const deployed = ((outputs as { releases?: unknown }).releases ?? {}) as Record<
    string,
    { version?: unknown }
  >;
  const releases = Object.entries(deployed)
    .filter(([name]) => service === undefined || name === service)
    .flatMap(([name, release]) =>
      typeof release.version === "string" ? [{ service: name, version: release.version }] : [],
    );
  if (releases.length === 0) {
    throw new UsageError(
      `stack ${stack} names no release${service === undefined ? "" : ` of ${service}`} in its outputs: has it been released?`,
    );
  }
  const keyFile = options.key ?? path.resolve(cwd, config.cosignPublicKey);
  return {
    registry: config.registry,
    organization: config.organization,
    releases,
    publicKey: readPublicKeyOption(keyFile),
    keyFile,
    transparencyLog: options.offline === true ? false : config.transparencyLog,
    database: {
      dir: databaseDir(options.db ?? config.vulnerabilityDb, env, cwd),
      maxAgeHours: maxAgeOption(options.maxDbAge, config.vulnerabilityDbMaxAgeHours),
    },
    failOn: failOnOption(options.failOn, config.failOn),
    exceptions: config.vulnerabilityExceptions,
  };
}

/** Each platform image of one release, scanned from its SBOM attestation. */
async function scanRelease(
  run: ScanRun,
  release: Release,
  env: Env,
  deps: ScanDeps,
  today: Date,
): Promise<{ scans: ImageScan[]; unscanned: Unscanned[] }> {
  const repository = `${run.organization}/${release.service}`;
  const client = registryClientFromEnv(run.registry, env, deps);
  let list: Awaited<ReturnType<typeof client.getManifest>>;
  try {
    list = await client.getManifest(repository, release.version);
  } catch (error) {
    if (error instanceof RegistryError) throw new UsageError(error.message);
    throw error;
  }
  if (list === undefined) {
    throw new UsageError(`${run.registry}/${repository}:${release.version} does not exist`);
  }
  const auth = { registry: run.registry, ...registryLoginFromEnv(run.registry, env) };
  const verify = { publicKey: run.publicKey, transparencyLog: run.transparencyLog };
  const exceptions = exceptionsFor(run.exceptions, release.service);
  const scans: ImageScan[] = [];
  const unscanned: Unscanned[] = [];
  for (const child of list.manifests.filter((entry) => !isAttestation(entry))) {
    const platform = `${child.platform?.os}/${child.platform?.architecture}`;
    const ref = `${run.registry}/${repository}@${child.digest}`;
    const found = await verifiedAttestations(ref, COSIGN_SPDX_TYPE, verify, auth);
    const sbom = found.statements[0]?.predicate as SpdxDocument | undefined;
    if (sbom === undefined) {
      unscanned.push({
        ...release,
        platform,
        digest: child.digest,
        reason: `no SPDX SBOM attestation that verifies with ${run.keyFile}`,
      });
      continue;
    }
    const report = await scanSbom(sbom, run.database, `${release.service} ${platform}`);
    const judgement = judgeFindings(findingsFromGrype(report), {
      service: release.service,
      failOn: run.failOn,
      exceptions,
      today,
    });
    scans.push({ service: release.service, platform, judgement });
  }
  return { scans, unscanned };
}
