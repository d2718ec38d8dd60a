import { describe, expect, it } from "vitest";
import {
  ConfigError,
  loadStackConfig,
  SECRET_KEYS,
  STACK_SETTINGS,
  serviceVersion,
} from "../../lib/config";
import { ACCEPTED_VERSION_FORMS } from "../../lib/versions";
import { exactly } from "../support/exactly";

const base: Record<string, string> = {
  version: "v3.0.0",
  sourceRoot: "../battle-monitor/services",
};
/** A valid value for every plain key but benchServiceCount, each other than its default. */
const EVERY_KEY: Record<string, string> = {
  ...base,
  registry: "127.0.0.1:5000",
  organization: "battle-scope",
  versions: JSON.stringify({ frontend: "v3.0.1" }),
  platforms: JSON.stringify(["linux/arm64"]),
  namespace: "battlescope-dev",
  replicas: "1",
  moveFloatingTags: "false",
  publishDescriptions: "false",
  dockerHubUrl: "http://127.0.0.1:5001/",
  buildOnPreview: "true",
  builder: "battlescope",
  deploy: "false",
  renderManifestsTo: ".local/manifests",
  registryCache: "false",
  requireChangelog: "false",
  kubeconfigPath: "$BATTLESCOPE_STATE/kubeconfig",
  kubeContext: "battlescope-local",
  rolloutTimeout: "90",
  healthPaths: JSON.stringify({ frontend: "/healthz" }),
  sign: "true",
  cosignPublicKey: "keys/local.pub",
  transparencyLog: "false",
  scan: "false",
  failOn: "critical",
  vulnerabilityDb: "~/grype-db",
  vulnerabilityDbMaxAge: "2d",
  vulnerabilityExceptions: JSON.stringify([
    { id: "CVE-2022-30065", services: ["init"], reason: "awk is never run", expires: "2026-06-01" },
  ]),
};
/** The day the config is read on: exceptions are judged against it. */
const TODAY = new Date("2026-05-02T09:30:00Z");

/** The config a stack with these keys set loads (undefined: unset). */
const load = (values: Record<string, string | undefined>) =>
  loadStackConfig(
    (key) => values[key],
    Object.entries(values).flatMap(([key, value]) =>
      value === undefined ? [] : [`battlescope:${key}`],
    ),
    TODAY,
  );

describe("loadStackConfig", () => {
  it("fills the defaults", () => {
    expect(load(base)).toEqual({
      registry: "docker.io",
      organization: "battlescope",
      version: "v3.0.0",
      versions: {},
      platforms: ["linux/amd64", "linux/arm64"],
      namespace: "battlescope",
      replicas: 2,
      sourceRoot: "../battle-monitor/services",
      moveFloatingTags: true,
      publishDescriptions: true,
      dockerHubUrl: "https://hub.docker.com",
      buildOnPreview: false,
      deploy: true,
      registryCache: true,
      requireChangelog: true,
      sign: false,
      cosignPublicKey: "keys/release.pub",
      transparencyLog: true,
      rolloutTimeoutSeconds: 300,
      healthPaths: {},
      scan: true,
      failOn: "high",
      vulnerabilityDbMaxAgeHours: 120,
      vulnerabilityExceptions: [],
    });
  });

  it("reads every key", () => {
    const config = load(EVERY_KEY);
    expect(config).toMatchObject({
      registry: "127.0.0.1:5000",
      organization: "battle-scope",
      versions: { frontend: "v3.0.1" },
      platforms: ["linux/arm64"],
      namespace: "battlescope-dev",
      replicas: 1,
      moveFloatingTags: false,
      publishDescriptions: false,
      dockerHubUrl: "http://127.0.0.1:5001",
      buildOnPreview: true,
      builder: "battlescope",
      deploy: false,
      renderManifestsTo: ".local/manifests",
      registryCache: false,
      requireChangelog: false,
      kubeconfigPath: "$BATTLESCOPE_STATE/kubeconfig",
      kubeContext: "battlescope-local",
      rolloutTimeoutSeconds: 90,
      healthPaths: { frontend: "/healthz" },
      scan: false,
      failOn: "critical",
      vulnerabilityDb: "~/grype-db",
      vulnerabilityDbMaxAgeHours: 48,
      vulnerabilityExceptions: [
        {
          id: "CVE-2022-30065",
          services: ["init"],
          reason: "awk is never run",
          expires: "2026-06-01",
        },
      ],
    });
    expect(serviceVersion(config, "frontend")).toBe("v3.0.1");
    expect(serviceVersion(config, "init")).toBe("v3.0.0");
  });

  it.each([
    {
      name: "invalid version",
      values: { ...base, version: "3.0.0" },
      message: `invalid config "battlescope:version": "3.0.0" is not accepted; expected ${ACCEPTED_VERSION_FORMS}, or "dev" for the dev channel`,
    },
    {
      name: "missing version",
      values: { sourceRoot: "src" },
      message: `missing config "battlescope:version": expected ${ACCEPTED_VERSION_FORMS}, or "dev" for the dev channel`,
    },
    {
      name: "override for an unknown service",
      values: { ...base, versions: JSON.stringify({ "billing-service": "v3.0.1" }) },
      message:
        'invalid config "battlescope:versions": "billing-service" is not a BattleScope image; expected one of ingestion-service, enrichment-service, battle-service, search-service, notification-service, frontend-bff, frontend, db-migrator, init',
    },
    {
      name: "invalid override",
      values: { ...base, versions: JSON.stringify({ frontend: "v3.0" }) },
      message: `invalid config "battlescope:versions.frontend": "v3.0" is not accepted; expected ${ACCEPTED_VERSION_FORMS}`,
    },
    {
      name: "a platform other than the two",
      values: { ...base, platforms: JSON.stringify(["linux/amd64", "linux/s390x"]) },
      message:
        'invalid config "battlescope:platforms": "linux/s390x" is not accepted; expected one of linux/amd64, linux/arm64',
    },
    {
      name: "platforms not a list",
      values: { ...base, platforms: "linux/amd64" },
      message:
        'invalid config "battlescope:platforms": "linux/amd64" is not accepted; expected a non-empty list of distinct platforms among linux/amd64, linux/arm64',
    },
    {
      name: "empty platforms",
      values: { ...base, platforms: "[]" },
      message:
        'invalid config "battlescope:platforms": [] is not accepted; expected a non-empty list of distinct platforms among linux/amd64, linux/arm64',
    },
    {
      name: "registry with a scheme",
      values: { ...base, registry: "https://docker.io" },
      message:
        'invalid config "battlescope:registry": "https://docker.io" is not accepted; expected a registry host with an optional port, such as docker.io or 127.0.0.1:5000',
    },
    {
      name: "upper-case organization",
      values: { ...base, organization: "BattleScope" },
      message:
        "invalid config \"battlescope:organization\": \"BattleScope\" is not accepted; expected lowercase letters and digits, separated by single '.', '_' or '-'",
    },
    {
      name: "namespace not a DNS label",
      values: { ...base, namespace: "Battle_Scope" },
      message:
        'invalid config "battlescope:namespace": "Battle_Scope" is not accepted; expected a Kubernetes namespace name (DNS label)',
    },
    {
      name: "negative replicas",
      values: { ...base, replicas: "-1" },
      message:
        'invalid config "battlescope:replicas": "-1" is not accepted; expected a whole number from 1 to 100',
    },
    {
      name: "zero replicas (a release must run)",
      values: { ...base, replicas: "0" },
      message:
        'invalid config "battlescope:replicas": "0" is not accepted; expected a whole number from 1 to 100',
    },
    {
      name: "rollout timeout below 10 s",
      values: { ...base, rolloutTimeout: "5" },
      message:
        'invalid config "battlescope:rolloutTimeout": "5" is not accepted; expected a whole number of seconds from 10 to 3600',
    },
    {
      name: "bench service count below the catalog",
      values: { ...base, benchServiceCount: "8" },
      message:
        'invalid config "battlescope:benchServiceCount": "8" is not accepted; expected a whole number from 9 to 99 (benchmarks only)',
    },
    {
      name: "bench service count not a number",
      values: { ...base, benchServiceCount: "36x" },
      message:
        'invalid config "battlescope:benchServiceCount": "36x" is not accepted; expected a whole number from 9 to 99 (benchmarks only)',
    },
    {
      name: "health path of a service that does not run",
      values: { ...base, healthPaths: JSON.stringify({ init: "/health" }) },
      message:
        'invalid config "battlescope:healthPaths": "init" is not a BattleScope service that runs; expected one of ingestion-service, enrichment-service, battle-service, search-service, notification-service, frontend-bff, frontend',
    },
    {
      name: "relative health path",
      values: { ...base, healthPaths: JSON.stringify({ frontend: "health" }) },
      message:
        'invalid config "battlescope:healthPaths.frontend": "health" is not accepted; expected an absolute HTTP path such as /health',
    },
    {
      name: "blank kubeconfig path",
      values: { ...base, kubeconfigPath: " " },
      message:
        'invalid config "battlescope:kubeconfigPath": " " is not accepted; expected the path of a kubeconfig file',
    },
    {
      name: "fractional replicas",
      values: { ...base, replicas: "1.5" },
      message:
        'invalid config "battlescope:replicas": "1.5" is not accepted; expected a whole number from 1 to 100',
    },
    {
      name: "boolean that is not one",
      values: { ...base, moveFloatingTags: "yes" },
      message:
        'invalid config "battlescope:moveFloatingTags": "yes" is not accepted; expected true or false',
    },
    {
      name: "sign that is not a boolean",
      values: { ...base, sign: "always" },
      message:
        'invalid config "battlescope:sign": "always" is not accepted; expected true or false',
    },
    {
      name: "transparencyLog that is not a boolean",
      values: { ...base, transparencyLog: "offline" },
      message:
        'invalid config "battlescope:transparencyLog": "offline" is not accepted; expected true or false',
    },
    {
      name: "empty public key path",
      values: { ...base, cosignPublicKey: " " },
      message:
        'invalid config "battlescope:cosignPublicKey": " " is not accepted; expected the path of a cosign public key file',
    },
    {
      name: "missing source root",
      values: { version: "v3.0.0" },
      message:
        'missing config "battlescope:sourceRoot": expected the folder holding one build context per image',
    },
    {
      name: "Hub URL without scheme",
      values: { ...base, dockerHubUrl: "hub.docker.com" },
      message:
        'invalid config "battlescope:dockerHubUrl": "hub.docker.com" is not accepted; expected an http(s) URL such as https://hub.docker.com',
    },
  ])("refuses $name", ({ values, message }) => {
    expect(() => load(values)).toThrow(exactly(message));
  });

  it("reports one problem per bad key, in the order of the keys' groups", () => {
    const bad: Record<string, string> = {
      registry: "Not A Host",
      organization: "Bad Org",
      version: "latest",
      versions: '{"nope":"v1.0.0","frontend":3,"init":"x"}',
      platforms: '["linux/s390x"]',
      namespace: "Bad_NS",
      replicas: "0",
      rolloutTimeout: "5",
      healthPaths: '{"init":"/x","frontend":"nope"}',
      kubeContext: "has space",
      kubeconfigPath: " ",
      sourceRoot: " ",
      dockerHubUrl: "ftp://x",
      builder: "-bad",
      cosignPublicKey: " ",
      benchServiceCount: "3",
      moveFloatingTags: "yes",
      publishDescriptions: "no",
      buildOnPreview: "1",
      deploy: "0",
      registryCache: "y",
      requireChangelog: "n",
      sign: "maybe",
      transparencyLog: "off",
      scan: "sometimes",
      failOn: "severe",
      vulnerabilityDb: " ",
      vulnerabilityDbMaxAge: "5w",
      vulnerabilityExceptions: '{"id":"CVE-2022-30065"}',
    };
    let refusal: unknown;
    try {
      load(bad);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ConfigError);
    const keys = (refusal as ConfigError).problems.map(
      (problem) => /^(?:invalid|missing) config "battlescope:([^"]+)"/.exec(problem)?.[1],
    );
    expect(keys).toEqual([
      "registry",
      "organization",
      "version",
      "versions",
      "versions.frontend",
      "versions.init",
      "platforms",
      "namespace",
      "replicas",
      "rolloutTimeout",
      "healthPaths",
      "healthPaths.frontend",
      "kubeContext",
      "kubeconfigPath",
      "sourceRoot",
      "dockerHubUrl",
      "builder",
      "cosignPublicKey",
      "benchServiceCount",
      "moveFloatingTags",
      "publishDescriptions",
      "buildOnPreview",
      "deploy",
      "registryCache",
      "requireChangelog",
      "sign",
      "transparencyLog",
      "scan",
      "failOn",
      "vulnerabilityDb",
      "vulnerabilityDbMaxAge",
      "vulnerabilityExceptions",
    ]);
  });

  it("reports every bad key at once", () => {
    expect(() => load({ ...base, version: "latest", replicas: "many" })).toThrow(
      exactly(
        [
          "invalid stack config:",
          `  - invalid config "battlescope:version": "latest" is not accepted; expected ${ACCEPTED_VERSION_FORMS}, or "dev" for the dev channel`,
          '  - invalid config "battlescope:replicas": "many" is not accepted; expected a whole number from 1 to 100',
        ].join("\n"),
      ),
    );
  });
});

describe("keys that are not settings", () => {
  const SETTINGS_DOC = "(none is close; README.md#stacks-and-their-secrets lists them)";
  it.each([
    {
      name: "a misspelt setting, with the setting it likely meant",
      values: { ...base, rolloutTimout: "120" },
      message: "battlescope:rolloutTimout is not a setting; did you mean rolloutTimeout?",
    },
    {
      name: "a misspelt secret: secrets are settings too",
      values: { ...base, cosignkey: "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----" },
      message: "battlescope:cosignkey is not a setting; did you mean cosignKey?",
    },
    {
      name: "a setting that does not exist, far from any",
      values: { ...base, trivyServer: "https://db.example" },
      message: `battlescope:trivyServer is not a setting ${SETTINGS_DOC}`,
    },
    {
      name: "a map's entry set without --path",
      values: { ...base, "healthPaths.frontend": "/healthz" },
      message:
        "battlescope:healthPaths.frontend is not a setting; to set an entry of healthPaths, use `pulumi config set --path 'battlescope:healthPaths.frontend' <value>`",
    },
    {
      name: "a dotted key under a setting that holds no map: no --path hint",
      values: { ...base, "replicas.min": "1" },
      message: "battlescope:replicas.min is not a setting; did you mean replicas?",
    },
    {
      name: "a short one two edits from a setting (seal, scan): no suggestion",
      values: { ...base, seal: "true" },
      message: `battlescope:seal is not a setting ${SETTINGS_DOC}`,
    },
  ])("refuses $name", ({ values, message }) => {
    expect(() => load(values)).toThrow(exactly(message));
  });

  it("refuses each of them, in key order, after the config's other problems", () => {
    expect(() => load({ ...base, replicas: "0", seal: "true", trivyServer: "x" })).toThrow(
      exactly(
        [
          "invalid stack config:",
          '  - invalid config "battlescope:replicas": "0" is not accepted; expected a whole number from 1 to 100',
          `  - battlescope:seal is not a setting ${SETTINGS_DOC}`,
          `  - battlescope:trivyServer is not a setting ${SETTINGS_DOC}`,
        ].join("\n"),
      ),
    );
  });

  it("leaves other namespaces' keys to their owners", () => {
    const read = (key: string) => base[key];
    const keys = [
      "battlescope:version",
      "battlescope:sourceRoot",
      "kubernetes:context",
      "aws:region",
    ];
    expect(loadStackConfig(read, keys, TODAY).version).toBe("v3.0.0");
  });

  it("knows every key the validation reads, plain or secret, and no other", () => {
    // Every key set, so a key read only when another is set would be asked here and fail this.
    const everything: Record<string, string> = { ...EVERY_KEY, benchServiceCount: "9" };
    const asked = new Set<string>();
    loadStackConfig(
      (key) => {
        asked.add(key);
        return everything[key];
      },
      [],
      TODAY,
    );
    expect(new Set(STACK_SETTINGS)).toEqual(new Set([...asked, ...SECRET_KEYS]));
    expect(STACK_SETTINGS).toHaveLength(asked.size + SECRET_KEYS.length);
    // The secrets the read step reads (release/read.ts) are settings: a stack setting all of them passes.
    expect(() =>
      load({ ...base, ...Object.fromEntries(SECRET_KEYS.map((key) => [key, "x"])) }),
    ).not.toThrow();
  });
});
