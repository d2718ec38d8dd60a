/** Kubernetes objects as the API serves them, for the rollout report's tests. */
import type { Deployment, KubeEvent, Pod } from "../../lib/kubeObjects";

export const deployment = (
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

export const pod = (
  name: string,
  service: string,
  status: Partial<NonNullable<Pod["status"]>> = {},
  extra: Partial<Pod["metadata"]> = {},
): Pod => ({
  metadata: { name, labels: { "app.kubernetes.io/name": service }, ...extra },
  status: { phase: "Running", ...status },
});

export const CONTEXT = {
  namespace: "battlescope",
  pullSecretName: "docker-hub-creds",
  registry: "127.0.0.1:5000",
  healthPaths: { frontend: "/health", "battle-service": "/nope" },
};

/** A pod of one container serving `port` (named http), both probes on `path`, as the stack makes. */
export const probedPod = (
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
export const kubelet = (
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
