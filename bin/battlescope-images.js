#!/usr/bin/env node
// Runs the TypeScript command line directly; tsx registers the loader for the .ts sources.
//
// The project runs on the Node pinned as NODE_VERSION in scripts/versions.env. Started by another
// Node (a machine whose `node` is older), the command re-runs itself under the pinned one, which
// scripts/node.sh installs into the cache when it is missing, with that Node first on PATH for
// whatever the command starts (the Pulumi engine starts `node` from PATH).
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const versions = fs.readFileSync(path.join(root, "scripts/versions.env"), "utf8");
const pinned = /^NODE_VERSION=(\S+)$/m.exec(versions)?.[1];

// The guard variable stops a second re-run if the pinned Node somehow is not what starts.
if (pinned !== undefined && process.version !== pinned && !process.env.BATTLESCOPE_NODE_RERUN) {
  const found = spawnSync("bash", [path.join(root, "scripts/node.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (found.status !== 0) {
    process.stderr.write(`battlescope-images: cannot install Node ${pinned} (scripts/node.sh)\n`);
    process.exit(found.status ?? 1);
  }
  const dir = found.stdout.trim();
  const run = spawnSync(
    dir === "" ? "node" : path.join(dir, "node"),
    [__filename, ...process.argv.slice(2)],
    {
      stdio: "inherit",
      env: {
        ...process.env,
        PATH: dir === "" ? process.env.PATH : `${dir}${path.delimiter}${process.env.PATH ?? ""}`,
        BATTLESCOPE_NODE_RERUN: "1",
      },
    },
  );
  if (run.signal) process.kill(process.pid, run.signal);
  process.exit(run.status ?? 1);
}

require("tsx/cjs");
require("../cli/main.ts").main();
