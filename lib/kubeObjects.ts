/**
 * The fields of the Kubernetes objects the rollout report and the checks read, as the API serves
 * them (only those fields: the rest of each object is ignored).
 */

export interface ContainerState {
  readonly waiting?: { readonly reason?: string; readonly message?: string };
  readonly running?: { readonly startedAt?: string };
  readonly terminated?: {
    readonly reason?: string;
    readonly exitCode?: number;
    readonly message?: string;
  };
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

/** A container's probe as the pod spec holds it; a port is a number or a container port's name. */
export interface Probe {
  readonly httpGet?: { readonly path?: string; readonly port?: number | string };
  readonly tcpSocket?: { readonly port?: number | string };
  readonly grpc?: { readonly port?: number };
  readonly exec?: { readonly command?: readonly string[] };
}

export interface ContainerSpec {
  readonly name: string;
  readonly image?: string;
  readonly ports?: ReadonlyArray<{ readonly name?: string; readonly containerPort: number }>;
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly startupProbe?: Probe;
  readonly securityContext?: { readonly runAsUser?: number };
}

export interface Pod {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly deletionTimestamp?: string;
  };
  readonly spec?: {
    readonly containers?: readonly ContainerSpec[];
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

export interface KubeEvent {
  readonly involvedObject?: {
    readonly name?: string;
    readonly kind?: string;
    /** `spec.containers{<name>}` for the kubelet's events about one container. */
    readonly fieldPath?: string;
  };
  readonly reason?: string;
  readonly message?: string;
  readonly type?: string;
  readonly lastTimestamp?: string;
  readonly eventTime?: string;
}

/** An image the node holds, as its status lists it: every name it is known by. */
export interface NodeImage {
  readonly names?: readonly string[];
}
