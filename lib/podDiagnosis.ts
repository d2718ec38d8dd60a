/**
 * Why one pod is not Ready, read from its container states, its spec and its events: the cause
 * first (a failing probe, an exit, a pull), then the restarts and back-offs it led to.
 */
import type { ContainerSpec, ContainerStatus, KubeEvent, Pod, Probe } from "./kubeObjects";

/** Waiting reasons of a container that is still being started: not a problem yet. */
const STARTING = new Set(["ContainerCreating", "PodInitializing"]);
/** Waiting reasons of a container that ran and stopped, or could not be run. */
const EXITS = new Set(["CrashLoopBackOff", "RunContainerError"]);

export type ProbeKind = "liveness" | "readiness" | "startup";

/** A probe the kubelet reported failing, read from its latest `Unhealthy` event and the pod spec. */
export interface ProbeFailure {
  readonly kind: ProbeKind;
  readonly container: string;
  /** What the probe does, from the pod spec (`GET /health on port 8080`); absent without one. */
  readonly target?: string;
  readonly path?: string;
  readonly port?: string;
  /** What it got: `HTTP 404`, or the error (`dial tcp 10.244.0.5:8080: connect: ...`). */
  readonly answer: string;
  readonly httpStatus?: number;
}

/** One thing the report says of a pod. */
export interface Finding {
  readonly reason: string;
  readonly detail: string;
  readonly probe?: ProbeFailure;
  /** The container ran and stopped (or could not run): its exit is the cause. */
  readonly exited?: boolean;
}

export interface PodDiagnosis {
  readonly causes: readonly Finding[];
  /** The restarts and back-offs the causes led to, oldest first. */
  readonly consequences: readonly Finding[];
}

const PROBE_EVENT = /^(Liveness|Readiness|Startup) probe (?:failed|errored):\s*([\s\S]*)$/;
const PROBE_KILL = /failed (liveness|startup) probe, will be restarted/;

/** What an `Unhealthy` event's message says the probe got. */
export function probeAnswer(message: string): { answer: string; httpStatus?: number } {
  const status = /statuscode: (\d+)/.exec(message);
  if (status?.[1] !== undefined) {
    return { answer: `HTTP ${status[1]}`, httpStatus: Number(status[1]) };
  }
  // `Get "http://10.244.0.5:8080/healthz": dial tcp ...`: the URL holds the pod's IP, the
  // path and port come from the spec.
  const get = /^Get "[^"]*":\s*([\s\S]*)$/.exec(message.trim());
  return { answer: (get?.[1] ?? message).trim() };
}

/** A probe's port as a number when the container names it (`http`), else as given. */
function resolvePort(port: number | string | undefined, container: ContainerSpec | undefined) {
  if (port === undefined) return undefined;
  if (typeof port === "number") return String(port);
  const named = container?.ports?.find((entry) => entry.name === port);
  return named === undefined ? port : String(named.containerPort);
}

function describeProbe(
  probe: Probe | undefined,
  container: ContainerSpec | undefined,
): Pick<ProbeFailure, "target" | "path" | "port"> {
  if (probe?.httpGet !== undefined) {
    const path = probe.httpGet.path ?? "/";
    const port = resolvePort(probe.httpGet.port, container);
    return { target: `GET ${path} on port ${port ?? "(none)"}`, path, ...(port ? { port } : {}) };
  }
  if (probe?.tcpSocket !== undefined) {
    const port = resolvePort(probe.tcpSocket.port, container);
    return { target: `a TCP connection to port ${port ?? "(none)"}`, ...(port ? { port } : {}) };
  }
  if (probe?.grpc?.port !== undefined) {
    const port = String(probe.grpc.port);
    return { target: `a gRPC health check on port ${port}`, port };
  }
  if (probe?.exec?.command !== undefined) {
    return { target: `the command ${JSON.stringify(probe.exec.command.join(" "))}` };
  }
  return {};
}

/** The container a kubelet event is about (`spec.containers{name}`), else the pod's first. */
function eventContainer(event: KubeEvent, pod: Pod): string | undefined {
  const named = /^spec\.(?:init)?[cC]ontainers\{(.+)\}$/.exec(
    event.involvedObject?.fieldPath ?? "",
  );
  return named?.[1] ?? pod.spec?.containers?.[0]?.name ?? pod.status?.containerStatuses?.[0]?.name;
}

/** A pod's events, oldest first (the API's order when they carry no time). */
function eventsOf(pod: Pod, events: readonly KubeEvent[]): KubeEvent[] {
  const when = (event: KubeEvent) => event.lastTimestamp ?? event.eventTime ?? "";
  return events
    .filter((event) => event.involvedObject?.name === pod.metadata.name)
    .map((event, index) => ({ event, index }))
    .sort((a, b) => when(a.event).localeCompare(when(b.event)) || a.index - b.index)
    .map(({ event }) => event);
}

/** The latest failure of each probe of the pod, in the order they last failed. */
function probeFailures(pod: Pod, own: readonly KubeEvent[]): ProbeFailure[] {
  const latest = new Map<string, ProbeFailure>();
  for (const event of own) {
    const match = event.reason === "Unhealthy" ? PROBE_EVENT.exec(event.message ?? "") : null;
    const container = eventContainer(event, pod);
    if (match?.[1] === undefined || container === undefined) continue;
    const kind = match[1].toLowerCase() as ProbeKind;
    const spec = pod.spec?.containers?.find((entry) => entry.name === container);
    const key = `${container}/${kind}`;
    latest.delete(key);
    latest.set(key, {
      kind,
      container,
      ...describeProbe(spec?.[`${kind}Probe`], spec),
      ...probeAnswer(match[2] ?? ""),
    });
  }
  return [...latest.values()];
}

const PROBE_REASONS: Record<ProbeKind, string> = {
  liveness: "LivenessProbeFailed",
  readiness: "ReadinessProbeFailed",
  startup: "StartupProbeFailed",
};

function probeFinding(failure: ProbeFailure, pod: Pod): Finding {
  const several =
    (pod.spec?.containers?.length ?? 0) > 1 ? ` (container ${failure.container})` : "";
  const detail = `${failure.target ?? "the probe"} got ${failure.answer}`;
  return { reason: PROBE_REASONS[failure.kind], detail: `${detail}${several}`, probe: failure };
}

/** How the container last stopped: exit code, reason, message and restarts, in parentheses. */
function exitSummary(status: ContainerStatus, terminated = status.lastState?.terminated): string {
  const parts = [
    ...(terminated?.exitCode === undefined ? [] : [`last exit code ${terminated.exitCode}`]),
    ...(terminated?.reason === undefined ? [] : [`reason ${terminated.reason}`]),
    ...(terminated?.message ? [`message ${JSON.stringify(terminated.message.trim())}`] : []),
    ...(status.restartCount
      ? [`restarted ${status.restartCount} time${status.restartCount === 1 ? "" : "s"}`]
      : []),
  ];
  return parts.length === 0 ? "" : ` (${parts.join(", ")})`;
}

/** Why a container that ran is not running: its waiting reason or its termination. */
function stoppedFinding(status: ContainerStatus): Finding | undefined {
  const waiting = status.state?.waiting;
  if (waiting?.reason !== undefined && !STARTING.has(waiting.reason)) {
    return {
      reason: waiting.reason,
      detail: `${waiting.message ?? ""}${exitSummary(status)}`.trim(),
      exited: EXITS.has(waiting.reason),
    };
  }
  const terminated = status.state?.terminated;
  if (terminated !== undefined) {
    return {
      reason: terminated.reason ?? "Terminated",
      detail: `the container stopped${exitSummary(status, terminated)}`,
      exited: true,
    };
  }
  return undefined;
}

/**
 * Why one container is not Ready. A probe that the kubelet restarts the container for is the
 * cause, and the restart and back-off follow it; a container that stops on its own is its exit's
 * (its readiness probe fails then only because nothing answers); a running container that is not
 * Ready is its probes'.
 */
function containerDiagnosis(
  status: ContainerStatus,
  pod: Pod,
  failures: readonly ProbeFailure[],
  own: readonly KubeEvent[],
): PodDiagnosis | undefined {
  const mine = failures.filter((failure) => failure.container === status.name);
  const stopped = stoppedFinding(status);
  const kill = own
    .filter(
      (event) =>
        event.reason === "Killing" &&
        eventContainer(event, pod) === status.name &&
        PROBE_KILL.test(event.message ?? ""),
    )
    .at(-1);
  if (kill !== undefined) {
    const killer = PROBE_KILL.exec(kill.message ?? "")?.[1];
    const ordered = [
      ...mine.filter((failure) => failure.kind === killer),
      ...mine.filter((failure) => failure.kind !== killer),
    ];
    // Restarted and running again: the restarts are told with the kill.
    const restarts = stopped === undefined ? exitSummary(status) : "";
    const killing = { reason: "Killing", detail: `${kill.message ?? ""}${restarts}` };
    return ordered.length === 0
      ? { causes: [killing], consequences: stopped === undefined ? [] : [stopped] }
      : {
          causes: ordered.map((failure) => probeFinding(failure, pod)),
          consequences: [killing, ...(stopped === undefined ? [] : [stopped])],
        };
  }
  if (stopped !== undefined) return { causes: [stopped], consequences: [] };
  if (mine.length === 0) return undefined;
  // Readiness first: it is what keeps the pod out of the rollout.
  const ordered = [
    ...mine.filter((failure) => failure.kind === "readiness"),
    ...mine.filter((failure) => failure.kind !== "readiness"),
  ];
  return { causes: ordered.map((failure) => probeFinding(failure, pod)), consequences: [] };
}

/** Why one pod is not Ready, from its container states, spec and events; undefined when it is. */
export function podDiagnosis(pod: Pod, events: readonly KubeEvent[]): PodDiagnosis | undefined {
  const statuses = pod.status?.containerStatuses ?? [];
  if (statuses.length > 0 && statuses.every((status) => status.ready)) return undefined;
  const own = eventsOf(pod, events);
  const failures = probeFailures(pod, own);
  for (const status of statuses) {
    if (status.ready) continue;
    const found = containerDiagnosis(status, pod, failures, own);
    if (found !== undefined) return found;
  }
  const only = (finding: Finding): PodDiagnosis => ({ causes: [finding], consequences: [] });
  // Probe events of a pod whose container statuses are not listed yet.
  const [failure] = failures;
  if (failure !== undefined) return only(probeFinding(failure, pod));
  const unscheduled = pod.status?.conditions?.find(
    (condition) => condition.type === "PodScheduled" && condition.status === "False",
  );
  if (unscheduled !== undefined) {
    return only({
      reason: unscheduled.reason ?? "Unschedulable",
      detail: unscheduled.message ?? "",
    });
  }
  const warning = own.filter((event) => event.type === "Warning").at(-1);
  if (warning !== undefined) {
    return only({ reason: warning.reason ?? "Warning", detail: warning.message ?? "" });
  }
  return only({ reason: pod.status?.phase ?? "Pending", detail: "not Ready yet" });
}
