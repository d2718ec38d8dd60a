import { describe, expect, it } from "vitest";
import {
  ACCEPTED_VERSION_FORMS,
  nextFreePatch,
  parseVersion,
  splitArchSuffix,
  versionsInTags,
} from "../../lib/versions";
import { exactly } from "../support/exactly";

describe("parseVersion", () => {
  it.each([
    { name: "stable", value: "v3.0.1", kind: "stable", major: 3, minor: 0, patch: 1 },
    {
      name: "release candidate",
      value: "v3.1.0-rc.1",
      kind: "prerelease",
      major: 3,
      minor: 1,
      patch: 0,
    },
    { name: "beta", value: "v4.0.0-beta.2", kind: "prerelease", major: 4, minor: 0, patch: 0 },
    { name: "dev build", value: "v3.0.2-dev-a1b2c3d", kind: "dev", major: 3, minor: 0, patch: 2 },
    {
      name: "dev build, full sha",
      value: `v3.0.2-dev-${"f".repeat(40)}`,
      kind: "dev",
      major: 3,
      minor: 0,
      patch: 2,
    },
    { name: "zero", value: "v0.0.0", kind: "stable", major: 0, minor: 0, patch: 0 },
    { name: "multi-digit", value: "v3.10.12", kind: "stable", major: 3, minor: 10, patch: 12 },
  ])("accepts $name ($value)", ({ value, kind, major, minor, patch }) => {
    expect(parseVersion(value)).toMatchObject({ tag: value, kind, major, minor, patch });
  });

  it("records the git sha of a dev build", () => {
    expect(parseVersion("v3.0.2-dev-a1b2c3d").gitSha).toBe("a1b2c3d");
  });

  const expected = (value: string, reason?: string) =>
    `invalid version ${JSON.stringify(value)}${reason ? ` (${reason})` : ""}: expected ${ACCEPTED_VERSION_FORMS}`;

  it.each([
    { name: "no leading v", value: "3.0.0", message: expected("3.0.0") },
    { name: "two components", value: "v3.0", message: expected("v3.0") },
    { name: "four components", value: "v3.0.0.1", message: expected("v3.0.0.1") },
    { name: "floating name", value: "latest", message: expected("latest") },
    { name: "leading zero", value: "v03.0.0", message: expected("v03.0.0") },
    { name: "empty", value: "", message: expected("") },
    {
      name: "dev without sha",
      value: "v3.0.0-dev-",
      message: expected(
        "v3.0.0-dev-",
        "a dev build needs the git short sha: 7 to 40 lowercase hex characters",
      ),
    },
    {
      name: "dev with a short sha",
      value: "v3.0.0-dev-abc",
      message: expected(
        "v3.0.0-dev-abc",
        "a dev build needs the git short sha: 7 to 40 lowercase hex characters",
      ),
    },
    {
      name: "dev with upper-case sha",
      value: "v3.0.0-dev-ABCDEF1",
      message: expected(
        "v3.0.0-dev-ABCDEF1",
        "a dev build needs the git short sha: 7 to 40 lowercase hex characters",
      ),
    },
    { name: "capital V", value: "V3.0.0", message: expected("V3.0.0") },
    { name: "spaces", value: " v3.0.0", message: expected(" v3.0.0") },
    {
      name: "build metadata",
      value: "v3.0.0+build.1",
      message: expected("v3.0.0+build.1", "build metadata (+...) is not allowed in a Docker tag"),
    },
    {
      name: "architecture suffix",
      value: "v3.0.0-amd64",
      message: expected("v3.0.0-amd64", "a version must not end in an architecture suffix"),
    },
    {
      name: "too long for its arch tags",
      value: `v1.0.0-${"a".repeat(116)}`,
      message: expected(`v1.0.0-${"a".repeat(116)}`, "its arch tags would exceed 128 characters"),
    },
  ])("refuses $name", ({ value, message }) => {
    expect(() => parseVersion(value)).toThrow(exactly(message));
  });
});

describe("splitArchSuffix", () => {
  it.each([
    { tag: "v1.2.3-amd64", base: "v1.2.3", arch: "amd64" },
    { tag: "latest-arm64", base: "latest", arch: "arm64" },
    { tag: "v1.2.3-rc.1-arm64", base: "v1.2.3-rc.1", arch: "arm64" },
    { tag: "v1.2.3-rc.1", base: "v1.2.3-rc.1", arch: undefined },
    { tag: "v1.2.3-amd64x", base: "v1.2.3-amd64x", arch: undefined },
  ])("$tag", ({ tag, base, arch }) => {
    expect(splitArchSuffix(tag)).toEqual(arch === undefined ? { base } : { base, arch });
  });
});

describe("versionsInTags", () => {
  it("folds arch twins, ignores floating, cache and garbage tags, sorts by semver", () => {
    const tags = [
      "latest",
      "v3",
      "v3.1",
      "v3.1.10-amd64",
      "v3.1.9",
      "v3.1.10",
      "v3.1.9-arm64",
      "buildcache-amd64",
      "v3.0.0-dev-abcdef1",
      "v3.2.0-rc.1",
      "sha256-0123.sig",
      "v3.0.0",
    ];
    expect(versionsInTags(tags).map((v) => v.tag)).toEqual([
      "v3.0.0-dev-abcdef1",
      "v3.0.0",
      "v3.1.9",
      "v3.1.10",
      "v3.2.0-rc.1",
    ]);
  });
});

describe("nextFreePatch", () => {
  it.each([
    { name: "nothing published", version: "v3.0.1", published: [], next: "v3.0.2" },
    {
      name: "later patches taken",
      version: "v3.0.1",
      published: ["v3.0.1", "v3.0.2", "v3.0.3"],
      next: "v3.0.4",
    },
    {
      name: "other lines ignored",
      version: "v3.0.1",
      published: ["v3.1.5", "v4.0.9"],
      next: "v3.0.2",
    },
  ])("$name", ({ version, published, next }) => {
    expect(nextFreePatch(parseVersion(version), versionsInTags(published))).toBe(next);
  });
});
