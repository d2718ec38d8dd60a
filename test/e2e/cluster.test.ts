/**
 * The stack on the local one-node Kubernetes cluster (scripts/local-services/cluster.sh): the real
 * engine and kubernetes provider apply the Deployments, the node pulls the images from the local
 * registry with the pull secret, and the probes request the services' health paths for real.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type KubeTarget,
  kubeGetJson,
  readWorkloads,
  resolveKubeTarget,
} from "../../clients/kubernetes";
import type { Pod } from "../../lib/kubeObjects";
import { imageIdDigest, sameImageNames } from "../../lib/rollout";
import { SERVICES } from "../../services/catalog";
import { cli } from "../support/runCli";
import {
  accessLogMark,
  accessLogSince,
  backendText,
  CONTEXT,
  createE2eStack,
  type E2eStack,
  failureOf,
  KUBECONFIG,
  pushes,
  REGISTRY,
  REGISTRY_PASSWORD,
  REGISTRY_USERNAME,
  runStackCommand,
  SERVICE_CONFIG,
  setVersion,
  tagDigests,
} from "./harness";

const run = promisify(execFile);
const DEPLOYED = SERVICES.filter((service) => service.deploy).map((service) => service.name);

const cluster: KubeTarget = resolveKubeTarget(fs.readFileSync(KUBECONFIG, "utf8"), CONTEXT);

function kubectl(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run("kubectl", ["--kubeconfig", KUBECONFIG, "--context", CONTEXT, ...args]);
}

/** The linux/amd64 image a manifest list (or an image manifest, itself) gives this node. */
async function amd64Image(e2e: E2eStack, service: string, reference: string): Promise<string> {
  const manifest = await e2e.registry.getManifest(`${e2e.organization}/${service}`, reference);
  if (manifest === undefined) return `(no ${reference})`;
  if (manifest.manifests.length === 0) return manifest.digest;
  const child = manifest.manifests.find(
    (entry) => entry.platform?.os === "linux" && entry.platform.architecture === "amd64",
  );
  return child?.digest ?? "(no linux/amd64 image)";
}

/** Each service's linux/amd64 image under a version: what this node must run. */
async function releasedImages(e2e: E2eStack, version: string): Promise<Record<string, string[]>> {
  const entries = await Promise.all(
    DEPLOYED.map(
      async (name): Promise<[string, string[]]> => [name, [await amd64Image(e2e, name, version)]],
    ),
  );
  return Object.fromEntries(entries);
}

/**
 * The linux/amd64 image each Deployment's live pods run (pods on their way out left aside).
 * containerd reports the manifest list digest it pulled by, or, for an image already on the node
 * under an earlier version, the list it first came with: both resolve to the image itself.
 */
async function runningImages(e2e: E2eStack, namespace: string): Promise<Record<string, string[]>> {
  const { pods, nodes } = await readWorkloads(cluster, namespace);
  // The list a pod reports may be another repository's (the same image pulled earlier by another
  // organization of these tests): the node's image names say where to read it.
  const inThisRepository = async (name: string, digest: string): Promise<string> => {
    const own = await amd64Image(e2e, name, digest);
    if (!own.startsWith("(no")) return own;
    for (const alias of sameImageNames(nodes, digest)) {
      const at = alias.lastIndexOf("@");
      if (at === -1 || !alias.startsWith(`${REGISTRY}/`)) continue;
      const repository = alias.slice(REGISTRY.length + 1, at);
      const list = await e2e.registry.getManifest(repository, alias.slice(at + 1));
      const child = list?.manifests.find(
        (entry) => entry.platform?.os === "linux" && entry.platform.architecture === "amd64",
      );
      if (child !== undefined) return child.digest;
    }
    return `(${digest}: no list the node knows it by)`;
  };
  const result: Record<string, string[]> = {};
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp !== undefined) continue;
    const name = pod.metadata.labels?.["app.kubernetes.io/name"] ?? "?";
    for (const status of pod.status?.containerStatuses ?? []) {
      const digest = imageIdDigest(status.imageID);
      const image = digest === undefined ? "(none)" : await inThisRepository(name, digest);
      result[name] = [...(result[name] ?? []), image].sort();
    }
  }
  return result;
}

/** `battlescope-images verify frontend <version>` with the cluster check, in-process. */
function verifyOnCluster(e2e: E2eStack, version: string, namespace: string) {
  return cli(
    "verify",
    "frontend",
    version,
    "--registry",
    REGISTRY,
    "--organization",
    e2e.organization,
    "--kubeconfig",
    KUBECONFIG,
    "--context",
    CONTEXT,
    "--namespace",
    namespace,
  );
}

describe("the local stack on a real Kubernetes cluster", () => {
  let e2e: E2eStack;
  let namespace: string;

  beforeAll(async () => {
    e2e = await createE2eStack("k8s", {
      renderManifestsTo: undefined,
      kubeconfigPath: KUBECONFIG,
      kubeContext: CONTEXT,
      rolloutTimeout: "90",
      serviceConfig: SERVICE_CONFIG,
    });
    namespace = e2e.organization;
    await e2e.stack.setConfig("battlescope:namespace", { value: namespace });
  });

  afterAll(async () => {
    await e2e?.stack.destroy().catch(() => undefined);
    await e2e?.close();
  });

  it("refuses bad cluster inputs at preview, with nothing pushed or applied", async () => {
    const mark = accessLogMark();
    const unreachable = path.join(e2e.workDir, "unreachable.kubeconfig");
    fs.writeFileSync(
      unreachable,
      fs.readFileSync(KUBECONFIG, "utf8").replace("https://127.0.0.1:6443", "https://127.0.0.1:1"),
    );
    const cases: Array<{ config: Record<string, string>; message: string }> = [
      {
        config: { kubeconfigPath: unreachable },
        message: `cannot reach the Kubernetes API server https://127.0.0.1:1 of kubeconfig context "${CONTEXT}" (battlescope:kubeconfigPath): connect ECONNREFUSED 127.0.0.1:1`,
      },
      {
        config: { kubeContext: "staging" },
        message: `invalid config "battlescope:kubeconfigPath": unknown kubeconfig context "staging"; the kubeconfig has "${CONTEXT}"`,
      },
      {
        config: { replicas: "0" },
        message:
          'invalid config "battlescope:replicas": "0" is not accepted; expected a whole number from 1 to 100',
      },
      {
        config: { namespace: "Battle_Scope" },
        message:
          'invalid config "battlescope:namespace": "Battle_Scope" is not accepted; expected a Kubernetes namespace name (DNS label)',
      },
    ];
    for (const { config, message } of cases) {
      const saved = await e2e.stack.getAllConfig();
      for (const [key, value] of Object.entries(config)) {
        await e2e.stack.setConfig(`battlescope:${key}`, { value });
      }
      try {
        expect(await failureOf(e2e.stack.preview())).toContain(message);
      } finally {
        for (const key of Object.keys(config)) {
          const before = saved[`battlescope:${key}`];
          if (before === undefined) await e2e.stack.removeConfig(`battlescope:${key}`);
          else await e2e.stack.setConfig(`battlescope:${key}`, before);
        }
      }
    }
    expect(pushes(accessLogSince(mark, e2e.organization))).toEqual([]);
    expect(await kubeGetJson(cluster, `/api/v1/namespaces/${namespace}`)).toBeUndefined();
  });

  it("releases v3.0.0: every Deployment rolls out and its pods run the list's amd64 image as non-root", async () => {
    const mark = accessLogMark();
    await e2e.stack.up();
    const workloads = await readWorkloads(cluster, namespace);
    expect(workloads.deployments.map((d) => d.metadata.name).sort()).toEqual([...DEPLOYED].sort());
    for (const deployment of workloads.deployments) {
      expect(deployment.status?.readyReplicas, deployment.metadata.name).toBe(1);
    }
    expect(await runningImages(e2e, namespace)).toEqual(await releasedImages(e2e, "v3.0.0"));

    // Inside the pod: the node runs the list's linux/amd64 image (the fixtures write their
    // architecture into /app/ARCH), as the image's and the Deployment's non-root user.
    const { stdout: arch } = await kubectl(
      "-n",
      namespace,
      "exec",
      "deploy/frontend",
      "--",
      "cat",
      "/app/ARCH",
    );
    expect(arch.trim()).toBe("amd64");
    const { stdout: uid } = await kubectl(
      "-n",
      namespace,
      "exec",
      "deploy/battle-service",
      "--",
      "id",
      "-u",
    );
    expect(uid.trim()).toBe("10001");
    // busybox httpd logs each request (-v): the kubelet's readiness probe asked for /health.
    const { stdout: log } = await kubectl("-n", namespace, "logs", "deploy/battle-service");
    expect(log).toMatch(/url:\/health/);

    // The node pulled with the pull secret: containerd's requests were first refused (401),
    // then answered once it sent the secret's credentials.
    const lines = fs
      .readFileSync(process.env.BATTLESCOPE_REGISTRY_ACCESS_LOG ?? "")
      .subarray(mark)
      .toString("utf8")
      .split("\n")
      .filter(
        (line) =>
          line.includes(`/v2/${e2e.organization}/battle-service/manifests/`) &&
          /containerd/.test(line),
      );
    expect(lines.some((line) => /" 401 /.test(line))).toBe(true);
    // Answered once it sent the credentials (a HEAD suffices when the layers are on the node).
    expect(lines.some((line) => /"(GET|HEAD) [^"]+" 200 /.test(line))).toBe(true);
  });

  it("verify --kubeconfig checks that the Deployment's pods run the released digest", async () => {
    const result = await verifyOnCluster(e2e, "v3.0.0", namespace);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`cluster runs +${CONTEXT}/${namespace}/pod/frontend-[a-z0-9-]+ +ok +v3.0.0 `),
    );
  });

  it("keeps the pull secret encrypted in the state", () => {
    const state = backendText(e2e.backendDir);
    expect(state).not.toContain(REGISTRY_PASSWORD);
    expect(state).not.toContain(
      Buffer.from(`${REGISTRY_USERNAME}:${REGISTRY_PASSWORD}`).toString("base64"),
    );
  });

  it("rolls every Deployment to the patch release's digest, and a no-op up changes nothing", async () => {
    const before = await readWorkloads(cluster, namespace);
    const oldPods = new Set(before.pods.map((pod) => pod.metadata.name));
    await setVersion(e2e, "v3.0.1");
    await e2e.stack.up();
    // The old pods stop on SIGTERM and are gone within moments of the rollout; until then they
    // are listed beside the new ones (with the same image: the patch release reused them).
    let after = await readWorkloads(cluster, namespace);
    for (let i = 0; i < 60 && after.pods.some((pod) => oldPods.has(pod.metadata.name)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      after = await readWorkloads(cluster, namespace);
    }
    expect(after.pods.filter((pod) => oldPods.has(pod.metadata.name))).toEqual([]);
    expect(await runningImages(e2e, namespace)).toEqual(await releasedImages(e2e, "v3.0.1"));
    for (const deployment of after.deployments) {
      expect(deployment.status?.readyReplicas).toBe(1);
    }
    const { stdout: strategy } = await kubectl(
      "-n",
      namespace,
      "get",
      "deploy/frontend",
      "-o",
      "jsonpath={.spec.strategy.type}",
    );
    expect(strategy).toBe("RollingUpdate");

    // The patch release reused the images (its sources did not change), so the pods still run
    // v3.0.0's images too; a namespace without the Deployment fails verify with its hint.
    const elsewhere = await verifyOnCluster(e2e, "v3.0.1", "default");
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stdout).toMatch(
      /cluster runs +battlescope-local\/default\/deployment\/frontend +FAIL +no such Deployment/,
    );
    expect(elsewhere.stdout).toContain(
      "Cluster not on v3.0.1: the Deployment is missing or its pods run another image.",
    );

    const generations = after.deployments.map((d) => d.metadata.name);
    const noop = await e2e.stack.up();
    expect(Object.keys(noop.summary.resourceChanges ?? {})).toEqual(["same"]);
    const again = await readWorkloads(cluster, namespace);
    expect(again.deployments.map((d) => d.metadata.name)).toEqual(generations);
    expect(again.pods.map((pod: Pod) => pod.metadata.name).sort()).toEqual(
      after.pods.map((pod) => pod.metadata.name).sort(),
    );
  });

  it("fails the up on a wrong health path, naming the Deployment and the probe; fixing config completes it", async () => {
    const tagsBefore = await tagDigests(e2e);
    await e2e.stack.setConfig("battlescope:healthPaths", {
      value: JSON.stringify({ "battle-service": "/no-such-path" }),
    });
    await e2e.stack.setConfig("battlescope:rolloutTimeout", { value: "20" });
    const failed = await runStackCommand(e2e, "up");
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(
      `Deployment ${namespace}/battle-service is not Ready (1/1 replicas ready)`,
    );
    // The new pod runs but is not Ready; the kubelet has not restarted it within 20 s.
    expect(failed.stderr).toMatch(
      /pod battle-service-[a-z0-9-]+: ReadinessProbeFailed: GET \/no-such-path on port 3003 got HTTP 404\n/,
    );
    expect(failed.stderr).toContain(
      "what to do: the readiness probe requests /no-such-path on port 3003 and got HTTP 404: set battlescope:healthPaths.battle-service to the path the service answers 200 on, or fix the service, then run up again",
    );
    // The release itself stays published.
    expect(await tagDigests(e2e)).toEqual(tagsBefore);

    await e2e.stack.removeConfig("battlescope:healthPaths");
    await e2e.stack.setConfig("battlescope:rolloutTimeout", { value: "90" });
    await e2e.stack.up();
    const { deployments } = await readWorkloads(cluster, namespace);
    const battle = deployments.find((d) => d.metadata.name === "battle-service");
    expect(battle?.status?.readyReplicas).toBe(1);
    expect(battle?.status?.updatedReplicas).toBe(1);
  });

  it("fails with ErrImagePull when the namespace lacks the pull secret, and reports it", async () => {
    await kubectl("-n", namespace, "delete", "secret", "docker-hub-creds");
    await setVersion(e2e, "v3.0.2");
    await e2e.stack.setConfig("battlescope:rolloutTimeout", { value: "20" });
    const failed = await runStackCommand(e2e, "up");
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(
      new RegExp(
        `Deployment ${namespace}/frontend is not Ready \\(0/1 replicas ready\\)|Deployment ${namespace}/frontend is not Ready \\(1/1 replicas ready\\)`,
      ),
    );
    expect(failed.stderr).toMatch(
      /pod frontend-[a-z0-9-]+: (ErrImagePull|ImagePullBackOff): .*(401 Unauthorized|no basic auth credentials|authorization failed)/,
    );
    expect(failed.stderr).toContain(
      `what to do: check that the pull secret "docker-hub-creds" in namespace ${namespace} holds credentials for ${REGISTRY}`,
    );
    // A refresh sees the Secret is gone and the next up puts it back; the rollout completes.
    await e2e.stack.setConfig("battlescope:rolloutTimeout", { value: "90" });
    await e2e.stack.up({ refresh: true });
    expect((await runningImages(e2e, namespace)).frontend).toEqual(
      (await releasedImages(e2e, "v3.0.2")).frontend,
    );
  });

  it("destroy removes the Deployments, the Services and the secret, and keeps every tag", async () => {
    const tags = await tagDigests(e2e);
    await e2e.stack.destroy();
    const workloads = await readWorkloads(cluster, namespace);
    expect(workloads.deployments).toEqual([]);
    expect(
      await kubeGetJson(cluster, `/api/v1/namespaces/${namespace}/secrets/docker-hub-creds`),
    ).toBeUndefined();
    expect(await tagDigests(e2e)).toEqual(tags);
  });
});
