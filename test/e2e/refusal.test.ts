/**
 * A refusal as a pull-request check shows it: `pulumi preview --color never` of a misconfigured
 * stack through the CLI and our language host, with this checkout's program. It prints one
 * Pulumi error with each problem once (a problem of several services told once), no stack trace,
 * no colour codes, no "unhandled exception". The same through the Automation API runner
 * (`npm run stack`, scripts/stack.ts), which `npm run local` releases with: the engine's output
 * once, then one line. The stack lives in a temporary backend, its config in a temporary folder:
 * nothing is written to the checkout.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
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

let projectDir: string;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Both streams, as they came. */
  readonly out: string;
}

/**
 * Runs a command on the temporary backend, as a pull-request check would: without the machine's
 * Docker login, and without the local services' CA (nothing is contacted; Node warns in the
 * output when the file is missing, as while the local services are stopped).
 */
function run(command: string, args: readonly string[], cwd: string): Promise<Run> {
  const { NODE_EXTRA_CA_CERTS: _localCa, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: {
        ...env,
        PULUMI_BACKEND_URL: `file://${path.join(workDir, "backend")}`,
        PULUMI_CONFIG_PASSPHRASE: "refusal-passphrase",
        DOCKER_CONFIG: path.join(workDir, "docker"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let out = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      out += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      out += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr, out }));
  });
}

/** The CLI, in the checkout. */
function pulumi(args: readonly string[], cwd = REPO_ROOT): Promise<Run> {
  return run("pulumi", args, cwd);
}

/** The Automation API runner, as `npm run stack -- <command> --stack <stack>` runs it. */
function runner(command: "preview" | "up"): Promise<Run> {
  return run(
    path.join(REPO_ROOT, "node_modules/.bin/tsx"),
    [path.join(REPO_ROOT, "scripts/stack.ts"), command, "--stack", STACK, "--cwd", projectDir],
    REPO_ROOT,
  );
}

/** A port that was just free: nothing listens there. */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
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

beforeAll(async () => {
  workDir = makeTempDir("refusal");
  fs.mkdirSync(path.join(workDir, "backend"));
  fs.mkdirSync(path.join(workDir, "docker"));
  // The stack is made in a folder of its own, so its file (and salt) is written there.
  projectDir = path.join(workDir, "project");
  fs.mkdirSync(projectDir);
  fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(projectDir, "Pulumi.yaml"));
  const init = await pulumi(
    ["stack", "init", STACK, "--secrets-provider", "passphrase"],
    projectDir,
  );
  expect(init.out).toBe(`Created stack '${STACK}'\n`);
  configFile = path.join(projectDir, `Pulumi.${STACK}.yaml`);
  salt = fs.readFileSync(configFile, "utf8").trim();
  expect(salt).toMatch(/^encryptionsalt: \S+$/);
});

afterAll(() => {
  if (workDir !== undefined) fs.rmSync(workDir, { recursive: true, force: true });
});

/** What the program refuses of `freshDev`. */
const freshDevProblems = (sourceRoot: string) => [
  `invalid config "battlescope:sourceRoot": ${JSON.stringify(sourceRoot)} has no build context for ingestion-service, enrichment-service, battle-service, search-service, notification-service, frontend-bff, frontend, db-migrator and init (looked for ${sourceRoot}/<service>/Dockerfile)`,
  'missing secret config "battlescope:dockerHubUsername": required because deploy is true and the docker-hub-creds pull secret needs registry credentials; set it with `pulumi config set --secret battlescope:dockerHubUsername <value>`',
  'missing secret config "battlescope:cosignKey": required because sign is true; set it with `pulumi config set --secret battlescope:cosignKey < cosign.key` (the private half of keys/release.pub)',
  'missing secret config "battlescope:cosignPassword": required because sign is true (the password of cosignKey); set it with `pulumi config set --secret battlescope:cosignPassword <value>`',
  `invalid config "battlescope:version": "dev" needs the source root ${sourceRoot} to be a git checkout with a commit`,
];

describe("a refusal, through the CLI: one Pulumi error, each problem once", () => {
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
      seal: "true",
      trivyServer: "https://db.example",
    });
    const { code, out } = await preview();
    expectNoCrash(out);
    const noneClose = "(none is close; README.md#stacks-and-their-secrets lists them)";
    expect(out).toBe(
      refusalOutput([
        "battlescope:rolloutTimout is not a setting; did you mean rolloutTimeout?",
        `battlescope:seal is not a setting ${noneClose}`,
        `battlescope:trivyServer is not a setting ${noneClose}`,
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

  it("a registry nothing listens on: the client's message, as a Pulumi error", async () => {
    const port = await closedPort();
    setConfig({
      registry: `127.0.0.1:${port}`,
      version: "v3.0.0",
      sourceRoot: FIXTURES,
      deploy: "false",
      publishDescriptions: "false",
      sign: "false",
    });
    const { code, out } = await preview();
    expectNoCrash(out);
    expect(out).toBe(
      refusalOutput([
        `registry 127.0.0.1:${port} cannot be reached (GET /v2/): connect ECONNREFUSED 127.0.0.1:${port}`,
      ]),
    );
    expect(code).toBe(1);
  });
});

describe("a refusal, through the Automation API runner (npm run stack): the engine's output once, then one line", () => {
  /** Each problem once in the whole output, and nothing of a crash. */
  const expectEachOnce = (result: Run, problems: readonly string[]) => {
    expectNoCrash(result.out);
    for (const problem of problems) expect(result.out.split(problem).length - 1).toBe(1);
    expect(result.code).toBe(1);
  };

  it("preview, as the runner previews (--diff): the error on stderr, then the runner's line", async () => {
    const sourceRoot = path.join(workDir, "battle-monitor/services");
    setConfig(freshDev(sourceRoot));
    const problems = freshDevProblems(sourceRoot);
    const result = await runner("preview");
    expectEachOnce(result, problems);
    expect(result.stdout).toBe(
      [
        `Previewing update (${STACK}):`,
        "+ pulumi:pulumi:Stack: (create)",
        `    [urn=urn:pulumi:${STACK}::battlescope::pulumi:pulumi:Stack::battlescope-${STACK}]`,
        "Resources:",
        "    + 1 to create",
        "",
      ].join("\n"),
    );
    expect(result.stderr).toBe(
      [
        "error: invalid stack config:",
        ...problems.map((problem) => `  - ${problem}`),
        `stack: pulumi preview --stack ${STACK} failed (exit 1): see the error above`,
        "",
      ].join("\n"),
    );
  });

  it("up: the engine's report on stdout, one line on stderr (nothing published to report)", async () => {
    const sourceRoot = path.join(workDir, "battle-monitor/services");
    setConfig(freshDev(sourceRoot));
    const problems = freshDevProblems(sourceRoot);
    const result = await runner("up");
    expectEachOnce(result, problems);
    // What depends on timing: how long each step and the update took, the blank lines at the end.
    const stdout = result.stdout
      .replace(/\(\d+(\.\d+)?s\)/g, "(<time>)")
      .replace(/^Duration: \d+s$/m, "Duration: <time>")
      .replace(/\n+$/, "\n");
    expect(stdout).toBe(
      [
        `Updating (${STACK}):`,
        "",
        ` +  pulumi:pulumi:Stack battlescope-${STACK} creating (<time>) `,
        ` +  pulumi:pulumi:Stack battlescope-${STACK} creating (<time>) error: invalid stack config:`,
        ` +  pulumi:pulumi:Stack battlescope-${STACK} **creating failed (<time>)** 1 error`,
        "Diagnostics:",
        `  pulumi:pulumi:Stack (battlescope-${STACK}):`,
        "    error: invalid stack config:",
        ...problems.map((problem) => `      - ${problem}`),
        "",
        "Resources:",
        "    + 1 created",
        "    1 errored",
        "",
        "Duration: <time>",
        "",
      ].join("\n"),
    );
    expect(result.stderr).toBe(
      `stack: pulumi up --stack ${STACK} failed (exit 1): see the error above\n`,
    );
  });
});
