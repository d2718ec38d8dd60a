import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export const PULL_SECRET_NAME = "docker-hub-creds";

export interface RegistryCredentialsArgs {
  readonly namespace: pulumi.Input<string>;
  /** Registry host the kubelet pulls from, e.g. `docker.io`. */
  readonly registry: string;
  readonly username: pulumi.Input<string>;
  readonly password: pulumi.Input<string>;
}

/** The key kubelets look up: Docker Hub's credentials live under its classic index URL. */
export function dockerConfigServer(registry: string): string {
  return registry === "docker.io" ? "https://index.docker.io/v1/" : registry;
}

/** The `.dockerconfigjson` payload, as `kubectl create secret docker-registry` writes it. */
export function dockerConfigJson(registry: string, username: string, password: string): string {
  const auth = Buffer.from(`${username}:${password}`).toString("base64");
  return JSON.stringify({
    auths: { [dockerConfigServer(registry)]: { username, password, auth } },
  });
}

/** The `docker-hub-creds` pull secret every Deployment names. */
export class RegistryCredentials extends pulumi.ComponentResource {
  public readonly secretName: pulumi.Output<string>;

  constructor(name: string, args: RegistryCredentialsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("battlescope:kubernetes:RegistryCredentials", name, {}, opts);
    const payload = pulumi.secret(
      pulumi
        .all([args.username, args.password])
        .apply(([username, password]) => dockerConfigJson(args.registry, username, password)),
    );
    const secret = new k8s.core.v1.Secret(
      name,
      {
        metadata: { name: PULL_SECRET_NAME, namespace: args.namespace },
        type: "kubernetes.io/dockerconfigjson",
        stringData: { ".dockerconfigjson": payload },
      },
      { parent: this },
    );
    this.secretName = secret.metadata.name;
    this.registerOutputs({ secretName: this.secretName });
  }
}
