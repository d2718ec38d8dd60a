import { CONFIG_NAMESPACE } from "./config";
import { InvalidVersionError, tryParseVersion } from "./versions";

/** The changelog every stable release needs an entry in, at the source root. */
export const CHANGELOG_FILE = "CHANGELOG.md";

/**
 * The versions a Keep a Changelog file has entries for, without their `v`, in file order: the
 * headings `## [3.1.0] - 2025-03-14`, `## [v3.1.0]`, `## 3.1.0`, `## v3.1.0 (2025-03-14)` or
 * `## [3.1.0](<compare link>)`. `## [Unreleased]`, link definitions and fenced code are not entries.
 */
export function changelogVersions(text: string): string[] {
  const versions: string[] = [];
  let fence: string | undefined;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    const fenceMark = line.startsWith("```") ? "```" : line.startsWith("~~~") ? "~~~" : undefined;
    if (fenceMark !== undefined) {
      if (fence === undefined) fence = fenceMark;
      else if (fence === fenceMark) fence = undefined;
      continue;
    }
    if (fence !== undefined) continue;
    const heading = /^#{1,6}\s+\[?[vV]?([0-9][^\]\s(]*)/.exec(line);
    if (heading !== null) versions.push(heading[1] as string);
  }
  return versions;
}

/** Stable releases need a changelog entry; dev builds, prereleases and the dev channel do not. */
export function needsChangelogEntry(version: string): boolean {
  const parsed = tryParseVersion(version);
  return !(parsed instanceof InvalidVersionError) && parsed.kind === "stable";
}

const TURN_OFF = `or turn the check off on a stack that releases without one: \`pulumi config set ${CONFIG_NAMESPACE}:requireChangelog false\``;

/**
 * What keeps these versions from being released: one line per stable version that `text` (the
 * CHANGELOG, undefined when it does not exist) has no entry for. `file` names it in the messages.
 */
export function checkChangelog(
  file: string,
  text: string | undefined,
  versions: readonly string[],
): string[] {
  const needed = [...new Set(versions.filter(needsChangelogEntry))];
  if (needed.length === 0) return [];
  if (text === undefined) {
    const entry = needed[0]?.slice(1);
    return [
      `${file}: changelog: not found; a stable release (${needed.join(", ")}) needs an entry for its version in the source root's ${CHANGELOG_FILE}, such as "## [${entry}] - YYYY-MM-DD" (Keep a Changelog), ${TURN_OFF}`,
    ];
  }
  const present = new Set(changelogVersions(text));
  return needed
    .filter((version) => !present.has(version.slice(1)))
    .map(
      (version) =>
        `${file}: changelog: no entry for ${version}; add a "## [${version.slice(1)}] - YYYY-MM-DD" section saying what changed in it, ${TURN_OFF}`,
    );
}
