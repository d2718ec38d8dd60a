import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceImage } from "../services/catalog";

/** The uid and gid every BattleScope container runs as; images declare the same `USER`. */
export const RUN_AS_USER = 10001;

export interface ServiceDeploymentArgs {
  readonly service: ServiceImage;
  readonly namespace: pulumi.Input<string>;
  readonly replicas: number;
  /** `<registry>/<org>/<service>:<version>@sha256:<manifest list digest>`: never a floating tag. */
  readonly image: pulumi.Input<string>;
  /**
   * The release version: the `app.kubernetes.io/version` label and the container's
   * `SERVICE_VERSION` (the image does not carry it: one image can serve several versions).
   */
  readonly version: string;
  /** Name of the `kubernetes.io/dockerconfigjson` Secret the kubelet pulls with. */
  readonly pullSecretName: pulumi.Input<string>;
  /** The path both probes request; the catalog's when absent. */
  readonly healthPath?: string;
  /** Seconds `up` waits for the rollout (the provider's await) before failing it. */
  readonly rolloutTimeoutSeconds?: number;
  /**
   * Values of the service's required variables: when given, the stack owns the service's config
   * Secret; otherwise the Secret is expected to exist in the namespace.
   */
  readonly configValues?: pulumi.Input<Record<string, string>>;
}

/** The variable that tells a running container its release version. */
export const SERVICE_VERSION_ENV = "SERVICE_VERSION";

/** Requests fit the small services on a one-node cluster; the memory limit stops a leak. */
export const CONTAINER_RESOURCES = {
  requests: { cpu: "10m", memory: "32Mi" },
  limits: { memory: "256Mi" },
} as const;

/** Values the container needs but the catalog cannot default, read from this Secret. */
export function configSecretName(service: ServiceImage): string {
  return `${service.name}-config`;
}

/** Refuses anything but a version pinned by digest, so `latest` can never be deployed. */
export function assertPinnedImage(image: string, version: string): void {
  const pinned = new RegExp(`:${version.replace(/\./g, "\\.")}@sha256:[0-9a-f]{64}$`);
  if (!pinned.test(image)) {
    throw new Error(
      `refusing to deploy ${JSON.stringify(image)}: a Deployment image must be <registry>/<org>/<service>:${version}@sha256:<manifest list digest>`,
    );
  }
}

/** The Deployment and Service of one BattleScope service (docs/rules.md#deployments). */
export class ServiceDeployment extends pulumi.ComponentResource {
  public readonly deploymentName: pulumi.Output<string>;
  public readonly image: pulumi.Output<string>;

  constructor(name: string, args: ServiceDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("battlescope:kubernetes:ServiceDeployment", name, {}, opts);
    const { service } = args;
    const healthPath = args.healthPath ?? service.healthPath;
    if (service.port === undefined || healthPath === undefined) {
      throw new Error(
        `${service.name} has no port and health path, so it cannot run as a Deployment`,
      );
    }
    const labels = {
      "app.kubernetes.io/name": service.name,
      "app.kubernetes.io/part-of": "battlescope",
    };
    const image = pulumi.output(args.image).apply((ref) => {
      // During a preview that does not build, the digest is unknown and the check waits for up.
      if (!pulumi.runtime.isDryRun() || /@sha256:/.test(ref)) assertPinnedImage(ref, args.version);
      return ref;
    });
    const configSecret =
      args.configValues === undefined
        ? undefined
        : new k8s.core.v1.Secret(
            `${name}-config`,
            {
              metadata: { name: configSecretName(service), namespace: args.namespace },
              type: "Opaque",
              stringData: pulumi.secret(args.configValues),
            },
            { parent: this },
          );
    // The provider waits for both: the Deployment for its rollout, the Service for a ready
    // endpoint (ten minutes by default). A rollout that fails leaves the Service without one, so
    // both wait no longer than the rollout may take.
    const timeout =
      args.rolloutTimeoutSeconds === undefined ? undefined : `${args.rolloutTimeoutSeconds}s`;
    const awaitLimit =
      timeout === undefined ? {} : { customTimeouts: { create: timeout, update: timeout } };
    const deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: {
          name: service.name,
          namespace: args.namespace,
          labels: { ...labels, "app.kubernetes.io/version": args.version },
        },
        spec: {
          replicas: args.replicas,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels: { ...labels, "app.kubernetes.io/version": args.version } },
            spec: {
              imagePullSecrets: [{ name: args.pullSecretName }],
              // The services do not call the Kubernetes API: no token in their file system.
              automountServiceAccountToken: false,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: RUN_AS_USER,
                runAsGroup: RUN_AS_USER,
                fsGroup: RUN_AS_USER,
                seccompProfile: { type: "RuntimeDefault" },
              },
              containers: [container(service, service.port, image, args.version, healthPath)],
            },
          },
        },
      },
      {
        parent: this,
        ...(configSecret === undefined ? {} : { dependsOn: [configSecret] }),
        ...awaitLimit,
      },
    );

    new k8s.core.v1.Service(
      name,
      {
        metadata: { name: service.name, namespace: args.namespace, labels },
        spec: {
          selector: labels,
          ports: [{ name: "http", port: service.port, targetPort: "http", protocol: "TCP" }],
        },
      },
      { parent: this, ...awaitLimit },
    );

    this.deploymentName = deployment.metadata.name;
    this.image = image;
    // Results are read from the properties: the engine rewrites the whole state per changed output.
    this.registerOutputs({});
  }
}

/** A probe of the service's health path (readiness and liveness differ in their first delay). */
function probe(healthPath: string, initialDelaySeconds: number) {
  return {
    httpGet: { path: healthPath, port: "http" },
    initialDelaySeconds,
    periodSeconds: 10,
    timeoutSeconds: 3,
    failureThreshold: 3,
  };
}

/** The service's one container: its pinned image, port, variables, probes and limits, non-root. */
function container(
  service: ServiceImage,
  port: number,
  image: pulumi.Output<string>,
  version: string,
  healthPath: string,
): k8s.types.input.core.v1.Container {
  return {
    name: service.name,
    image,
    imagePullPolicy: "IfNotPresent",
    ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
    env: [
      { name: SERVICE_VERSION_ENV, value: version },
      ...service.env.map((env) =>
        env.default === "required"
          ? {
              name: env.name,
              valueFrom: { secretKeyRef: { name: configSecretName(service), key: env.name } },
            }
          : { name: env.name, value: env.default },
      ),
    ],
    readinessProbe: probe(healthPath, 2),
    livenessProbe: probe(healthPath, 15),
    resources: CONTAINER_RESOURCES,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS_USER,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    },
  };
}
