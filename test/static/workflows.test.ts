/**
 * Every GitHub Actions workflow passes actionlint (with shellcheck on the `run:` scripts), at the
 * version pinned in scripts/versions.env. Nothing is skipped: a missing actionlint or shellcheck
 * fails with what to run.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { which } from "../../clients/which";
import { makeTempDir } from "../support/tempDirs";

const REPO_ROOT = path.resolve(__dirname, "../..");
const WORKFLOWS = path.join(REPO_ROOT, ".github/workflows");
const CACHE_BIN = path.join(
  process.env.BATTLESCOPE_CACHE ?? path.join(os.homedir(), ".cache/battlescope"),
  "bin",
);
/** The toolchain's bin folder is searched after PATH, so `npm run test:unit` finds it too. */
const SEARCH_PATH = [process.env.PATH ?? "", CACHE_BIN].filter(Boolean).join(path.delimiter);

function pinnedVersion(): string {
  const env = fs.readFileSync(path.join(REPO_ROOT, "scripts/versions.env"), "utf8");
  const match = /^ACTIONLINT_VERSION=(\S+)$/m.exec(env);
  if (match === null) throw new Error("scripts/versions.env pins no ACTIONLINT_VERSION");
  return match[1] as string;
}

function requireTool(command: string, install: string): string {
  const found = which(command, SEARCH_PATH);
  if (found === undefined) {
    throw new Error(`${command} is not on PATH nor in ${CACHE_BIN}: ${install}`);
  }
  return found;
}

const ACTIONLINT_INSTALL =
  "run `bash scripts/toolchain.sh` (builds it at the version in scripts/versions.env), or `go install github.com/rhysd/actionlint/cmd/actionlint@<ACTIONLINT_VERSION>`";

function actionlint(...args: string[]) {
  const binary = requireTool("actionlint", ACTIONLINT_INSTALL);
  const result = spawnSync(binary, ["-no-color", ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: { ...process.env, PATH: SEARCH_PATH },
    timeout: 60_000,
  });
  if (result.error !== undefined) throw result.error;
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

interface SetupStep {
  readonly where: string;
  readonly action: string;
  readonly with: Record<string, unknown>;
}

/** The steps of every job of a workflow that use an action, with their inputs as written. */
function setupSteps(file: string): SetupStep[] {
  const workflow = parse(fs.readFileSync(path.join(WORKFLOWS, file), "utf8")) as {
    jobs?: Record<string, { steps?: { uses?: unknown; with?: Record<string, unknown> }[] }>;
  };
  return Object.entries(workflow.jobs ?? {}).flatMap(([job, { steps = [] }]) =>
    steps.flatMap((step, index) =>
      typeof step.uses === "string"
        ? [
            {
              where: `${file}: jobs.${job}.steps[${index}] (${step.uses})`,
              action: step.uses.split("@")[0] as string,
              with: step.with ?? {},
            },
          ]
        : [],
    ),
  );
}

interface WorkflowStep {
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Record<string, unknown>;
}

interface Workflow {
  readonly on?: Record<string, unknown>;
  readonly env?: Record<string, unknown>;
  readonly jobs?: Record<string, { env?: Record<string, unknown>; steps?: WorkflowStep[] }>;
}

const DOWNLOAD_GRYPE = "anchore/scan-action/download-grype";
/** A step that previews or updates a stack, or re-scans what one deploys. */
const STACK_RUN =
  /\bpulumi (?:preview|up)\b|\bstack -- up\b|\bimages -- scan\b|battlescope-images scan\b/;

const action = (step: WorkflowStep) => step.uses?.split("@")[0];

/**
 * How a workflow gets grype and its database, per job that runs a stack (or the re-scan): the
 * jobs it checked and what is wrong, one line each. A stack scans every release offline against
 * the database its `battlescope:vulnerabilityDb` names, so the job installs grype at the pinned
 * version and downloads the database there before the first stack command.
 */
function grypeProblems(
  file: string,
  text: string,
  grypeVersion: string,
): { jobs: string[]; problems: string[] } {
  const problems: string[] = [];
  for (const [, version] of text.matchAll(/\banchore\/grype\/cmd\/grype@(v[\w.-]+)/g)) {
    if (version !== grypeVersion)
      problems.push(`${file}: go installs grype ${version}, not ${grypeVersion}`);
  }
  const workflow = parse(text) as Workflow;
  const jobs: string[] = [];
  for (const [name, job] of Object.entries(workflow.jobs ?? {})) {
    const where = `${file}: jobs.${name}`;
    const steps = job.steps ?? [];
    steps.forEach((step, index) => {
      const version = step.with?.["grype-version"];
      if (action(step) === DOWNLOAD_GRYPE && version !== grypeVersion) {
        problems.push(
          `${where}.steps[${index}] installs grype ${String(version ?? "(its default)")}, not ${grypeVersion}`,
        );
      }
    });
    const first = steps.findIndex((step) => STACK_RUN.test(step.run ?? ""));
    if (first === -1) continue;
    jobs.push(`${file}: ${name}`);
    const before = (found: (step: WorkflowStep) => boolean) => {
      const index = steps.findIndex(found);
      return index !== -1 && index < first;
    };
    if (
      !before(
        (step) => action(step) === DOWNLOAD_GRYPE || /grype\/cmd\/grype@/.test(step.run ?? ""),
      )
    ) {
      problems.push(`${where} runs the stack without installing grype first`);
    }
    if (!before((step) => /\bdb update\b/.test(step.run ?? ""))) {
      problems.push(
        `${where} runs the stack without downloading grype's database first (grype db update)`,
      );
    }
    const cacheDir = job.env?.GRYPE_DB_CACHE_DIR ?? workflow.env?.GRYPE_DB_CACHE_DIR;
    if (typeof cacheDir !== "string" || cacheDir === "") {
      problems.push(`${where} sets no GRYPE_DB_CACHE_DIR (where grype db update writes)`);
    }
    const pointsAtIt = /pulumi config set battlescope:vulnerabilityDb "\$GRYPE_DB_CACHE_DIR"/;
    if (!before((step) => pointsAtIt.test(step.run ?? ""))) {
      problems.push(
        `${where} does not set battlescope:vulnerabilityDb to $GRYPE_DB_CACHE_DIR before it runs the stack`,
      );
    }
  }
  return { jobs, problems };
}

function grypeVersion(): string {
  const env = fs.readFileSync(path.join(REPO_ROOT, "scripts/versions.env"), "utf8");
  const version = /^GRYPE_VERSION=(\S+)$/m.exec(env)?.[1];
  if (version === undefined) throw new Error("scripts/versions.env pins no GRYPE_VERSION");
  return version;
}

const readWorkflow = (file: string) => fs.readFileSync(path.join(WORKFLOWS, file), "utf8");

const workflowFiles = fs
  .readdirSync(WORKFLOWS)
  .filter((name) => /\.ya?ml$/.test(name))
  .sort();

describe("GitHub Actions workflows", () => {
  it("actionlint is the pinned version and shellcheck is there to check run: scripts", () => {
    const first = actionlint("-version").output.split("\n")[0];
    expect(first, `actionlint on PATH is ${first}; ${ACTIONLINT_INSTALL}`).toBe(pinnedVersion());
    requireTool("shellcheck", "install Debian's shellcheck (scripts/toolchain.sh does)");
  });

  it("are the release pipeline's workflows", () => {
    expect(workflowFiles).toEqual(
      expect.arrayContaining([
        "dev.yml",
        "preview.yml",
        "release.yml",
        "retention.yml",
        "scan.yml",
      ]),
    );
  });

  for (const file of workflowFiles) {
    it(`actionlint passes on ${file}`, () => {
      const { code, output } = actionlint(path.join(".github/workflows", file));
      expect(output).toBe("");
      expect(code).toBe(0);
    });
  }

  it("pin every action to a version, and Node and the Pulumi CLI to the toolchain's", () => {
    const env = fs.readFileSync(path.join(REPO_ROOT, "scripts/versions.env"), "utf8");
    const pulumi = /^PULUMI_VERSION=v(\S+)$/m.exec(env)?.[1];
    const node = /^NODE_VERSION=v(\S+)$/m.exec(env)?.[1];
    expect(pulumi, "scripts/versions.env pins PULUMI_VERSION").toMatch(/^\d+\.\d+\.\d+$/);
    expect(node, "scripts/versions.env pins NODE_VERSION").toMatch(/^24\.\d+\.\d+$/);
    for (const file of workflowFiles) {
      const text = fs.readFileSync(path.join(WORKFLOWS, file), "utf8");
      for (const [, action] of text.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)/gm)) {
        expect(action, `${file}: ${action}`).toMatch(/^[\w.-]+\/[\w./-]+@v?\d+(\.\d+)*$/);
      }
    }
    // Every setup step names its version: an unpinned one installs whatever is newest that day.
    const setups = workflowFiles.flatMap((file) => setupSteps(file));
    const nodes = setups.filter((step) => step.action === "actions/setup-node");
    const pulumis = setups.filter((step) => step.action === "pulumi/actions");
    expect(nodes.length, "workflows that set up Node").toBeGreaterThanOrEqual(workflowFiles.length);
    expect(pulumis.length, "workflows that install the Pulumi CLI").toBeGreaterThan(0);
    for (const step of nodes) expect(step.with["node-version"], step.where).toBe(node);
    for (const step of pulumis) expect(step.with["pulumi-version"], step.where).toBe(pulumi);
  });

  it("install cosign and syft at the toolchain's versions, and build battlescope-sbom, wherever a stack signs, with the key from secrets", () => {
    const env = fs.readFileSync(path.join(REPO_ROOT, "scripts/versions.env"), "utf8");
    const cosign = /^COSIGN_VERSION=(\S+)$/m.exec(env)?.[1];
    const syft = /^SYFT_VERSION=(\S+)$/m.exec(env)?.[1];
    expect(cosign, "scripts/versions.env pins COSIGN_VERSION").toMatch(/^v\d+\.\d+\.\d+$/);
    expect(syft, "scripts/versions.env pins SYFT_VERSION").toMatch(/^v\d+\.\d+\.\d+$/);
    const setups = workflowFiles.flatMap((file) => setupSteps(file));
    const cosigns = setups.filter((step) => step.action === "sigstore/cosign-installer");
    const syfts = setups.filter((step) => step.action === "anchore/sbom-action/download-syft");
    for (const step of cosigns) expect(step.with["cosign-release"], step.where).toBe(cosign);
    for (const step of syfts) expect(step.with["syft-version"], step.where).toBe(syft);
    // Every job that sets the signing key installs both tools.
    for (const file of workflowFiles) {
      const workflow = parse(fs.readFileSync(path.join(WORKFLOWS, file), "utf8")) as {
        jobs?: Record<string, { steps?: Array<{ uses?: string; run?: string; env?: unknown }> }>;
      };
      const signing = Object.entries(workflow.jobs ?? {}).filter(([, job]) =>
        (job.steps ?? []).some((step) => step.run?.includes("battlescope:cosignKey")),
      );
      for (const [name, job] of signing) {
        const uses = (job.steps ?? []).map((step) => step.uses?.split("@")[0]);
        expect(uses, `${file}: jobs.${name} installs cosign`).toContain(
          "sigstore/cosign-installer",
        );
        expect(uses, `${file}: jobs.${name} installs syft`).toContain(
          "anchore/sbom-action/download-syft",
        );
        // The SBOM server is built from this repository's module, so its syft is the pinned one.
        const sbomServer = (job.steps ?? []).find((step) =>
          step.run?.includes('-o "$RUNNER_TEMP/bin/battlescope-sbom"'),
        );
        expect(sbomServer?.run, `${file}: jobs.${name} builds battlescope-sbom`).toContain(
          "go -C scripts/toolchain/sbom build -mod=readonly",
        );
        expect(sbomServer?.run, `${file}: jobs.${name} puts battlescope-sbom on PATH`).toContain(
          'echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"',
        );
        expect(JSON.stringify(job.steps)).toContain("secrets.COSIGN_PRIVATE_KEY");
      }
      if (["dev.yml", "release.yml", "preview.yml"].includes(file)) {
        expect(signing.length, `${file} sets the signing key`).toBeGreaterThan(0);
      }
    }
  });

  it("install grype at the toolchain's version and download its database before any stack runs", () => {
    const version = grypeVersion();
    expect(version, "scripts/versions.env pins GRYPE_VERSION").toMatch(/^v\d+\.\d+\.\d+$/);
    const checked = workflowFiles.map((file) => grypeProblems(file, readWorkflow(file), version));
    expect(checked.flatMap((result) => result.problems)).toEqual([]);
    expect(checked.flatMap((result) => result.jobs)).toEqual([
      "dev.yml: dev",
      "preview.yml: preview",
      "release.yml: release",
      "scan.yml: scan",
    ]);
  });

  it("the grype check fails a job without the database, another grype, or the config key", () => {
    const version = grypeVersion();
    const dev = readWorkflow("dev.yml");
    const cases: Array<[string, string, string]> = [
      [
        "no db update",
        dev.replace('"$GRYPE" db update', '"$GRYPE" version'),
        "jobs.dev runs the stack without downloading grype's database first (grype db update)",
      ],
      [
        "another grype",
        dev.replace(`grype-version: ${version}`, "grype-version: v0.99.0"),
        `installs grype v0.99.0, not ${version}`,
      ],
      [
        "grype's default",
        dev.replace(`grype-version: ${version}`, ""),
        `installs grype (its default), not ${version}`,
      ],
      [
        "no vulnerabilityDb",
        dev.replace('battlescope:vulnerabilityDb "', 'battlescope:vulnerabilityDatabase "'),
        "jobs.dev does not set battlescope:vulnerabilityDb to $GRYPE_DB_CACHE_DIR before it runs the stack",
      ],
      [
        "no GRYPE_DB_CACHE_DIR",
        dev.replace("GRYPE_DB_CACHE_DIR: ${{", "GRYPE_DB_DIR: ${{"),
        "jobs.dev sets no GRYPE_DB_CACHE_DIR (where grype db update writes)",
      ],
      [
        "go install of another grype",
        `${dev}# go install github.com/anchore/grype/cmd/grype@v0.120.0\n`,
        `dev.yml: go installs grype v0.120.0, not ${version}`,
      ],
    ];
    for (const [name, text, problem] of cases) {
      expect(text, name).not.toBe(dev);
      const { problems } = grypeProblems("dev.yml", text, version);
      expect(
        problems.some((found) => found.includes(problem)),
        `${name}: ${problems.join("; ")}`,
      ).toBe(true);
    }
  });

  it("re-scan what prod deploys daily (scan.yml), failing the job on a finding", () => {
    const workflow = parse(readWorkflow("scan.yml")) as Workflow;
    const schedule = workflow.on?.schedule as Array<{ cron?: string }> | undefined;
    expect(schedule?.map((entry) => entry.cron)).toEqual([
      expect.stringMatching(/^\d+ \d+ \* \* \*$/),
    ]);
    expect(Object.keys(workflow.on ?? {})).toContain("workflow_dispatch");
    const job = workflow.jobs?.scan;
    expect(job?.env?.STACK).toBe("prod");
    const scan = (job?.steps ?? []).find((step) =>
      /\bimages -- scan --stack "\$STACK"/.test(step.run ?? ""),
    );
    // The command's exit code is the job's: a pipe into the summary must not swallow it.
    expect(scan?.run).toContain('exit "$status"');
    expect(scan?.run).toContain("PIPESTATUS[0]");
  });

  it("no workflow mentions trivy any more: the stack scans every release itself", () => {
    const mentioning = workflowFiles.filter((file) => /trivy/i.test(readWorkflow(file)));
    expect(mentioning).toEqual([]);
  });

  it("actionlint does fail a broken workflow (the check is not vacuous)", () => {
    const broken = path.join(makeTempDir("actionlint"), "broken.yml");
    fs.writeFileSync(
      broken,
      [
        "on: push",
        "jobs:",
        "  build:",
        "    runs-on: ubuntu-24.04",
        "    steps:",
        "      - run: echo $UNQUOTED",
        "      - uses: actions/checkout@v4",
        "        with:",
        "          no-such-input: true",
        "",
      ].join("\n"),
    );
    const { code, output } = actionlint(broken);
    expect(code).toBe(1);
    expect(output).toContain('input "no-such-input" is not defined');
    expect(output).toContain("shellcheck reported issue");
  });
});
