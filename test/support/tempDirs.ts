/**
 * The one way tests make temporary folders: `makeTempDir` makes `battlescope-<label>-XXXXXX` in the
 * temporary directory and the test file's last `afterAll` (test/support/tempDirSetup.ts, a setup
 * file of every vitest project) removes it, whether the tests passed, failed or threw. The run's
 * global teardown (test/support/tempLeakCheck.ts) fails `npm test` if a `battlescope-*` entry is
 * left all the same.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The prefix of every temporary entry the project makes, the one the leak check looks for. */
export const TEMP_PREFIX = "battlescope-";

let fileRunning = false;
const made: string[] = [];

/**
 * A new empty folder, removed after the test file. Only from a test or a hook: a file whose tests
 * are all skipped runs no hook, so a folder made while the file is collected would stay.
 */
export function makeTempDir(label: string): string {
  if (!fileRunning) {
    throw new Error(
      `makeTempDir("${label}") called outside a test or hook: call it in beforeAll/beforeEach or in the test (a file whose tests are all skipped runs no afterAll, so the folder would stay), in a vitest project whose setupFiles has test/support/tempDirSetup.ts`,
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${TEMP_PREFIX}${label}-`));
  made.push(dir);
  return dir;
}

/** From the setup file's beforeAll: the file's hooks and tests may make folders from now on. */
export function startTempDirs(): void {
  fileRunning = true;
}

/** From the setup file's afterAll, after the file's own hooks: removes every folder it made. */
export function removeTempDirs(): void {
  fileRunning = false;
  for (const dir of made.splice(0)) {
    // Retries: a process the file started (an engine it gave up on) may still be writing there.
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}
