import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type DeployedRef,
  deleteAttachmentTags,
  freedBlobs,
  keepSharedTags,
  type ManifestInfo,
  type ManifestUnit,
  orderTags,
  parseIsoDate,
  planManifests,
  planRetention,
  type RetentionPlan,
  type RetentionPolicy,
  retentionPolicy,
  type TagRecord,
} from "../../lib/retention";
import { parseVersion, semverCompareTags, splitArchSuffix } from "../../lib/versions";
import { exactly } from "../support/exactly";

const NOW = Date.parse("2026-05-10T00:00:00Z");
const DAY = 24 * 60 * 60 * 1000;
const daysAgo = (days: number) => new Date(NOW - days * DAY).toISOString();

/** Tags pushed a day ago unless given as `[name, days ago]`. */
function records(tags: ReadonlyArray<string | readonly [string, number | undefined]>): TagRecord[] {
  return tags.map((entry) => {
    const [name, age] = typeof entry === "string" ? [entry, 1] : entry;
    return age === undefined ? { name } : { name, lastUpdated: daysAgo(age) };
  });
}

const twins = (tag: string) => [tag, `${tag}-amd64`, `${tag}-arm64`];
const decided = (reason: string, ...tags: string[]) => tags.map((tag) => ({ tag, reason }));

interface Case {
  name: string;
  tags: ReadonlyArray<string | readonly [string, number | undefined]>;
  policy?: Partial<RetentionPolicy>;
  protect?: string[];
  deployed?: DeployedRef[];
  expected: RetentionPlan;
}

const cases: Case[] = [
  { name: "empty repository", tags: [], expected: { keep: [], delete: [] } },
  {
    name: "latest and floating tags with their arch twins are always kept",
    tags: [...twins("latest"), ...twins("v3"), ...twins("v3.1"), "v2", "v2.9"],
    expected: {
      keep: [
        ...decided("latest", ...twins("latest")),
        ...decided("floating tag", ...twins("v3"), ...twins("v3.1"), "v2", "v2.9"),
      ],
      delete: [],
    },
  },
  {
    name: "a single release and its arch twins",
    tags: twins("v3.0.0"),
    expected: { keep: decided("newest release of v3", ...twins("v3.0.0")), delete: [] },
  },
  {
    name: "the 5 newest patches of the current minor",
    tags: ["v3.1.0", "v3.1.1", "v3.1.2", "v3.1.3", "v3.1.4", "v3.1.5", "v3.1.6", "v3.1.7"],
    expected: {
      keep: [
        ...decided("newest release of v3", "v3.1.7"),
        ...decided("one of the 5 newest patches of v3.1", "v3.1.6", "v3.1.5", "v3.1.4", "v3.1.3"),
      ],
      delete: decided("older than the 5 newest patches of v3.1", "v3.1.2", "v3.1.1", "v3.1.0"),
    },
  },
  {
    name: "the newest patch of each of the 10 newest minors of the current major",
    tags: [
      ...Array.from({ length: 12 }, (_, minor) => `v3.${minor}.0`),
      "v3.0.1",
      "v3.5.1",
      "v3.11.1",
    ],
    expected: {
      keep: [
        ...decided("newest release of v3", "v3.11.1"),
        ...decided("one of the 5 newest patches of v3.11", "v3.11.0"),
        ...[10, 9, 8, 7, 6].flatMap((minor) =>
          decided(
            `newest patch of v3.${minor}, one of the 10 newest minors of v3`,
            `v3.${minor}.0`,
          ),
        ),
        ...decided("newest patch of v3.5, one of the 10 newest minors of v3", "v3.5.1"),
        ...[4, 3, 2].flatMap((minor) =>
          decided(
            `newest patch of v3.${minor}, one of the 10 newest minors of v3`,
            `v3.${minor}.0`,
          ),
        ),
      ],
      delete: [
        ...decided("superseded by v3.5.1, the newest patch of v3.5", "v3.5.0"),
        ...decided("v3.1 is older than the 10 newest minors of v3", "v3.1.0"),
        ...decided("v3.0 is older than the 10 newest minors of v3", "v3.0.1", "v3.0.0"),
      ],
    },
  },
  {
    name: "the newest release of every major; older majors keep nothing else",
    tags: ["v1.0.0", "v1.2.3", "v1.2.4", "v2.0.0", "v2.1.0", "v3.0.0"],
    expected: {
      keep: [
        ...decided("newest release of v3", "v3.0.0"),
        ...decided("newest release of v2", "v2.1.0"),
        ...decided("newest release of v1", "v1.2.4"),
      ],
      delete: [
        ...decided("superseded by v2.1.0, the newest release of v2", "v2.0.0"),
        ...decided("superseded by v1.2.4, the newest release of v1", "v1.2.3", "v1.0.0"),
      ],
    },
  },
  {
    name: "versions are ordered as semver, never by push time",
    tags: [
      ["v3.1.10", 300],
      ["v3.1.9", 1],
      ["v3.10.0", 200],
      ["v3.9.0", 2],
    ],
    policy: { keepMinors: 1, keepPatches: 1 },
    expected: {
      keep: decided("newest release of v3", "v3.10.0"),
      delete: [
        ...decided("v3.9 is older than the newest minor of v3", "v3.9.0"),
        ...decided("v3.1 is older than the newest minor of v3", "v3.1.10", "v3.1.9"),
      ],
    },
  },
  {
    name: "dev builds and prereleases older than 30 days go; their arch tags follow",
    tags: [
      "v3.0.0",
      ["v3.0.1-dev-a1b2c3d", 31],
      ["v3.0.1-dev-a1b2c3d-amd64", 31],
      ["v3.0.1-dev-b2c3d4e", 29],
      ["v3.1.0-rc.1", 40],
      ["v3.1.0-rc.2", 30],
      ["v3.1.0-rc.3", -2],
      ["v3.0.2-dev-c3d4e5f", undefined],
    ],
    expected: {
      keep: [
        ...decided("prerelease from the last 30 days", "v3.1.0-rc.3", "v3.1.0-rc.2"),
        ...decided("dev build of unknown age", "v3.0.2-dev-c3d4e5f"),
        ...decided("dev build from the last 30 days", "v3.0.1-dev-b2c3d4e"),
        ...decided("newest release of v3", "v3.0.0"),
      ],
      delete: [
        ...decided("prerelease older than 30 days", "v3.1.0-rc.1"),
        ...decided(
          "dev build older than 30 days",
          "v3.0.1-dev-a1b2c3d",
          "v3.0.1-dev-a1b2c3d-amd64",
        ),
      ],
    },
  },
  {
    name: "an arch tag's age is its release's: the newest push of the group counts",
    tags: [
      ["v3.0.1-dev-a1b2c3d", 45],
      ["v3.0.1-dev-a1b2c3d-arm64", 3],
    ],
    expected: {
      keep: decided(
        "dev build from the last 30 days",
        "v3.0.1-dev-a1b2c3d",
        "v3.0.1-dev-a1b2c3d-arm64",
      ),
      delete: [],
    },
  },
  {
    name: "prereleases never make the current major or minor",
    tags: ["v4.0.0-rc.1", "v3.2.0-rc.1", "v3.1.0", "v3.1.1"],
    policy: { keepPatches: 1 },
    expected: {
      keep: [
        ...decided("prerelease from the last 30 days", "v4.0.0-rc.1", "v3.2.0-rc.1"),
        ...decided("newest release of v3", "v3.1.1"),
      ],
      delete: decided("older than the newest patch of v3.1", "v3.1.0"),
    },
  },
  {
    name: "--protect keeps a release with its arch tags, or one arch tag alone",
    tags: [...twins("v3.0.0"), ...twins("v3.0.1"), ...twins("v3.0.2"), "v3.1.0"],
    policy: { keepPatches: 1 },
    protect: ["v3.0.0", "v3.0.1-arm64", "v9.9.9"],
    expected: {
      keep: [
        ...decided("newest release of v3", "v3.1.0"),
        ...decided("newest patch of v3.0, one of the 10 newest minors of v3", ...twins("v3.0.2")),
        ...decided("protected by --protect", "v3.0.1-arm64", ...twins("v3.0.0")),
      ],
      delete: decided("superseded by v3.0.2, the newest patch of v3.0", "v3.0.1", "v3.0.1-amd64"),
    },
  },
  {
    name: "releases a stack deploys are kept",
    tags: [...twins("v2.0.0"), "v2.0.1", ["v3.1.0-dev-abcdef0", 90], "v3.0.0"],
    deployed: [
      { tag: "v2.0.0", source: "stack prod" },
      { tag: "v3.1.0-dev-abcdef0", source: "stack dev" },
    ],
    expected: {
      keep: [
        ...decided("deployed by stack dev", "v3.1.0-dev-abcdef0"),
        ...decided("newest release of v3", "v3.0.0"),
        ...decided("newest release of v2", "v2.0.1"),
        ...decided("deployed by stack prod", ...twins("v2.0.0")),
      ],
      delete: [],
    },
  },
  {
    name: "an arch tag whose release tag is missing follows the release",
    tags: ["v3.0.0-amd64", "v3.0.0-arm64", "v3.0.1"],
    policy: { keepPatches: 1 },
    expected: {
      keep: decided("newest release of v3", "v3.0.1"),
      delete: decided("older than the newest patch of v3.0", "v3.0.0-amd64", "v3.0.0-arm64"),
    },
  },
  {
    name: "tags that are not releases are left alone",
    tags: ["buildcache-amd64", "buildcache-arm64", "main", "v3.0.1-amd64-amd64", "V3.0.0", "v03"],
    expected: {
      keep: [
        ...decided("not a release tag: left alone", "V3.0.0", "buildcache-amd64"),
        ...decided("not a release tag: left alone", "buildcache-arm64", "main"),
        ...decided("not a release tag: left alone", "v03", "v3.0.1-amd64-amd64"),
      ],
      delete: [],
    },
  },
  {
    name: "counts and age are configurable",
    tags: [
      "v3.0.0",
      "v3.1.0",
      "v3.2.0",
      "v3.2.1",
      "v3.2.2",
      ["v3.2.3-dev-0123456", 8],
      ["v3.2.3-dev-1234567", 6],
    ],
    policy: { keepMinors: 2, keepPatches: 2, maxAgeDays: 7 },
    expected: {
      keep: [
        ...decided("dev build from the last 7 days", "v3.2.3-dev-1234567"),
        ...decided("newest release of v3", "v3.2.2"),
        ...decided("one of the 2 newest patches of v3.2", "v3.2.1"),
        ...decided("newest patch of v3.1, one of the 2 newest minors of v3", "v3.1.0"),
      ],
      delete: [
        ...decided("dev build older than 7 days", "v3.2.3-dev-0123456"),
        ...decided("older than the 2 newest patches of v3.2", "v3.2.0"),
        ...decided("v3.0 is older than the 2 newest minors of v3", "v3.0.0"),
      ],
    },
  },
  {
    name: "counts of zero keep only what the other rules keep",
    tags: ["v3.0.0", "v3.1.0", "v3.1.1"],
    policy: { keepMinors: 0, keepPatches: 0 },
    expected: {
      keep: decided("newest release of v3", "v3.1.1"),
      delete: [
        ...decided("older than the 0 newest patches of v3.1", "v3.1.0"),
        ...decided("v3.0 is older than the 0 newest minors of v3", "v3.0.0"),
      ],
    },
  },
];

describe("planRetention", () => {
  it.each(cases)("$name", ({ tags, policy, protect, deployed, expected }) => {
    const plan = planRetention({
      tags: records(tags),
      now: NOW,
      ...(policy === undefined ? {} : { policy }),
      ...(protect === undefined ? {} : { protect }),
      ...(deployed === undefined ? {} : { deployed }),
    });
    expect(plan).toEqual(expected);
  });

  it("takes the clock as a Date too", () => {
    const tags = records([["v3.0.0-rc.1", 31]]);
    expect(planRetention({ tags, now: new Date(NOW) })).toEqual(planRetention({ tags, now: NOW }));
  });

  it("refuses a bad policy or clock", () => {
    expect(() => planRetention({ tags: [], now: NOW, policy: { keepMinors: -1 } })).toThrow(
      exactly("retention keepMinors must be a non-negative integer, got -1"),
    );
    expect(() => retentionPolicy({ maxAgeDays: 1.5 })).toThrow(
      exactly("retention maxAgeDays must be a non-negative integer, got 1.5"),
    );
    expect(() => planRetention({ tags: [], now: Number.NaN })).toThrow(
      exactly("retention needs a valid clock (now)"),
    );
  });
});

describe("parseIsoDate", () => {
  it.each([
    ["2026-05-01", Date.UTC(2026, 4, 1)],
    ["2026-05-01T12:30:00Z", Date.UTC(2026, 4, 1, 12, 30)],
    ["2026-05-01T12:30Z", Date.UTC(2026, 4, 1, 12, 30)],
    ["2026-05-01T12:30:00.123456+02:00", Date.UTC(2026, 4, 1, 10, 30, 0, 123)],
    ["2024-02-29T00:00:00Z", Date.UTC(2024, 1, 29)],
  ])("%s", (value, expected) => {
    expect(parseIsoDate(value)).toBe(expected);
  });

  it.each([
    "yesterday",
    "2026-02-30",
    "2025-02-29T00:00:00Z",
    "2026-13-01",
    "2026-05-01T12:00:00",
    "2026-05-01T24:00:00Z",
    "2026-05-01 12:00:00Z",
    "1714521600",
    "",
  ])("refuses %j", (value) => {
    expect(parseIsoDate(value)).toBeUndefined();
  });
});

// ------------------------------------------------------------------ manifests

/** A digest named for reading: the name's bytes in hex, so it is a valid sha256 digest. */
const d = (name: string) => `sha256:${Buffer.from(name).toString("hex").padEnd(64, "0")}`;
const image = (name: string, ...blobs: Array<[string, number]>): ManifestInfo => ({
  digest: d(name),
  children: [],
  blobs: blobs.map(([blob, size]) => ({ digest: d(blob), size })),
  size: 500,
});
const index = (name: string, ...children: string[]): ManifestInfo => ({
  digest: d(name),
  children: children.map(d),
  blobs: [],
  size: 300,
});

/**
 * The layout the stack pushes: each architecture is built alone (an index of the image and its
 * attestation, tagged `<v>-<arch>`), and the version index lists both images and attestations.
 */
function release(version: string, base: [string, number]) {
  const v = version.replaceAll(".", "");
  const manifests = [
    image(`${v}a`, [`${v}ca`, 10], [`${v}la`, 1000], base),
    image(`${v}b`, [`${v}cb`, 10], [`${v}lb`, 1000], base),
    image(`${v}xa`, [`${v}pa`, 5]),
    image(`${v}xb`, [`${v}pb`, 5]),
    index(`${v}ia`, `${v}a`, `${v}xa`),
    index(`${v}ib`, `${v}b`, `${v}xb`),
    index(`${v}i`, `${v}a`, `${v}xa`, `${v}b`, `${v}xb`),
  ];
  const digests: Array<[string, string]> = [
    [`v${version}`, d(`${v}i`)],
    [`v${version}-amd64`, d(`${v}ia`)],
    [`v${version}-arm64`, d(`${v}ib`)],
  ];
  return { manifests, digests };
}

function graph(...releases: Array<ReturnType<typeof release>>) {
  return {
    manifests: new Map(releases.flatMap((r) => r.manifests).map((m) => [m.digest, m] as const)),
    digests: new Map(releases.flatMap((r) => r.digests)),
  };
}

describe("planManifests", () => {
  const base: [string, number] = ["base", 700_000];
  const old = release("3.0.0", base);
  const current = release("3.0.1", base);
  const { manifests, digests } = graph(old, current);
  digests.set("v3", d("301i"));
  digests.set("latest", d("301i"));

  it("deletes a release as one unit per tagged index and never what a kept index lists", () => {
    const plan = planRetention({
      tags: [...digests.keys()].map((name) => ({ name })),
      now: NOW,
      policy: { keepPatches: 1 },
    });
    expect(plan.delete.map(({ tag }) => tag)).toEqual(["v3.0.0", "v3.0.0-amd64", "v3.0.0-arm64"]);
    const result = planManifests({ plan, digests, manifests });
    expect(sortedUnits(result.units)).toEqual([
      { digest: d("300i"), tags: ["v3.0.0"], children: sorted("300a", "300xa", "300b", "300xb") },
      { digest: d("300ia"), tags: ["v3.0.0-amd64"], children: sorted("300a", "300xa") },
      { digest: d("300ib"), tags: ["v3.0.0-arm64"], children: sorted("300b", "300xb") },
    ]);
    expect(result.shared).toEqual([]);
    for (const kept of ["301i", "301ia", "301ib", "301a", "301b", "301xa", "301xb"]) {
      expect(result.reached.has(d(kept))).toBe(true);
    }
    const deleted = result.units.flatMap((unit) => [unit.digest, ...unit.children]);
    // The shared base layer stays: the kept release uses it.
    expect(freedBlobs(deleted, result.reached, manifests)).toEqual({
      count: 7 + 6,
      bytes: 3 * 300 + 4 * 500 + 2 * 10 + 2 * 1000 + 2 * 5,
    });
  });

  it("keeps the children a kept index references when only an arch tag is deleted", () => {
    const plan: RetentionPlan = {
      keep: [{ tag: "v3.0.1", reason: "x" }],
      delete: [{ tag: "v3.0.1-amd64", reason: "y" }],
    };
    const result = planManifests({ plan, digests, manifests });
    expect(result.units).toEqual([{ digest: d("301ia"), tags: ["v3.0.1-amd64"], children: [] }]);
  });

  it("a deleted tag whose manifest a kept tag reaches is shared; an OCI plan keeps it", () => {
    const plan: RetentionPlan = {
      keep: [{ tag: "v3.0", reason: "floating tag" }],
      delete: [
        { tag: "v3.0.5", reason: "v3.0 is older than the 10 newest minors of v3" },
        { tag: "v3.0.4", reason: "superseded by v3.0.5, the newest patch of v3.0" },
      ],
    };
    const shared = new Map([
      ["v3.0", d("305i")],
      ["v3.0.5", d("305i")],
      ["v3.0.4", d("304i")],
    ]);
    const result = planManifests({
      plan,
      digests: shared,
      manifests: new Map([
        [d("305i"), index("305i")],
        [d("304i"), index("304i")],
      ]),
    });
    expect(result.shared).toEqual([
      { tag: "v3.0.5", reason: "its manifest is also reached by kept tag v3.0" },
    ]);
    expect(result.units).toEqual([{ digest: d("304i"), tags: ["v3.0.4"], children: [] }]);
    expect(keepSharedTags(plan, result.shared)).toEqual({
      keep: [
        { tag: "v3.0", reason: "floating tag" },
        { tag: "v3.0.5", reason: "its manifest is also reached by kept tag v3.0" },
      ],
      delete: [{ tag: "v3.0.4", reason: "superseded by v3.0.5, the newest patch of v3.0" }],
    });
  });

  it("a deployed digest survives even when its tag is deleted", () => {
    const plan: RetentionPlan = {
      keep: [],
      delete: [{ tag: "v3.0.0", reason: "x" }],
    };
    const result = planManifests({
      plan,
      digests,
      manifests,
      protectedDigests: new Map([[d("300i"), "the digest deployed by stack prod"]]),
    });
    expect(result.units).toEqual([]);
    expect(result.shared).toEqual([
      {
        tag: "v3.0.0",
        reason: "its manifest is also reached by the digest deployed by stack prod",
      },
    ]);
  });

  it("a deleted tag on a child of another deleted index joins that index's unit", () => {
    const plan: RetentionPlan = {
      keep: [],
      delete: [
        { tag: "v3.0.0", reason: "x" },
        { tag: "v3.0.0-amd64", reason: "x" },
      ],
    };
    const result = planManifests({
      plan,
      digests: new Map([
        ["v3.0.0", d("300i")],
        ["v3.0.0-amd64", d("300a")],
      ]),
      manifests,
    });
    expect(result.units).toHaveLength(1);
    expect(result.units[0]?.digest).toBe(d("300i"));
    expect(result.units[0]?.tags).toEqual(["v3.0.0", "v3.0.0-amd64"]);
    expect([...(result.units[0]?.children ?? [])].sort()).toEqual(
      [d("300a"), d("300xa"), d("300b"), d("300xb")].sort(),
    );
  });
});

const sorted = (...names: string[]) => names.map(d).sort();
const sortedUnits = (units: readonly ManifestUnit[]) =>
  units.map((unit) => ({ ...unit, children: [...unit.children].sort() }));

// ------------------------------------------------------------------ properties

const stable = fc
  .tuple(fc.nat({ max: 4 }), fc.nat({ max: 14 }), fc.nat({ max: 12 }))
  .map(([major, minor, patch]) => `v${major}.${minor}.${patch}`);
const releaseTag = fc.oneof(
  { weight: 6, arbitrary: stable },
  { weight: 1, arbitrary: fc.tuple(stable, fc.nat({ max: 9 })).map(([v, n]) => `${v}-rc.${n}`) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(stable, fc.stringMatching(/^[0-9a-f]{7}$/))
      .map(([v, sha]) => `${v}-dev-${sha}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom("latest", "v3", "v3.1", "v0", "v2.14", "buildcache", "main"),
  },
);
const registryTags = fc
  .array(
    fc.tuple(
      releaseTag,
      fc.constantFrom("", "-amd64", "-arm64"),
      fc.option(fc.integer({ min: -5, max: 120 }), { nil: undefined }),
    ),
    { maxLength: 60 },
  )
  .map((entries) => {
    const seen = new Map<string, TagRecord>();
    for (const [tag, arch, age] of entries) {
      const name = `${tag}${arch}`;
      seen.set(name, age === undefined ? { name } : { name, lastUpdated: daysAgo(age) });
    }
    return [...seen.values()];
  });
const policies = fc.record({
  keepMinors: fc.nat({ max: 12 }),
  keepPatches: fc.nat({ max: 7 }),
  maxAgeDays: fc.nat({ max: 60 }),
});

const isFloating = (tag: string) => /^(latest|v\d+(\.\d+)?)$/.test(splitArchSuffix(tag).base);

describe("planManifests with signatures and attestations", () => {
  const base: [string, number] = ["base", 700_000];
  const old = release("3.0.0", base);
  const current = release("3.0.1", base);
  const { manifests, digests } = graph(old, current);
  digests.set("latest", d("301i"));
  /** A referrers tag (`sha256-<hex>`): an index of the subject's signature and attestations. */
  const attach = (subject: string, name: string) => {
    const tag = `sha256-${d(subject).slice("sha256:".length)}`;
    manifests.set(d(`${name}s`), image(`${name}s`, [`${name}sb`, 40]));
    manifests.set(d(`${name}t`), image(`${name}t`, [`${name}tb`, 4000]));
    manifests.set(d(`${name}r`), index(`${name}r`, `${name}s`, `${name}t`));
    digests.set(tag, d(`${name}r`));
    return tag;
  };
  const oldList = attach("300i", "ol");
  const oldAmd64 = attach("300a", "oa");
  const keptList = attach("301i", "kl");
  const keptArm64 = attach("301b", "kb");
  const orphan = attach("999", "or");

  const plan = planRetention({
    tags: [...digests.keys()].map((name) => ({ name })),
    now: NOW,
    policy: { keepPatches: 1 },
  });
  const result = planManifests({ plan, digests, manifests });

  it("the retention plan keeps attachment tags until their subject's fate is known", () => {
    for (const tag of [oldList, keptList, keptArm64, orphan]) {
      expect(plan.keep.find((decision) => decision.tag === tag)?.reason).toMatch(
        /^attached to sha256:[0-9a-f]{64}: kept while it is$/,
      );
    }
  });

  it("deletes the attachments of a deleted list and of its platform images, first", () => {
    expect(result.attachments.map(({ tag }) => tag).sort()).toEqual([oldAmd64, oldList].sort());
    expect(result.attachments.find(({ tag }) => tag === oldList)?.reason).toBe(
      `attached to ${d("300i")}, deleted with it`,
    );
    expect(
      result.units
        .slice(0, 2)
        .map((unit) => unit.tags[0])
        .sort(),
    ).toEqual([oldAmd64, oldList].sort());
    const listUnit = result.units.find((unit) => unit.tags[0] === oldList);
    expect(listUnit && { ...listUnit, children: [...listUnit.children].sort() }).toEqual({
      digest: d("olr"),
      tags: [oldList],
      children: sorted("ols", "olt"),
    });
    expect(result.units.slice(2).map((unit) => unit.digest)).toContain(d("300i"));
  });

  it("never deletes the attachments of a kept release, nor one whose subject is not planned", () => {
    const deleted = new Set(result.units.flatMap((unit) => [unit.digest, ...unit.children]));
    for (const name of ["klr", "kls", "klt", "kbr", "kbs", "kbt", "orr", "ors", "ort"]) {
      expect(deleted.has(d(name))).toBe(false);
      expect(result.reached.has(d(name))).toBe(true);
    }
  });

  it("moves the attachments to the plan's delete list, with their reason", () => {
    const moved = deleteAttachmentTags(plan, result.attachments);
    expect(moved.delete.map(({ tag }) => tag)).toEqual([
      ...plan.delete.map(({ tag }) => tag),
      ...result.attachments.map(({ tag }) => tag),
    ]);
    expect(moved.keep.map(({ tag }) => tag)).not.toContain(oldList);
    expect(moved.keep.length + moved.delete.length).toBe(plan.keep.length + plan.delete.length);
    expect(deleteAttachmentTags(plan, [])).toBe(plan);
  });
});

describe("planRetention properties", () => {
  it("lists every tag exactly once, and never deletes latest, floating or protected tags", () => {
    fc.assert(
      fc.property(
        registryTags,
        policies,
        fc.array(releaseTag, { maxLength: 5 }),
        (tags, policy, protect) => {
          const plan = planRetention({ tags, now: NOW, policy, protect });
          const listed = [...plan.keep, ...plan.delete].map(({ tag }) => tag).sort();
          expect(listed).toEqual(tags.map(({ name }) => name).sort());
          for (const { tag } of plan.delete) {
            expect(isFloating(tag)).toBe(false);
            expect(protect).not.toContain(tag);
            expect(protect).not.toContain(splitArchSuffix(tag).base);
          }
        },
      ),
    );
  });

  it("always keeps the newest stable release of every major, and its arch tags", () => {
    fc.assert(
      fc.property(registryTags, policies, (tags, policy) => {
        const plan = planRetention({ tags, now: NOW, policy });
        const kept = new Set(plan.keep.map(({ tag }) => tag));
        const newest = new Map<number, string>();
        for (const { name } of tags) {
          const { base } = splitArchSuffix(name);
          if (!/^v\d+\.\d+\.\d+$/.test(base)) continue;
          const { major } = parseVersion(base);
          const current = newest.get(major);
          if (current === undefined || semverCompareTags(base, current) > 0)
            newest.set(major, base);
        }
        for (const { name } of tags) {
          const { base } = splitArchSuffix(name);
          if ([...newest.values()].includes(base)) expect(kept.has(name)).toBe(true);
        }
      }),
    );
  });

  it("keeps the newest patches of the current minor and deletes only old dev builds and prereleases", () => {
    fc.assert(
      fc.property(registryTags, policies, (tags, policy) => {
        const plan = planRetention({ tags, now: NOW, policy });
        const stableBases = [
          ...new Set(
            tags
              .map(({ name }) => splitArchSuffix(name).base)
              .filter((b) => /^v\d+\.\d+\.\d+$/.test(b)),
          ),
        ].sort(semverCompareTags);
        const top = stableBases.at(-1);
        if (top !== undefined) {
          const { major, minor } = parseVersion(top);
          const line = stableBases.filter((b) => b.startsWith(`v${major}.${minor}.`));
          const keptBases = new Set(plan.keep.map(({ tag }) => splitArchSuffix(tag).base));
          for (const b of line.slice(-Math.max(1, policy.keepPatches)))
            expect(keptBases.has(b)).toBe(true);
        }
        const ages = new Map<string, number>();
        for (const { name, lastUpdated } of tags) {
          const { base } = splitArchSuffix(name);
          if (lastUpdated === undefined) continue;
          const time = Date.parse(lastUpdated);
          ages.set(base, Math.max(ages.get(base) ?? Number.NEGATIVE_INFINITY, time));
        }
        for (const { tag } of plan.delete) {
          const { base } = splitArchSuffix(tag);
          const kind = parseVersion(base).kind;
          if (kind !== "stable") {
            expect(NOW - (ages.get(base) ?? NOW)).toBeGreaterThan(policy.maxAgeDays * DAY);
          }
        }
      }),
    );
  });

  it("an arch tag has its release's decision and reason", () => {
    fc.assert(
      fc.property(registryTags, policies, (tags, policy) => {
        const plan = planRetention({ tags, now: NOW, policy });
        const decisions = new Map(
          [
            ...plan.keep.map((x) => ({ ...x, keep: true })),
            ...plan.delete.map((x) => ({ ...x, keep: false })),
          ].map((x) => [x.tag, x] as const),
        );
        for (const [tag, decision] of decisions) {
          const { base, arch } = splitArchSuffix(tag);
          const release = decisions.get(base);
          if (arch !== undefined && release !== undefined) {
            expect({ keep: decision.keep, reason: decision.reason }).toEqual({
              keep: release.keep,
              reason: release.reason,
            });
          }
        }
      }),
    );
  });

  it("does not depend on the order the registry lists tags in", () => {
    fc.assert(
      fc.property(
        registryTags.chain((tags) =>
          fc.tuple(fc.constant(tags), fc.shuffledSubarray(tags, { minLength: tags.length })),
        ),
        policies,
        ([tags, shuffled], policy) => {
          expect(planRetention({ tags: shuffled, now: NOW, policy })).toEqual(
            planRetention({ tags, now: NOW, policy }),
          );
        },
      ),
    );
  });

  it("a later clock never brings a tag back", () => {
    fc.assert(
      fc.property(registryTags, policies, fc.nat({ max: 90 }), (tags, policy, days) => {
        const before = planRetention({ tags, now: NOW, policy });
        const after = planRetention({ tags, now: NOW + days * DAY, policy });
        const deletedAfter = new Set(after.delete.map(({ tag }) => tag));
        for (const { tag } of before.delete) expect(deletedAfter.has(tag)).toBe(true);
      }),
    );
  });

  it("orders releases exactly as compareVersions (semver), highest first", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          releaseTag.filter((tag) => tag.startsWith("v") && tag.split(".").length >= 3),
        ),
        (tags) => {
          expect(orderTags(tags)).toEqual([...tags].sort((a, b) => semverCompareTags(b, a)));
        },
      ),
    );
  });

  it("orders plans as orderTags does: latest, floating, releases by semver, others", () => {
    expect(
      orderTags([
        "main",
        "v3.0.0-arm64",
        "v3.10.0",
        "v3.9.0",
        "v3.0.0",
        "v3.1",
        "v3",
        "v4",
        "latest-amd64",
        "latest",
      ]),
    ).toEqual([
      "latest",
      "latest-amd64",
      "v4",
      "v3",
      "v3.1",
      "v3.10.0",
      "v3.9.0",
      "v3.0.0",
      "v3.0.0-arm64",
      "main",
    ]);
  });
});
