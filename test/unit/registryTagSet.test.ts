import { describe, expect, it } from "vitest";
import { OciRegistryClient } from "../../clients/ociRegistry";
import { createRegistryTagProvider } from "../../components/registryTag";
import {
  createRegistryTagSetProvider,
  type RegistryTagSetInputs,
  type TagTarget,
} from "../../components/registryTagSet";
import { exactly } from "../support/exactly";
import { FakeRegistry, IMAGE } from "../support/fakeRegistry";

const REPO = "battlescope/frontend";

function setup() {
  const registry = new FakeRegistry();
  const image = registry.put(REPO, { config: {}, layers: [] }, IMAGE);
  const other = registry.put(REPO, { config: { other: true }, layers: [] }, IMAGE);
  const provider = createRegistryTagSetProvider(
    (inputs) => new OciRegistryClient({ registry: inputs.registry, fetch: registry.fetch }),
  );
  const inputs = (tags: TagTarget[], createOnly: boolean): RegistryTagSetInputs => ({
    registry: "registry.test:5000",
    repository: REPO,
    tags,
    createOnly,
  });
  const writes = () => registry.requests.filter((request) => request.startsWith("PUT"));
  const tagOf = (tag: string) => registry.tags.get(REPO)?.get(tag);
  return { registry, image, other, provider, inputs, writes, tagOf };
}

describe("RegistryTagSet provider", () => {
  it("writes absent tags in order as copies of the manifests, keeping their digests", async () => {
    const { image, other, provider, inputs, writes, tagOf } = setup();
    const result = await provider.create(
      inputs(
        [
          { tag: "v3.0.0-amd64", digest: image },
          { tag: "v3.0.0-arm64", digest: other },
        ],
        true,
      ),
    );
    expect(result.id).toBe("registry.test:5000/battlescope/frontend:version-tags");
    expect([tagOf("v3.0.0-amd64"), tagOf("v3.0.0-arm64")]).toEqual([image, other]);
    expect(writes()).toEqual([
      `PUT /v2/${REPO}/manifests/v3.0.0-amd64`,
      `PUT /v2/${REPO}/manifests/v3.0.0-arm64`,
    ]);
    expect(result.outs.previousDigests).toEqual({});
  });

  it("writes only the tags that do not already hold their digest", async () => {
    const { registry, image, provider, inputs, writes } = setup();
    registry.tag(REPO, "v3.0.0-amd64", image);
    const result = await provider.create(
      inputs(
        [
          { tag: "v3.0.0-amd64", digest: image },
          { tag: "v3.0.0-arm64", digest: image },
        ],
        true,
      ),
    );
    expect(result.outs.previousDigests).toEqual({ "v3.0.0-amd64": image });
    expect(writes()).toEqual([`PUT /v2/${REPO}/manifests/v3.0.0-arm64`]);
  });

  it("refuses to move any create-only tag and then writes none of them", async () => {
    const { registry, image, other, provider, inputs, writes, tagOf } = setup();
    registry.tag(REPO, "v3.0.0-arm64", other);
    await expect(
      provider.create(
        inputs(
          [
            { tag: "v3.0.0-amd64", digest: image },
            { tag: "v3.0.0-arm64", digest: image },
          ],
          true,
        ),
      ),
    ).rejects.toThrow(
      exactly(
        `refusing to overwrite registry.test:5000/battlescope/frontend:v3.0.0-arm64: it already holds ${other}, not ${image}; version tags are create-only`,
      ),
    );
    expect(writes()).toEqual([]);
    expect([tagOf("v3.0.0-amd64"), tagOf("v3.0.0-arm64")]).toEqual([undefined, other]);
  });

  it("moves floating tags, reporting where they were", async () => {
    const { registry, image, other, provider, inputs, tagOf } = setup();
    registry.tag(REPO, "latest-amd64", other);
    const result = await provider.update?.(
      "id",
      {} as never,
      inputs(
        [
          { tag: "v3-amd64", digest: image },
          { tag: "latest-amd64", digest: image },
        ],
        false,
      ),
    );
    expect(result?.outs.previousDigests).toEqual({ "latest-amd64": other });
    expect([tagOf("v3-amd64"), tagOf("latest-amd64")]).toEqual([image, image]);
  });

  it("refuses a digest the repository does not hold, before writing any tag", async () => {
    const { image, provider, inputs, tagOf } = setup();
    const missing = `sha256:${"0".repeat(64)}`;
    await expect(
      provider.create(
        inputs(
          [
            { tag: "v3-amd64", digest: image },
            { tag: "v3-arm64", digest: missing },
          ],
          false,
        ),
      ),
    ).rejects.toThrow(
      exactly(
        `cannot tag registry.test:5000/battlescope/frontend:v3-arm64: ${missing} is not in registry.test:5000/battlescope/frontend`,
      ),
    );
    expect([tagOf("v3-amd64"), tagOf("v3-arm64")]).toEqual([undefined, undefined]);
  });

  it("writes a version's manifest list as an annotated OCI index of its images, create-only", async () => {
    const { image, other, provider, inputs, writes, tagOf, registry } = setup();
    const target = {
      tag: "v3.0.0",
      index: {
        children: [
          { digest: image, os: "linux", architecture: "amd64" },
          { digest: other, os: "linux", architecture: "arm64" },
        ],
        annotations: { "org.opencontainers.image.version": "v3.0.0" },
      },
    };
    const result = await provider.create(inputs([target], true));
    const digest = result.outs.digests["v3.0.0"];
    expect(tagOf("v3.0.0")).toBe(digest);
    expect(writes()).toEqual([`PUT /v2/${REPO}/manifests/v3.0.0`]);
    const list = JSON.parse(registry.manifests.get(REPO)?.get(digest)?.body ?? "{}");
    expect(list.annotations).toEqual({ "org.opencontainers.image.version": "v3.0.0" });
    expect(
      list.manifests.map((m: { digest: string; platform: unknown }) => [m.digest, m.platform]),
    ).toEqual([
      [image, { architecture: "amd64", os: "linux" }],
      [other, { architecture: "arm64", os: "linux" }],
    ]);
    // The same inputs give the same bytes: a re-run writes nothing.
    registry.requests.length = 0;
    await provider.create(inputs([target], true));
    expect(writes()).toEqual([]);
    // Another version's annotation under the same tag is refused.
    const moved = { ...target, index: { ...target.index, annotations: {} } };
    await expect(provider.create(inputs([moved], true))).rejects.toThrow(/refusing to overwrite/);
  });

  it("writes the version's manifest list only after its arch tags, whatever order they are given in", async () => {
    const { image, other, provider, inputs, writes } = setup();
    await provider.create(
      inputs(
        [
          {
            tag: "v3.0.0",
            index: {
              children: [
                { digest: image, os: "linux", architecture: "amd64" },
                { digest: other, os: "linux", architecture: "arm64" },
              ],
              annotations: {},
            },
          },
          { tag: "v3.0.0-amd64", digest: image },
          { tag: "v3.0.0-arm64", digest: other },
        ],
        true,
      ),
    );
    expect(writes().at(-1)).toBe(`PUT /v2/${REPO}/manifests/v3.0.0`);
    expect(writes()).toHaveLength(3);
  });

  it("never deletes a tag", async () => {
    const { registry, image, provider } = setup();
    registry.tag(REPO, "v3", image);
    await provider.delete?.("id", {});
    expect(registry.deletes()).toEqual([]);
  });

  it.each([
    { name: "no tag", tags: [], reasons: ["no tag to write"] },
    {
      name: "an invalid tag",
      tags: [{ tag: "v3:amd64", digest: "a" }],
      reasons: ['"v3:amd64" is not a valid Docker tag'],
    },
    { name: "valid tags", tags: [{ tag: "v3-amd64", digest: "a" }], reasons: [] },
    {
      name: "a list still unknown in a preview",
      tags: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" as unknown as TagTarget[],
      reasons: [],
    },
  ])("check: $name", async ({ tags, reasons }) => {
    const { provider, inputs } = setup();
    const result = await provider.check?.({}, inputs(tags, false));
    expect(result?.failures?.map((failure) => failure.reason)).toEqual(reasons);
  });

  it.each([
    {
      name: "nothing changed",
      olds: { tags: [{ tag: "v3", digest: "a" }] },
      news: { tags: [{ tag: "v3", digest: "a" }] },
      changes: false,
      replaces: [],
    },
    {
      name: "a digest moved",
      olds: { tags: [{ tag: "v3", digest: "a" }] },
      news: { tags: [{ tag: "v3", digest: "b" }] },
      changes: true,
      replaces: [],
    },
    {
      name: "fewer tags",
      olds: {
        tags: [
          { tag: "v3", digest: "a" },
          { tag: "latest", digest: "a" },
        ],
      },
      news: { tags: [{ tag: "v3", digest: "a" }] },
      changes: true,
      replaces: [],
    },
    {
      name: "another repository",
      olds: { repository: REPO, tags: [{ tag: "v3", digest: "a" }] },
      news: { repository: "battlescope/init", tags: [{ tag: "v3", digest: "a" }] },
      changes: true,
      replaces: ["repository"],
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

describe("RegistryTag provider (state written before RegistryTagSet)", () => {
  it("deletes old one-tag resources without touching the registry, and creates none", async () => {
    const provider = createRegistryTagProvider();
    await expect(provider.delete?.("id", {})).resolves.toBeUndefined();
    await expect(provider.create({})).rejects.toThrow(
      exactly(
        "RegistryTag is superseded by RegistryTagSet; declare tags with RegistryTagSet (components/registryTagSet.ts)",
      ),
    );
  });
});
