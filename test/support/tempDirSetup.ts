/**
 * A setup file of every vitest project (vitest.config.ts): runs before each test file, so these
 * are the file's first beforeAll and, hooks running in reverse order, its last afterAll.
 */
import { afterAll, beforeAll } from "vitest";
import { removeTempDirs, startTempDirs } from "./tempDirs";

beforeAll(startTempDirs);
afterAll(removeTempDirs);
