import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { dockerAuthKey } from "../clients/dockerConfig";
import { PULL_SECRET_NAME } from "../lib/config";

export interface RegistryCredentialsArgs {
  readonly namespace: pulumi.Input<string>;
  /** Registry host the kubelet pulls from, e.g. `docker.io` or `127.0.0.1:5000`. */
  readonly registry: string;
  readonly username: pulumi.Input<string>;
  readonly password: pulumi.Input<string>;
}

/**
 * The `.dockerconfigjson` payload, as `kubectl create secret docker-registry` writes it: under the
 * key the Docker client files the registry's login (Docker Hub's is its classic index URL), the
 * one kubelets look up.
 */
export function dockerConfigJson(registry: string, username: string, password: string): string {
  const auth = Buffer.from(`${username}:${password}`).toString("base64");
  return JSON.stringify({
    auths: { [dockerAuthKey(registry)]: { username, password, auth } },
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
