/**
 * A first release into an empty namespace whose pods never become Ready, on the local cluster:
 * `up` ends within `rolloutTimeout` plus the release's own work (the Service in front of the
 * Deployment waits no longer than the Deployment), naming the cause read from the pod's events and
 * status; the tags stay published, and the next `up` with the fix completes the rollout.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { kubeGetJson, readWorkloads, resolveKubeTarget } from "../../clients/kubernetes";
import { SERVICES } from "../../services/catalog";
import {
  CONTEXT,
  copyFixtures,
  createE2eStack,
  type E2eStack,
  FIXTURES,
  KUBECONFIG,
  runStackCommand,
  SERVICE_CONFIG,
  setVersion,
  tagDigests,
} from "./harness";

const run = promisify(execFile);
const cluster = resolveKubeTarget(fs.readFileSync(KUBECONFIG, "utf8"), CONTEXT);

const ROLLOUT_TIMEOUT = 30;
/** Issue 19's bound on the failing `up`: the rollout timeout and a minute for the rest. */
const FAILING_UP_BOUND = ROLLOUT_TIMEOUT + 60;
const BROKEN = "battle-service";
const BROKEN_PORT = SERVICES.find((service) => service.name === BROKEN)?.port;

const stacks: E2eStack[] = [];
const folders: string[] = [];

/** A stack of its own organization and namespace (the same name), nothing deployed yet. */
async function firstReleaseStack(
  prefix: string,
  config: Record<string, string>,
): Promise<E2eStack> {
  const e2e = await createE2eStack(prefix, {
    renderManifestsTo: undefined,
    kubeconfigPath: KUBECONFIG,
    kubeContext: CONTEXT,
    rolloutTimeout: String(ROLLOUT_TIMEOUT),
    serviceConfig: SERVICE_CONFIG,
    // One platform, no cache export, no signing: the rollout is what these cases are about.
    platforms: '["linux/amd64"]',
    registryCache: "false",
    sign: "false",
    ...config,
  });
  stacks.push(e2e);
  await e2e.stack.setConfig("battlescope:namespace", { value: e2e.organization });
  expect(await kubeGetJson(cluster, `/api/v1/namespaces/${e2e.organization}`)).toBeUndefined();
  return e2e;
}

/** `npm run stack -- up` on the stack, timed as a user would time it. */
async function timedUp(e2e: E2eStack, what: string) {
  const started = performance.now();
  const result = await runStackCommand(e2e, "up");
  const seconds = (performance.now() - started) / 1000;
  console.log(`${what}: up exited ${result.code} after ${seconds.toFixed(1)} s`);
  return { ...result, seconds };
}

async function readyReplicas(e2e: E2eStack, deployment: string): Promise<number | undefined> {
  const { deployments } = await readWorkloads(cluster, e2e.organization);
  return deployments.find((entry) => entry.metadata.name === deployment)?.status?.readyReplicas;
}

/** Each service's release tags under `version`, as the registry serves them. */
async function versionTags(e2e: E2eStack, version: string): Promise<Record<string, string>> {
  const all = await tagDigests(e2e);
  return Object.fromEntries(Object.entries(all).filter(([tag]) => tag.endsWith(`:${version}`)));
}

/** Every manifest the organization's repositories hold (the registry collects the blobs). */
async function removeRepositories(e2e: E2eStack): Promise<void> {
  for (const service of SERVICES) {
    const repository = `${e2e.organization}/${service.name}`;
    const digests = new Set<string>();
    for (const tag of await e2e.registry.listTags(repository).catch(() => [])) {
      const manifest = await e2e.registry.getManifest(repository, tag);
      for (const digest of [
        manifest?.digest,
        ...(manifest?.manifests ?? []).map((m) => m.digest),
      ]) {
        if (digest !== undefined) digests.add(digest);
      }
    }
    for (const digest of digests) {
      await e2e.registry.deleteManifest(repository, digest).catch(() => undefined);
    }
  }
}

afterAll(async () => {
  for (const e2e of stacks) {
    await e2e.stack.destroy().catch(() => undefined);
    // A destroy that failed leaves the namespace: remove it directly.
    await run("kubectl", [
      "--kubeconfig",
      KUBECONFIG,
      "--context",
      CONTEXT,
      "delete",
      "namespace",
      e2e.organization,
      "--ignore-not-found",
      "--wait=false",
    ]).catch(() => undefined);
    await removeRepositories(e2e).catch(() => undefined);
    await e2e.close();
    fs.rmSync(e2e.workDir, { recursive: true, force: true });
  }
  for (const folder of folders) fs.rmSync(folder, { recursive: true, force: true });
});

describe("a first release whose pods never become Ready", () => {
  it("fails within rolloutTimeout + 60 s on a wrong health path, naming the probe, its path and status; the fix completes", async () => {
    const e2e = await firstReleaseStack("firsthp", {
      healthPaths: JSON.stringify({ [BROKEN]: "/no-such-path" }),
    });
    const namespace = e2e.organization;

    const failed = await timedUp(e2e, "wrong health path");
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toContain(
      `Deployment ${namespace}/${BROKEN} is not Ready (0/1 replicas ready)`,
    );
    // The cause comes first: the probe, with the path and port it requested and what it got.
    const lines = failed.stderr.split("\n");
    const first = lines.findIndex((line) => line.includes(`pod ${BROKEN}-`));
    expect(lines[first]).toMatch(
      new RegExp(
        `^  pod ${BROKEN}-[a-z0-9-]+: (Liveness|Readiness)ProbeFailed: GET /no-such-path on port ${BROKEN_PORT} got HTTP 404$`,
      ),
    );
    expect(failed.stderr).toMatch(
      new RegExp(
        `what to do: the (liveness|readiness) probe requests /no-such-path on port ${BROKEN_PORT} and got HTTP 404: set battlescope:healthPaths.${BROKEN} to the path the service answers 200 on`,
      ),
    );
    expect(failed.stderr).not.toContain("the container exits");
    // The other six rolled out.
    expect(failed.stderr.match(/is not Ready/g)).toHaveLength(1);
    expect(failed.seconds).toBeLessThan(FAILING_UP_BOUND);

    // The release stays published; the next up with the fix rolls out and publishes nothing new.
    const published = await tagDigests(e2e);
    expect(Object.keys(await versionTags(e2e, "v3.0.0"))).toHaveLength(SERVICES.length);
    await e2e.stack.removeConfig("battlescope:healthPaths");
    const fixed = await timedUp(e2e, "health path fixed");
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(await readyReplicas(e2e, BROKEN)).toBe(1);
    expect(await tagDigests(e2e)).toEqual(published);
  });

  it("fails within rolloutTimeout + 60 s when the container exits at once, naming the exit; the fixed release completes", async () => {
    const sources = copyFixtures();
    folders.push(sources);
    const server = path.join(sources, BROKEN, "server.sh");
    const working = fs.readFileSync(server, "utf8");
    fs.writeFileSync(
      server,
      working.replace(
        /^#!\/bin\/sh\n/,
        '#!/bin/sh\necho "cannot reach the database" >&2\nexit 3\n',
      ),
    );
    const e2e = await firstReleaseStack("firstexit", { sourceRoot: sources });
    const namespace = e2e.organization;

    const failed = await timedUp(e2e, "container exits at once");
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toContain(
      `Deployment ${namespace}/${BROKEN} is not Ready (0/1 replicas ready)`,
    );
    // Waiting in its back-off, or caught between two runs: either way its exit is named.
    expect(failed.stderr).toMatch(
      new RegExp(
        `  pod ${BROKEN}-[a-z0-9-]+: (CrashLoopBackOff: .*|Error: the container stopped )\\(last exit code 3, reason Error`,
      ),
    );
    expect(failed.stderr).not.toMatch(/ProbeFailed/);
    expect(failed.stderr).toContain(
      `what to do: the container exits: read its log with kubectl -n ${namespace} logs deployment/${BROKEN} --previous`,
    );
    expect(failed.stderr.match(/is not Ready/g)).toHaveLength(1);
    expect(failed.seconds).toBeLessThan(FAILING_UP_BOUND);

    // v3.0.0 stays as published; the fixed sources are released as v3.0.1 and roll out.
    const released = await versionTags(e2e, "v3.0.0");
    expect(Object.keys(released)).toHaveLength(SERVICES.length);
    fs.copyFileSync(path.join(FIXTURES, BROKEN, "server.sh"), server);
    await setVersion(e2e, "v3.0.1");
    const fixed = await timedUp(e2e, "fixed release v3.0.1");
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(await readyReplicas(e2e, BROKEN)).toBe(1);
    expect(await versionTags(e2e, "v3.0.0")).toEqual(released);
  });
});
