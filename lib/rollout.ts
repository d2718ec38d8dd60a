/**
 * What a Deployment's rollout looks like from its pods, and what to do when it is stuck. Reads
 * only the fields of the Kubernetes objects it names, as the API serves them.
 */

import type { Deployment, KubeEvent, NodeImage, Pod } from "./kubeObjects";
import { type Finding, type ProbeFailure, podDiagnosis } from "./podDiagnosis";

/**
 * Whether a Deployment's rollout is complete, as `kubectl rollout status` decides: every replica
 * runs the current template, no old replica is left, and every updated replica is available.
 * Ready replicas alone are not enough: during a rolling update the old pods stay Ready.
 */
export function rolloutComplete(deployment: Deployment): boolean {
  const desired = deployment.spec?.replicas ?? 0;
  const status = deployment.status ?? {};
  const updated = status.updatedReplicas ?? 0;
  return (
    updated >= desired &&
    (status.replicas ?? 0) <= updated &&
    (status.availableReplicas ?? 0) >= updated
  );
}

/**
 * The names of the node image a container's imageID digest belongs to. containerd reports the
 * first name it pulled an image by: an image already on the node from another repository or an
 * earlier version (same bytes, reproducible builds) shows that name, and the node's image list
 * ties it to the names it was pulled by since.
 */
export function sameImageNames(
  nodes: readonly { readonly status?: { readonly images?: readonly NodeImage[] } }[],
  digest: string,
): string[] {
  const names = new Set<string>();
  for (const node of nodes) {
    for (const image of node.status?.images ?? []) {
      if ((image.names ?? []).some((name) => name.endsWith(`@${digest}`))) {
        for (const name of image.names ?? []) names.add(name);
      }
    }
  }
  return [...names].sort();
}

/** The digest in a container status's imageID (`<repository>@sha256:<hex>`, or the bare digest). */
export function imageIdDigest(imageID: string | undefined): string | undefined {
  const match = /(sha256:[0-9a-f]{64})$/.exec(imageID ?? "");
  return match?.[1];
}

/** The pods a Deployment's label selects, left out those on their way out. */
export function livePodsOf(pods: readonly Pod[], deployment: string): Pod[] {
  return pods.filter(
    (pod) =>
      pod.metadata.labels?.["app.kubernetes.io/name"] === deployment &&
      pod.metadata.deletionTimestamp === undefined,
  );
}

export interface RolloutRow {
  readonly deployment: string;
  readonly ready: string;
  /** Distinct digests the Deployment's running containers report, sorted. */
  readonly digests: readonly string[];
}

/** One row per Deployment: ready over desired replicas and the digests its pods run. */
export function rolloutRows(
  deployments: readonly Deployment[],
  pods: readonly Pod[],
): RolloutRow[] {
  return deployments
    .map((deployment) => {
      const name = deployment.metadata.name;
      const own = livePodsOf(pods, name);
      const digests = new Set(
        own.flatMap((pod) =>
          (pod.status?.containerStatuses ?? []).flatMap((status) => {
            const digest = imageIdDigest(status.imageID);
            return digest === undefined ? [] : [digest];
          }),
        ),
      );
      return {
        deployment: name,
        ready: `${deployment.status?.readyReplicas ?? 0}/${deployment.spec?.replicas ?? 0}`,
        digests: [...digests].sort(),
      };
    })
    .sort((a, b) => a.deployment.localeCompare(b.deployment));
}

export interface RolloutContext {
  readonly namespace: string;
  readonly pullSecretName: string;
  readonly registry: string;
  /** The path the probes request, by Deployment name. */
  readonly healthPaths: Readonly<Record<string, string>>;
}

const PULL_FAILURES = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName"]);

function probeHint(probe: ProbeFailure, deployment: string, context: RolloutContext): string {
  const path = probe.path ?? context.healthPaths[deployment] ?? "the health path";
  const port = probe.port === undefined ? "the container port" : `port ${probe.port}`;
  if (probe.httpStatus !== undefined || probe.target === undefined) {
    return `the ${probe.kind} probe requests ${path} on ${port} and got ${probe.answer}: set battlescope:healthPaths.${deployment} to the path the service answers 200 on, or fix the service, then run up again`;
  }
  return `the ${probe.kind} probe (${probe.target}) got no HTTP answer: check that the service listens on ${port} and answers within the probe's timeout (its log: kubectl -n ${context.namespace} logs deployment/${deployment}), then run up again`;
}

function hint(finding: Finding | undefined, deployment: string, context: RolloutContext): string {
  if (finding?.probe !== undefined) return probeHint(finding.probe, deployment, context);
  const reason = finding?.reason ?? "";
  if (PULL_FAILURES.has(reason)) {
    return `check that the pull secret "${context.pullSecretName}" in namespace ${context.namespace} holds credentials for ${context.registry} (battlescope:registryUsername and registryPassword, or the Docker login for ${context.registry}) and that the image is published (battlescope-images verify ${deployment} <version>)`;
  }
  if (reason === "Killing") {
    const path = context.healthPaths[deployment] ?? "the health path";
    return `the probes request ${path} on the container port: set battlescope:healthPaths.${deployment} to the path the service answers 200 on, or fix the service, then run up again`;
  }
  if (reason === "CreateContainerConfigError") {
    return `a Secret or ConfigMap the container reads is missing: give the service's required variables in battlescope:serviceConfig (or create the ${deployment}-config Secret in namespace ${context.namespace}), then run up again`;
  }
  if (finding?.exited === true) {
    return `the container exits: read its log with kubectl -n ${context.namespace} logs deployment/${deployment} --previous`;
  }
  return `look at kubectl -n ${context.namespace} describe deployment/${deployment} and its pods`;
}

/**
 * One paragraph per Deployment that is not fully Ready: its name, each unready pod's reason and
 * what to do. Empty when every Deployment is Ready.
 */
export function diagnoseRollouts(
  deployments: readonly Deployment[],
  pods: readonly Pod[],
  events: readonly KubeEvent[],
  context: RolloutContext,
): string[] {
  const reports: string[] = [];
  for (const deployment of deployments) {
    const name = deployment.metadata.name;
    if (rolloutComplete(deployment)) continue;
    const desired = deployment.spec?.replicas ?? 0;
    const ready = deployment.status?.readyReplicas ?? 0;
    const diagnoses = pods
      .filter((pod) => pod.metadata.labels?.["app.kubernetes.io/name"] === name)
      .flatMap((pod) => {
        const diagnosis = podDiagnosis(pod, events);
        return diagnosis === undefined ? [] : [{ pod: pod.metadata.name, ...diagnosis }];
      });
    const line = (pod: string, finding: Finding, prefix = "") =>
      `  pod ${pod}: ${prefix}${finding.reason}${finding.detail === "" ? "" : `: ${finding.detail}`}`;
    const lines = [
      `Deployment ${context.namespace}/${name} is not Ready (${ready}/${desired} replicas ready)`,
      ...diagnoses.flatMap(({ pod, causes, consequences }) => [
        ...causes.map((finding) => line(pod, finding)),
        ...consequences.map((finding) => line(pod, finding, "led to ")),
      ]),
      `  what to do: ${hint(diagnoses[0]?.causes[0], name, context)}`,
    ];
    reports.push(lines.join("\n"));
  }
  return reports;
}
