import { describe, expect, it } from "vitest";
import {
  type Deployment,
  diagnoseRollouts,
  imageIdDigest,
  type KubeEvent,
  type Pod,
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
      ].join("\n"),
    },
    {
      name: "a readiness probe that fails",
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
        {
          involvedObject: { name: "frontend-x", kind: "Pod" },
          reason: "Unhealthy",
          type: "Warning",
          message: "Liveness probe failed: HTTP probe failed with statuscode: 404",
        },
      ] satisfies KubeEvent[],
      expected: [
        "Deployment battlescope/frontend is not Ready (0/1 replicas ready)",
        "  pod frontend-x: ReadinessProbeFailed: Readiness probe failed: HTTP probe failed with statuscode: 404",
        "  what to do: the probes request /health on the container port: set battlescope:healthPaths.frontend to the path the service answers 200 on, or fix the service, then run up again",
      ].join("\n"),
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
      ].join("\n"),
    },
    {
      name: "a container that keeps exiting",
      pods: [
        pod("frontend-x", "frontend", {
          containerStatuses: [
            {
              name: "frontend",
              ready: false,
              state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 10s" } },
              lastState: { terminated: { reason: "Error", exitCode: 3 } },
            },
          ],
        }),
      ],
      events: [],
      expected: [
        "Deployment battlescope/frontend is not Ready (0/1 replicas ready)",
        "  pod frontend-x: CrashLoopBackOff: back-off 10s (last exit code 3)",
        "  what to do: the container exits: read its log with kubectl -n battlescope logs deployment/frontend --previous",
      ].join("\n"),
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
      ].join("\n"),
    },
  ])("explains $name", ({ pods, events, expected }) => {
    expect(diagnoseRollouts([deployment("frontend", 0)], pods, events, CONTEXT)).toEqual([
      expected,
    ]);
  });

  it("reports a rollout whose new pods are not Ready while the old ones still serve", () => {
    const [report] = diagnoseRollouts(
      // The old pod still serves (ready 1), the new one (updated 1) is not available: 2 replicas.
      [deployment("battle-service", 1, 1, 1, 2)],
      [
        pod("battle-service-old", "battle-service", {
          containerStatuses: [{ name: "battle-service", ready: true }],
        }),
        pod("battle-service-new", "battle-service", {
          containerStatuses: [{ name: "battle-service", ready: false, state: {} }],
        }),
      ],
      [
        {
          involvedObject: { name: "battle-service-new" },
          reason: "Unhealthy",
          message: "Readiness probe failed: HTTP probe failed with statuscode: 404",
        },
      ],
      CONTEXT,
    );
    expect(report).toBe(
      [
        "Deployment battlescope/battle-service is not Ready (1/1 replicas ready)",
        "  pod battle-service-new: ReadinessProbeFailed: Readiness probe failed: HTTP probe failed with statuscode: 404",
        "  what to do: the probes request /nope on the container port: set battlescope:healthPaths.battle-service to the path the service answers 200 on, or fix the service, then run up again",
      ].join("\n"),
    );
  });
});
