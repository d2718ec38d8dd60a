/**
 * Docker Hub's pull limit, on the local registry: the proxy the token server serves in front of it
 * (scripts/token-server/pullLimitProxy.ts, 127.0.0.1:5003) counts each manifest GET against the
 * account and answers 429 TOOMANYREQUESTS past the limit, with Docker Hub's headers. A cold
 * signed release past the limit stops with the limit, the account and the reset, leaves nothing
 * half written (every tag there is whole), and after the window the next `up` completes it
 * without writing any tag twice.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_PUBLIC_KEY_FILE, localSigningConfig } from "../../scripts/e2eStack";
import { ENGINE_PARALLELISM } from "../../scripts/stack";
import { SERVICES } from "../../services/catalog";
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
/** Below what a cold signed release of the nine images reads (the closing note of issue 22 counts it). */
const LIMIT = 20;
const WINDOW_SECONDS = 90;

/** Manifest writes by tag (not by digest): the tags a run wrote. */
function tagWrites(entries: readonly LogEntry[]): string[] {
  return entries
    .filter((entry) => entry.method === "PUT" && /\/manifests\/(?!sha256:)/.test(entry.path))
    .filter((entry) => entry.status === 201)
    .map((entry) => entry.path.replace(/^\/v2\//, ""));
}

describe.sequential("Docker Hub's pull limit", () => {
  let e2e: E2eStack;
  let restore: (() => void) | undefined;
  let firstWindowStart = 0;
  let firstWrites: string[] = [];

  beforeAll(async () => {
    e2e = await createE2eStack("pull-limit", {
      registry: LIMITED,
      publishDescriptions: "false",
      registryCache: "false",
    });
    await e2e.stack.setAllConfig(await localSigningConfig());
    restore = useTokenSettings({ pullLimit: { limit: LIMIT, windowSeconds: WINDOW_SECONDS } });
  });

  afterAll(async () => {
    restore?.();
    await e2e?.close();
  });

  it("a cold release past the limit stops naming the limit, the account and the reset; every tag written is whole", async () => {
    const marks = tokenLogMarks();
    const mark = accessLogMark();
    firstWindowStart = Date.now();
    const failure = await failureOf(e2e.stack.up({ color: "never", parallel: ENGINE_PARALLELISM }));
    expect(failure).toMatch(
      new RegExp(
        `registry 127\\.0\\.0\\.1:5003 refused to [^:]+: 429 TOOMANYREQUESTS, its pull limit of ${LIMIT} manifest reads per 90 s for "release-pusher" is used up; it resets (in \\d+ s \\(at \\d\\d:\\d\\d:\\d\\d UTC\\)|within 90 s)\\. Each GET of a manifest counts as a pull \\(a HEAD does not\\); what this run wrote stays, and running it again after the reset completes it`,
      ),
    );
    const pulls = tokensSince(marks.tokens).filter((entry) => entry.event === "pull");
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

  it("after the window, the next up completes the release and writes no tag a second time", async () => {
    const left = firstWindowStart + WINDOW_SECONDS * 1000 - Date.now();
    if (left > 0) await sleep(left + 1000);
    const mark = accessLogMark();
    await e2e.stack.up({ color: "never", parallel: ENGINE_PARALLELISM });
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
