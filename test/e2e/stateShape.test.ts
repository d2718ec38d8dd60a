/**
 * What a release leaves in the stack's state, which the engine rewrites whole after every step
 * (bench/RESULTS.md: a patch release's checkpoints cost more than its registry work): each dynamic
 * resource keeps the small provider stub of components/dynamicProvider.ts, no component keeps
 * outputs, which would change with every release, and the next release updates the version's
 * resources in place rather than creating new ones and deleting the old.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { providerStub } from "../../components/dynamicProvider";
import { ENGINE_PARALLELISM, REPO_ROOT, upFromEvents } from "../../scripts/stack";
import { createE2eStack, type E2eStack, LIGHT_RELEASE, setVersion } from "./harness";

interface StateResource {
  urn: string;
  type: string;
  custom: boolean;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

/** The factory each dynamic resource type's module exports. */
const FACTORIES: Record<string, { file: string; factory: string }> = {
  "pulumi-nodejs:dynamic/battlescope:RegistryTagSet": {
    file: "registryTagSet.ts",
    factory: "createRegistryTagSetProvider",
  },
  "pulumi-nodejs:dynamic/battlescope:DockerHubRepository": {
    file: "hubRepository.ts",
    factory: "createHubRepositoryProvider",
  },
};

describe.sequential("the state a first release writes", () => {
  let e2e: E2eStack;
  let resources: StateResource[];

  beforeAll(async () => {
    e2e = await createE2eStack("stateshape", LIGHT_RELEASE);
    const result = await e2e.stack.up({ color: "never", parallel: ENGINE_PARALLELISM });
    expect(result.summary.result).toBe("succeeded");
    resources = (await e2e.stack.exportStack()).deployment.resources as StateResource[];
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it("gives each dynamic resource the provider stub of its module, in inputs and outputs", () => {
    const dynamic = resources.filter((resource) =>
      resource.type.startsWith("pulumi-nodejs:dynamic/"),
    );
    expect(new Set(dynamic.map((resource) => resource.type))).toEqual(
      new Set(Object.keys(FACTORIES)),
    );
    for (const resource of dynamic) {
      const { file, factory } = FACTORIES[resource.type] as { file: string; factory: string };
      const stub = providerStub({
        modulePath: path.join(REPO_ROOT, "components", file),
        factoryExport: factory,
      });
      expect(resource.inputs?.__provider, resource.urn).toBe(stub);
      expect(resource.outputs?.__provider, resource.urn).toBe(stub);
    }
  });

  it("keeps no outputs of a component", () => {
    const components = resources.filter(
      (resource) => !resource.custom && resource.type !== "pulumi:pulumi:Stack",
    );
    expect(new Set(components.map((resource) => resource.type))).toEqual(
      new Set([
        "battlescope:release:ServiceRelease",
        "battlescope:images:MultiArchImage",
        "battlescope:hub:DockerHubRepository",
        "battlescope:kubernetes:ServiceDeployment",
        "battlescope:kubernetes:RegistryCredentials",
      ]),
    );
    const withOutputs = components
      .filter((resource) => Object.keys(resource.outputs ?? {}).length > 0)
      .map((resource) => `${resource.urn}: ${Object.keys(resource.outputs ?? {}).join(", ")}`);
    // The pull secret's name is fixed: kept, since it never changes.
    expect(withOutputs).toEqual([
      expect.stringMatching(/RegistryCredentials.*: secretName$/) as unknown as string,
    ]);
  });

  it("updates the version's tag set at the next release, and creates or deletes none", async () => {
    await setVersion(e2e, "v3.0.1");
    const steps: string[] = [];
    await upFromEvents(e2e.stack, {
      color: "never",
      parallel: ENGINE_PARALLELISM,
      onEvent: (event) => {
        const step = event.resourcePreEvent?.metadata;
        if (step?.type === "pulumi-nodejs:dynamic/battlescope:RegistryTagSet") {
          steps.push(`${step.op} ${step.urn.split("::").at(-1)}`);
        }
      },
    });
    expect(steps.filter((step) => step.endsWith("-version-tags")).sort()).toEqual(
      resources
        .filter((resource) => resource.urn.endsWith("-version-tags"))
        .map((resource) => `update ${resource.urn.split("::").at(-1)}`)
        .sort(),
    );
    expect(steps.filter((step) => !step.startsWith("update"))).toEqual([]);
  });
});
