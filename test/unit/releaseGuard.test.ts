import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  guardVersion,
  highestReleaseBelow,
  type PublishedRelease,
  reusableRelease,
  sourceHash,
} from "../../lib/releaseGuard";
import { describePlan, planTags } from "../../lib/tagPlan";
import { devVersion } from "../../lib/versions";

const REPO = "127.0.0.1:5000/battlescope/frontend";
const HASH = "sha256:aaaa";
const OTHER = "sha256:bbbb";
const D = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const both = ["amd64", "arm64"] as const;

describe("guardVersion", () => {
  const cases: Array<{
    name: string;
    published: PublishedRelease;
    tags?: string[];
    expected: unknown;
  }> = [
    { name: "nothing published", published: { platforms: {} }, expected: { kind: "new" } },
    {
      name: "same sources, fully published",
      published: {
        indexDigest: D(9),
        indexPlatforms: { amd64: D(1), arm64: D(2) },
        platforms: {
          amd64: { digest: D(1), sourceHash: HASH },
          arm64: { digest: D(2), sourceHash: HASH },
        },
      },
      expected: { kind: "unchanged" },
    },
    {
      name: "same sources, one architecture pushed before an outage",
      published: { platforms: { amd64: { digest: D(1), sourceHash: HASH } } },
      expected: { kind: "unchanged" },
    },
    {
      name: "changed sources",
      published: {
        indexDigest: D(9),
        indexPlatforms: { amd64: D(1), arm64: D(2) },
        platforms: {
          amd64: { digest: D(1), sourceHash: OTHER },
          arm64: { digest: D(2), sourceHash: OTHER },
        },
      },
      tags: ["v3.0.0", "v3.0.1", "v3.1.0"],
      expected: {
        kind: "conflict",
        message: `refusing to overwrite ${REPO}:v3.0.0-amd64: the registry already holds ${D(1)}, built from other sources (source hash ${OTHER}, these sources are ${HASH}); version tags are create-only: release these sources as v3.0.2`,
      },
    },
    {
      name: "pushed out of band without a source hash",
      published: { platforms: { arm64: { digest: D(2) } } },
      expected: {
        kind: "conflict",
        message: `refusing to overwrite ${REPO}:v3.0.0-arm64: the registry already holds ${D(2)}, which this stack did not build (it has no source hash label); version tags are create-only: release these sources as v3.0.1`,
      },
    },
    {
      name: "a manifest list pushed out of band with no arch tags",
      published: { indexDigest: D(9), indexPlatforms: { amd64: D(5) }, platforms: {} },
      expected: {
        kind: "conflict",
        message: `refusing to overwrite ${REPO}:v3.0.0: the registry already holds ${D(9)}, a manifest list of other images than v3.0.0-amd64 and v3.0.0-arm64; version tags are create-only: release these sources as v3.0.1`,
      },
    },
    {
      name: "a manifest list of other images than the arch tags",
      published: {
        indexDigest: D(9),
        indexPlatforms: { amd64: D(1), arm64: D(7) },
        platforms: {
          amd64: { digest: D(1), sourceHash: HASH },
          arm64: { digest: D(2), sourceHash: HASH },
        },
      },
      expected: {
        kind: "conflict",
        message: `refusing to overwrite ${REPO}:v3.0.0: the registry already holds ${D(9)}, a manifest list of other images than v3.0.0-amd64 and v3.0.0-arm64; version tags are create-only: release these sources as v3.0.1`,
      },
    },
  ];
  it.each(cases)("$name", ({ published, tags, expected }) => {
    expect(
      guardVersion({
        repository: REPO,
        version: "v3.0.0",
        architectures: both,
        sourceHash: HASH,
        published,
        existingTags: tags ?? ["v3.0.0"],
      }),
    ).toEqual(expected);
  });
});

describe("sourceHash", () => {
  const file = (path: string, content: string, executable = false) => ({
    path,
    content,
    executable,
  });

  it("ignores the order files are listed in", () => {
    expect(sourceHash([file("a", "1"), file("b", "2")])).toBe(
      sourceHash([file("b", "2"), file("a", "1")]),
    );
  });

  it.each([
    { name: "content", other: [file("a", "2"), file("b", "2")] },
    { name: "a path", other: [file("c", "1"), file("b", "2")] },
    { name: "the executable bit", other: [file("a", "1", true), file("b", "2")] },
    { name: "a file added", other: [file("a", "1"), file("b", "2"), file("c", "")] },
  ])("changes with $name", ({ other }) => {
    expect(sourceHash(other)).not.toBe(sourceHash([file("a", "1"), file("b", "2")]));
  });

  it("changes with the extra inputs", () => {
    expect(sourceHash([file("a", "1")], { platforms: "linux/amd64" })).not.toBe(
      sourceHash([file("a", "1")], { platforms: "linux/amd64,linux/arm64" }),
    );
  });

  it("differs whenever a file's content differs (property)", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (a, b, c) => {
        fc.pre(b !== c);
        expect(sourceHash([file(a, b)])).not.toBe(sourceHash([file(a, c)]));
      }),
    );
  });
});

describe("devVersion", () => {
  it.each([
    { name: "no release yet", tags: [], version: "v0.0.1-dev-abcdef1" },
    {
      name: "after the highest release",
      tags: ["v3.0.0", "v3.1.2", "v3.1.10-amd64", "latest"],
      version: "v3.1.11-dev-abcdef1",
    },
    {
      name: "prereleases and dev builds do not count",
      tags: ["v3.0.0", "v4.0.0-rc.1", "v9.0.0-dev-1234567"],
      version: "v3.0.1-dev-abcdef1",
    },
  ])("$name", ({ tags, version }) => {
    expect(devVersion(tags, "abcdef1")).toBe(version);
  });
});

describe("describePlan", () => {
  it.each([
    {
      name: "first release",
      version: "v3.0.0",
      existing: [],
      line: "frontend: creates v3.0.0 (with -amd64, -arm64); creates v3.0; creates v3; creates latest",
    },
    {
      name: "hotfix on an older line",
      version: "v3.0.2",
      existing: ["v3.0.1", "v3.0", "v3.1.0", "v3.1", "v3", "latest"],
      line: "frontend: creates v3.0.2 (with -amd64, -arm64); moves v3.0 from v3.0.1 to v3.0.2; leaves v3 on v3.1.0; leaves latest on v3.1.0",
    },
    {
      name: "re-run of a published release",
      version: "v3.1.0",
      existing: ["v3.1.0", "v3.1", "v3", "latest"],
      line: "frontend: v3.1.0 is already published",
    },
    {
      name: "unchanged sources reuse the previous release's images",
      version: "v3.0.2",
      existing: ["v3.0.1", "v3.0", "v3", "latest"],
      reusesFrom: "v3.0.1",
      line: "frontend: sources unchanged since v3.0.1, reuses its images; creates v3.0.2 (with -amd64, -arm64); moves v3.0 from v3.0.1 to v3.0.2; moves v3 from v3.0.1 to v3.0.2; moves latest from v3.0.1 to v3.0.2",
    },
    {
      name: "re-run of a release that reused its images",
      version: "v3.0.2",
      existing: ["v3.0.1", "v3.0.2", "v3.0", "v3", "latest"],
      reusesFrom: "v3.0.1",
      line: "frontend: sources unchanged since v3.0.1, reuses its images; v3.0.2 is already published",
    },
  ])("$name", ({ version, existing, line, ...rest }) => {
    const reuse = "reusesFrom" in rest ? { reusesFrom: rest.reusesFrom } : {};
    expect(
      describePlan("frontend", planTags({ version, existingTags: existing, ...reuse }), existing),
    ).toBe(line);
  });
});

describe("reusableRelease", () => {
  const previous = (published: PublishedRelease) => ({ version: "v3.0.1", published });
  const full: PublishedRelease = {
    indexDigest: D(9),
    indexPlatforms: { amd64: D(1), arm64: D(2) },
    platforms: {
      amd64: { digest: D(1), sourceHash: HASH },
      arm64: { digest: D(2), sourceHash: HASH },
    },
  };
  it.each([
    {
      name: "same sources on every platform: its images",
      previous: previous(full),
      expected: { from: "v3.0.1", platforms: { amd64: D(1), arm64: D(2) } },
    },
    { name: "no earlier release", previous: undefined, expected: undefined },
    {
      name: "other sources on one platform",
      previous: previous({
        ...full,
        platforms: { ...full.platforms, arm64: { digest: D(2), sourceHash: OTHER } },
      }),
      expected: undefined,
    },
    {
      name: "one platform missing (a single-arch release before)",
      previous: previous({ platforms: { amd64: { digest: D(1), sourceHash: HASH } } }),
      expected: undefined,
    },
    {
      name: "an image this stack did not build (no source hash label)",
      previous: previous({ ...full, platforms: { ...full.platforms, amd64: { digest: D(1) } } }),
      expected: undefined,
    },
    {
      name: "its manifest list names other images than its arch tags",
      previous: previous({ ...full, indexPlatforms: { amd64: D(3), arm64: D(2) } }),
      expected: undefined,
    },
  ])("$name", ({ previous, expected }) => {
    expect(
      reusableRelease({
        architectures: both,
        sourceHash: HASH,
        ...(previous === undefined ? {} : { previous }),
      }),
    ).toEqual(expected);
  });

  it("keeps the guard's meaning: the same version with other sources is still refused", () => {
    const decision = guardVersion({
      repository: REPO,
      version: "v3.0.1",
      architectures: both,
      sourceHash: OTHER,
      published: full,
      existingTags: ["v3.0.1"],
    });
    expect(decision.kind).toBe("conflict");
  });
});

describe("highestReleaseBelow", () => {
  it.each([
    { name: "nothing published", tags: [], version: "v3.0.2", expected: undefined },
    {
      name: "the highest lower release",
      tags: ["v3.0.0", "v3.0.1", "v3.0", "v3", "latest"],
      version: "v3.0.2",
      expected: "v3.0.1",
    },
    {
      name: "the version itself and higher releases are not candidates (a re-run finds the same)",
      tags: ["v3.0.1", "v3.0.2", "v3.1.0"],
      version: "v3.0.2",
      expected: "v3.0.1",
    },
    {
      name: "arch tags alone are no release (its list was never written)",
      tags: ["v3.0.0", "v3.0.1-amd64", "v3.0.1-arm64"],
      version: "v3.0.2",
      expected: "v3.0.0",
    },
    {
      name: "a prerelease counts below its release",
      tags: ["v3.1.0-rc.1"],
      version: "v3.1.0",
      expected: "v3.1.0-rc.1",
    },
  ])("$name", ({ tags, version, expected }) => {
    expect(highestReleaseBelow(tags, version)).toBe(expected);
  });
});
