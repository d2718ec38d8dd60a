/**
 * How the workflows that release build linux/arm64 (README.md#builders-in-ci): a remote arm64
 * BuildKit node from secrets when one is configured, else a native arm64 runner filling the
 * stack's registry cache, with QEMU only as the fallback; and no job but the stack pushes an
 * image (the stack publishes every platform of a version together, scanned and signed).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const WORKFLOWS = path.resolve(__dirname, "../../.github/workflows");

interface Step {
  readonly uses?: string;
  readonly run?: string;
  readonly if?: string;
  readonly with?: Record<string, unknown>;
  readonly env?: Record<string, unknown>;
}

interface Job {
  readonly "runs-on"?: unknown;
  readonly needs?: string | string[];
  readonly if?: string;
  readonly steps?: Step[];
}

/** A step that updates a stack: it builds the images. */
const STACK_UP = /\bpulumi up\b|\bstack -- up\b/;
const ARM64_RUNNER = /\bubuntu-24\.04-arm\b/;
const REMOTE_NODE_UNSET = "vars.ARM64_BUILDKIT_ENDPOINT == ''";
/** Ways a `run:` script pushes an image by itself. */
const RUN_PUSHES: ReadonlyArray<[RegExp, string]> = [
  [/\bdocker(?:-buildx| buildx)? (?:image )?push\b/, "docker push"],
  [/\bbuild(?:x build)?\b[^\n]*(?:\\\n[^\n]*)*--push\b/, "--push"],
  [/\bpush=true\b/, "an output with push=true"],
  [/(?:--output|-o)[ =]"?type=registry\b/, "an output of type=registry"],
];

const action = (step: Step) => step.uses?.split("@")[0];
const needsOf = (job: Job) =>
  job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs];

/** The problems of one workflow's text, one line each, and the jobs that build images. */
function arm64Problems(file: string, text: string): { building: string[]; problems: string[] } {
  const workflow = parse(text) as { jobs?: Record<string, Job> };
  const jobs = workflow.jobs ?? {};
  const problems: string[] = [];
  const building: string[] = [];
  for (const [name, job] of Object.entries(jobs)) {
    const where = `${file}: jobs.${name}`;
    const steps = job.steps ?? [];
    steps.forEach((step, index) => {
      const at = `${where}.steps[${index}]`;
      for (const [pattern, how] of RUN_PUSHES) {
        if (pattern.test(step.run ?? "")) {
          problems.push(`${at} pushes an image outside the stack (${how})`);
        }
      }
      const push = step.with?.push;
      if (action(step) === "docker/build-push-action" && push !== false && push !== "false") {
        problems.push(`${at} pushes an image outside the stack (docker/build-push-action)`);
      }
    });
    if (!steps.some((step) => STACK_UP.test(step.run ?? ""))) continue;
    building.push(`${file}: ${name}`);

    const native = needsOf(job).filter((need) =>
      ARM64_RUNNER.test(String(jobs[need]?.["runs-on"])),
    );
    if (native.length === 0) {
      problems.push(
        `${where} builds linux/arm64 without a native arm64 runner: it needs no job that runs on ubuntu-24.04-arm`,
      );
    } else if (!/\$\{\{\s*!cancelled\(\)\s*\}\}|^!cancelled\(\)$/.test(job.if ?? "")) {
      problems.push(
        `${where} is skipped whenever ${native.join(", ")} is: its if: must be \${{ !cancelled() }} (the arm64 layers only save time)`,
      );
    }
    for (const need of native) {
      const runs = (jobs[need]?.steps ?? []).map((step) => step.run ?? "").join("\n");
      if (
        !/--cache-to "type=registry,ref=\$cache[,"]/.test(runs) ||
        !/-buildcache:arm64\b/.test(runs)
      ) {
        problems.push(
          `${file}: jobs.${need} does not write the stack's registry cache <image>-buildcache:arm64`,
        );
      }
    }

    const qemu = steps.filter((step) => action(step) === "docker/setup-qemu-action");
    if (qemu.length === 0) {
      problems.push(`${where} has no QEMU fallback for linux/arm64 (docker/setup-qemu-action)`);
    }
    for (const step of qemu) {
      if (step.if !== REMOTE_NODE_UNSET) {
        problems.push(
          `${where} sets up QEMU with if: ${String(step.if ?? "(none)")}; expected ${REMOTE_NODE_UNSET} (QEMU is the fallback, a remote arm64 node needs none)`,
        );
      }
    }

    const config = steps.find((step) => /battlescope:builders\[/.test(step.run ?? ""));
    const script = config?.run ?? "";
    const fromSecrets = (field: string, secret: string) =>
      new RegExp(`battlescope:builderTls\\.arm64\\.${field}'`).test(script) &&
      config?.env?.[secret] === `\${{ secrets.${secret} }}`;
    if (
      !/'battlescope:builders\[1\]\.endpoint' "\$ARM64_BUILDKIT_ENDPOINT"/.test(script) ||
      !fromSecrets("ca", "ARM64_BUILDKIT_CA") ||
      !fromSecrets("cert", "ARM64_BUILDKIT_CERT") ||
      !fromSecrets("key", "ARM64_BUILDKIT_KEY")
    ) {
      problems.push(
        `${where} does not set the remote arm64 node from secrets (builders[1].endpoint from ARM64_BUILDKIT_ENDPOINT, builderTls.arm64.ca/cert/key from the secrets ARM64_BUILDKIT_CA/CERT/KEY)`,
      );
    }
  }
  return { building, problems };
}

const read = (file: string) => fs.readFileSync(path.join(WORKFLOWS, file), "utf8");
const files = fs
  .readdirSync(WORKFLOWS)
  .filter((name) => /\.ya?ml$/.test(name))
  .sort();

describe("linux/arm64 in the workflows", () => {
  it("a native arm64 runner or a remote node, QEMU as the fallback, and no image pushed outside the stack", () => {
    const checked = files.map((file) => arm64Problems(file, read(file)));
    expect(checked.flatMap((result) => result.problems)).toEqual([]);
    expect(checked.flatMap((result) => result.building)).toEqual([
      "dev.yml: dev",
      "release.yml: release",
    ]);
  });

  it("the check fails each broken variant of release.yml, naming what is wrong", () => {
    const release = read("release.yml");
    const pushingJob = (step: string) =>
      `${release}\n  extra:\n    runs-on: ubuntu-24.04\n    steps:\n${step}`;
    const cases: Array<[string, string, string]> = [
      [
        "no native arm64 runner",
        release.replace(
          "vars.ARM64_RUNNER || 'ubuntu-24.04-arm'",
          "vars.ARM64_RUNNER || 'ubuntu-24.04'",
        ),
        "release.yml: jobs.release builds linux/arm64 without a native arm64 runner: it needs no job that runs on ubuntu-24.04-arm",
      ],
      [
        "the release skipped with the arm64 job",
        release.replace(`    if: \${{ !cancelled() }}\n`, ""),
        `release.yml: jobs.release is skipped whenever arm64-layers is: its if: must be \${{ !cancelled() }} (the arm64 layers only save time)`,
      ],
      [
        "the arm64 job writes another cache",
        release.replace(
          'cache="$registry/$organization/$service-buildcache:arm64"',
          'cache="$registry/$organization/$service-cache"',
        ),
        "release.yml: jobs.arm64-layers does not write the stack's registry cache <image>-buildcache:arm64",
      ],
      [
        "no QEMU fallback",
        release.replace(
          / {6}- name: QEMU for linux\/arm64[^\n]*\n[^\n]*\n {8}uses: docker\/setup-qemu-action@v3\n/,
          "",
        ),
        "release.yml: jobs.release has no QEMU fallback for linux/arm64 (docker/setup-qemu-action)",
      ],
      [
        "QEMU whatever the nodes",
        release.replace(/(- name: QEMU for linux\/arm64[^\n]*\n) {8}if: [^\n]*\n/, "$1"),
        "release.yml: jobs.release sets up QEMU with if: (none); expected vars.ARM64_BUILDKIT_ENDPOINT == '' (QEMU is the fallback, a remote arm64 node needs none)",
      ],
      [
        "no remote node endpoint",
        release.replace(
          "'battlescope:builders[1].endpoint' \"$ARM64_BUILDKIT_ENDPOINT\"",
          "'battlescope:builders[1].endpoint' tcp://arm64.example:1234",
        ),
        "release.yml: jobs.release does not set the remote arm64 node from secrets",
      ],
      [
        "the node's key not from secrets",
        release.replace(
          `ARM64_BUILDKIT_KEY: \${{ secrets.ARM64_BUILDKIT_KEY }}`,
          `ARM64_BUILDKIT_KEY: \${{ vars.ARM64_BUILDKIT_KEY }}`,
        ),
        "release.yml: jobs.release does not set the remote arm64 node from secrets",
      ],
      [
        "the arm64 job pushes its image",
        release.replace("--output type=cacheonly", "--push"),
        "release.yml: jobs.arm64-layers.steps[6] pushes an image outside the stack (--push)",
      ],
      [
        "an output pushed by name",
        release.replace("--output type=cacheonly", "--output type=image,name=x,push=true"),
        "release.yml: jobs.arm64-layers.steps[6] pushes an image outside the stack (an output with push=true)",
      ],
      [
        "a registry output",
        release.replace("--output type=cacheonly", '--output "type=registry,name=x"'),
        "release.yml: jobs.arm64-layers.steps[6] pushes an image outside the stack (an output of type=registry)",
      ],
      [
        "docker push",
        pushingJob("      - run: docker push docker.io/battlescope/frontend:v1.2.3-arm64\n"),
        "release.yml: jobs.extra.steps[0] pushes an image outside the stack (docker push)",
      ],
      [
        "build-push-action",
        pushingJob(
          "      - uses: docker/build-push-action@v6\n        with:\n          platforms: linux/arm64\n          push: true\n",
        ),
        "release.yml: jobs.extra.steps[0] pushes an image outside the stack (docker/build-push-action)",
      ],
    ];
    for (const [name, text, problem] of cases) {
      expect(text, `${name}: the variant differs from release.yml`).not.toBe(release);
      const { problems } = arm64Problems("release.yml", text);
      expect(
        problems.some((found) => found.startsWith(problem)),
        `${name}: ${problems.join("; ")}`,
      ).toBe(true);
    }
  });
});
