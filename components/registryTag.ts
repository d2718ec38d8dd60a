/**
 * The provider of the one-tag `RegistryTag` resources that stacks released before
 * `RegistryTagSet` hold in their state. Their serialized provider loads this module by path, so
 * it stays until no stack holds one: the next `pulumi up` deletes them, and delete, as always,
 * leaves the published tags in the registry.
 */
import type * as pulumi from "@pulumi/pulumi";

export function createRegistryTagProvider(): pulumi.dynamic.ResourceProvider {
  const superseded = async (): Promise<never> => {
    throw new Error(
      "RegistryTag is superseded by RegistryTagSet; declare tags with RegistryTagSet (components/registryTagSet.ts)",
    );
  };
  return {
    async diff() {
      return { changes: false };
    },
    create: superseded,
    update: superseded,
    async delete() {
      // Published tags stay: deleting them is the retention command's job alone.
    },
  };
}
