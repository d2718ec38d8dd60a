import * as fs from "node:fs";
import * as path from "node:path";
import type { SourceFile } from "../lib/releaseGuard";

/** Folders that never reach an image and change for reasons of their own. */
const SKIPPED = new Set([".git", "node_modules"]);

/** Every file of a build context, for hashing: paths relative, with their executable bit. */
export function readBuildContext(contextDir: string): SourceFile[] {
  const files: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (SKIPPED.has(entry.name)) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() || entry.isSymbolicLink()) {
        const stat = fs.statSync(full);
        files.push({
          path: path.relative(contextDir, full).split(path.sep).join("/"),
          executable: (stat.mode & 0o111) !== 0,
          content: fs.readFileSync(full),
        });
      }
    }
  };
  walk(contextDir);
  return files;
}
