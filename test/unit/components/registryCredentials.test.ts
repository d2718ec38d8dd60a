/** RegistryCredentials alone under mocks: its output, awaited, and the pull secret it holds. */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { RegistryCredentials } from "../../../components/registryCredentials";
import { mockRuntime, outputValue, secretValue } from "../../support/pulumiMocks";

const runtime = mockRuntime();

describe("RegistryCredentials under mocks", () => {
  it.each([
    { registry: "docker.io", server: "https://index.docker.io/v1/" },
    { registry: "127.0.0.1:5000", server: "127.0.0.1:5000" },
  ])("files the login for $registry under $server", async ({ registry, server }) => {
    const credentials = new RegistryCredentials(`credentials-${registry}`, {
      namespace: "battlescope",
      registry,
      username: "bot",
      password: pulumi.secret("pw"),
    });
    expect(await outputValue(credentials.secretName)).toBe("docker-hub-creds");
    const secret = runtime.recorded.find(
      (r) => r.type === "kubernetes:core/v1:Secret" && r.name === `credentials-${registry}`,
    );
    expect(secret?.inputs.type).toBe("kubernetes.io/dockerconfigjson");
    const data = secretValue(secret?.inputs.stringData) as Record<string, string>;
    expect(JSON.parse(data[".dockerconfigjson"] as string)).toEqual({
      auths: {
        [server]: {
          username: "bot",
          password: "pw",
          auth: Buffer.from("bot:pw").toString("base64"),
        },
      },
    });
  });
});
