import { describe, expect, it } from "vitest";
import {
  allowanceLine,
  allowanceOf,
  duration,
  mentionsPullLimit,
  parseRateLimitHeader,
  pullLimitRefusal,
  refusedManifest,
} from "../../lib/pullLimit";

const headers = (values: Record<string, string>) => new Headers(values);
const NOW = new Date("2026-12-07T14:00:00Z");

describe("Docker Hub's ratelimit headers", () => {
  it.each([
    {
      name: "Docker Hub's form",
      value: "100;w=21600",
      parsed: { count: 100, windowSeconds: 21600 },
    },
    {
      name: "spaces around the parts",
      value: " 76 ; w = 21600 ",
      parsed: { count: 76, windowSeconds: 21600 },
    },
    { name: "none left", value: "0;w=30", parsed: { count: 0, windowSeconds: 30 } },
    { name: "no window", value: "100", parsed: undefined },
    { name: "a zero window", value: "100;w=0", parsed: undefined },
    { name: "not a number", value: "many;w=60", parsed: undefined },
    { name: "absent", value: null, parsed: undefined },
  ])("$name", ({ value, parsed }) => {
    expect(parseRateLimitHeader(value)).toEqual(parsed);
  });

  it("reads the allowance, the account and the retry-after of a 429", () => {
    expect(
      allowanceOf(
        headers({
          "ratelimit-limit": "100;w=21600",
          "ratelimit-remaining": "0;w=21600",
          "docker-ratelimit-source": "release-pusher",
          "retry-after": "42",
        }),
      ),
    ).toEqual({
      limit: 100,
      remaining: 0,
      windowSeconds: 21600,
      source: "release-pusher",
      retryAfterSeconds: 42,
    });
  });

  it("announces nothing without ratelimit-limit", () => {
    expect(allowanceOf(headers({ "ratelimit-remaining": "3;w=60" }))).toBeUndefined();
  });
});

describe("the refusal", () => {
  it.each([
    { seconds: 21600, text: "6 h" },
    { seconds: 600, text: "10 min" },
    { seconds: 90, text: "90 s" },
    { seconds: 1, text: "1 s" },
  ])("$seconds s reads $text", ({ seconds, text }) => {
    expect(duration(seconds)).toBe(text);
  });

  it("names the registry, the limit, the account and when it resets", () => {
    const allowance = {
      limit: 100,
      remaining: 0,
      windowSeconds: 21600,
      source: "release-pusher",
      retryAfterSeconds: 90,
    };
    expect(pullLimitRefusal("docker.io", "read battlescope/frontend:v3.0.0", allowance, NOW)).toBe(
      'registry docker.io refused to read battlescope/frontend:v3.0.0: 429 TOOMANYREQUESTS, its pull limit of 100 manifest reads per 6 h for "release-pusher" is used up; it resets in 90 s (at 14:01:30 UTC). Each GET of a manifest counts as a pull (a HEAD does not); what this run wrote stays, and running it again after the reset completes it',
    );
  });

  it("says the window when the registry gave no retry-after, and what it can when it gave no headers", () => {
    const allowance = { limit: 5, remaining: 0, windowSeconds: 30 };
    expect(pullLimitRefusal("127.0.0.1:5003", "let cosign read x@y", allowance, NOW)).toContain(
      "its pull limit of 5 manifest reads per 30 s is used up; it resets within 30 s.",
    );
    expect(pullLimitRefusal("127.0.0.1:5003", "let cosign read x@y", undefined, NOW)).toContain(
      "its pull limit is used up; it resets when the registry's window ends.",
    );
  });
});

describe("a tool's output", () => {
  const cosign =
    "Error: signing 127.0.0.1:5003/org/frontend@sha256:aa: GET https://127.0.0.1:5003/v2/org/frontend/manifests/sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef: TOOMANYREQUESTS: You have reached your pull rate limit.";

  it("is recognised as a pull-limit refusal by the errcode or the status", () => {
    expect(mentionsPullLimit(cosign)).toBe(true);
    expect(mentionsPullLimit("unexpected status code 429 Too Many Requests")).toBe(true);
    expect(mentionsPullLimit("GET https://x/v2/: UNAUTHORIZED")).toBe(false);
  });

  it("names the manifest it was refused", () => {
    expect(refusedManifest(cosign)).toEqual({
      registry: "127.0.0.1:5003",
      repository: "org/frontend",
      reference: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    });
    expect(
      refusedManifest(
        "GET https://registry-1.docker.io/v2/battlescope/init/manifests/v3.0.0: TOOMANYREQUESTS",
      ),
    ).toEqual({
      registry: "registry-1.docker.io",
      repository: "battlescope/init",
      reference: "v3.0.0",
    });
    expect(refusedManifest("no url here")).toBeUndefined();
  });
});

describe("what verify prints of the allowance", () => {
  it("the remaining reads, the limit, its window and the account", () => {
    expect(
      allowanceLine("docker.io", {
        limit: 100,
        remaining: 76,
        windowSeconds: 21600,
        source: "release-bot",
      }),
    ).toBe('pull allowance on docker.io: 76 of 100 manifest reads per 6 h left for "release-bot"');
  });
});
