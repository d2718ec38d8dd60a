/**
 * What a Deployment's rollout looks like from its pods, and what to do when it is stuck. Reads
 * only the fields of the Kubernetes objects it names, as the API serves them.
 */

export interface ContainerState {
  readonly waiting?: { readonly reason?: string; readonly message?: string };
  readonly terminated?: { readonly reason?: string; readonly exitCode?: number };
}

export interface ContainerStatus {
  readonly name: string;
  readonly ready: boolean;
  readonly restartCount?: number;
  readonly image?: string;
  readonly imageID?: string;
  readonly state?: ContainerState;
  readonly lastState?: ContainerState;
}

export interface Pod {
  readonly metadata: {
    readonly name: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly deletionTimestamp?: string;
  };
  readonly spec?: {
    readonly containers?: ReadonlyArray<{
      readonly name: string;
      readonly image?: string;
      readonly securityContext?: { readonly runAsUser?: number };
    }>;
    readonly securityContext?: { readonly runAsUser?: number };
  };
  readonly status?: {
    readonly phase?: string;
    readonly conditions?: ReadonlyArray<{
      readonly type: string;
      readonly status: string;
      readonly reason?: string;
      readonly message?: string;
    }>;
    readonly containerStatuses?: readonly ContainerStatus[];
  };
}

export interface Deployment {
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec?: {
    readonly replicas?: number;
    readonly template?: {
      readonly spec?: { readonly containers?: ReadonlyArray<{ readonly image?: string }> };
    };
  };
  readonly status?: {
    readonly readyReplicas?: number;
    readonly updatedReplicas?: number;
    readonly availableReplicas?: number;
    readonly replicas?: number;
  };
}

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

export interface KubeEvent {
  readonly involvedObject?: { readonly name?: string; readonly kind?: string };
  readonly reason?: string;
  readonly message?: string;
  readonly type?: string;
}

/** An image the node holds, as its status lists it: every name it is known by. */
export interface NodeImage {
  readonly names?: readonly string[];
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

/** Why one pod is not Ready, from its container states and its events; undefined when it is. */
function podProblem(
  pod: Pod,
  events: readonly KubeEvent[],
): { reason: string; detail: string } | undefined {
  const statuses = pod.status?.containerStatuses ?? [];
  if (statuses.length > 0 && statuses.every((status) => status.ready)) return undefined;
  for (const status of statuses) {
    const waiting = status.state?.waiting;
    if (waiting?.reason !== undefined && waiting.reason !== "ContainerCreating") {
      const last = status.lastState?.terminated;
      const exit = last?.exitCode === undefined ? "" : ` (last exit code ${last.exitCode})`;
      return { reason: waiting.reason, detail: `${waiting.message ?? ""}${exit}`.trim() };
    }
  }
  const own = events.filter((event) => event.involvedObject?.name === pod.metadata.name);
  // A pod is not Ready because its readiness probe fails; a liveness failure only explains it
  // when no readiness failure was seen.
  const unhealthy = [...own].reverse().filter((event) => event.reason === "Unhealthy");
  const probe = unhealthy.find((event) => /^Readiness/.test(event.message ?? "")) ?? unhealthy[0];
  if (probe !== undefined) {
    const kind = /^Liveness/.test(probe.message ?? "")
      ? "LivenessProbeFailed"
      : "ReadinessProbeFailed";
    return { reason: kind, detail: probe.message ?? "" };
  }
  const unscheduled = pod.status?.conditions?.find(
    (condition) => condition.type === "PodScheduled" && condition.status === "False",
  );
  if (unscheduled !== undefined) {
    return { reason: unscheduled.reason ?? "Unschedulable", detail: unscheduled.message ?? "" };
  }
  const warning = [...own].reverse().find((event) => event.type === "Warning");
  if (warning !== undefined)
    return { reason: warning.reason ?? "Warning", detail: warning.message ?? "" };
  return { reason: pod.status?.phase ?? "Pending", detail: "not Ready yet" };
}

function hint(reason: string, deployment: string, context: RolloutContext): string {
  if (PULL_FAILURES.has(reason)) {
    return `check that the pull secret "${context.pullSecretName}" in namespace ${context.namespace} holds credentials for ${context.registry} (battlescope:registryUsername and registryPassword, or the Docker login for ${context.registry}) and that the image is published (battlescope-images verify ${deployment} <version>)`;
  }
  if (reason === "ReadinessProbeFailed" || reason === "LivenessProbeFailed") {
    const probed = context.healthPaths[deployment];
    return `the probes request ${probed ?? "the health path"} on the container port: set battlescope:healthPaths.${deployment} to the path the service answers 200 on, or fix the service, then run up again`;
  }
  if (reason === "CreateContainerConfigError") {
    return `a Secret or ConfigMap the container reads is missing: give the service's required variables in battlescope:serviceConfig (or create the ${deployment}-config Secret in namespace ${context.namespace}), then run up again`;
  }
  if (reason === "CrashLoopBackOff" || reason === "RunContainerError") {
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
    const problems = pods
      .filter((pod) => pod.metadata.labels?.["app.kubernetes.io/name"] === name)
      .flatMap((pod) => {
        const problem = podProblem(pod, events);
        return problem === undefined ? [] : [{ pod: pod.metadata.name, ...problem }];
      });
    const first = problems[0];
    const lines = [
      `Deployment ${context.namespace}/${name} is not Ready (${ready}/${desired} replicas ready)`,
      ...problems.map(
        (problem) =>
          `  pod ${problem.pod}: ${problem.reason}${problem.detail === "" ? "" : `: ${problem.detail}`}`,
      ),
      `  what to do: ${hint(first?.reason ?? "", name, context)}`,
    ];
    reports.push(lines.join("\n"));
  }
  return reports;
}
