/**
 * `battlescope-images scan`: bad input is one line on stderr and exit code 2, before any registry
 * or database is read; a database grype cannot use is named with what to do.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { cli } from "../support/runCli";
import { makeTempDir } from "../support/tempDirs";

describe("battlescope-images scan: bad input", () => {
  it.each([
    {
      name: "no release and no stack",
      argv: ["scan"],
      message: "scan needs <service> <version>, or --stack <name>",
    },
    {
      name: "an unknown service",
      argv: ["scan", "frontent", "v3.0.0"],
      message:
        'unknown service "frontent": expected one of ingestion-service, enrichment-service, battle-service, search-service, notification-service, frontend-bff, frontend, db-migrator, init',
    },
    {
      name: "a severity grype has no threshold for",
      argv: ["scan", "frontend", "v3.0.0", "--fail-on", "severe"],
      message:
        'invalid --fail-on "severe": expected one of negligible, low, medium, high, critical',
    },
    {
      name: "an age in weeks",
      argv: ["scan", "frontend", "v3.0.0", "--max-db-age", "2w"],
      message: 'invalid --max-db-age "2w": expected hours or days such as 120h or 5d',
    },
    {
      name: "a key file that is not there",
      argv: ["scan", "frontend", "v3.0.0", "--key", "keys/nowhere.pub"],
      message: 'invalid --key "keys/nowhere.pub": no such file',
    },
    {
      name: "a stack and a version (the stack names its versions)",
      argv: ["scan", "--stack", "prod", "frontend", "v3.0.0"],
      message: "scan --stack takes a service at most: the stack names the versions",
    },
  ])("$name: exit 2, one line, nothing read", async ({ argv, message }) => {
    const run = await cli(...argv);
    expect(run).toEqual({ code: 2, stdout: "", stderr: `battlescope-images: ${message}\n` });
  });

  it("an exceptions file with an exception that has no reason: the config's own message", async () => {
    const file = path.join(makeTempDir("exceptions"), "exceptions.json");
    fs.writeFileSync(file, JSON.stringify([{ id: "CVE-2022-30065", expires: "2026-12-31" }]));
    const run = await cli("scan", "frontend", "v3.0.0", "--exceptions", file);
    expect(run).toEqual({
      code: 2,
      stdout: "",
      stderr: `battlescope-images: invalid --exceptions "${file}": missing config "battlescope:vulnerabilityExceptions[0].reason" (the exception for CVE-2022-30065): expected a text saying why the finding is accepted (why it does not apply, or what stands in for the fix)\n`,
    });
  });

  it("a database folder grype finds nothing in: named, with how to get one", async () => {
    const dir = makeTempDir("grype-db");
    const run = await cli("scan", "frontend", "v3.0.0", "--db", dir);
    expect(run).toEqual({
      code: 2,
      stdout: "",
      stderr: `battlescope-images: no vulnerability database in ${dir} (battlescope:vulnerabilityDb): grype says "database does not exist"; download it (grype db update with GRYPE_DB_CACHE_DIR=${dir}), or set battlescope:vulnerabilityDb to the folder that holds it\n`,
    });
  });
});
