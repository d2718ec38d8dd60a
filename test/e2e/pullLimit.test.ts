/**
 * Docker Hub's pull limit, on the local registry: the proxy the token server serves in front of it
 * (scripts/token-server/pullLimitProxy.ts, 127.0.0.1:5003) counts each manifest GET against the
 * account and answers 429 TOOMANYREQUESTS past the limit, with Docker Hub's headers. A cold
 * signed release past the limit stops with the limit, the account and the reset, leaves nothing
 * half written (every tag there is whole), and in the next window of the same limit the next `up`
 * completes it without writing any tag twice.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OciRegistryClient } from "../../clients/ociRegistry";
import { duration } from "../../lib/pullLimit";
import { LOCAL_PUBLIC_KEY_FILE, localSigningConfig, REGISTRY_LOGIN } from "../../scripts/e2eStack";
import { ENGINE_PARALLELISM } from "../../scripts/stack";
import { SERVICES } from "../../services/catalog";
import { makeTempDir } from "../support/tempDirs";
import { tokenLogMarks, tokensSince, useTokenSettings } from "../support/tokenServer";
import {
  accessLogMark,
  accessLogSince,
  createE2eStack,
  type E2eStack,
  failureOf,
  type LogEntry,
} from "./harness";

const LIMITED = process.env.BATTLESCOPE_PULL_LIMITED_REGISTRY ?? "127.0.0.1:5003";
/**
 * Below the 18 manifest GETs a cold signed release of the nine images makes through the proxy
 * (counted on 2026-12-07: one per platform image, by the SBOM server; the program reads with
 * HEADs and its content cache, and signs without cosign). Each run of this file starts with no
 * SBOM kept, so the release reads them all.
 */
const LIMIT = 12;
const WINDOW_SECONDS = 30;

/**
 * The release's tags a run wrote: manifest writes by tag, not by digest, and not the referrers
 * tags (`sha256-<hex>`), the index the OCI referrers tag schema grows by one entry per attachment.
 */
function tagWrites(entries: readonly LogEntry[]): string[] {
  return entries
    .filter((entry) => entry.method === "PUT" && /\/manifests\/(?!sha256[:-])/.test(entry.path))
    .filter((entry) => entry.status === 201)
    .map((entry) => entry.path.replace(/^\/v2\//, ""));
}

/** Waits, with HEADs (free), until the proxy answers with a whole new window's allowance. */
async function windowEnd(): Promise<void> {
  const client = new OciRegistryClient({ registry: LIMITED, ...REGISTRY_LOGIN });
  const deadline = Date.now() + (WINDOW_SECONDS + 10) * 1000;
  for (;;) {
    await client.headManifest("library/busybox", "1.35.0").catch(() => undefined);
    if (client.allowance?.remaining === LIMIT) return;
    if (Date.now() > deadline) {
      throw new Error(`the pull window did not end: ${JSON.stringify(client.allowance)}`);
    }
    await sleep(1000);
  }
}

describe.sequential("Docker Hub's pull limit", () => {
  let e2e: E2eStack;
  let restore: (() => void) | undefined;
  let firstWrites: string[] = [];

  const previousSbomCache = process.env.BATTLESCOPE_SBOM_CACHE;

  beforeAll(async () => {
    // The engine and its providers inherit this: SBOMs made before this file are not reused.
    process.env.BATTLESCOPE_SBOM_CACHE = makeTempDir("sbom-cache");
    e2e = await createE2eStack("pull-limit", {
      registry: LIMITED,
      publishDescriptions: "false",
      registryCache: "false",
    });
    await e2e.stack.setAllConfig({
      ...(await localSigningConfig()),
      // In plain config: the engine masks a secret's value wherever it appears, the refusal's
      // account name included.
      "battlescope:registryUsername": { value: REGISTRY_LOGIN.username },
    });
    restore = useTokenSettings({ pullLimit: { limit: LIMIT, windowSeconds: WINDOW_SECONDS } });
  });

  afterAll(async () => {
    restore?.();
    if (previousSbomCache === undefined) delete process.env.BATTLESCOPE_SBOM_CACHE;
    else process.env.BATTLESCOPE_SBOM_CACHE = previousSbomCache;
    await e2e?.close();
  });

  it("a cold release past the limit stops naming the limit, the account and the reset; every tag written is whole", async () => {
    const marks = tokenLogMarks();
    const mark = accessLogMark();
    const failure = await failureOf(e2e.stack.up({ color: "never", parallel: ENGINE_PARALLELISM }));
    expect(failure).toMatch(
      new RegExp(
        `registry 127\\.0\\.0\\.1:5003 refused to .+?: 429 TOOMANYREQUESTS, its pull limit of ${LIMIT} manifest reads per ${duration(WINDOW_SECONDS)} for "release-pusher" is used up; it resets (in \\d+ s \\(at \\d\\d:\\d\\d:\\d\\d UTC\\)|within ${duration(WINDOW_SECONDS)})\\. Each GET of a manifest counts as a pull \\(a HEAD does not\\); what this run wrote stays, and running it again after the reset completes it`,
      ),
    );
    const pulls = tokensSince(marks.tokens).filter((entry) => entry.event === "pull");
    console.log(`the refused release read ${pulls.length} manifests`);
    expect(pulls.length).toBe(LIMIT);
    // Whatever the run wrote is whole: each tag resolves, and an index's children are all there.
    for (const service of SERVICES) {
      const repository = `${e2e.organization}/${service.name}`;
      for (const tag of await e2e.registry.listTags(repository)) {
        const manifest = await e2e.registry.getManifest(repository, tag);
        expect(manifest, `${repository}:${tag}`).toBeDefined();
        for (const child of manifest?.manifests ?? []) {
          expect(await e2e.registry.headManifest(repository, child.digest)).toBeDefined();
        }
      }
    }
    firstWrites = tagWrites(accessLogSince(mark, e2e.organization));
    console.log(`the refused release wrote ${firstWrites.length} tags before it stopped`);
  });

  it("in the next window, the next up completes the release and writes no tag a second time", async () => {
    // The next window of the same limit: resuming reads what the stopped run attached with HEADs
    // and the content cache, and the SBOMs it made are kept; only the SBOMs it did not make are read.
    await windowEnd();
    const marks = tokenLogMarks();
    const mark = accessLogMark();
    await e2e.stack.up({ color: "never", parallel: ENGINE_PARALLELISM });
    const pulls = tokensSince(marks.tokens).filter((entry) => entry.event === "pull");
    console.log(`the resumed release read ${pulls.length} manifests`);
    expect(pulls.length).toBeLessThanOrEqual(LIMIT);
    const secondWrites = tagWrites(accessLogSince(mark, e2e.organization));
    const twice = secondWrites.filter((tag) => firstWrites.includes(tag));
    expect(twice).toEqual([]);
    for (const service of SERVICES) {
      const head = await e2e.registry.headManifest(`${e2e.organization}/${service.name}`, "v3.0.0");
      expect(head, service.name).toBeDefined();
    }
  });

  it("verify prints what is left of the allowance, and past the limit stops naming it", async () => {
    const { cli } = await import("../support/runCli");
    const verify = () =>
      cli(
        "verify",
        "frontend",
        "v3.0.0",
        ...["--registry", LIMITED, "--organization", e2e.organization],
        ...["--key", LOCAL_PUBLIC_KEY_FILE, "--offline"],
      );
    restore?.();
    restore = useTokenSettings({ pullLimit: { limit: 1000, windowSeconds: 600 } });
    const passed = await verify();
    expect(passed.code, passed.stderr).toBe(0);
    expect(passed.stdout).toMatch(
      /\npull allowance on 127\.0\.0\.1:5003: \d+ of 1000 manifest reads per 10 min left for "release-pusher"\.\n/,
    );
    restore();
    restore = useTokenSettings({ pullLimit: { limit: 1, windowSeconds: 600 } });
    const stopped = await verify();
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(
      /^battlescope-images: registry 127\.0\.0\.1:5003 refused to .+: 429 TOOMANYREQUESTS, its pull limit of 1 manifest reads per 10 min for "release-pusher" is used up; it resets in \d+ (s|min) /,
    );
  });
});
