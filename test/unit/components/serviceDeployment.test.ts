/** ServiceDeployment alone under mocks: its outputs, awaited. */
import type * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { ServiceDeployment } from "../../../components/serviceDeployment";
import { SERVICES } from "../../../services/catalog";
import { mockRuntime, outputValue, secretValue } from "../../support/pulumiMocks";

const runtime = mockRuntime();
const service = (name: string) => {
  const found = SERVICES.find((entry) => entry.name === name);
  if (found === undefined) throw new Error(`no service ${name}`);
  return found;
};
const DIGEST = `sha256:${"a".repeat(64)}`;

describe("ServiceDeployment under mocks", () => {
  it("runs the pinned image under the service's name", async () => {
    const image = `docker.io/battlescope/frontend:v3.1.0@${DIGEST}`;
    const deployment = new ServiceDeployment("frontend", {
      service: service("frontend"),
      namespace: "battlescope",
      replicas: 2,
      image,
      version: "v3.1.0",
      pullSecretName: "docker-hub-creds",
    });
    expect(await outputValue(deployment.deploymentName)).toBe("frontend");
    expect(await outputValue(deployment.image)).toBe(image);
  });

  it("owns the config Secret of a service with required variables, as a secret", async () => {
    const deployment = new ServiceDeployment("search-service", {
      service: service("search-service"),
      namespace: "battlescope",
      replicas: 1,
      image: `docker.io/battlescope/search-service:v3.1.0@${DIGEST}`,
      version: "v3.1.0",
      pullSecretName: "docker-hub-creds",
      configValues: { TYPESENSE_URL: "http://ts", TYPESENSE_API_KEY: "k" },
    });
    expect(await outputValue(deployment.deploymentName)).toBe("search-service");
    const secret = runtime.recorded.find((r) => r.name === "search-service-config");
    expect(secretValue(secret?.inputs.stringData)).toEqual({
      TYPESENSE_URL: "http://ts",
      TYPESENSE_API_KEY: "k",
    });
  });

  it("limits the provider's await of the Deployment and of the Service to the rollout timeout", async () => {
    const awaited: Record<string, pulumi.CustomTimeouts | undefined> = {};
    const deployment = new ServiceDeployment(
      "battle-service",
      {
        service: service("battle-service"),
        namespace: "battlescope",
        replicas: 1,
        image: `docker.io/battlescope/battle-service:v3.1.0@${DIGEST}`,
        version: "v3.1.0",
        pullSecretName: "docker-hub-creds",
        rolloutTimeoutSeconds: 45,
      },
      {
        // Children inherit the component's transformations: each one sees a child's options.
        transformations: [
          ({ type, opts }) => {
            if (type.startsWith("kubernetes:")) awaited[type] = opts.customTimeouts;
            return undefined;
          },
        ],
      },
    );
    await outputValue(deployment.deploymentName);
    expect(awaited).toEqual({
      "kubernetes:apps/v1:Deployment": { create: "45s", update: "45s" },
      "kubernetes:core/v1:Service": { create: "45s", update: "45s" },
    });
  });
});
