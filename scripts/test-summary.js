#!/usr/bin/env node
// Prints the one line CI reads, "N passed, N failed", from vitest's JSON report.
const fs = require("node:fs");

const file = process.argv[2] ?? ".test-results/vitest.json";
let report;
try {
  report = JSON.parse(fs.readFileSync(file, "utf8"));
} catch (error) {
  console.error(`test-summary: no readable test report at ${file}: ${error.message}`);
  console.log("0 passed, 1 failed");
  process.exit(0);
}
// A suite that fails to load has no tests of its own: count it as a failure.
const brokenFiles = report.testResults.filter(
  (result) => result.status === "failed" && result.assertionResults.length === 0,
).length;
const skipped = report.numPendingTests + report.numTodoTests;
console.log(
  `${report.numPassedTests} passed, ${report.numFailedTests + brokenFiles} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`,
);
