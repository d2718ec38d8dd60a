/** MultiArchImage alone under mocks: its outputs, awaited (the awsx `ecr/repository.test.ts` shape). */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { MultiArchImage } from "../../../components/multiArchImage";
import { planTags } from "../../../lib/tagPlan";
import { RESOURCE_TYPES } from "../../../lib/vocabulary";
import {
  mockRuntime,
  outputValue,
  registryOutputs,
  secretValue,
  sha,
} from "../../support/pulumiMocks";

const runtime = mockRuntime(registryOutputs);

const REPOSITORY = "127.0.0.1:5000/battlescope/frontend";
const plan = (reusesFrom?: string) =>
  planTags({
    version: "v3.1.0",
    existingTags: ["v3.0.0", "v3.0", "v3", "latest"],
    architectures: ["amd64", "arm64"],
    moveFloatingTags: true,
    ...(reusesFrom === undefined ? {} : { reusesFrom }),
  });
const args = {
  repository: REPOSITORY,
  platforms: ["linux/amd64", "linux/arm64"] as const,
  context: "/src/frontend",
  login: { address: "127.0.0.1:5000", username: "bot", password: pulumi.secret("registry-pw") },
  registryCache: false,
  buildOnPreview: false,
  annotations: { "org.opencontainers.image.version": "v3.1.0" },
};

describe("MultiArchImage under mocks", () => {
  it("builds one image per platform and pins the version's manifest list", async () => {
    const image = new MultiArchImage("frontend", { ...args, plan: plan() });
    const [digest, ref, platformDigests] = await outputValue(
      pulumi.all([image.digest, image.ref, image.platformDigests]),
    );
    expect(platformDigests).toEqual({ amd64: sha("frontend-amd64"), arm64: sha("frontend-arm64") });
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ref).toBe(`${REPOSITORY}:v3.1.0@${digest}`);
    expect(image.manifestTags).toEqual(
      ["v3.1.0", "v3.1", "v3", "latest"].map((tag) => `${REPOSITORY}:${tag}`),
    );
    await runtime.settled();
    const sets = runtime.recorded.filter((r) => r.type === RESOURCE_TYPES.registryTagSet);
    expect(sets.map((r) => [r.name, r.inputs.createOnly])).toEqual([
      ["frontend-version-tags", true],
      ["frontend-floating-tags", false],
    ]);
    expect(secretValue(sets[0]?.inputs.password)).toBe("registry-pw");
  });

  it("points the version at an earlier release's images without building any", async () => {
    const before = runtime.recorded.length;
    const reused = { amd64: sha("v3.0.0-amd64"), arm64: sha("v3.0.0-arm64") };
    const image = new MultiArchImage("backend", { ...args, plan: plan("v3.0.0"), reuse: reused });
    expect(await outputValue(image.platformDigests)).toEqual(reused);
    await runtime.settled();
    const types = runtime.recorded.slice(before).map((r) => r.type);
    expect(types).not.toContain(RESOURCE_TYPES.image);
    expect(types).toContain(RESOURCE_TYPES.registryTagSet);
  });
});
