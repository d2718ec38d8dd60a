import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allPlannedTags, planTags } from "../../lib/tagPlan";
import {
  ACCEPTED_VERSION_FORMS,
  DOCKER_TAG_PATTERN,
  parseVersion,
  semverCompareTags,
} from "../../lib/versions";
import { MAX_TAG_LENGTH } from "../../lib/vocabulary";
import { exactly } from "../support/exactly";

const twins = (tags: string[]) => ({
  amd64: tags.map((tag) => `${tag}-amd64`),
  arm64: tags.map((tag) => `${tag}-arm64`),
});

describe("planTags", () => {
  it.each([
    {
      name: "first release",
      version: "v3.0.0",
      existing: [],
      manifest: ["v3.0.0", "v3.0", "v3", "latest"],
    },
    {
      name: "patch on the newest line",
      version: "v3.1.1",
      existing: ["v3.0.0", "v3.1.0", "v3.1", "v3", "latest"],
      manifest: ["v3.1.1", "v3.1", "v3", "latest"],
    },
    {
      name: "hotfix on an older line claims only its minor",
      version: "v3.0.1",
      existing: ["v3.0.0", "v3.1.0"],
      manifest: ["v3.0.1", "v3.0"],
    },
    {
      name: "hotfix on an older major claims its minor and major, not latest",
      version: "v2.4.1",
      existing: ["v2.4.0", "v3.0.0"],
      manifest: ["v2.4.1", "v2.4", "v2"],
    },
    {
      name: "older patch of an older minor claims nothing floating",
      version: "v3.0.1",
      existing: ["v3.0.2", "v3.1.0"],
      manifest: ["v3.0.1"],
    },
    {
      name: "new major",
      version: "v4.0.0",
      existing: ["v3.0.0", "v3.1.0", "v3.1.2"],
      manifest: ["v4.0.0", "v4.0", "v4", "latest"],
    },
    {
      name: "new minor",
      version: "v3.2.0",
      existing: ["v3.1.9"],
      manifest: ["v3.2.0", "v3.2", "v3", "latest"],
    },
    {
      name: "numeric ordering: v3.1.10 is above v3.1.9",
      version: "v3.1.9",
      existing: ["v3.1.10"],
      manifest: ["v3.1.9"],
    },
    {
      name: "numeric ordering: v3.1.10 after v3.1.9 claims everything",
      version: "v3.1.10",
      existing: ["v3.1.9", "v3.1.8"],
      manifest: ["v3.1.10", "v3.1", "v3", "latest"],
    },
    {
      name: "re-release of the newest version keeps its tags",
      version: "v3.1.0",
      existing: ["v3.1.0", "v3.1", "v3", "latest", "v3.0.0"],
      manifest: ["v3.1.0", "v3.1", "v3", "latest"],
    },
    {
      name: "prerelease gets only its own tag",
      version: "v3.2.0-rc.1",
      existing: ["v3.1.0"],
      manifest: ["v3.2.0-rc.1"],
    },
    {
      name: "dev build gets only its own tag",
      version: "v3.1.1-dev-a1b2c3d",
      existing: ["v3.1.0"],
      manifest: ["v3.1.1-dev-a1b2c3d"],
    },
    {
      name: "arch twins are not prereleases",
      version: "v3.0.1",
      existing: ["v3.0.0-amd64", "v3.1.0-arm64", "v3.1.0-amd64"],
      manifest: ["v3.0.1", "v3.0"],
    },
    {
      name: "floating, dev, prerelease and cache tags do not confuse the plan",
      version: "v3.1.1",
      existing: [
        "latest",
        "latest-amd64",
        "v3",
        "v3-arm64",
        "v3.1",
        "v9.9",
        "v9",
        "v3.1.0",
        "v3.9.0-rc.1",
        "v3.9.0-dev-abcdef1",
        "v9.0.0-dev-0123456-amd64",
        "buildcache-amd64",
        "sha256-abc.att",
      ],
      manifest: ["v3.1.1", "v3.1", "v3", "latest"],
    },
  ])("$name", ({ version, existing, manifest }) => {
    const plan = planTags({ version, existingTags: existing });
    expect(plan.manifestTags).toEqual(manifest);
    expect(plan.platformTags).toEqual(twins(manifest));
  });

  it("names the kind", () => {
    expect(planTags({ version: "v3.0.0" }).kind).toBe("stable");
    expect(planTags({ version: "v3.0.0-rc.1" }).kind).toBe("prerelease");
    expect(planTags({ version: "v3.0.0-dev-abcdef1" }).kind).toBe("dev");
  });

  it("reports which floating tags move from which release", () => {
    const plan = planTags({ version: "v3.1.1", existingTags: ["v3.0.4", "v3.1.0", "v4.0.0"] });
    expect(plan.moves).toEqual([
      { tag: "v3.1", from: "v3.1.0", to: "v3.1.1" },
      { tag: "v3", from: "v3.1.0", to: "v3.1.1" },
    ]);
    expect(plan.withheld).toEqual([{ tag: "latest", heldBy: "v4.0.0" }]);
  });

  it.each([
    { name: "a build", reusesFrom: undefined },
    { name: "a reuse of the previous release's images", reusesFrom: "v3.1.0" },
  ])("claims the same tags for $name, and says which release it reuses", ({ reusesFrom }) => {
    const existingTags = ["v3.1.0", "v3.1", "v3", "latest"];
    const plan = planTags({
      version: "v3.1.1",
      existingTags,
      ...(reusesFrom === undefined ? {} : { reusesFrom }),
    });
    expect(plan.manifestTags).toEqual(["v3.1.1", "v3.1", "v3", "latest"]);
    expect(plan.moves.map((move) => move.from)).toEqual(["v3.1.0", "v3.1.0", "v3.1.0"]);
    expect(plan.reusesFrom).toBe(reusesFrom);
  });

  it("claims only the version when the stack may not move floating tags", () => {
    const plan = planTags({ version: "v3.2.0", existingTags: ["v3.1.0"], moveFloatingTags: false });
    expect(plan.manifestTags).toEqual(["v3.2.0"]);
  });

  it("lists only the requested architectures, in amd64, arm64 order", () => {
    expect(planTags({ version: "v1.0.0", architectures: ["arm64"] }).platformTags).toEqual({
      arm64: ["v1.0.0-arm64", "v1.0-arm64", "v1-arm64", "latest-arm64"],
    });
    expect(
      Object.keys(planTags({ version: "v1.0.0", architectures: ["arm64", "amd64"] }).platformTags),
    ).toEqual(["amd64", "arm64"]);
  });

  it("refuses an invalid version with the accepted forms", () => {
    expect(() => planTags({ version: "v3.0" })).toThrow(
      exactly(`invalid version "v3.0": expected ${ACCEPTED_VERSION_FORMS}`),
    );
  });
});

const versionTriple = fc.tuple(fc.nat({ max: 12 }), fc.nat({ max: 12 }), fc.nat({ max: 30 }));
const stableVersion = versionTriple.map(([a, b, c]) => `v${a}.${b}.${c}`);
const anyVersion = fc.oneof(
  stableVersion,
  fc.tuple(stableVersion, fc.nat({ max: 20 })).map(([v, n]) => `${v}-rc.${n}`),
  fc
    .tuple(stableVersion, fc.stringMatching(/^[0-9a-f]{7,40}$/))
    .map(([v, sha]) => `${v}-dev-${sha}`),
);
const registryTag = fc.oneof(
  anyVersion,
  anyVersion.map((v) => `${v}-amd64`),
  anyVersion.map((v) => `${v}-arm64`),
  fc.constantFrom("latest", "latest-amd64", "v3", "v3.1", "v3.1-arm64", "buildcache-amd64"),
);

describe("tag plan properties", () => {
  it("every tag matches the Docker tag grammar, fits 128 characters and appears once", () => {
    fc.assert(
      fc.property(anyVersion, fc.array(registryTag, { maxLength: 30 }), (version, existing) => {
        const tags = allPlannedTags(planTags({ version, existingTags: existing }));
        for (const tag of tags) {
          expect(tag).toMatch(DOCKER_TAG_PATTERN);
          expect(tag.length).toBeLessThanOrEqual(MAX_TAG_LENGTH);
        }
        expect(new Set(tags).size).toBe(tags.length);
      }),
    );
  });

  it("floating tags never go to a lower version than the highest published in their group", () => {
    fc.assert(
      fc.property(stableVersion, fc.array(registryTag, { maxLength: 30 }), (version, existing) => {
        const plan = planTags({ version, existingTags: existing });
        const v = parseVersion(version);
        const stable = existing
          .map((tag) => tag.replace(/-(amd64|arm64)$/, ""))
          .filter((tag) => /^v\d+\.\d+\.\d+$/.test(tag))
          .map(parseVersion);
        const groups: Record<string, (o: ReturnType<typeof parseVersion>) => boolean> = {
          [`v${v.major}.${v.minor}`]: (o) => o.major === v.major && o.minor === v.minor,
          [`v${v.major}`]: (o) => o.major === v.major,
          latest: () => true,
        };
        for (const [tag, inGroup] of Object.entries(groups)) {
          const higher = stable.filter(inGroup).some((o) => semverCompareTags(o.tag, version) > 0);
          expect(plan.manifestTags.includes(tag)).toBe(!higher);
        }
      }),
    );
  });

  it("a prerelease or dev build never claims a floating tag", () => {
    fc.assert(
      fc.property(anyVersion, fc.array(registryTag, { maxLength: 10 }), (version, existing) => {
        const plan = planTags({ version, existingTags: existing });
        if (plan.kind !== "stable") expect(plan.manifestTags).toEqual([version]);
      }),
    );
  });
});
