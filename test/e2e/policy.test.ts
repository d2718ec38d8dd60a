/**
 * The policy pack on the real engine: `pulumi preview --policy-pack policy` through the
 * Automation API. The release program is compliant, so it passes; breaking the one rule config can
 * break (platforms) fails. The other rules are broken in a small fixture program that declares
 * the same resource types (a Deployment rendered to a folder, docker-build Images and Indexes that
 * do not build on preview, the Docker Hub repository dynamic resource), one rule at a time.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as dockerBuild from "@pulumi/docker-build";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BattlescopeDynamicResource } from "../../components/dynamicProvider";
import { dockerHubRepositoryProvider } from "../../components/hubRepository";
import { RULES } from "../../policy/rules";
import { REPO_ROOT } from "../../scripts/stack";
import { makeTempDir } from "../support/tempDirs";
import {
  accessLogMark,
  accessLogSince,
  createE2eStack,
  type E2eStack,
  FIXTURES,
  failureOf,
  pushes,
  REGISTRY,
  uniqueOrganization,
} from "./harness";

const POLICY_PACK = path.join(REPO_ROOT, "policy");
const RULE_NAMES = RULES.map((rule) => rule.name);

/** `[mandatory]  <rule>  (<type>: <name>)`, as the engine lists a violation. */
function violationLine(rule: string, type: string, name: string): string {
  return `[mandatory]  ${rule}  (${type}: ${name})`;
}

/** The rules a failed preview names. */
function violatedRules(output: string): string[] {
  return RULE_NAMES.filter((rule) => output.includes(`[mandatory]  ${rule}  (`));
}

function preview(stack: Stack) {
  return stack.preview({ color: "never", policyPacks: [POLICY_PACK] });
}

beforeAll(() => {
  if (!fs.existsSync(path.join(POLICY_PACK, "node_modules/@pulumi/policy"))) {
    throw new Error(
      "the policy pack's dependencies are not installed: run `npm ci` in policy/ (npm test does)",
    );
  }
});

describe.sequential("the policy pack on the release program", () => {
  let e2e: E2eStack;
  beforeAll(async () => {
    e2e = await createE2eStack("e2epol");
  });
  afterAll(async () => e2e?.close());

  it("preview of the stack passes every policy, and pushes nothing", async () => {
    const mark = accessLogMark();
    const result = await preview(e2e.stack);
    expect(result.stdout).toContain(`✅ battlescope@v0.1.0 (local: ${POLICY_PACK})`);
    expect(violatedRules(result.stdout)).toEqual([]);
    expect(pushes(accessLogSince(mark, e2e.organization))).toEqual([]);
  });

  it("platforms [linux/amd64] fails images-both-platforms for every image, and pushes nothing", async () => {
    await e2e.stack.setConfig("battlescope:platforms", { value: '["linux/amd64"]' });
    const mark = accessLogMark();
    const failure = await failureOf(preview(e2e.stack));
    expect(violatedRules(failure)).toEqual(["images-both-platforms"]);
    for (const service of ["frontend", "db-migrator", "init"]) {
      expect(failure).toContain(
        violationLine("images-both-platforms", "docker-build:index:Image", `${service}-amd64`),
      );
      expect(failure).toContain(
        `image ${REGISTRY}/${e2e.organization}/${service} (Image "${service}-amd64") is built for linux/amd64 only, missing linux/arm64; fix: build every image for linux/amd64 and linux/arm64`,
      );
    }
    expect(pushes(accessLogSince(mark, e2e.organization))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// The fixture program: one of each checked resource, compliant unless a rule is broken.

type Breakage =
  | "none"
  | "latest-image"
  | "untagged-image"
  | "pull-always"
  | "no-pull-secret"
  | "root-user"
  | "no-security-context"
  | "bad-image-tag"
  | "bad-index-tag"
  | "long-description";

/** `pulumi-nodejs:dynamic/battlescope:DockerHubRepository` with the release's own provider. */
class HubRepositoryFixture extends BattlescopeDynamicResource {
  constructor(name: string, props: pulumi.Inputs) {
    super(dockerHubRepositoryProvider, "DockerHubRepository", name, props);
  }
}

const DIGEST = `sha256:${"ab".repeat(32)}`;

function fixtureProgram(organization: string, manifestsDir: string, breakage: () => Breakage) {
  return async () => {
    const broken = breakage();
    const repository = `${REGISTRY}/${organization}/frontend`;
    const provider = new k8s.Provider("render", { renderYamlToDirectory: manifestsDir });
    const image =
      broken === "latest-image"
        ? `${repository}:latest`
        : broken === "untagged-image"
          ? repository
          : `${repository}:v3.0.0@${DIGEST}`;
    const podSecurity =
      broken === "root-user"
        ? { runAsUser: 0 }
        : broken === "no-security-context"
          ? undefined
          : { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001 };
    const labels = { "app.kubernetes.io/name": "frontend" };
    new k8s.apps.v1.Deployment(
      "frontend",
      {
        metadata: { name: "frontend", namespace: "battlescope", labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              ...(broken === "no-pull-secret"
                ? {}
                : { imagePullSecrets: [{ name: "docker-hub-creds" }] }),
              ...(podSecurity === undefined ? {} : { securityContext: podSecurity }),
              containers: [
                {
                  name: "frontend",
                  image,
                  imagePullPolicy: broken === "pull-always" ? "Always" : "IfNotPresent",
                  ports: [{ name: "http", containerPort: 8080 }],
                },
              ],
            },
          },
        },
      },
      { provider },
    );

    const images = (["amd64", "arm64"] as const).map(
      (arch) =>
        new dockerBuild.Image(`frontend-${arch}`, {
          push: false,
          buildOnPreview: false,
          platforms: [`linux/${arch}` as dockerBuild.Platform],
          context: { location: path.join(FIXTURES, "frontend") },
          tags: [
            broken === "bad-image-tag" && arch === "amd64"
              ? `${repository}:build-42`
              : `${repository}:v3.0.0-${arch}`,
          ],
        }),
    );
    new dockerBuild.Index("frontend-v3.0.0", {
      tag: broken === "bad-index-tag" ? `${organization}/frontend:v3.0.0` : `${repository}:v3.0.0`,
      sources: images.map((built) => built.ref),
      push: false,
    });

    // The release's own Docker Hub resource type and provider, declared directly so a text the
    // component would refuse still reaches the engine.
    new HubRepositoryFixture("frontend", {
      namespace: organization,
      repository: "frontend",
      description:
        broken === "long-description"
          ? `BattleScope V3 - Frontend - ${"a web UI that says far too much ".repeat(3)}`
          : "BattleScope V3 - Frontend - Web UI",
      fullDescription: "# Frontend",
      hubUrl: "http://127.0.0.1:9",
      username: "policy-fixture",
      token: pulumi.secret("policy-fixture-token"),
      fullName: undefined,
      created: undefined,
    });
  };
}

const FIXTURE_CASES: ReadonlyArray<{
  breakage: Breakage;
  rule: string;
  type: string;
  name: string;
  message: string;
}> = [
  {
    breakage: "latest-image",
    rule: "deployment-image-pinned",
    type: "kubernetes:apps/v1:Deployment",
    name: "frontend",
    message: `Deployment "frontend", container "frontend": "${REGISTRY}/ORG/frontend:latest" uses the floating tag "latest"; fix: set image to <registry>/<org>/<service>:<version>@sha256:<manifest list digest>`,
  },
  {
    breakage: "untagged-image",
    rule: "deployment-image-pinned",
    type: "kubernetes:apps/v1:Deployment",
    name: "frontend",
    message: `Deployment "frontend", container "frontend": "${REGISTRY}/ORG/frontend" is untagged (it means latest); fix: set image to`,
  },
  {
    breakage: "pull-always",
    rule: "deployment-pull-policy",
    type: "kubernetes:apps/v1:Deployment",
    name: "frontend",
    message: `Deployment "frontend", container "frontend": imagePullPolicy is "Always"; fix: set imagePullPolicy: IfNotPresent`,
  },
  {
    breakage: "no-pull-secret",
    rule: "deployment-pull-secret",
    type: "kubernetes:apps/v1:Deployment",
    name: "frontend",
    message: `Deployment "frontend" has no imagePullSecrets; fix: add imagePullSecrets: [{ name: "docker-hub-creds" }] to spec.template.spec`,
  },
  {
    breakage: "root-user",
    rule: "containers-non-root",
    type: "kubernetes:apps/v1:Deployment",
    name: "frontend",
    message: `Deployment "frontend", container "frontend": runs as root (runAsUser: 0 at pod level); fix: set securityContext.runAsNonRoot: true`,
  },
  {
    breakage: "no-security-context",
    rule: "containers-non-root",
    type: "kubernetes:apps/v1:Deployment",
    name: "frontend",
    message: `Deployment "frontend", container "frontend": may run as root: neither runAsNonRoot: true nor a non-zero runAsUser is set; fix:`,
  },
  {
    breakage: "bad-image-tag",
    rule: "image-names",
    type: "docker-build:index:Image",
    name: "frontend-amd64",
    message: `Image "frontend-amd64" tag "${REGISTRY}/ORG/frontend:build-42": the tag "build-42" is not <version>[-<arch>]`,
  },
  {
    breakage: "bad-index-tag",
    rule: "image-names",
    type: "docker-build:index:Index",
    name: "frontend-v3.0.0",
    message: `manifest list "frontend-v3.0.0" tag "ORG/frontend:v3.0.0": "ORG/frontend" has 2 path components; an image name is <registry>/<org>/<service>`,
  },
  {
    breakage: "long-description",
    rule: "docker-hub-short-description",
    type: "pulumi-nodejs:dynamic/battlescope:DockerHubRepository",
    name: "frontend",
    message:
      'Docker Hub repository ORG/frontend ("frontend"): short description is 124 bytes, Docker Hub allows 100 (UTF-8 bytes, not characters); fix: shorten',
  },
];

describe.sequential("the policy pack on a fixture program, one rule broken at a time", () => {
  let stack: Stack;
  let organization: string;
  let breakage: Breakage = "none";

  beforeAll(async () => {
    organization = uniqueOrganization("e2epolfx");
    const workDir = makeTempDir("policy-fixture");
    const backendDir = path.join(workDir, "backend");
    fs.mkdirSync(backendDir);
    // The dynamic provider's process starts in the work dir and resolves the SDK there.
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(workDir, "node_modules"));
    stack = await LocalWorkspace.createOrSelectStack(
      {
        projectName: "battlescope-policy-fixture",
        stackName: "e2e",
        program: fixtureProgram(organization, path.join(workDir, "manifests"), () => breakage),
      },
      {
        workDir,
        envVars: {
          PULUMI_BACKEND_URL: `file://${backendDir}`,
          PULUMI_CONFIG_PASSPHRASE: "e2e-passphrase",
        },
      },
    );
  });

  it("the fixture as written passes every policy", async () => {
    breakage = "none";
    const result = await preview(stack);
    expect(result.stdout).toContain(`✅ battlescope@v0.1.0 (local: ${POLICY_PACK})`);
    expect(violatedRules(result.stdout)).toEqual([]);
  });

  it("every rule the fixture can break is broken by one of its cases", () => {
    // images-both-platforms is broken by the release program above; releases-signed by an unsigned
    // release of a stack named prod (test/e2e/signing.test.ts, "the policy pack on a prod stack");
    // releases-scanned by the same prod stack with scan off, then with failOn medium.
    const covered = new Set([
      ...FIXTURE_CASES.map((entry) => entry.rule),
      "images-both-platforms",
      "releases-signed",
      "releases-scanned",
    ]);
    expect([...covered].sort()).toEqual([...RULE_NAMES].sort());
  });

  it.each(FIXTURE_CASES)(
    "$breakage fails $rule naming $name and the fix, and pushes nothing",
    async ({ breakage: broken, rule, type, name, message }) => {
      breakage = broken;
      const mark = accessLogMark();
      const failure = await failureOf(preview(stack));
      expect(violatedRules(failure)).toEqual([rule]);
      expect(failure).toContain(violationLine(rule, type, name));
      expect(failure).toContain(message.replaceAll("ORG", organization));
      expect(pushes(accessLogSince(mark, organization))).toEqual([]);
    },
  );
});
