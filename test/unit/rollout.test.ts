import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import type { KubeEvent, Pod } from "../../lib/kubeObjects";
import { probeAnswer } from "../../lib/podDiagnosis";
import {
  diagnoseRollouts,
  imageIdDigest,
  rolloutComplete,
  rolloutRows,
  sameImageNames,
} from "../../lib/rollout";
import { CONTEXT, deployment, pod } from "../support/rolloutObjects";

const DIGEST_A = `sha256:${"a".repeat(64)}`;
const DIGEST_B = `sha256:${"b".repeat(64)}`;

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
