/**
 * The documents the code cites exist: every `docs/<page>.md#<section>` (or `README.md#<section>`)
 * named anywhere in the repository is a heading of that page, every path the docs pages name
 * exists, and no file cites a document the repository does not have.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { STACK_SETTINGS } from "../../lib/config";

const REPO_ROOT = path.resolve(__dirname, "../..");

function trackedFiles(): string[] {
  return execFileSync("git", ["ls-files", "-z"], { cwd: REPO_ROOT, encoding: "utf8" })
    .split("\0")
    .filter((file) => file !== "" && !/\.(png|lock)$|package-lock\.json$/.test(file))
    .filter((file) => fs.existsSync(path.join(REPO_ROOT, file)));
}

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchors(page: string): Set<string> {
  const text = fs.readFileSync(path.join(REPO_ROOT, page), "utf8");
  return new Set([...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map(([, heading]) => slug(heading ?? "")));
}

const files = trackedFiles();
const texts = new Map(
  files.map((file) => [file, fs.readFileSync(path.join(REPO_ROOT, file), "utf8")]),
);

describe("cited documents", () => {
  it("every docs/<page>.md#<section> and README.md#<section> cited is a heading of that page", () => {
    const pages = new Map<string, Set<string>>();
    const broken: string[] = [];
    let cited = 0;
    for (const [file, text] of texts) {
      for (const [citation, page, anchor] of text.matchAll(
        /\b((?:docs\/[\w-]+|README)\.md)#([\w-]+)/g,
      )) {
        cited += 1;
        const target = page as string;
        if (!pages.has(target)) {
          pages.set(
            target,
            fs.existsSync(path.join(REPO_ROOT, target)) ? anchors(target) : new Set(),
          );
        }
        if (!pages.get(target)?.has(anchor as string)) broken.push(`${file}: ${citation}`);
      }
    }
    expect(cited).toBeGreaterThan(10);
    expect(broken).toEqual([]);
  });

  it("the docs pages' own section links resolve", () => {
    const broken: string[] = [];
    for (const page of files.filter((file) => /^docs\/.+\.md$/.test(file))) {
      const own = anchors(page);
      for (const [link, target, anchor] of (texts.get(page) ?? "").matchAll(
        /\]\(([\w-]*\.md)?#([\w-]+)\)/g,
      )) {
        const set = target === undefined ? own : anchors(path.join(path.dirname(page), target));
        if (!set.has(anchor as string)) broken.push(`${page}: ${link}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("every repository path the docs pages name exists", () => {
    const missing: string[] = [];
    for (const page of files.filter((file) => /^docs\/.+\.md$/.test(file))) {
      for (const [, named] of (texts.get(page) ?? "").matchAll(/`([\w.-]+(?:\/[\w.-]+)+)`/g)) {
        const file = named as string;
        if (/\.\w+$/.test(file) && !fs.existsSync(path.join(REPO_ROOT, file))) {
          missing.push(`${page}: ${file}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it("no file cites a design document the repository does not have", () => {
    const missing = /\b(DESIGN|TOOLCHAIN|KUBERNETES|SPEC)\.md\b/;
    const citing = [...texts]
      .filter(([file, text]) => file !== "test/static/docs.test.ts" && missing.test(text))
      .map(([file]) => file);
    expect(citing).toEqual([]);
  });
});

describe("README's table of config keys", () => {
  it("lists every setting and no other (a key that is none is refused, pointing at it)", () => {
    const readme = texts.get("README.md") ?? "";
    const table = readme.slice(readme.indexOf("Config keys (namespace `battlescope:`)"));
    const rows = table.slice(table.indexOf("\n|"), table.indexOf("\n\n", table.indexOf("\n|")));
    const listed = rows
      .split("\n")
      .slice(3) // the blank before, the header and the rule
      .flatMap((row) => [...(row.split("|")[1] ?? "").matchAll(/`(\w+)`/g)].map(([, key]) => key));
    expect(listed.length).toBeGreaterThan(20);
    expect([...listed].sort()).toEqual([...STACK_SETTINGS].sort());
  });
});
