/** The rollout report's reasons and hints, one named case per way a pod fails to become Ready. */
import { describe, expect, it } from "vitest";
import type { KubeEvent, Pod } from "../../lib/kubeObjects";
import { diagnoseRollouts } from "../../lib/rollout";
import { CONTEXT, deployment, kubelet, pod, probedPod } from "../support/rolloutObjects";

const notReady = (restartCount = 0) => ({ name: "frontend", ready: false, restartCount });

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
          containerStatuses: [{ ...notReady(), state: { running: {} } }],
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
              ...notReady(3),
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
          containerStatuses: [{ ...notReady(), state: { running: {} } }],
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
          containerStatuses: [{ ...notReady(1), state: { running: {} } }],
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
              ...notReady(2),
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
              ...notReady(1),
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
          containerStatuses: [{ ...notReady(), state: { running: {} } }],
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
