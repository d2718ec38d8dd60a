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
import * as path from "node:path";
import type { Command } from "commander";
import { isAttestation, RegistryError } from "../clients/ociRegistry";
import { registryClientFromEnv, registryLoginFromEnv } from "../clients/registryTags";
import { databaseStatus, scanSbom, type VulnerabilityDatabase } from "../clients/scanner";
import { verifiedAttestations } from "../clients/signing";
import { COSIGN_SPDX_TYPE, type SpdxDocument } from "../lib/attestation";
import { ConfigError, loadStackConfig, type StackConfig } from "../lib/config";
import {
  databaseProblem,
  exceptionsFor,
  findingsFromGrype,
  judgeFindings,
  type PlatformScan,
  parseExceptions,
  parseMaxAge,
  parseSeverity,
  type ScanRow,
  SEVERITIES,
  scanJson,
  scanRows,
  scanTable,
  type Severity,
  type VulnerabilityException,
} from "../lib/vulnerabilities";
import { DEFAULT_ORGANIZATION, DOCKER_HUB_REGISTRY } from "../lib/vocabulary";
import { SERVICE_NAMES } from "../services/catalog";
import { type CliIo, type Env, type HttpDeps, requireService, UsageError } from "./shared";

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
  readonly releases: readonly { service: string; version: string }[];
  readonly publicKey: string;
  readonly keyFile: string;
  readonly transparencyLog: boolean;
  readonly database: VulnerabilityDatabase;
  readonly failOn: Severity;
  readonly exceptions: readonly VulnerabilityException[];
}

export function registerScan(program: Command, io: CliIo, deps: ScanDeps = {}): Command {
  return program
    .command("scan")
    .description(
      "Re-scan published releases against the current vulnerability database from their signed SBOM attestations (no image pull); exit 1 when a finding at or above --fail-on is not covered by an unexpired exception",
    )
    .argument("[service]", `one of ${SERVICE_NAMES.join(", ")} (or --stack)`)
    .argument("[version]", "the release: vX.Y.Z, vX.Y.Z-<prerelease> or vX.Y.Z-dev-<sha>")
    .option(
      "--stack <name>",
      "scan every release the stack deploys, with its config (read with the pulumi CLI)",
    )
    .option("--project-dir <dir>", "with --stack: the Pulumi project folder (default: here)")
    .option("--registry <host>", "registry host", DOCKER_HUB_REGISTRY)
    .option("--organization <org>", "registry organization", DEFAULT_ORGANIZATION)
    .option("--key <file>", "the cosign public key the SBOM attestations verify with", undefined)
    .option("--offline", "verify with the key alone, without the transparency log")
    .option("--db <dir>", "the grype database folder (GRYPE_DB_CACHE_DIR)")
    .option("--max-db-age <age>", "refuse a database older than this (<n>h or <n>d)")
    .option("--fail-on <severity>", `the lowest severity that fails (${SEVERITIES.join(", ")})`)
    .option(
      "--exceptions <file>",
      "a JSON list of {id, services?, reason, expires} (the stack's vulnerabilityExceptions)",
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
      ? argumentRun(service, version, options, today)
      : await stackRun(options.stack, service, version, options, today);
  const status = await databaseStatus(run.database);
  const problem = databaseProblem(status, run.database, today);
  if (problem !== undefined) throw new ScanFailure(problem);
  const scans: PlatformScan[] = [];
  const missing: ScanRow[] = [];
  for (const release of run.releases) {
    const found = await scanRelease(run, release, env, deps, today);
    scans.push(...found.scans);
    missing.push(...found.missing);
  }
  const rows = [...scanRows(scans), ...missing];
  io.stdout(
    options.json === true
      ? `${JSON.stringify(scanJson(scans, missing, { failOn: run.failOn, databaseBuilt: status.built ?? "" }), null, 2)}\n`
      : scanTable(rows, { failOn: run.failOn, databaseBuilt: status.built ?? "" }),
  );
  if (missing.length > 0 || scans.some((one) => one.verdict.blocking.length > 0)) {
    throw new ScanFailure(
      `${rows.filter((row) => row.status === "blocking" || row.status === "no sbom").length} finding(s) block: see above`,
      true,
    );
  }
}

/** A scan that found what fails it (exit 1); `quiet` when the table already said so. */
export class ScanFailure extends Error {
  constructor(
    message: string,
    readonly quiet = false,
  ) {
    super(message);
    this.name = "ScanFailure";
  }
}

function requirePublicKey(file: string): string {
  if (!fs.existsSync(file)) {
    throw new UsageError(`invalid --key ${JSON.stringify(file)}: no such file`);
  }
  const publicKey = fs.readFileSync(file, "utf8");
  if (!publicKey.includes("-----BEGIN PUBLIC KEY-----")) {
    throw new UsageError(
      `invalid --key ${JSON.stringify(file)}: not a PEM public key (cosign.pub, keys/release.pub)`,
    );
  }
  return publicKey;
}

function usage<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/** `scan <service> <version>` with the options for everything else. */
function argumentRun(
  service: string | undefined,
  version: string | undefined,
  options: ScanOptions,
  today: Date,
): ScanRun {
  if (service === undefined || version === undefined) {
    throw new UsageError("scan needs <service> <version>, or --stack <name>");
  }
  requireService(service);
  const keyFile = options.key ?? "keys/release.pub";
  const exceptions =
    options.exceptions === undefined
      ? []
      : usage(() =>
          parseExceptions(
            JSON.parse(fs.readFileSync(options.exceptions as string, "utf8")),
            "--exceptions",
            today,
          ),
        );
  return {
    registry: options.registry,
    organization: options.organization,
    releases: [{ service, version }],
    publicKey: requirePublicKey(keyFile),
    keyFile,
    transparencyLog: options.offline !== true,
    database: {
      dir: options.db ?? defaultDatabaseDir(process.env),
      maxAgeHours: usage(() => parseMaxAge(options.maxDbAge ?? "120h", "--max-db-age")),
    },
    failOn: usage(() => parseSeverity(options.failOn ?? "high", "--fail-on")),
    exceptions,
  };
}

function defaultDatabaseDir(env: Env): string {
  const cache = env.XDG_CACHE_HOME ?? path.join(env.HOME ?? "~", ".cache");
  return path.join(cache, "grype", "db");
}

function pulumiJson(args: readonly string[], cwd: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(
      process.env.PULUMI_BINARY ?? "pulumi",
      [...args, "--json", "--non-interactive"],
      { cwd, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(
            new UsageError(
              `pulumi ${args.join(" ")} failed: ${(stderr.trim() || error.message).split("\n").slice(-3).join(" ")}`,
            ),
          );
          return;
        }
        resolve(JSON.parse(stdout) as unknown);
      },
    );
  });
}

/** `scan --stack <name>`: the stack's config and the releases its outputs name. */
async function stackRun(
  stack: string,
  service: string | undefined,
  version: string | undefined,
  options: ScanOptions,
  today: Date,
): Promise<ScanRun> {
  if (version !== undefined) {
    throw new UsageError("scan --stack takes at most a service, not a version");
  }
  if (service !== undefined) requireService(service);
  const cwd = options.projectDir ?? process.cwd();
  const [configJson, outputs] = await Promise.all([
    pulumiJson(["config", "--stack", stack], cwd),
    pulumiJson(["stack", "output", "--stack", stack], cwd),
  ]);
  const values = configJson as Record<string, { value?: unknown; objectValue?: unknown }>;
  const read = (key: string): string | undefined => {
    const entry = values[`battlescope:${key}`];
    if (entry === undefined) return undefined;
    const value = entry.objectValue ?? entry.value;
    return typeof value === "string" ? value : JSON.stringify(value);
  };
  const config: StackConfig = usage(() => loadStackConfig(read, [], today));
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
      `stack ${stack} deploys no release${service === undefined ? "" : ` of ${service}`} (its outputs name none: has it been updated?)`,
    );
  }
  const keyFile = options.key ?? path.resolve(cwd, config.cosignPublicKey);
  return {
    registry: config.registry,
    organization: config.organization,
    releases,
    publicKey: requirePublicKey(keyFile),
    keyFile,
    transparencyLog: options.offline === true ? false : config.transparencyLog,
    database: {
      dir: options.db ?? config.vulnerabilityDb,
      maxAgeHours: config.vulnerabilityDbMaxAgeHours,
    },
    failOn: options.failOn === undefined ? config.failOn : usage(() => parseSeverity(options.failOn as string, "--fail-on")),
    exceptions: config.vulnerabilityExceptions,
  };
}

/** Each platform image of one release, scanned from its SBOM attestation. */
async function scanRelease(
  run: ScanRun,
  release: { service: string; version: string },
  env: Env,
  deps: ScanDeps,
  today: Date,
): Promise<{ scans: PlatformScan[]; missing: ScanRow[] }> {
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
  const scans: PlatformScan[] = [];
  const missing: ScanRow[] = [];
  for (const child of list.manifests.filter((entry) => !isAttestation(entry))) {
    const platform = `${child.platform?.os}/${child.platform?.architecture}`;
    const ref = `${run.registry}/${repository}@${child.digest}`;
    const startedOn = new Date();
    const found = await verifiedAttestations(ref, COSIGN_SPDX_TYPE, verify, auth);
    const sbom = found.statements[0]?.predicate as SpdxDocument | undefined;
    if (sbom === undefined) {
      missing.push({
        service: release.service,
        version: release.version,
        platform,
        status: "no sbom",
        detail: `no SPDX SBOM attestation that verifies with ${run.keyFile}`,
      });
      continue;
    }
    const report = await scanSbom(sbom, run.database, `${release.service} ${platform}`);
    const verdict = judgeFindings(findingsFromGrype(report), {
      service: release.service,
      failOn: run.failOn,
      exceptions,
      today,
    });
    scans.push({
      service: release.service,
      version: release.version,
      platform,
      digest: child.digest,
      ref,
      startedOn,
      verdict,
    });
  }
  return { scans, missing };
}
