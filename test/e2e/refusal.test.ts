/**
 * A refusal as a pull-request check shows it: `pulumi preview --color never` of a misconfigured
 * stack through the CLI and our language host, with this checkout's program. It prints one
 * Pulumi error with each problem once (a problem of several services told once), no stack trace,
 * no colour codes, no "unhandled exception". The stack lives in a temporary backend, its config
 * in a temporary file (`--config-file`): nothing is written to the checkout.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { REPO_ROOT } from "../../scripts/stack";
import { makeTempDir } from "../support/tempDirs";

const STACK = "refusal";
const FIXTURES = path.join(REPO_ROOT, "fixtures/battlescope");

let workDir: string;
let configFile: string;
let salt: string;

/**
 * Runs the CLI in the checkout, on the temporary backend, as a pull-request check would: without
 * the machine's Docker login, and without the local services' CA (nothing is contacted; Node
 * warns in the output when the file is missing, as while the local services are stopped).
 */
function pulumi(args: readonly string[], cwd = REPO_ROOT): Promise<{ code: number; out: string }> {
  const { NODE_EXTRA_CA_CERTS: _localCa, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn("pulumi", args, {
      cwd,
      env: {
        ...env,
        PULUMI_BACKEND_URL: `file://${path.join(workDir, "backend")}`,
        PULUMI_CONFIG_PASSPHRASE: "refusal-passphrase",
        DOCKER_CONFIG: path.join(workDir, "docker"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
    });
    child.stderr.on("data", (chunk) => {
      out += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

/** The stack's config file: its secrets salt and these `battlescope:` keys. */
function setConfig(values: Record<string, string>): void {
  const config = Object.fromEntries(
    Object.entries(values).map(([key, value]) => [`battlescope:${key}`, value]),
  );
  fs.writeFileSync(configFile, `${salt}\n${stringify({ config })}`);
}

/**
 * The preview's whole output, but what depends on timing: the progress line (`@ previewing
 * update....`, printed again every second or so) and how many blank lines end it.
 */
async function preview(...flags: string[]): Promise<{ code: number; out: string }> {
  const { code, out } = await pulumi([
    "preview",
    "--stack",
    STACK,
    ...flags,
    "--color",
    "never",
    "--config-file",
    configFile,
  ]);
  return { code, out: out.replace(/^@ previewing update\.*\n/gm, "").replace(/\n+$/, "\n") };
}

/** What a refusal prints: the summary lines, then one error with the problems. */
function refusalOutput(problems: readonly string[]): string {
  const first = problems.length === 1 ? problems[0] : "invalid stack config:";
  const message =
    problems.length === 1
      ? [`    error: ${problems[0]}`]
      : ["    error: invalid stack config:", ...problems.map((problem) => `      - ${problem}`)];
  return [
    `Previewing update (${STACK}):`,
    "",
    ` +  pulumi:pulumi:Stack battlescope-${STACK} create `,
    ` +  pulumi:pulumi:Stack battlescope-${STACK} create error: ${first}`,
    ` +  pulumi:pulumi:Stack battlescope-${STACK} create 1 error`,
    "Diagnostics:",
    `  pulumi:pulumi:Stack (battlescope-${STACK}):`,
    ...message,
    "",
    "Resources:",
    "    + 1 to create",
    "    1 errored",
    "",
  ].join("\n");
}

/** What the CLI shows of a crash, none of which a refusal may show. */
function expectNoCrash(out: string): void {
  expect(out).not.toContain("\u001b[");
  expect(out).not.toMatch(/^\s+at /m);
  expect(out).not.toContain("unhandled exception");
  expect(out).not.toContain("ConfigError");
}

/** Like the dev stack on a fresh clone: no secrets set, no services checkout beside it. */
function freshDev(sourceRoot: string): Record<string, string> {
  return {
    registry: "docker.io",
    organization: "battlescope",
    version: "dev",
    namespace: "battlescope",
    replicas: "1",
    sourceRoot,
    kubeContext: "battlescope-dev",
    moveFloatingTags: "false",
    publishDescriptions: "false",
    sign: "true",
  };
}

describe("a refusal, through the CLI: one Pulumi error, each problem once", () => {
  beforeAll(async () => {
    workDir = makeTempDir("refusal");
    fs.mkdirSync(path.join(workDir, "backend"));
    fs.mkdirSync(path.join(workDir, "docker"));
    // The stack is made in a folder of its own, so its file (and salt) is written there.
    const project = path.join(workDir, "project");
    fs.mkdirSync(project);
    fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    const init = await pulumi(
      ["stack", "init", STACK, "--secrets-provider", "passphrase"],
      project,
    );
    expect(init.out).toBe(`Created stack '${STACK}'\n`);
    configFile = path.join(project, `Pulumi.${STACK}.yaml`);
    salt = fs.readFileSync(configFile, "utf8").trim();
    expect(salt).toMatch(/^encryptionsalt: \S+$/);
  });

  afterAll(() => {
    if (workDir !== undefined) fs.rmSync(workDir, { recursive: true, force: true });
  });

  const freshDevProblems = (sourceRoot: string) => [
    `invalid config "battlescope:sourceRoot": ${JSON.stringify(sourceRoot)} has no build context for ingestion-service, enrichment-service, battle-service, search-service, notification-service, frontend-bff, frontend, db-migrator and init (looked for ${sourceRoot}/<service>/Dockerfile)`,
    'missing secret config "battlescope:dockerHubUsername": required because deploy is true and the docker-hub-creds pull secret needs registry credentials; set it with `pulumi config set --secret battlescope:dockerHubUsername <value>`',
    'missing secret config "battlescope:cosignKey": required because sign is true; set it with `pulumi config set --secret battlescope:cosignKey < cosign.key` (the private half of keys/release.pub)',
    'missing secret config "battlescope:cosignPassword": required because sign is true (the password of cosignKey); set it with `pulumi config set --secret battlescope:cosignPassword <value>`',
    `invalid config "battlescope:version": "dev" needs the source root ${sourceRoot} to be a git checkout with a commit`,
  ];

  it("a fresh clone of the dev stack: every missing piece, nine missing build contexts as one", async () => {
    const sourceRoot = path.join(workDir, "battle-monitor/services");
    setConfig(freshDev(sourceRoot));
    const { code, out } = await preview();
    expectNoCrash(out);
    expect(out).toBe(refusalOutput(freshDevProblems(sourceRoot)));
    expect(code).toBe(1);
    expect(fs.existsSync(path.join(REPO_ROOT, `Pulumi.${STACK}.yaml`))).toBe(false);
  });

  it("the same with --diff, as the pull-request check previews (.github/workflows/preview.yml)", async () => {
    const sourceRoot = path.join(workDir, "battle-monitor/services");
    setConfig(freshDev(sourceRoot));
    const { code, out } = await preview("--diff");
    expectNoCrash(out);
    expect(out).toBe(
      [
        `Previewing update (${STACK}):`,
        "+ pulumi:pulumi:Stack: (create)",
        `    [urn=urn:pulumi:${STACK}::battlescope::pulumi:pulumi:Stack::battlescope-${STACK}]`,
        "error: invalid stack config:",
        ...freshDevProblems(sourceRoot).map((problem) => `  - ${problem}`),
        "Resources:",
        "    + 1 to create",
        "",
      ].join("\n"),
    );
    expect(code).toBe(1);
  });

  it("keys that are no settings: the nearest setting, or none", async () => {
    setConfig({
      ...freshDev(path.join(workDir, "battle-monitor/services")),
      rolloutTimout: "120",
      scan: "true",
      failOn: "high",
      vulnerabilityDb: "https://db.example",
    });
    const { code, out } = await preview();
    expectNoCrash(out);
    const noneClose = "(none is close; README.md#stacks-and-their-secrets lists them)";
    expect(out).toBe(
      refusalOutput([
        `battlescope:failOn is not a setting ${noneClose}`,
        "battlescope:rolloutTimout is not a setting; did you mean rolloutTimeout?",
        `battlescope:scan is not a setting ${noneClose}`,
        `battlescope:vulnerabilityDb is not a setting ${noneClose}`,
      ]),
    );
    expect(code).toBe(1);
  });

  it("a Dockerfile rule two services break alike: told once, naming both", async () => {
    const sources = path.join(workDir, "sources");
    fs.cpSync(FIXTURES, sources, { recursive: true });
    const unpinned = "FROM busybox:1.36 AS build\nFROM busybox:latest\nUSER 10001:10001\n";
    for (const service of ["frontend", "init"]) {
      fs.writeFileSync(path.join(sources, service, "Dockerfile"), unpinned);
    }
    setConfig({
      registry: "127.0.0.1:5000",
      version: "v3.0.0",
      sourceRoot: sources,
      deploy: "false",
      publishDescriptions: "false",
    });
    const { code, out } = await preview();
    expectNoCrash(out);
    expect(out).toBe(
      refusalOutput([
        `${sources}/<service>/Dockerfile:2: pinned-base-image: busybox:latest is not pinned to a version ("latest" moves); use a version tag, e.g. busybox:<version> (<service>: frontend and init)`,
      ]),
    );
    expect(code).toBe(1);
  });
});
