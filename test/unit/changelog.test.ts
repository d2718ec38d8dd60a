import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { changelogVersions, checkChangelog, needsChangelogEntry } from "../../lib/changelog";

const FIXTURE = path.join(__dirname, "../../fixtures/battlescope/CHANGELOG.md");
const TURN_OFF =
  "or turn the check off on a stack that releases without one: `pulumi config set battlescope:requireChangelog false`";

describe("changelogVersions", () => {
  it("reads the fixture's Keep a Changelog entries, not Unreleased or the link definitions", () => {
    expect(changelogVersions(fs.readFileSync(FIXTURE, "utf8"))).toEqual([
      "3.0.2",
      "3.1.0",
      "3.0.1",
      "3.0.0",
    ]);
  });

  it.each([
    { heading: "## [3.1.0] - 2026-01-05", version: "3.1.0" },
    { heading: "## [v3.1.0] - 2026-01-05", version: "3.1.0" },
    { heading: "## 3.1.0", version: "3.1.0" },
    { heading: "## v3.1.0 (2026-01-05)", version: "3.1.0" },
    {
      heading: "## [3.1.0](https://example.invalid/compare/v3.0.1...v3.1.0) (2026-01-05)",
      version: "3.1.0",
    },
    { heading: "### [3.0.2] - 2026-01-06", version: "3.0.2" },
    { heading: "## [3.2.0-rc.1] - 2026-01-07", version: "3.2.0-rc.1" },
    { heading: "  ## [3.1.0] - 2026-01-05\r", version: "3.1.0" },
  ])("$heading is an entry for $version", ({ heading, version }) => {
    expect(changelogVersions(`# Changelog\n\n${heading}\n\n### Added\n- a thing\n`)).toEqual([
      version,
    ]);
  });

  it.each([
    "## [Unreleased]",
    "[3.1.0]: https://example.invalid/compare/v3.0.1...v3.1.0",
    "- 3.1.0 was a good release",
    "### Added",
    "```\n## [3.1.0]\n```",
    "~~~markdown\n## 3.1.0\n~~~",
  ])("%s is not an entry", (text) => {
    expect(changelogVersions(text)).toEqual([]);
  });
});

describe("needsChangelogEntry", () => {
  it.each([
    { version: "v3.1.0", needed: true },
    { version: "v0.0.1", needed: true },
    { version: "v3.1.0-rc.1", needed: false },
    { version: "v3.1.1-dev-a1b2c3d", needed: false },
    { version: "dev", needed: false },
    { version: "3.1.0", needed: false },
  ])("$version: $needed", ({ version, needed }) => {
    expect(needsChangelogEntry(version)).toBe(needed);
  });
});

describe("checkChangelog", () => {
  const fixture = fs.readFileSync(FIXTURE, "utf8");

  it.each([
    { name: "a stable release with an entry", versions: ["v3.1.0"] },
    { name: "several released versions with entries", versions: ["v3.0.0", "v3.0.1", "v3.1.0"] },
    { name: "a dev build", versions: ["v3.1.1-dev-a1b2c3d"] },
    { name: "a prerelease", versions: ["v3.2.0-rc.1"] },
    { name: "the dev channel", versions: ["dev"] },
    { name: "nothing", versions: [] },
  ])("accepts $name", ({ versions }) => {
    expect(checkChangelog("src/CHANGELOG.md", fixture, versions)).toEqual([]);
  });

  it("refuses each stable version without an entry, once", () => {
    expect(
      checkChangelog("src/CHANGELOG.md", fixture, [
        "v3.2.0",
        "v3.1.0",
        "v3.2.0",
        "v3.0.3",
        "v3.3.0-rc.1",
      ]),
    ).toEqual([
      `src/CHANGELOG.md: changelog: no entry for v3.2.0; add a "## [3.2.0] - YYYY-MM-DD" section saying what changed in it, ${TURN_OFF}`,
      `src/CHANGELOG.md: changelog: no entry for v3.0.3; add a "## [3.0.3] - YYYY-MM-DD" section saying what changed in it, ${TURN_OFF}`,
    ]);
  });

  it("does not take an Unreleased section for the release", () => {
    const text = "# Changelog\n\n## [Unreleased]\n\n### Added\n- v3.2.0 features\n";
    expect(checkChangelog("CHANGELOG.md", text, ["v3.2.0"])).toEqual([
      `CHANGELOG.md: changelog: no entry for v3.2.0; add a "## [3.2.0] - YYYY-MM-DD" section saying what changed in it, ${TURN_OFF}`,
    ]);
  });

  it("refuses a stable release when there is no CHANGELOG", () => {
    expect(checkChangelog("/src/CHANGELOG.md", undefined, ["v3.1.0", "v3.0.2"])).toEqual([
      `/src/CHANGELOG.md: changelog: not found; a stable release (v3.1.0, v3.0.2) needs an entry for its version in the source root's CHANGELOG.md, such as "## [3.1.0] - YYYY-MM-DD" (Keep a Changelog), ${TURN_OFF}`,
    ]);
  });

  it("needs no CHANGELOG for dev builds", () => {
    expect(checkChangelog("/src/CHANGELOG.md", undefined, ["v3.1.1-dev-a1b2c3d"])).toEqual([]);
  });
});
