/**
 * The shared vocabulary (lib/vocabulary.ts): one registry-host and image-reference grammar for
 * the stack config, the command line and the policy pack, and the policy pack's copies of the
 * project's values kept equal to them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadStackConfig } from "../../lib/config";
import {
  DESCRIPTION_LIMITS,
  DIGEST,
  PATH_COMPONENT,
  parseReference,
  REGISTRY_HOST,
  repositoryNameProblem,
} from "../../lib/vocabulary";
import * as policy from "../../policy/rules";
import { EMULATOR_FULL_LIMIT, EMULATOR_SHORT_LIMIT } from "../../scripts/hub-emulator/hubEmulator";
import { cli } from "../support/runCli";

const root = path.resolve(__dirname, "../..");

/** Whether the stack config accepts a registry and an organization. */
function configAccepts(values: { registry?: string; organization?: string }): boolean {
  const read = { version: "v3.0.0", sourceRoot: "src", ...values };
  try {
    loadStackConfig(
      (key) => read[key as keyof typeof read],
      Object.keys(read).map((key) => `battlescope:${key}`),
    );
    return true;
  } catch {
    return false;
  }
}

describe("registry hosts: one grammar for the stack config, verify and the policy pack", () => {
  it.each([
    { name: "Docker Hub", host: "docker.io", accepted: true },
    { name: "a local registry with a port", host: "127.0.0.1:5000", accepted: true },
    { name: "localhost", host: "localhost", accepted: true },
    { name: "localhost with a port", host: "localhost:5000", accepted: true },
    { name: "a dotted host with a port", host: "registry.example.org:443", accepted: true },
    { name: "a hyphenated dotted host", host: "my-registry.example.com", accepted: true },
    { name: "one label with a port (a compose service)", host: "registry:5000", accepted: true },
    // Docker reads `myregistry/org/app` as the Docker Hub repository `myregistry/org/app`: the
    // stack config used to accept it, then pushed somewhere else than it said (and the policy
    // pack refused the image names it made).
    { name: "one label without a port", host: "myregistry", accepted: false },
    { name: "a scheme", host: "https://docker.io", accepted: false },
    { name: "a trailing slash", host: "docker.io/", accepted: false },
    // verify used to accept these three (a case-insensitive pattern that allowed `..`).
    { name: "upper case", host: "Docker.io", accepted: false },
    { name: "an empty label", host: "docker..io", accepted: false },
    { name: "a label ending in a hyphen", host: "docker-.io", accepted: false },
    { name: "a label starting with a hyphen", host: "-docker.io", accepted: false },
    { name: "an empty port", host: "docker.io:", accepted: false },
    { name: "a six-digit port", host: "docker.io:123456", accepted: false },
    { name: "two ports", host: "docker.io:80:80", accepted: false },
    { name: "an IPv6 address", host: "[::1]:5000", accepted: false },
    { name: "nothing", host: "", accepted: false },
  ])("$name ($host): accepted $accepted", ({ host, accepted }) => {
    expect(REGISTRY_HOST.test(host)).toBe(accepted);
    expect(configAccepts({ registry: host })).toBe(accepted);
    expect(repositoryNameProblem(`${host}/battlescope/frontend`) === undefined).toBe(accepted);
  });

  it.each(["myregistry", "Docker.io", "docker..io", "https://x/"])(
    "verify refuses %s as bad input before reading anything",
    async (host) => {
      const run = await cli("verify", "frontend", "v3.0.0", "--registry", host);
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(
        `battlescope-images: invalid --registry ${JSON.stringify(host)}: expected a registry host with an optional port, such as docker.io or 127.0.0.1:5000\n`,
      );
    },
  );
});

describe("organizations and repository names: one grammar", () => {
  it.each([
    { name: "letters", value: "battlescope", accepted: true },
    { name: "letters and digits", value: "battlescope3", accepted: true },
    { name: "a single hyphen", value: "battle-scope", accepted: true },
    { name: "a single dot", value: "battle.scope", accepted: true },
    { name: "a single underscore", value: "battle_scope", accepted: true },
    { name: "upper case", value: "BattleScope", accepted: false },
    { name: "a leading hyphen", value: "-battlescope", accepted: false },
    { name: "a trailing hyphen", value: "battlescope-", accepted: false },
    // The policy pack used to accept these two (Docker's wider grammar); the config never did.
    { name: "a double hyphen", value: "battle--scope", accepted: false },
    { name: "a double underscore", value: "battle__scope", accepted: false },
    { name: "a slash", value: "battle/scope", accepted: false },
    { name: "nothing", value: "", accepted: false },
  ])("$name ($value): accepted $accepted", ({ value, accepted }) => {
    expect(PATH_COMPONENT.test(value)).toBe(accepted);
    expect(configAccepts({ organization: value })).toBe(accepted);
    if (!value.includes("/")) {
      expect(repositoryNameProblem(`docker.io/${value}/frontend`) === undefined).toBe(accepted);
      expect(repositoryNameProblem(`docker.io/battlescope/${value}`) === undefined).toBe(accepted);
    }
  });
});

describe("image references", () => {
  const digest = `sha256:${"ab".repeat(32)}`;
  it.each([
    {
      name: "a tag",
      reference: "docker.io/battlescope/frontend:v3.0.1",
      parsed: { name: "docker.io/battlescope/frontend", tag: "v3.0.1" },
    },
    {
      name: "a port and no tag",
      reference: "127.0.0.1:5000/battlescope/frontend",
      parsed: { name: "127.0.0.1:5000/battlescope/frontend" },
    },
    {
      name: "a port, a tag and a digest",
      reference: `127.0.0.1:5000/battlescope/frontend:v3.0.1@${digest}`,
      parsed: { name: "127.0.0.1:5000/battlescope/frontend", tag: "v3.0.1", digest },
    },
    {
      name: "a digest and no tag",
      reference: `docker.io/battlescope/frontend@${digest}`,
      parsed: { name: "docker.io/battlescope/frontend", digest },
    },
  ])("$name: $reference", ({ reference, parsed }) => {
    expect(parseReference(reference)).toEqual(parsed);
  });

  it.each([
    { digest, accepted: true },
    { digest: "sha256:abc", accepted: false },
    { digest: `sha256:${"AB".repeat(32)}`, accepted: false },
    { digest: `sha512:${"ab".repeat(32)}`, accepted: false },
  ])("digest $digest: accepted $accepted", ({ digest: value, accepted }) => {
    expect(DIGEST.test(value)).toBe(accepted);
  });
});

describe("the policy pack's copies of the project's values", () => {
  it("policy/vocabulary.ts is lib/vocabulary.ts, byte for byte (the pack is its own package and cannot import it)", () => {
    const project = fs.readFileSync(path.join(root, "lib/vocabulary.ts"), "utf8");
    const copy = fs.readFileSync(path.join(root, "policy/vocabulary.ts"), "utf8");
    expect(copy).toBe(project);
  });

  it("the pull secret is the one the stack creates", async () => {
    const { PULL_SECRET_NAME } = await import("../../lib/config");
    expect(policy.PULL_SECRET_NAME).toBe(PULL_SECRET_NAME);
  });
});

describe("the Docker Hub emulator's limits", () => {
  it("are the vocabulary's: the emulator stands in for the Hub, so it states them itself", () => {
    expect({
      description: EMULATOR_SHORT_LIMIT,
      fullDescription: EMULATOR_FULL_LIMIT,
    }).toEqual(DESCRIPTION_LIMITS);
  });
});
