import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import type { Deployment, KubeEvent, Pod } from "../../lib/kubeObjects";
import { probeAnswer } from "../../lib/podDiagnosis";
import {
  diagnoseRollouts,
  imageIdDigest,
  rolloutComplete,
  rolloutRows,
  sameImageNames,
} from "../../lib/rollout";

const DIGEST_A = `sha256:${"a".repeat(64)}`;
const DIGEST_B = `sha256:${"b".repeat(64)}`;

const deployment = (
  name: string,
  ready: number,
  desired = 1,
  updated = desired,
  replicas = desired,
): Deployment => ({
  metadata: { name, namespace: "battlescope" },
  spec: { replicas: desired },
  status: {
    readyReplicas: ready,
    updatedReplicas: updated,
    availableReplicas: ready,
    replicas,
  },
});

const pod = (
  name: string,
  service: string,
  status: Partial<NonNullable<Pod["status"]>> = {},
  extra: Partial<Pod["metadata"]> = {},
): Pod => ({
  metadata: { name, labels: { "app.kubernetes.io/name": service }, ...extra },
  status: { phase: "Running", ...status },
});

const CONTEXT = {
  namespace: "battlescope",
  pullSecretName: "docker-hub-creds",
  registry: "127.0.0.1:5000",
  healthPaths: { frontend: "/health", "battle-service": "/nope" },
};

describe("imageIdDigest", () => {
  it.each([
    { imageID: `127.0.0.1:5000/org/frontend@${DIGEST_A}`, expected: DIGEST_A },
    { imageID: DIGEST_A, expected: DIGEST_A },
    { imageID: "", expected: undefined },
    { imageID: undefined, expected: undefined },
    { imageID: "docker.io/library/busybox:latest", expected: undefined },
  ])("reads $imageID", ({ imageID, expected }) => {
    expect(imageIdDigest(imageID)).toBe(expected);
  });
});

describe("sameImageNames", () => {
  const nodes = [
    {
      status: {
        images: [
          {
            names: [
              `r/org-a/frontend@${DIGEST_A}`,
              `r/org-b/frontend@${DIGEST_B}`,
              "r/org-a/frontend:v3.0.0",
            ],
          },
          { names: [`r/org-a/battle-service@${"c".repeat(64)}`] },
        ],
      },
    },
  ];
  it("gives every name of the node image a digest belongs to", () => {
    expect(sameImageNames(nodes, DIGEST_B)).toEqual([
      "r/org-a/frontend:v3.0.0",
      `r/org-a/frontend@${DIGEST_A}`,
      `r/org-b/frontend@${DIGEST_B}`,
    ]);
  });
  it("gives nothing for a digest the node does not hold", () => {
    expect(sameImageNames(nodes, `sha256:${"d".repeat(64)}`)).toEqual([]);
  });
});

describe("rolloutRows", () => {
  it("gives ready over desired and the digests live pods run, leaving terminating pods out", () => {
    const rows = rolloutRows(
      [deployment("frontend", 2, 2), deployment("battle-service", 0)],
      [
        pod("frontend-1", "frontend", {
          containerStatuses: [
            { name: "frontend", ready: true, imageID: `r/o/frontend@${DIGEST_A}` },
          ],
        }),
        pod("frontend-2", "frontend", {
          containerStatuses: [
            { name: "frontend", ready: true, imageID: `r/o/frontend@${DIGEST_A}` },
          ],
        }),
        pod(
          "frontend-old",
          "frontend",
          {
            containerStatuses: [
              { name: "frontend", ready: true, imageID: `r/o/frontend@${DIGEST_B}` },
            ],
          },
          { deletionTimestamp: "2026-11-29T00:00:00Z" },
        ),
      ],
    );
    expect(rows).toEqual([
      { deployment: "battle-service", ready: "0/1", digests: [] },
      { deployment: "frontend", ready: "2/2", digests: [DIGEST_A] },
    ]);
  });
});

describe("rolloutComplete", () => {
  it.each([
    { name: "all updated and available", d: deployment("a", 2, 2, 2, 2), complete: true },
    { name: "old replica still running", d: deployment("a", 2, 2, 2, 3), complete: false },
    {
      name: "new replica not available, old one Ready",
      d: deployment("a", 1, 1, 1, 2),
      complete: false,
    },
    { name: "nothing updated yet", d: deployment("a", 1, 1, 0, 1), complete: false },
  ])("$name: $complete", ({ d, complete }) => {
    expect(rolloutComplete(d)).toBe(complete);
  });
});

/** A pod of one container serving `port` (named http), both probes on `path`, as the stack makes. */
const probedPod = (
  name: string,
  service: string,
  path: string,
  port: number,
  status: Partial<NonNullable<Pod["status"]>>,
): Pod => {
  const probe = { httpGet: { path, port: "http" } };
  return {
    ...pod(name, service, status),
    spec: {
      containers: [
        {
          name: service,
          ports: [{ name: "http", containerPort: port }],
          readinessProbe: probe,
          livenessProbe: probe,
        },
      ],
    },
  };
};

/** A kubelet event about the pod's container, `seconds` after the pod started. */
const kubelet = (
  podName: string,
  container: string,
  seconds: number,
  reason: string,
  message: string,
  type = "Warning",
): KubeEvent => ({
  involvedObject: { kind: "Pod", name: podName, fieldPath: `spec.containers{${container}}` },
  reason,
  message,
  type,
  lastTimestamp: new Date(Date.UTC(2026, 10, 30, 12, 0, seconds)).toISOString().replace(".000", ""),
});

const NOT_READY = (restartCount = 0) => ({ name: "frontend", ready: false, restartCount });

describe("diagnoseRollouts", () => {
  it("says nothing when every Deployment is Ready", () => {
    expect(diagnoseRollouts([deployment("frontend", 1)], [], [], CONTEXT)).toEqual([]);
  });

  it.each([
    {
      name: "a pull refused for want of credentials",
      pods: [
        pod("frontend-x", "frontend", {
          containerStatuses: [
            {
              name: "frontend",
              ready: false,
              state: {
                waiting: {
                  reason: "ErrImagePull",
                  message: "failed to pull: 401 Unauthorized",
                },
              },
            },
          ],
        }),
      ],
      events: [],
      expected: [
        "Deployment battlescope/frontend is not Ready (0/1 replicas ready)",
        "  pod frontend-x: ErrImagePull: failed to pull: 401 Unauthorized",
        '  what to do: check that the pull secret "docker-hub-creds" in namespace battlescope holds credentials for 127.0.0.1:5000 (battlescope:registryUsername and registryPassword, or the Docker login for 127.0.0.1:5000) and that the image is published (battlescope-images verify frontend <version>)',
      ],
    },
    {
      name: "a readiness probe that gets 404 from a running container",
      pods: [
        probedPod("frontend-x", "frontend", "/nope", 8080, {
          containerStatuses: [{ ...NOT_READY(), state: { running: {} } }],
        }),
      ],
      events: [
        kubelet("frontend-x", "frontend", 3, "Pulled", "Container image already present", "Normal"),
        kubelet(
          "frontend-x",
          "frontend",
          5,
          "Unhealthy",
          "Readiness probe failed: HTTP probe failed with statuscode: 404",
        ),
      ],
      expected: [
        "Deployment battlescope/frontend is not Ready (0/1 replicas ready)",
        "  pod frontend-x: ReadinessProbeFailed: GET /nope on port 8080 got HTTP 404",
        "  what to do: the readiness probe requests /nope on port 8080 and got HTTP 404: set battlescope:healthPaths.frontend to the path the service answers 200 on, or fix the service, then run up again",
      ],
    },
    {
      name: "a liveness probe the kubelet restarts the container for, into a back-off",
      pods: [
        probedPod("frontend-x", "frontend", "/nope", 8080, {
          containerStatuses: [
            {
              ...NOT_READY(3),
              state: {
                waiting: {
                  reason: "CrashLoopBackOff",
                  message: "back-off 40s restarting failed container=frontend pod=frontend-x",
                },
              },
              lastState: { terminated: { reason: "Completed", exitCode: 0 } },
            },
          ],
        }),
      ],
      events: [
        kubelet(
          "frontend-x",
          "frontend",
          5,
          "Unhealthy",
          "Readiness probe failed: HTTP probe failed with statuscode: 404",
        ),
        kubelet(
          "frontend-x",
          "frontend",
          35,
          "Unhealthy",
          "Liveness probe failed: HTTP probe failed with statuscode: 404",
        ),
        kubelet(
          "frontend-x",
          "frontend",
          36,
          "Killing",
          "Container frontend failed liveness probe, will be restarted",
          "Normal",
        ),
        kubelet(
          "frontend-x",
          "frontend",
          90,
          "BackOff",
          "Back-off restarting failed container frontend in pod frontend-x",
        ),
      ],
      expected: [
        "Deployment battlescope/frontend is not Ready (0/1 replicas ready)",
        "  pod frontend-x: LivenessProbeFailed: GET /nope on port 8080 got HTTP 404",
        "  pod frontend-x: ReadinessProbeFailed: GET /nope on port 8080 got HTTP 404",
        "  pod frontend-x: led to Killing: Container frontend failed liveness probe, will be restarted",
        "  pod frontend-x: led to CrashLoopBackOff: back-off 40s restarting failed container=frontend pod=frontend-x (last exit code 0, reason Completed, restarted 3 times)",
        "  what to do: the liveness probe requests /nope on port 8080 and got HTTP 404: set battlescope:healthPaths.frontend to the path the service answers 200 on, or fix the service, then run up again",
      ],
    },
    {
      name: "a probe that nothing answers: the service listens on another port",
      pods: [
        probedPod("frontend-x", "frontend", "/health", 8080, {
          containerStatuses: [{ ...NOT_READY(), state: { running: {} } }],
        }),
      ],
      events: [
        kubelet(
          "frontend-x",
          "frontend",
          5,
          "Unhealthy",
          'Readiness probe failed: Get "http://10.244.0.5:8080/health": dial tcp 10.244.0.5:8080: connect: connection refused',
        ),
      ],
      expected: [
        "Deployment battlescope/frontend is not Ready (0/1 replicas ready)",
        "  pod frontend-x: ReadinessProbeFailed: GET /health on port 8080 got dial tcp 10.244.0.5:8080: connect: connection refused",
        "  what to do: the readiness probe (GET /health on port 8080) got no HTTP answer: check that the service listens on port 8080 and answers within the probe's timeout (its log: kubectl -n battlescope logs deployment/frontend), then run up again",
      ],
    },
    {
      name: "a probe event of an older shape: no container named, no pod spec",
      pods: [
        pod("frontend-x", "frontend", {
          containerStatuses: [{ name: "frontend", ready: false, state: {} }],
        }),
      ],
      events: [
        {
          involvedObject: { name: "frontend-x", kind: "Pod" },
          reason: "Unhealthy",
          type: "Warning",
          message: "Readiness probe failed: HTTP probe failed with statuscode: 404",
        },
      ] satisfies KubeEvent[],
      expected: [
        "Deployment battlescope/frontend is not Ready (0/1 replicas ready)",
        "  pod frontend-x: ReadinessProbeFailed: the probe got HTTP 404",
        "  what to do: the readiness probe requests /health on the container port and got HTTP 404: set battlescope:healthPaths.frontend to the path the service answers 200 on, or fix the service, then run up again",
      ],
    },
    {
      name: "a probe kill whose probe events have expired",
      pods: [
        pod("frontend-x", "frontend", {
          containerStatuses: [{ ...NOT_READY(1), state: { running: {} } }],
        }),
      ],
      events: [
        kubelet(
          "frontend-x",
          "frontend",
          36,
          "Killing",
          "Container frontend failed liveness probe, will be restarted",
          "Normal",
        ),
      ],
      expected: [
        "Deployment battlescope/frontend is not Ready (0/1 replicas ready)",
        "  pod frontend-x: Killing: Container frontend failed liveness probe, will be restarted (restarted 1 time)",
        "  what to do: the probes request /health on the container port: set battlescope:healthPaths.frontend to the path the service answers 200 on, or fix the service, then run up again",
      ],
    },
    {
      name: "a missing config Secret",
      pods: [
        pod("frontend-x", "frontend", {
          containerStatuses: [
            {
              name: "frontend",
              ready: false,
              state: {
                waiting: {
                  reason: "CreateContainerConfigError",
                  message: 'secret "frontend-config" not found',
                },
              },
            },
          ],
        }),
      ],
      events: [],
      expected: [
        "Deployment battlescope/frontend is not Ready (0/1 replicas ready)",
        '  pod frontend-x: CreateContainerConfigError: secret "frontend-config" not found',
        "  what to do: a Secret or ConfigMap the container reads is missing: give the service's required variables in battlescope:serviceConfig (or create the frontend-config Secret in namespace battlescope), then run up again",
      ],
    },
    {
      name: "a container that keeps exiting, its readiness failing only because nothing answers",
      pods: [
        probedPod("frontend-x", "frontend", "/health", 8080, {
          containerStatuses: [
            {
              ...NOT_READY(2),
              state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 10s" } },
              lastState: { terminated: { reason: "Error", exitCode: 3 } },
            },
          ],
        }),
      ],
      events: [
        kubelet(
          "frontend-x",
          "frontend",
          3,
          "Unhealthy",
          'Readiness probe failed: Get "http://10.244.0.5:8080/health": dial tcp 10.244.0.5:8080: connect: connection refused',
        ),
        kubelet("frontend-x", "frontend", 4, "BackOff", "Back-off restarting failed container"),
      ],
      expected: [
        "Deployment battlescope/frontend is not Ready (0/1 replicas ready)",
        "  pod frontend-x: CrashLoopBackOff: back-off 10s (last exit code 3, reason Error, restarted 2 times)",
        "  what to do: the container exits: read its log with kubectl -n battlescope logs deployment/frontend --previous",
      ],
    },
    {
      name: "a container caught between two runs, with its termination message",
      pods: [
        pod("frontend-x", "frontend", {
          containerStatuses: [
            {
              ...NOT_READY(1),
              state: {
                terminated: { reason: "Error", exitCode: 1, message: "DATABASE_URL is not set\n" },
              },
            },
          ],
        }),
      ],
      events: [],
      expected: [
        "Deployment battlescope/frontend is not Ready (0/1 replicas ready)",
        '  pod frontend-x: Error: the container stopped (last exit code 1, reason Error, message "DATABASE_URL is not set", restarted 1 time)',
        "  what to do: the container exits: read its log with kubectl -n battlescope logs deployment/frontend --previous",
      ],
    },
    {
      name: "a stop that is not a probe's (a Killing event of a scale-down)",
      pods: [
        pod("frontend-x", "frontend", {
          containerStatuses: [{ ...NOT_READY(), state: { running: {} } }],
        }),
      ],
      events: [
        kubelet("frontend-x", "frontend", 9, "Killing", "Stopping container frontend", "Normal"),
      ],
      expected: [
        "Deployment battlescope/frontend is not Ready (0/1 replicas ready)",
        "  pod frontend-x: Running: not Ready yet",
        "  what to do: look at kubectl -n battlescope describe deployment/frontend and its pods",
      ],
    },
    {
      name: "a pod no node accepts",
      pods: [
        pod("frontend-x", "frontend", {
          phase: "Pending",
          conditions: [
            {
              type: "PodScheduled",
              status: "False",
              reason: "Unschedulable",
              message: "0/1 nodes are available: 1 Insufficient memory.",
            },
          ],
        }),
      ],
      events: [],
      expected: [
        "Deployment battlescope/frontend is not Ready (0/1 replicas ready)",
        "  pod frontend-x: Unschedulable: 0/1 nodes are available: 1 Insufficient memory.",
        "  what to do: look at kubectl -n battlescope describe deployment/frontend and its pods",
      ],
    },
  ])("explains $name", ({ pods, events, expected }) => {
    expect(diagnoseRollouts([deployment("frontend", 0)], pods, events, CONTEXT)).toEqual([
      expected.join("\n"),
    ]);
  });

  it("names each container of a pod of several, and a probe on a numbered port", () => {
    const twoContainers: Pod = {
      ...pod("frontend-x", "frontend", {
        containerStatuses: [
          { name: "frontend", ready: true },
          { name: "sidecar", ready: false, state: { running: {} } },
        ],
      }),
      spec: {
        containers: [
          { name: "frontend" },
          { name: "sidecar", startupProbe: { httpGet: { path: "/up", port: 9000 } } },
        ],
      },
    };
    const [report] = diagnoseRollouts(
      [deployment("frontend", 0)],
      [twoContainers],
      [
        kubelet(
          "frontend-x",
          "sidecar",
          4,
          "Unhealthy",
          "Startup probe failed: HTTP probe failed with statuscode: 503",
        ),
      ],
      CONTEXT,
    );
    expect(report?.split("\n")[1]).toBe(
      "  pod frontend-x: StartupProbeFailed: GET /up on port 9000 got HTTP 503 (container sidecar)",
    );
  });

  it("reports a rollout whose new pods are not Ready while the old ones still serve", () => {
    const [report] = diagnoseRollouts(
      // The old pod still serves (ready 1), the new one (updated 1) is not available: 2 replicas.
      [deployment("battle-service", 1, 1, 1, 2)],
      [
        pod("battle-service-old", "battle-service", {
          containerStatuses: [{ name: "battle-service", ready: true }],
        }),
        probedPod("battle-service-new", "battle-service", "/nope", 3003, {
          containerStatuses: [{ name: "battle-service", ready: false, state: { running: {} } }],
        }),
      ],
      [
        kubelet(
          "battle-service-new",
          "battle-service",
          5,
          "Unhealthy",
          "Readiness probe failed: HTTP probe failed with statuscode: 404",
        ),
      ],
      CONTEXT,
    );
    expect(report).toBe(
      [
        "Deployment battlescope/battle-service is not Ready (1/1 replicas ready)",
        "  pod battle-service-new: ReadinessProbeFailed: GET /nope on port 3003 got HTTP 404",
        "  what to do: the readiness probe requests /nope on port 3003 and got HTTP 404: set battlescope:healthPaths.battle-service to the path the service answers 200 on, or fix the service, then run up again",
      ].join("\n"),
    );
  });
});

describe("probeAnswer", () => {
  it.each([
    {
      message: "HTTP probe failed with statuscode: 404",
      expected: { answer: "HTTP 404", httpStatus: 404 },
    },
    {
      message:
        'Get "http://10.244.0.5:8080/healthz": dial tcp 10.244.0.5:8080: connect: connection refused',
      expected: { answer: "dial tcp 10.244.0.5:8080: connect: connection refused" },
    },
    {
      message:
        'Get "http://10.244.0.5:8080/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
      expected: {
        answer: "context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
      },
    },
    { message: "command timed out", expected: { answer: "command timed out" } },
  ])("reads $message", ({ message, expected }) => {
    expect(probeAnswer(message)).toEqual(expected);
  });
});

/** A pod and its events as the local cluster served them (test/unit/fixtures/rollouts). */
function captured(name: string): { pod: Pod; events: KubeEvent[] } {
  const file = path.join(__dirname, "fixtures/rollouts", `${name}.json`);
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

describe("diagnoseRollouts on pods captured from the local cluster", () => {
  const POD = "  pod battle-service-767fd4c4c7-mlphh";
  const PROBES_404 = [
    `${POD}: LivenessProbeFailed: GET /no-such-path on port 3003 got HTTP 404`,
    `${POD}: ReadinessProbeFailed: GET /no-such-path on port 3003 got HTTP 404`,
  ];
  const FIX_LIVENESS =
    "  what to do: the liveness probe requests /no-such-path on port 3003 and got HTTP 404: set battlescope:healthPaths.battle-service to the path the service answers 200 on, or fix the service, then run up again";
  it.each([
    {
      name: "wrong-health-path-before-restart",
      expected: [
        `${POD}: ReadinessProbeFailed: GET /no-such-path on port 3003 got HTTP 404`,
        `${POD}: LivenessProbeFailed: GET /no-such-path on port 3003 got HTTP 404`,
        "  what to do: the readiness probe requests /no-such-path on port 3003 and got HTTP 404: set battlescope:healthPaths.battle-service to the path the service answers 200 on, or fix the service, then run up again",
      ],
    },
    {
      name: "wrong-health-path-restarted",
      expected: [
        ...PROBES_404,
        `${POD}: led to Killing: Container battle-service failed liveness probe, will be restarted (last exit code 0, reason Completed, restarted 1 time)`,
        FIX_LIVENESS,
      ],
    },
    {
      name: "wrong-health-path-back-off",
      expected: [
        ...PROBES_404,
        `${POD}: led to Killing: Container battle-service failed liveness probe, will be restarted`,
        `${POD}: led to CrashLoopBackOff: back-off 5m0s restarting failed container=battle-service pod=battle-service-767fd4c4c7-mlphh_repromxcqwvbgli(64084ab3-64ff-4b7e-8fcc-d6e82d456c90) (last exit code 0, reason Completed, restarted 7 times)`,
        FIX_LIVENESS,
      ],
    },
    {
      name: "exits-at-once",
      expected: [
        "  pod battle-service-9fcdc5b9-bq5lp: CrashLoopBackOff: back-off 40s restarting failed container=battle-service pod=battle-service-9fcdc5b9-bq5lp_repromxcrcgu26(132a5ad0-a030-4957-a3b5-5af8c97a506c) (last exit code 3, reason Error, restarted 3 times)",
        "  what to do: the container exits: read its log with kubectl -n repromxcrcgu26 logs deployment/battle-service --previous",
      ],
    },
  ])("explains $name", ({ name, expected }) => {
    const { pod, events } = captured(name);
    const namespace = pod.metadata.namespace ?? "";
    const [report] = diagnoseRollouts([deployment("battle-service", 0)], [pod], events, {
      ...CONTEXT,
      namespace,
    });
    expect(report).toBe(
      [
        `Deployment ${namespace}/battle-service is not Ready (0/1 replicas ready)`,
        ...expected,
      ].join("\n"),
    );
  });
});
