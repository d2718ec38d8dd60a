import * as fs from "node:fs";
import * as path from "node:path";

/** The first executable `command` in the folders of `searchPath` (a PATH value), as a shell finds it. */
export function which(command: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
