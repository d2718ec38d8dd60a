import { describe, expect, it } from "vitest";
import { OciRegistryClient } from "../../clients/ociRegistry";
import { createRegistryTagProvider, type RegistryTagInputs } from "../../components/registryTag";
import { exactly } from "../support/exactly";
import { FakeRegistry, IMAGE } from "../support/fakeRegistry";

const REPO = "battlescope/frontend";

function setup() {
  const registry = new FakeRegistry();
  const image = registry.put(REPO, { config: {}, layers: [] }, IMAGE);
  const other = registry.put(REPO, { config: { other: true }, layers: [] }, IMAGE);
  const provider = createRegistryTagProvider(
    (inputs) => new OciRegistryClient({ registry: inputs.registry, fetch: registry.fetch }),
  );
  const inputs = (tag: string, digest: string, createOnly: boolean): RegistryTagInputs => ({
    registry: "registry.test:5000",
    repository: REPO,
    tag,
    digest,
    createOnly,
  });
  const writes = () => registry.requests.filter((request) => request.startsWith("PUT"));
  return { registry, image, other, provider, inputs, writes };
}

describe("RegistryTag provider", () => {
  it("writes an absent tag as a copy of the manifest, keeping its digest", async () => {
    const { registry, image, provider, inputs, writes } = setup();
    const result = await provider.create(inputs("v3.0.0-amd64", image, true));
    expect(result.id).toBe("registry.test:5000/battlescope/frontend:v3.0.0-amd64");
    expect(registry.tags.get(REPO)?.get("v3.0.0-amd64")).toBe(image);
    expect(writes()).toEqual([`PUT /v2/${REPO}/manifests/v3.0.0-amd64`]);
  });

  it("does nothing when the tag already holds that digest", async () => {
    const { registry, image, provider, inputs, writes } = setup();
    registry.tag(REPO, "v3.0.0-amd64", image);
    const result = await provider.create(inputs("v3.0.0-amd64", image, true));
    expect(result.outs.previousDigest).toBe(image);
    expect(writes()).toEqual([]);
  });

  it("refuses to move a create-only tag and writes nothing", async () => {
    const { registry, image, other, provider, inputs, writes } = setup();
    registry.tag(REPO, "v3.0.0-amd64", other);
    await expect(provider.create(inputs("v3.0.0-amd64", image, true))).rejects.toThrow(
      exactly(
        `refusing to overwrite registry.test:5000/battlescope/frontend:v3.0.0-amd64: it already holds ${other}, not ${image}; version tags are create-only`,
      ),
    );
    expect(writes()).toEqual([]);
    expect(registry.tags.get(REPO)?.get("v3.0.0-amd64")).toBe(other);
  });

  it("moves a floating tag", async () => {
    const { registry, image, other, provider, inputs } = setup();
    registry.tag(REPO, "latest-amd64", other);
    const result = await provider.update?.("id", {} as never, inputs("latest-amd64", image, false));
    expect(result?.outs.previousDigest).toBe(other);
    expect(registry.tags.get(REPO)?.get("latest-amd64")).toBe(image);
  });

  it("refuses a digest the repository does not hold", async () => {
    const { provider, inputs } = setup();
    const missing = `sha256:${"0".repeat(64)}`;
    await expect(provider.create(inputs("v3-amd64", missing, false))).rejects.toThrow(
      exactly(
        `cannot tag registry.test:5000/battlescope/frontend:v3-amd64: ${missing} is not in registry.test:5000/battlescope/frontend`,
      ),
    );
  });

  it("never deletes a tag", async () => {
    const { registry, image, provider } = setup();
    registry.tag(REPO, "v3", image);
    await provider.delete?.("id", {});
    expect(registry.deletes()).toEqual([]);
  });

  it.each([
    {
      name: "nothing changed",
      olds: { tag: "v3", digest: "a" },
      news: { tag: "v3", digest: "a" },
      changes: false,
      replaces: [],
    },
    {
      name: "the digest moved",
      olds: { tag: "v3", digest: "a" },
      news: { tag: "v3", digest: "b" },
      changes: true,
      replaces: [],
    },
    {
      name: "another tag",
      olds: { tag: "v3", digest: "a" },
      news: { tag: "v4", digest: "a" },
      changes: true,
      replaces: ["tag"],
    },
  ])("diff: $name", async ({ olds, news, changes, replaces }) => {
    const { provider } = setup();
    const base = { registry: "r", repository: REPO, createOnly: false };
    expect(await provider.diff?.("id", { ...base, ...olds }, { ...base, ...news })).toEqual({
      changes,
      replaces,
      deleteBeforeReplace: false,
    });
  });
});
