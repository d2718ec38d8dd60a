/** ServiceRelease alone under mocks: its outputs, awaited, and the components it is made of. */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { ServiceRelease } from "../../../components/serviceRelease";
import { planTags } from "../../../lib/tagPlan";
import { COMPONENT_TYPES, RESOURCE_TYPES } from "../../../lib/vocabulary";
import { SERVICES } from "../../../services/catalog";
import { mockRuntime, outputValue, registryOutputs, sha } from "../../support/pulumiMocks";

const runtime = mockRuntime((args) =>
  args.type === RESOURCE_TYPES.hubRepository
    ? { fullName: `${args.inputs.namespace}/${args.inputs.repository}`, created: true }
    : registryOutputs(args),
);

const frontend = SERVICES.find((service) => service.name === "frontend");

describe("ServiceRelease under mocks", () => {
  it("pins the release's manifest list and declares its image, Hub page and Deployment", async () => {
    if (frontend === undefined) throw new Error("no frontend in the catalog");
    const existingTags = ["v3.0.0", "v3.0", "v3", "latest"];
    const tagPlan = planTags({
      version: "v3.1.0",
      existingTags,
      architectures: ["amd64", "arm64"],
      moveFloatingTags: true,
    });
    const release = new ServiceRelease("frontend", {
      service: frontend,
      registry: "docker.io",
      organization: "battlescope",
      version: "v3.1.0",
      existingTags,
      sourceHash: sha("frontend sources"),
      tagPlan,
      platforms: ["linux/amd64", "linux/arm64"],
      context: "/src/frontend",
      registryCache: true,
      buildOnPreview: false,
      dockerHub: { url: "https://hub.docker.com", username: "bot", token: pulumi.secret("t") },
      deployment: { namespace: "battlescope", replicas: 2, pullSecretName: "docker-hub-creds" },
    });
    expect(release.plan).toBe(tagPlan);
    const [pinnedRef, digest] = await outputValue(
      pulumi.all([release.pinnedRef, release.image.digest]),
    );
    expect(pinnedRef).toBe(`docker.io/battlescope/frontend:v3.1.0@${digest}`);
    await runtime.settled();
    const components = runtime.recorded
      .filter((r) => r.type.startsWith("battlescope:"))
      .map((r) => r.type);
    expect(components.sort()).toEqual(
      [
        COMPONENT_TYPES.serviceRelease,
        COMPONENT_TYPES.multiArchImage,
        COMPONENT_TYPES.hubRepository,
        COMPONENT_TYPES.serviceDeployment,
      ].sort(),
    );
    expect(runtime.recorded.filter((r) => r.type === RESOURCE_TYPES.deployment)).toHaveLength(1);
  });
});
