import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ACCEPTED_VERSION_FORMS } from "../../lib/versions";
import { cli as run } from "../support/runCli";
import { makeTempDir } from "../support/tempDirs";

describe("battlescope-images tags", () => {
  it.each([
    {
      name: "the issue's example",
      argv: ["v3.0.1", "--existing", "v3.1.0,v3.1.0-amd64,v3.1.0-arm64,v3.1,v3,latest"],
      json: {
        version: "v3.0.1",
        kind: "stable",
        manifestTags: ["v3.0.1", "v3.0"],
        platformTags: {
          amd64: ["v3.0.1-amd64", "v3.0-amd64"],
          arm64: ["v3.0.1-arm64", "v3.0-arm64"],
        },
      },
    },
    {
      name: "first release",
      argv: ["v3.0.0"],
      json: {
        version: "v3.0.0",
        kind: "stable",
        manifestTags: ["v3.0.0", "v3.0", "v3", "latest"],
        platformTags: {
          amd64: ["v3.0.0-amd64", "v3.0-amd64", "v3-amd64", "latest-amd64"],
          arm64: ["v3.0.0-arm64", "v3.0-arm64", "v3-arm64", "latest-arm64"],
        },
      },
    },
    {
      name: "prerelease on one platform",
      argv: ["v3.2.0-rc.1", "--platforms", "linux/arm64"],
      json: {
        version: "v3.2.0-rc.1",
        kind: "prerelease",
        manifestTags: ["v3.2.0-rc.1"],
        platformTags: { arm64: ["v3.2.0-rc.1-arm64"] },
      },
    },
    {
      name: "dev build",
      argv: ["v3.0.1-dev-a1b2c3d", "--existing", "v3.0.0"],
      json: {
        version: "v3.0.1-dev-a1b2c3d",
        kind: "dev",
        manifestTags: ["v3.0.1-dev-a1b2c3d"],
        platformTags: { amd64: ["v3.0.1-dev-a1b2c3d-amd64"], arm64: ["v3.0.1-dev-a1b2c3d-arm64"] },
      },
    },
  ])("prints exactly one JSON object: $name", async ({ argv, json }) => {
    const result = await run("tags", ...argv);
    expect(result).toEqual({ code: 0, stdout: `${JSON.stringify(json)}\n`, stderr: "" });
  });

  it.each(["3.0.0", "v3.0", "v3.0.0.1", "latest", "v03.0.0", "", "v3.0.0-dev-"])(
    "refuses %j with code 2, one line on stderr and nothing on stdout",
    async (version) => {
      const result = await run("tags", version);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(/^battlescope-images: invalid version .*\n$/);
      expect(result.stderr.split("\n")).toHaveLength(2);
      expect(result.stderr).toContain(JSON.stringify(version));
      expect(result.stderr).toContain(ACCEPTED_VERSION_FORMS);
    },
  );

  it("refuses a platform other than the two", async () => {
    expect(await run("tags", "v3.0.0", "--platforms", "linux/amd64,linux/s390x")).toEqual({
      code: 2,
      stdout: "",
      stderr:
        'battlescope-images: invalid platform "linux/s390x": expected a comma-separated list of linux/amd64, linux/arm64\n',
    });
  });
});

describe("battlescope-images readme", () => {
  it("prints the short description", async () => {
    expect(await run("readme", "battle-service", "--short")).toEqual({
      code: 0,
      stdout: "BattleScope V3 - Battle Service - Battle clustering\n",
      stderr: "",
    });
  });

  it("prints the full description with the tags claimed", async () => {
    const result = await run(
      "readme",
      "search-service",
      "--version",
      "v3.2.0",
      "--existing",
      "v3.1.0,v3.1,v3,latest",
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^# BattleScope Search Service\n/);
    expect(result.stdout).toContain("- `v3.2.0`, `v3.2`, `v3`, `latest` - Multi-arch manifest\n");
  });

  it("refuses an unknown service with code 2", async () => {
    expect(await run("readme", "billing-service")).toEqual({
      code: 2,
      stdout: "",
      stderr:
        'battlescope-images: unknown service "billing-service": expected one of ingestion-service, enrichment-service, battle-service, search-service, notification-service, frontend-bff, frontend, db-migrator, init\n',
    });
  });
});

describe("help", () => {
  it.each([[["--help"]], [["tags", "--help"]], [["readme", "--help"]]])(
    "%j prints usage and exits 0",
    async (argv) => {
      const result = await run(...argv);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: battlescope-images/);
    },
  );

  it("an unknown command exits 2", async () => {
    const result = await run("publish");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'publish'");
  });
});

describe("npm run images", () => {
  const root = path.resolve(__dirname, "../..");
  const exec = promisify(execFile);

  it("runs the real command line from the repository root", async () => {
    const { stdout, stderr } = await exec(
      "npm",
      ["run", "--silent", "images", "--", "tags", "v1.0.0", "--platforms", "linux/amd64"],
      {
        cwd: root,
      },
    );
    expect(stderr).toBe("");
    expect(JSON.parse(stdout)).toEqual({
      version: "v1.0.0",
      kind: "stable",
      manifestTags: ["v1.0.0", "v1.0", "v1", "latest"],
      platformTags: { amd64: ["v1.0.0-amd64", "v1.0-amd64", "v1-amd64", "latest-amd64"] },
    });
  });

  it("exits 2 with nothing on stdout for a bad version through the installed bin", async () => {
    const error = await exec("node", [
      path.join(root, "bin/battlescope-images.js"),
      "tags",
      "v3.0",
    ]).catch((e) => e);
    expect(error.code).toBe(2);
    expect(error.stdout).toBe("");
    expect(error.stderr).toBe(
      `battlescope-images: invalid version "v3.0": expected ${ACCEPTED_VERSION_FORMS}\n`,
    );
  });

  /** A `node` on PATH that is not the pinned one (the machine's own, behind the pinned Node). */
  const pinnedNode = /^NODE_VERSION=(\S+)$/m.exec(
    fs.readFileSync(path.join(root, "scripts/versions.env"), "utf8"),
  )?.[1];
  const otherNode = (process.env.PATH ?? "")
    .split(path.delimiter)
    .map((dir) => path.join(dir, "node"))
    .find((candidate) => {
      if (!fs.existsSync(candidate)) return false;
      const version = spawnSync(candidate, ["--version"], { encoding: "utf8" }).stdout?.trim();
      return version !== undefined && version !== "" && version !== pinnedNode;
    });

  it.skipIf(otherNode === undefined)(
    "started by another Node, the installed bin re-runs itself under the pinned one",
    async () => {
      // A preloaded script reports the version of every Node process that runs the command.
      const probe = path.join(makeTempDir("node-probe"), "probe.cjs");
      fs.writeFileSync(probe, 'process.stderr.write("node " + process.version + "\\n");\n');
      const { stdout, stderr } = await exec(
        otherNode as string,
        [path.join(root, "bin/battlescope-images.js"), "tags", "v1.0.0"],
        { env: { ...process.env, NODE_OPTIONS: `--require ${probe}` } },
      );
      const other = spawnSync(otherNode as string, ["--version"], { encoding: "utf8" });
      expect(stderr).toBe(`node ${other.stdout.trim()}\nnode ${pinnedNode}\n`);
      expect(JSON.parse(stdout).version).toBe("v1.0.0");
    },
    60_000,
  );
});
