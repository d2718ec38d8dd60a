import { describe, expect, it } from "vitest";
import { OciRegistryClient } from "../../clients/ociRegistry";
import { exactly } from "../support/exactly";
import { FakeRegistry, IMAGE, INDEX } from "../support/fakeRegistry";

const REPO = "battlescope/frontend";

/** A registry with the referrers API, answering with `manifests` for every digest. */
function withReferrersApi(registry: FakeRegistry, manifests: unknown[]): typeof fetch {
  return (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const url = new URL(String(input));
    if (url.pathname.includes("/referrers/")) {
      registry.requests.push(`${init?.method ?? "GET"} ${url.pathname}`);
      return Response.json({ schemaVersion: 2, mediaType: INDEX, manifests });
    }
    return registry.fetch(input, init);
  }) as typeof fetch;
}

function setup(answer?: (registry: FakeRegistry) => typeof fetch) {
  const registry = new FakeRegistry();
  const image = registry.put(REPO, { config: {}, layers: [] }, IMAGE);
  const client = new OciRegistryClient({
    registry: "registry.test:5000",
    fetch: answer === undefined ? registry.fetch : answer(registry),
  });
  return { registry, image, client };
}

describe("hasReferrers: is anything attached to a digest yet", () => {
  it("says no for an image just built, with the API absent and no referrers tag", async () => {
    const { registry, image, client } = setup();
    expect(await client.hasReferrers(REPO, image)).toBe(false);
    expect(registry.requests).toEqual([
      `GET /v2/${REPO}/referrers/${image}`,
      `HEAD /v2/${REPO}/manifests/${image.replace(":", "-")}`,
    ]);
  });

  it("says yes when the referrers tag schema's tag exists (cosign on a registry without the API)", async () => {
    const { registry, image, client } = setup();
    const attachments = registry.put(REPO, { manifests: [] }, INDEX);
    registry.tag(REPO, image.replace(":", "-"), attachments);
    expect(await client.hasReferrers(REPO, image)).toBe(true);
  });

  it("says yes when the referrers API lists one", async () => {
    const { image, client } = setup((registry) =>
      withReferrersApi(registry, [
        { mediaType: IMAGE, digest: `sha256:${"a".repeat(64)}`, size: 1 },
      ]),
    );
    expect(await client.hasReferrers(REPO, image)).toBe(true);
  });

  it("looks for the tag too when the API lists none (attachments from before the API)", async () => {
    const { registry, image, client } = setup((registry) => withReferrersApi(registry, []));
    expect(await client.hasReferrers(REPO, image)).toBe(false);
    registry.tag(REPO, image.replace(":", "-"), registry.put(REPO, { manifests: [] }, INDEX));
    expect(await client.hasReferrers(REPO, image)).toBe(true);
  });

  it("fails with the registry's answer when it refuses", async () => {
    const { image, client } = setup(
      () => (async () => new Response("denied", { status: 403 })) as typeof fetch,
    );
    await expect(client.hasReferrers(REPO, image)).rejects.toThrow(
      exactly(
        `registry registry.test:5000 refused to list the referrers of ${REPO}@${image}: HTTP 403: denied`,
      ),
    );
  });
});

describe("listReferrers on a registry without the referrers API", () => {
  it("asks it once, however many lookups start together", async () => {
    const { registry, image, client } = setup();
    // The fake has no referrers API: it answers 404 there, as distribution does.
    const lists = await Promise.all(
      Array.from({ length: 6 }, () => client.listReferrers(REPO, image)),
    );
    expect(lists).toEqual(Array.from({ length: 6 }, () => []));
    expect(registry.requests.filter((request) => request.includes("/referrers/"))).toEqual([
      `GET /v2/${REPO}/referrers/${image}`,
    ]);
  });
});
