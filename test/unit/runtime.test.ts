/**
 * Node.js 24 and one Pulumi version run everything. The pins agree across scripts/versions.env,
 * package.json and policy/package.json, and the real engine, started with the environment the
 * project's scripts use (`scripts/toolchain.sh --print-env`), runs both a program and a dynamic
 * provider under the pinned Node: the language host and the dynamic provider each start the first
 * `node` on PATH, which is where the machine's own (older) Node would sneak in.
 *
 * Needs the toolchain's pulumi (`bash scripts/toolchain.sh`) or a pulumi of the pinned version on
 * PATH, but none of the local services: the stack lives in a file backend in a temporary folder.
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { which } from "../../clients/which";
import { makeTempDir } from "../support/tempDirs";

const REPO_ROOT = path.resolve(__dirname, "../..");
const exec = promisify(execFile);

function pinned(name: "NODE_VERSION" | "PULUMI_VERSION"): string {
  const env = fs.readFileSync(path.join(REPO_ROOT, "scripts/versions.env"), "utf8");
  const match = new RegExp(`^${name}=v(\\S+)$`, "m").exec(env);
  if (match === null) throw new Error(`scripts/versions.env pins no ${name}`);
  return match[1] as string;
}

function readJson(file: string): Record<string, Record<string, string> | undefined> {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, file), "utf8"));
}

const NODE = pinned("NODE_VERSION");
const PULUMI = pinned("PULUMI_VERSION");

describe("the pinned versions agree", () => {
  it("Node is a 24.x (maintenance LTS until 2028-04-30)", () => {
    expect(NODE).toMatch(/^24\.\d+\.\d+$/);
  });

  it("package.json requires Node 24 and pins @pulumi/pulumi and @types/node to match", () => {
    const pkg = readJson("package.json");
    expect(pkg.engines?.node).toBe(">=24 <25");
    expect(pkg.dependencies?.["@pulumi/pulumi"]).toBe(PULUMI);
    expect(pkg.devDependencies?.["@types/node"]).toMatch(/^24\.\d+\.\d+$/);
  });

  it("the policy pack uses the same @pulumi/pulumi", () => {
    expect(readJson("policy/package.json").dependencies?.["@pulumi/pulumi"]).toBe(PULUMI);
  });

  it("the installed @pulumi/pulumi is the pinned one", () => {
    expect(readJson("node_modules/@pulumi/pulumi/package.json").version).toBe(PULUMI);
  });
});

/** PATH, as the project's scripts set it up: `eval "$(bash scripts/toolchain.sh --print-env)"`. */
function toolchainPath(): string {
  const result = spawnSync(
    "bash",
    ["-c", 'eval "$(bash scripts/toolchain.sh --print-env)" && printf %s "$PATH"'],
    { cwd: REPO_ROOT, encoding: "utf8", timeout: 60_000 },
  );
  if (result.status !== 0) throw new Error(`toolchain.sh --print-env failed: ${result.stderr}`);
  return result.stdout;
}

/** The program records its own Node; its dynamic resource records the provider's. */
const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");

const probe = {
  async create() {
    return { id: "probe", outs: { version: process.version, execPath: process.execPath } };
  },
};

class NodeProbe extends pulumi.dynamic.Resource {
  constructor(name) {
    super(probe, name, { version: undefined, execPath: undefined }, {});
  }
}

const resource = new NodeProbe("probe");
exports.programVersion = process.version;
exports.programExecPath = process.execPath;
exports.providerVersion = resource.version;
exports.providerExecPath = resource.execPath;
`;

describe("the engine runs the program and dynamic providers under the pinned Node", () => {
  let workDir: string;
  let env: NodeJS.ProcessEnv;
  let pulumi: string;

  async function cli(...args: string[]) {
    try {
      return await exec(pulumi, [...args, "--non-interactive", "--color", "never"], {
        cwd: workDir,
        env,
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (error) {
      const failed = error as Error & { stdout?: string; stderr?: string };
      throw new Error(`pulumi ${args.join(" ")} failed:\n${failed.stdout}${failed.stderr}`);
    }
  }

  beforeAll(() => {
    const searchPath = toolchainPath();
    const found = which("pulumi", searchPath);
    if (found === undefined) {
      throw new Error("no pulumi on the toolchain's PATH: run `bash scripts/toolchain.sh`");
    }
    pulumi = found;
    workDir = makeTempDir("node-probe");
    fs.mkdirSync(path.join(workDir, "backend"));
    fs.writeFileSync(
      path.join(workDir, "Pulumi.yaml"),
      "name: node-probe\nruntime: nodejs\ndescription: which Node the engine starts\n",
    );
    fs.writeFileSync(
      path.join(workDir, "package.json"),
      JSON.stringify({ name: "node-probe", private: true, main: "index.js" }),
    );
    fs.writeFileSync(path.join(workDir, "index.js"), PROGRAM);
    // The program and the dynamic provider start in the work dir and resolve the SDK there.
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(workDir, "node_modules"));
    env = {
      ...process.env,
      PATH: searchPath,
      // Its own PULUMI_HOME: the run touches no shared state (the language host and the dynamic
      // provider's script ship next to the CLI, not in PULUMI_HOME).
      PULUMI_HOME: path.join(workDir, "pulumi-home"),
      PULUMI_BACKEND_URL: `file://${path.join(workDir, "backend")}`,
      PULUMI_CONFIG_PASSPHRASE: "node-probe",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
  });

  it("the CLI is the pinned Pulumi", async () => {
    const { stdout } = await cli("version");
    expect(stdout.trim()).toBe(`v${PULUMI}`);
  });

  it("pulumi up: process.version inside the program and the dynamic provider", async () => {
    await cli("stack", "init", "probe");
    await cli("up", "--yes", "--skip-preview", "--stack", "probe");
    const { stdout } = await cli("stack", "output", "--json", "--stack", "probe");
    const outputs = JSON.parse(stdout) as Record<string, string>;
    const where = JSON.stringify(outputs, null, 2);
    expect(outputs.programVersion, where).toBe(`v${NODE}`);
    expect(outputs.providerVersion, where).toBe(`v${NODE}`);
    // Both are the first node on the toolchain's PATH, the one the scripts put there.
    const node = which("node", env.PATH ?? "");
    expect(node, "node on the toolchain's PATH").toBeDefined();
    const real = fs.realpathSync(node as string);
    expect(fs.realpathSync(outputs.programExecPath as string)).toBe(real);
    expect(fs.realpathSync(outputs.providerExecPath as string)).toBe(real);
  }, 240_000);
});
