import { defineConfig } from "vitest/config";

/** Removes the folders each test file made with makeTempDir (test/support/tempDirs.ts). */
const TEMP_DIR_SETUP = "test/support/tempDirSetup.ts";

export default defineConfig({
  test: {
    // Fails the run when it leaves a `battlescope-*` entry in the temporary directory.
    globalSetup: ["test/support/tempLeakCheck.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          setupFiles: [TEMP_DIR_SETUP],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          // Checks of the repository's text, no behaviour: tsc, Biome, actionlint on the
          // workflows, the documents comments cite.
          name: "static",
          include: ["test/static/**/*.test.ts"],
          setupFiles: [TEMP_DIR_SETUP],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          setupFiles: [TEMP_DIR_SETUP],
          // One real engine, builder and registry: suites run one after another.
          fileParallelism: false,
          testTimeout: 20 * 60_000,
          hookTimeout: 20 * 60_000,
        },
      },
    ],
  },
});
