#!/usr/bin/env node
// Prints the one line CI reads, "N passed, N failed", from vitest's JSON report.
const fs = require("node:fs");
const path = require("node:path");

const file = process.argv[2] ?? ".test-results/vitest.json";
let report;
try {
  report = JSON.parse(fs.readFileSync(file, "utf8"));
} catch (error) {
  console.error(`test-summary: no readable test report at ${file}: ${error.message}`);
  console.log("0 passed, 1 failed");
  process.exit(0);
}
// A file that failed without a failed test of its own (it did not load, or a beforeAll hook
// threw and its tests were skipped) counts as one failure: vitest's totals leave it out.
const brokenFiles = report.testResults.filter(
  (result) =>
    result.status === "failed" &&
    !result.assertionResults.some((assertion) => assertion.status === "failed"),
).length;
// Entries the run left in the temporary directory (test/support/tempLeakCheck.ts, which writes
// this file beside the report) count as one failure: the report was written before that check.
const leaksFile = path.join(path.dirname(file), "temp-leaks.txt");
const leaks = fs.existsSync(leaksFile) ? 1 : 0;
if (leaks > 0) process.stderr.write(fs.readFileSync(leaksFile, "utf8"));
const skipped = report.numPendingTests + report.numTodoTests;
console.log(
  `${report.numPassedTests} passed, ${report.numFailedTests + brokenFiles + leaks} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`,
);
