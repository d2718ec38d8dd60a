/**
 * What a signed release costs, counted rather than timed: cosign processes (a wrapper in front of
 * the real cosign writes one line per run) and registry requests by client (the registry's
 * access log). The patch release's counts have ceilings: a change that adds lookups or round
 * trips fails here, whatever the machine's speed. The cold release's counts are printed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { which } from "../../clients/which";
import { localSigningConfig, setVersion } from "../../scripts/e2eStack";
import { ENGINE_PARALLELISM } from "../../scripts/stack";
import { makeTempDir } from "../support/tempDirs";
import {
  accessLogMark,
  accessLogSince,
  createE2eStack,
  type E2eStack,
  gitFixtures,
  type LogEntry,
} from "./harness";

/** One service changed, the eight others reused: the release the ceilings are for. */
const CHANGED_SERVICE = "battle-service";
/**
 * The ceilings, from the counts on 2026-12-07 (the closing notes give them). No cosign process:
 * without a transparency log the key signs in the program (clients/attachers.ts); before, 64
 * cosign runs and 703 of their requests did this release, beside 318 of the program's. Now the
 * program's 502 requests include 64 reads of what the 16 reused images carry (their referrers
 * tag, and the bundles of their SBOM and provenance), and the 31 attachments of the 2 new images
 * and 9 new lists (a bundle upload, a manifest and its referrers tag each). The count is exact:
 * it varied (513 to 533) while the first requests of a process each met the registry's challenge
 * (401) before one had learnt where tokens come from, and (504 to 507) while the first referrers
 * lookups each asked for the referrers API the registry does not have; now one asks, the others
 * wait.
 */
const PATCH_CEILINGS = {
  cosignRuns: 0,
  cosignRequests: 0,
  programRequests: 502,
  attachmentReads: 64,
  challenges: 1,
};

/** The user agent of the program's requests (Node's fetch), in the registry's access log. */
const PROGRAM_AGENT = "node";

interface Cost {
  readonly cosignRuns: string[];
  readonly lookups: string[];
  /** The program's requests the registry refused for want of a token. */
  readonly challenges: number;
  readonly requests: Record<string, number>;
}

describe.sequential("a signed release's cost, counted", () => {
  let e2e: E2eStack;
  let sources: { dir: string; commit: string };
  let calls: string;
  const previousBinary = process.env.COSIGN_BINARY;

  /** The release's cosign runs and registry requests, by client. */
  async function release(version: string): Promise<Cost> {
    await setVersion(e2e, version);
    fs.writeFileSync(calls, "");
    const mark = accessLogMark();
    await e2e.stack.up({ color: "never", parallel: ENGINE_PARALLELISM });
    const requests: Record<string, number> = {};
    const entries = accessLogSince(mark, e2e.organization);
    for (const entry of entries) {
      const client = entry.agent.split("/")[0] ?? entry.agent;
      requests[client] = (requests[client] ?? 0) + 1;
    }
    const cosignRuns = fs.readFileSync(calls, "utf8").split("\n").filter(Boolean);
    const challenges = entries.filter(
      (entry) => entry.agent === PROGRAM_AGENT && entry.status === 401,
    ).length;
    return { cosignRuns, requests, challenges, lookups: attachmentReads(entries) };
  }

  beforeAll(async () => {
    const cosign = which(process.env.COSIGN_BINARY ?? "cosign", process.env.PATH ?? "");
    if (cosign === undefined) throw new Error("cosign is not on PATH (bash scripts/toolchain.sh)");
    const dir = makeTempDir("cosign-count");
    calls = path.join(dir, "calls");
    const wrapper = path.join(dir, "cosign");
    fs.writeFileSync(
      wrapper,
      `#!/bin/sh\nprintf '%s\\n' "$1 $2 $3" >> "${calls}"\nexec "${cosign}" "$@"\n`,
      { mode: 0o755 },
    );
    // The engine, and the providers it starts, inherit this process's environment.
    process.env.COSIGN_BINARY = wrapper;
    sources = gitFixtures();
    e2e = await createE2eStack("sigcost", {
      sourceRoot: sources.dir,
      publishDescriptions: "false",
      // BuildKit's cache export is not what is counted here.
      registryCache: "false",
    });
    await e2e.stack.setAllConfig(await localSigningConfig());
  });

  afterAll(async () => {
    if (previousBinary === undefined) delete process.env.COSIGN_BINARY;
    else process.env.COSIGN_BINARY = previousBinary;
    await e2e?.close();
  });

  it("a cold release looks nothing up on what it just built", async () => {
    const cold = await release("v3.0.0");
    console.log(`signed cold release: ${JSON.stringify(summary(cold))}`);
    expect(
      cold.cosignRuns.filter((run) => run !== "public-key --key env://BATTLESCOPE_COSIGN_KEY"),
    ).toEqual([]);
    expect(cold.lookups).toEqual([]);
  });

  it("a patch release of one service stays within its counts", async () => {
    fs.appendFileSync(path.join(sources.dir, CHANGED_SERVICE, "server.sh"), "# fixed in v3.0.1\n");
    const patch = await release("v3.0.1");
    const counted = summary(patch);
    console.log(`signed patch release: ${JSON.stringify(counted)}`);
    expect(counted.cosignRuns).toBeLessThanOrEqual(PATCH_CEILINGS.cosignRuns);
    expect(counted.cosignRequests).toBeLessThanOrEqual(PATCH_CEILINGS.cosignRequests);
    expect(counted.programRequests).toBeLessThanOrEqual(PATCH_CEILINGS.programRequests);
    expect(counted.attachmentReads).toBeLessThanOrEqual(PATCH_CEILINGS.attachmentReads);
    expect(counted.challenges).toBeLessThanOrEqual(PATCH_CEILINGS.challenges);
  });
});

/** The counts the ceilings are on, and each cosign subcommand's number of runs. */
function summary(cost: Cost) {
  const byCommand: Record<string, number> = {};
  for (const run of cost.cosignRuns) {
    const command = run.split(" ")[0] ?? run;
    byCommand[command] = (byCommand[command] ?? 0) + 1;
  }
  return {
    cosignRuns: cost.cosignRuns.length,
    byCommand,
    cosignRequests: cost.requests.cosign ?? 0,
    programRequests: cost.requests[PROGRAM_AGENT] ?? 0,
    buildkitRequests: cost.requests.buildkit ?? 0,
    attachmentReads: cost.lookups.length,
    challenges: cost.challenges,
  };
}

/**
 * Reads of what is attached to a digest: its referrers tag's index found, an attachment's bundle.
 * Nothing else the program does reads a blob.
 */
function attachmentReads(entries: readonly LogEntry[]): string[] {
  return entries
    .filter(
      (entry) =>
        entry.agent === PROGRAM_AGENT &&
        entry.status === 200 &&
        (/\/manifests\/sha256-[0-9a-f]{64}$/.test(entry.path) ||
          (entry.method === "GET" && /\/blobs\/sha256:/.test(entry.path))),
    )
    .map((entry) => `${entry.method} ${entry.path}`);
}
