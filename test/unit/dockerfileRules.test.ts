// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are Dockerfile text and messages quoting it, where ${VAR} is Dockerfile syntax
import * as fs from "node:fs";
import * as path from "node:path";
import { DockerfileParser, type From } from "dockerfile-ast";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../lib/config";
import { checkDockerfile, formatViolation } from "../../lib/dockerfileRules";
import { declareRelease, type ProgramInputs } from "../../program";
import { SERVICES } from "../../services/catalog";
import { freshDatabaseStatus } from "../support/vulnerabilityDatabase";

const CASES = path.join(__dirname, "../fixtures/dockerfiles");
const BATTLESCOPE = path.join(__dirname, "../../fixtures/battlescope");
const DEBIAN_SEED = path.join(__dirname, "../../scripts/local-services/seed-debian-base.sh");

/** The formatted violations of a fixture Dockerfile, named by its file name. */
function violationsOf(name: string): string[] {
  return checkDockerfile(name, fs.readFileSync(path.join(CASES, name), "utf8")).map(
    formatViolation,
  );
}

function violationsOfText(text: string): string[] {
  return checkDockerfile("Dockerfile", text).map(formatViolation);
}

const ONE_STAGE =
  "only one stage (one FROM); build in a first stage (FROM <image>:<version> AS build) and COPY --from=build only what the image runs into a final stage";
const MULTI_STAGE = `multi-stage: ${ONE_STAGE}`;
const NO_USER =
  "non-root-user: the final stage sets no USER, so the container runs as root; add a non-root USER (e.g. USER 10001:10001) after its last step that needs root";
const REMOTE_FIX =
  "fetches a remote source at build time, unverified; put it in the build context and COPY it, or fetch and verify it (checksum or pinned commit) in a build stage and COPY --from that stage";
const DIGEST = "sha256:0a4eaa0eecf5f8c050e5bba433f58c052be7587ee8af3e8b3910ef9ab5fbe9f5";

describe("the BattleScope build contexts", () => {
  it.each(SERVICES.map((service) => ({ name: service.buildContext })))(
    "$name/Dockerfile follows every rule",
    ({ name }) => {
      const file = path.join(BATTLESCOPE, name, "Dockerfile");
      expect(checkDockerfile(file, fs.readFileSync(file, "utf8"))).toEqual([]);
    },
  );

  const parsed = SERVICES.map((service) => {
    const file = path.join(BATTLESCOPE, service.buildContext, "Dockerfile");
    return {
      name: service.name,
      dockerfile: DockerfileParser.parse(fs.readFileSync(file, "utf8")),
    };
  });

  it("build only on the base images the local services seed (busybox 1.35.0, the Debian point release of seed-debian-base.sh)", () => {
    const debian = /BATTLESCOPE_DEBIAN_VERSION:-([0-9.]+)\}/.exec(
      fs.readFileSync(DEBIAN_SEED, "utf8"),
    )?.[1];
    expect(debian).toMatch(/^12\.\d+$/);
    const seeded = ["busybox:1.35.0", `debian:${debian}-slim`];
    for (const { name, dockerfile } of parsed) {
      const stages = dockerfile.getFROMs().flatMap((from) => from.getBuildStage() ?? []);
      const bases = dockerfile
        .getFROMs()
        .map((from) => from.getImage() ?? "")
        .filter((image) => !stages.includes(image));
      expect(
        bases.filter((image) => !seeded.includes(image)),
        name,
      ).toEqual([]);
    }
  });

  it("at least two follow the spec's pattern: a final stage that runs steps of its own on the target platform, after a build stage on it", () => {
    const onTarget = (from: From) => !from.getFlags().some((flag) => flag.getName() === "platform");
    const realistic = parsed.filter(({ dockerfile }) => {
      const froms = dockerfile.getFROMs();
      const instructions = dockerfile.getInstructions();
      const runsSteps = (index: number) =>
        instructions
          .slice(
            instructions.indexOf(froms[index] as From) + 1,
            index + 1 < froms.length ? instructions.indexOf(froms[index + 1] as From) : undefined,
          )
          .some((instruction) => instruction.getKeyword() === "RUN");
      const last = froms.length - 1;
      return (
        last > 0 &&
        onTarget(froms[last] as From) &&
        runsSteps(last) &&
        froms.slice(0, last).some((from, index) => onTarget(from) && runsSteps(index))
      );
    });
    expect(realistic.map(({ name }) => name)).toEqual(["battle-service", "notification-service"]);
  });
});

describe("good Dockerfiles", () => {
  const good = fs.readdirSync(CASES).filter((name) => name.startsWith("good-"));

  it("has cases", () => {
    expect(good.length).toBeGreaterThanOrEqual(5);
  });

  it.each(good.map((name) => ({ name })))("$name has no violation", ({ name }) => {
    expect(violationsOf(name)).toEqual([]);
  });
});

describe("bad Dockerfiles", () => {
  const cases: Array<{ name: string; violations: string[] }> = [
    {
      name: "bad-single-stage.Dockerfile",
      violations: [`bad-single-stage.Dockerfile:1: ${MULTI_STAGE}`],
    },
    {
      name: "bad-no-from.Dockerfile",
      violations: [
        "bad-no-from.Dockerfile:1: multi-stage: no FROM instruction; a Dockerfile needs a build stage and a final stage, each starting with FROM <image>:<version>",
      ],
    },
    {
      name: "bad-latest-base.Dockerfile",
      violations: [
        'bad-latest-base.Dockerfile:4: pinned-base-image: busybox:latest is not pinned to a version ("latest" moves); use a version tag, e.g. busybox:<version>',
      ],
    },
    {
      name: "bad-untagged-base.Dockerfile",
      violations: [
        "bad-untagged-base.Dockerfile:1: pinned-base-image: golang has no tag, so it pulls golang:latest; pin a version tag, e.g. golang:<version>",
      ],
    },
    {
      name: "bad-floating-tag.Dockerfile",
      violations: [
        'bad-floating-tag.Dockerfile:1: pinned-base-image: node:lts-alpine is not pinned to a version (tag "lts-alpine" has no version number and moves); use a version tag, e.g. node:<version>',
      ],
    },
    {
      name: "bad-digest-without-tag.Dockerfile",
      violations: [
        `bad-digest-without-tag.Dockerfile:1: pinned-base-image: alpine@${DIGEST} has a digest but no version tag; name the version the digest belongs to, e.g. alpine:<version>@${DIGEST}`,
      ],
    },
    {
      name: "bad-arg-base-latest.Dockerfile",
      violations: [
        'bad-arg-base-latest.Dockerfile:5: pinned-base-image: ${BASE} (busybox:latest) is not pinned to a version ("latest" moves); use a version tag, e.g. busybox:<version>',
      ],
    },
    {
      name: "bad-arg-base-without-default.Dockerfile",
      violations: [
        "bad-arg-base-without-default.Dockerfile:2: pinned-base-image: alpine:${ALPINE_VERSION} cannot be checked: ARG ALPINE_VERSION has no default before the first FROM; give it a pinned default (ARG ALPINE_VERSION=<version>) or write the image literally",
      ],
    },
    {
      name: "bad-arg-base-undeclared.Dockerfile",
      violations: [
        "bad-arg-base-undeclared.Dockerfile:6: pinned-base-image: alpine:$RUNTIME_TAG cannot be checked: ARG RUNTIME_TAG is not declared before the first FROM; declare it there with a pinned default (ARG RUNTIME_TAG=<version>) or write the image literally",
      ],
    },
    {
      name: "bad-no-user.Dockerfile",
      violations: [`bad-no-user.Dockerfile:5: ${NO_USER}`],
    },
    {
      name: "bad-root-user.Dockerfile",
      violations: [
        "bad-root-user.Dockerfile:7: non-root-user: the final stage runs as root (USER root); end it with a non-root user, e.g. USER 10001:10001",
      ],
    },
    {
      name: "bad-root-uid.Dockerfile",
      violations: [
        "bad-root-uid.Dockerfile:6: non-root-user: the final stage runs as root (USER 0:0); end it with a non-root user, e.g. USER 10001:10001",
      ],
    },
    {
      name: "bad-root-user-from-arg.Dockerfile",
      violations: [
        "bad-root-user-from-arg.Dockerfile:7: non-root-user: the final stage runs as root (USER ${APP_UID}:${APP_UID}, which is 0:0); end it with a non-root user, e.g. USER 10001:10001",
      ],
    },
    {
      name: "bad-root-user-inherited.Dockerfile",
      violations: [
        "bad-root-user-inherited.Dockerfile:3: non-root-user: the final stage runs as root (USER root, inherited from the stage it is built on); end it with a non-root user, e.g. USER 10001:10001",
      ],
    },
    {
      name: "bad-user-arg-without-default.Dockerfile",
      violations: [
        "bad-user-arg-without-default.Dockerfile:7: non-root-user: USER $APP_UID cannot be checked: APP_UID has no value here; give ARG APP_UID a non-root default (ARG APP_UID=10001) or write the user literally, e.g. USER 10001:10001",
      ],
    },
    {
      name: "bad-remote-add.Dockerfile",
      violations: [
        `bad-remote-add.Dockerfile:2: no-remote-add: ADD https://example.invalid/tool-1.2.3.tar.gz ${REMOTE_FIX}`,
        `bad-remote-add.Dockerfile:3: no-remote-add: ADD http://example.invalid/config.json ${REMOTE_FIX}`,
        `bad-remote-add.Dockerfile:4: no-remote-add: ADD git@example.invalid:battlescope/protos.git#v1.0.0 ${REMOTE_FIX}`,
      ],
    },
    {
      name: "bad-everything.Dockerfile",
      violations: [
        `bad-everything.Dockerfile:1: ${MULTI_STAGE}`,
        "bad-everything.Dockerfile:1: pinned-base-image: ubuntu has no tag, so it pulls ubuntu:latest; pin a version tag, e.g. ubuntu:<version>",
        `bad-everything.Dockerfile:1: ${NO_USER}`,
        `bad-everything.Dockerfile:2: no-remote-add: ADD https://example.invalid/app.tar.gz ${REMOTE_FIX}`,
      ],
    },
  ];

  it("covers every bad fixture", () => {
    const bad = fs.readdirSync(CASES).filter((name) => name.startsWith("bad-"));
    expect(cases.map((c) => c.name).sort()).toEqual(bad.sort());
  });

  it.each(cases)("$name", ({ name, violations }) => {
    expect(violationsOf(name)).toEqual(violations);
  });
});

describe("details of the rules", () => {
  it("reports each violation with its file, 1-based line and rule", () => {
    expect(checkDockerfile("ctx/Dockerfile", "\n\nFROM busybox:1.36.1\nUSER 1\n")).toEqual([
      { file: "ctx/Dockerfile", line: 3, rule: "multi-stage", message: ONE_STAGE },
    ]);
  });

  it.each([
    { name: "lowercase instructions", text: "from a:1 as b\nfrom b\nuser 1\n" },
    { name: "a stage name in another case", text: "FROM a:1 AS Build\nFROM build\nUSER app\n" },
    { name: "a registry port and a path", text: "FROM r.invalid:5000/a/b:1.2\nFROM b:3\nUSER 7\n" },
    { name: "a ${VAR:-default} tag", text: "ARG T\nFROM a:${T:-1.2}\nFROM b:2\nUSER 7\n" },
    { name: "a ${VAR:+word} tag", text: "ARG T=x\nFROM a:${T:+1.2}\nFROM b:2\nUSER 7\n" },
    { name: "a group of 0 for a non-root user", text: "FROM a:1\nFROM b:2\nUSER 10001:0\n" },
    { name: "a local ADD in JSON form", text: 'FROM a:1\nFROM b:2\nADD ["x.tgz", "/x"]\nUSER 7\n' },
    {
      name: "a multi-line FROM with a platform flag",
      text: "FROM --platform=$BUILDPLATFORM \\\n  a:1 AS build\nFROM b:2\nUSER 7\n",
    },
  ])("accepts $name", ({ text }) => {
    expect(violationsOfText(text)).toEqual([]);
  });

  it.each([
    {
      name: "user 00",
      text: "FROM a:1\nFROM b:2\nUSER 00\n",
      violation:
        "Dockerfile:3: non-root-user: the final stage runs as root (USER 00); end it with a non-root user, e.g. USER 10001:10001",
    },
    {
      name: "a USER only in the build stage",
      text: "FROM a:1 AS build\nUSER 7\nFROM b:2\n",
      violation: `Dockerfile:3: ${NO_USER}`,
    },
    {
      name: "an ARG default that refers to an earlier ARG",
      text: "ARG T=latest\nARG IMAGE=a:${T}\nFROM ${IMAGE}\nFROM b:2\nUSER 7\n",
      violation:
        'Dockerfile:3: pinned-base-image: ${IMAGE} (a:latest) is not pinned to a version ("latest" moves); use a version tag, e.g. a:<version>',
    },
    {
      name: "a BuildKit platform ARG in the image",
      text: "FROM a:1-${TARGETARCH}\nFROM b:2\nUSER 7\n",
      violation:
        "Dockerfile:1: pinned-base-image: a:1-${TARGETARCH} cannot be checked: ARG TARGETARCH is not declared before the first FROM; declare it there with a pinned default (ARG TARGETARCH=<version>) or write the image literally",
    },
    {
      name: "a remote ADD in the final stage, upper case scheme",
      text: "FROM a:1\nFROM b:2\nADD --chmod=644 HTTPS://example.invalid/x /x\nUSER 7\n",
      violation: `Dockerfile:3: no-remote-add: ADD HTTPS://example.invalid/x ${REMOTE_FIX}`,
    },
    {
      name: "a git URL",
      text: "FROM a:1\nADD git://example.invalid/repo.git /src\nFROM b:2\nUSER 7\n",
      violation: `Dockerfile:2: no-remote-add: ADD git://example.invalid/repo.git ${REMOTE_FIX}`,
    },
  ])("refuses $name", ({ text, violation }) => {
    expect(violationsOfText(text)).toEqual([violation]);
  });
});

describe("at preview", () => {
  const SOURCE_ROOT = "/work/project/src";
  const files = (overrides: Record<string, string | undefined>) => (file: string) => {
    const relative = path.relative(SOURCE_ROOT, file);
    if (relative in overrides) return overrides[relative];
    return fs.readFileSync(path.join(BATTLESCOPE, relative), "utf8");
  };
  const inputs = (
    config: Record<string, string>,
    readFile: (file: string) => string | undefined,
  ): ProgramInputs => {
    const values: Record<string, string> = {
      sourceRoot: "src",
      publishDescriptions: "false",
      deploy: "false",
      ...config,
    };
    return {
      readConfig: (key) => values[key],
      configKeys: Object.keys(values).map((key) => `battlescope:${key}`),
      secrets: {},
      listTags: () => Promise.reject(new Error("the registry is not read before the checks pass")),
      readPublished: () => Promise.reject(new Error("not read")),
      hashSources: () => "sha256:0",
      gitShortSha: () => "abcdef1",
      projectDir: "/work/project",
      buildContextExists: () => true,
      readFile,
      checkKubernetesApi: async () => {},
      checkSigningKey: async () => {},
      readDatabaseStatus: freshDatabaseStatus,
      today: new Date(),
      readSourceFacts: () => ({ uri: "file:///work/project/src", dirty: false }),
    };
  };

  it("refuses every broken Dockerfile and a stable version missing from the CHANGELOG at once", async () => {
    const refusal = await declareRelease(
      inputs(
        { version: "v3.2.0", versions: '{"frontend":"v3.1.0"}' },
        files({
          "init/Dockerfile": fs.readFileSync(
            path.join(CASES, "bad-latest-base.Dockerfile"),
            "utf8",
          ),
          "frontend/Dockerfile": fs.readFileSync(
            path.join(CASES, "bad-no-user.Dockerfile"),
            "utf8",
          ),
        }),
      ),
    ).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ConfigError);
    expect((refusal as ConfigError).problems).toEqual([
      `${SOURCE_ROOT}/frontend/Dockerfile:5: ${NO_USER}`,
      `${SOURCE_ROOT}/init/Dockerfile:4: pinned-base-image: busybox:latest is not pinned to a version ("latest" moves); use a version tag, e.g. busybox:<version>`,
      `${SOURCE_ROOT}/CHANGELOG.md: changelog: no entry for v3.2.0; add a "## [3.2.0] - YYYY-MM-DD" section saying what changed in it, or turn the check off on a stack that releases without one: \`pulumi config set battlescope:requireChangelog false\``,
    ]);
  });

  it("refuses a stable release without a CHANGELOG unless the stack turns the check off", async () => {
    const noChangelog = files({ "CHANGELOG.md": undefined });
    await expect(declareRelease(inputs({ version: "v3.1.0" }, noChangelog))).rejects.toThrow(
      `${SOURCE_ROOT}/CHANGELOG.md: changelog: not found; a stable release (v3.1.0) needs an entry`,
    );
    // Past the checks, the program reads the registry: the stub refuses, so nothing is declared.
    const passing: Array<Record<string, string>> = [
      { version: "v3.1.0", requireChangelog: "false" },
      { version: "v3.1.1-dev-abcdef1" },
      { version: "v3.2.0-rc.1" },
    ];
    for (const config of passing) {
      await expect(declareRelease(inputs(config, noChangelog))).rejects.toThrow(
        "the registry is not read before the checks pass",
      );
    }
  });
});
