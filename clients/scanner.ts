/**
 * The real grype, run as a child process on an SPDX SBOM (the one a release attests, so no image
 * is pulled again), against a vulnerability database in a folder of its own: grype never updates
 * it and never reaches the network, and refuses it past the stack's maximum age.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { SpdxDocument } from "../lib/attestation";
import { withScratchDir } from "./scratch";
import { runTool, SigningToolError, toolFailure } from "./tools";

/** The database a scan reads, and how old it may be. */
export interface VulnerabilityDatabase {
  /** The folder grype keeps its database in (GRYPE_DB_CACHE_DIR): `<dir>/6/vulnerability.db`. */
  readonly dir: string;
  readonly maxAgeHours: number;
}

/** What `grype db status` says of a database folder. */
export interface DatabaseStatus {
  readonly path: string;
  readonly schemaVersion: string;
  /** When the database was built (RFC 3339); absent when there is none. */
  readonly built?: string;
  /** Why grype cannot use it (no database, a broken one, too old). */
  readonly error?: string;
}

function grypeEnv(database: VulnerabilityDatabase): Record<string, string> {
  return {
    GRYPE_DB_CACHE_DIR: database.dir,
    GRYPE_DB_AUTO_UPDATE: "false",
    GRYPE_CHECK_FOR_APP_UPDATE: "false",
    GRYPE_DB_VALIDATE_AGE: "true",
    GRYPE_DB_MAX_ALLOWED_BUILT_AGE: `${database.maxAgeHours}h`,
    // grype colours its errors even when its stderr is no terminal.
    NO_COLOR: "1",
  };
}

/** The database's build time and state, read by grype itself. */
export async function databaseStatus(database: VulnerabilityDatabase): Promise<DatabaseStatus> {
  const result = await runTool(
    "grype",
    ["db", "status", "--output", "json"],
    grypeEnv({ ...database, maxAgeHours: 1_000_000 }),
  );
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(result.stdout) as Record<string, unknown>;
  } catch {
    throw toolFailure("grype", `db status of ${database.dir}`, result);
  }
  const text = (key: string) => (typeof parsed[key] === "string" ? parsed[key] : undefined);
  const built = text("built");
  const error = text("error");
  return {
    path: text("path") ?? database.dir,
    schemaVersion: text("schemaVersion") ?? "",
    // grype writes the zero time for a database it could not read.
    ...(built === undefined || built.startsWith("0001-") ? {} : { built }),
    ...(error === undefined || error === "" ? {} : { error }),
  };
}

/** grype's JSON report (`-o json`) of the packages an SBOM lists, with nothing ignored by grype. */
export async function scanSbom(
  sbom: SpdxDocument,
  database: VulnerabilityDatabase,
  what: string,
): Promise<unknown> {
  return withScratchDir("scan", async (dir) => {
    const file = path.join(dir, "sbom.spdx.json");
    fs.writeFileSync(file, JSON.stringify(sbom));
    const result = await runTool(
      "grype",
      [`sbom:${file}`, "--output", "json", "--quiet"],
      grypeEnv(database),
    );
    if (result.code !== 0) throw toolFailure("grype", `scan of ${what}`, result);
    try {
      return JSON.parse(result.stdout) as unknown;
    } catch {
      throw new SigningToolError(
        `grype scan of ${what} printed no JSON report: ${result.stdout.slice(0, 200)}`,
        result.code,
      );
    }
  });
}
