import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  defaultContentCacheDir,
  fileContentCache,
  pruneContentCache,
} from "../../clients/contentCache";
import { OciRegistryClient } from "../../clients/ociRegistry";
import { readPublishedRelease } from "../../clients/publishedRelease";
import { digestOf, FakeRegistry, IMAGE } from "../support/fakeRegistry";
import { makeTempDir } from "../support/tempDirs";

const REPO = "battlescope/frontend";

function setup() {
  const registry = new FakeRegistry();
  const dir = makeTempDir("content-cache");
  const client = new OciRegistryClient({
    registry: "registry.test:5000",
    fetch: registry.fetch,
    contentCache: fileContentCache(dir),
  });
  const since = (from: number) => registry.requests.slice(from);
  const gets = (requests: string[], kind: "manifests" | "blobs") =>
    requests.filter((request) => request.startsWith("GET") && request.includes(`/${kind}/`));
  return { registry, dir, client, since, gets };
}

describe("the registry content cache", () => {
  it("reads a published release a second time with HEADs alone", async () => {
    const { registry, client, since, gets } = setup();
    registry.release(REPO, "v3.0.0", "2026-12-01T00:00:00Z");
    const first = await readPublishedRelease(client, REPO, "v3.0.0", ["amd64", "arm64"]);
    const mark = registry.requests.length;
    const second = await readPublishedRelease(client, REPO, "v3.0.0", ["amd64", "arm64"]);
    expect(second).toEqual(first);
    expect(gets(since(mark), "manifests")).toEqual([]);
    expect(gets(since(mark), "blobs")).toEqual([]);
    expect(since(mark)).toEqual([
      "HEAD /v2/battlescope/frontend/manifests/v3.0.0",
      "HEAD /v2/battlescope/frontend/manifests/v3.0.0-amd64",
      "HEAD /v2/battlescope/frontend/manifests/v3.0.0-arm64",
    ]);
  });

  it("reads a manifest it never saw by digest, once", async () => {
    const { registry, client, since, gets } = setup();
    const { index } = registry.release(REPO, "v3.0.0", "2026-12-01T00:00:00Z");
    const first = await client.getManifest(REPO, "v3.0.0");
    expect(first?.digest).toBe(index);
    expect(gets(since(0), "manifests")).toEqual([`GET /v2/${REPO}/manifests/${index}`]);
  });

  it("follows a tag moved to other content", async () => {
    const { registry, client } = setup();
    const one = registry.release(REPO, "v3.0.0", "2026-12-01T00:00:00Z");
    const two = registry.release(REPO, "v3.0.1", "2026-12-02T00:00:00Z");
    registry.tag(REPO, "latest", one.index);
    expect((await client.getManifest(REPO, "latest"))?.digest).toBe(one.index);
    registry.tag(REPO, "latest", two.index);
    expect((await client.getManifest(REPO, "latest"))?.digest).toBe(two.index);
  });

  it("does not serve a manifest the registry deleted", async () => {
    const { registry, client } = setup();
    const { children } = registry.release(REPO, "v3.0.0", "2026-12-01T00:00:00Z");
    const child = children[0] as string;
    expect((await client.getManifest(REPO, child))?.digest).toBe(child);
    await client.deleteManifest(REPO, child);
    expect(await client.getManifest(REPO, child)).toBeUndefined();
  });

  it("keeps what it writes: a tag written here is read back with a HEAD", async () => {
    const { registry, client, since, gets } = setup();
    const raw = JSON.stringify({ schemaVersion: 2, mediaType: IMAGE, layers: [] });
    const digest = await client.putManifest(REPO, "v3.0.0-amd64", raw, IMAGE);
    const mark = registry.requests.length;
    expect((await client.getManifest(REPO, "v3.0.0-amd64"))?.raw).toBe(raw);
    expect(digest).toBe(digestOf(raw));
    expect(gets(since(mark), "manifests")).toEqual([]);
  });

  it.each([
    { name: "a file that does not hash to its name", content: "tampered" },
    { name: "an empty file (a write cut short)", content: "" },
  ])("treats $name as a miss and reads the registry", async ({ content }) => {
    const { registry, dir, client, since, gets } = setup();
    const { index } = registry.release(REPO, "v3.0.0", "2026-12-01T00:00:00Z");
    await client.getManifest(REPO, "v3.0.0");
    fs.writeFileSync(path.join(dir, "sha256", index.slice("sha256:".length)), content);
    const mark = registry.requests.length;
    expect((await client.getManifest(REPO, "v3.0.0"))?.digest).toBe(index);
    expect(gets(since(mark), "manifests")).toEqual([`GET /v2/${REPO}/manifests/${index}`]);
  });

  it.each([
    { name: "bytes that do not hash to the digest", digest: digestOf("other"), bytes: "content" },
    { name: "a digest that is not sha256", digest: "sha512:abc", bytes: "content" },
  ])("keeps nothing for $name", ({ digest, bytes }) => {
    const { dir } = setup();
    const cache = fileContentCache(dir);
    cache.write(digest, Buffer.from(bytes));
    expect(cache.read(digest)).toBeUndefined();
  });

  it("prunes the entries unused since a date, and keeps the others", () => {
    const { dir } = setup();
    const cache = fileContentCache(dir);
    const old = digestOf("old");
    const recent = digestOf("recent");
    cache.write(old, Buffer.from("old"));
    cache.write(recent, Buffer.from("recent"));
    const longAgo = new Date("2026-01-01T00:00:00Z");
    fs.utimesSync(path.join(dir, "sha256", old.slice("sha256:".length)), longAgo, longAgo);
    expect(pruneContentCache(dir, new Date("2026-06-01T00:00:00Z"))).toBe(1);
    expect(cache.read(old)).toBeUndefined();
    expect(cache.read(recent)?.toString()).toBe("recent");
  });

  it.each([
    {
      name: "chosen",
      env: { BATTLESCOPE_REGISTRY_CACHE: "/var/cache/bs" },
      expected: "/var/cache/bs",
    },
    {
      name: "by default, in the user's cache",
      env: { HOME: "/home/eng" },
      expected: "registry-content",
    },
  ])("lives where it is $name", ({ env, expected }) => {
    expect(defaultContentCacheDir(env).endsWith(expected)).toBe(true);
  });
});
