/** ServiceDeployment alone under mocks: its outputs, awaited. */
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
});
