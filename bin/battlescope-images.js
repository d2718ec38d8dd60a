#!/usr/bin/env node
// Runs the TypeScript command line directly; tsx registers the loader for the .ts sources.
require("tsx/cjs");
require("../cli/main.ts").main();
