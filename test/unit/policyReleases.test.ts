/**
 * The stack rules on how prod releases (policy/releases.ts): releases-signed and releases-scanned,
 * with tables of the resources a stack declares.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkScannedReleases,
  checkSignedReleases,
  type RuleResource,
  stackOfUrn,
  UNKNOWN,
} from "../../policy/rules";
import { RESOURCE_TYPES } from "../../policy/vocabulary";

const urn = (stack: string, type: string, name: string) =>
  `urn:pulumi:${stack}::battlescope::battlescope:images:MultiArchImage$${type}::${name}`;

const versionTags = (stack: string, service: string, createOnly = true): RuleResource => ({
  type: RESOURCE_TYPES.registryTagSet,
  name: `${service}-v3.1.0-tags`,
  urn: urn(stack, RESOURCE_TYPES.registryTagSet, `${service}-v3.1.0-tags`),
  props: { registry: "docker.io", repository: `battlescope/${service}`, createOnly },
});

describe("releases-signed", () => {
  const attestations = (stack: string, service: string): RuleResource => ({
    type: RESOURCE_TYPES.releaseAttestations,
    name: `${service}-v3.1.0-attestations`,
    urn: urn(stack, RESOURCE_TYPES.releaseAttestations, `${service}-v3.1.0-attestations`),
    props: { registry: "docker.io", repository: `battlescope/${service}`, version: "v3.1.0" },
  });
  const unsigned = (stack: string, service: string) => ({
    message: `stack ${stack} releases docker.io/battlescope/${service} unsigned ("${service}-v3.1.0-tags"): its releases are signed, with an SBOM and provenance per image; fix: set battlescope:sign to true with the secret config battlescope:cosignKey and battlescope:cosignPassword (the private half of keys/release.pub)`,
    urn: urn(stack, RESOURCE_TYPES.registryTagSet, `${service}-v3.1.0-tags`),
  });
  const cases: Array<[string, RuleResource[], ReturnType<typeof unsigned>[]]> = [
    [
      "prod, every release attested",
      [versionTags("prod", "frontend"), attestations("prod", "frontend")],
      [],
    ],
    [
      "prod, no attestations",
      [versionTags("prod", "frontend"), versionTags("prod", "init")],
      [unsigned("prod", "frontend"), unsigned("prod", "init")],
    ],
    [
      "prod, one of two attested",
      [versionTags("prod", "frontend"), versionTags("prod", "init"), attestations("prod", "init")],
      [unsigned("prod", "frontend")],
    ],
    ["prod, floating tags need none of their own", [versionTags("prod", "init", false)], []],
    ["dev stack: not required", [versionTags("dev", "frontend")], []],
    ["local stack: not required", [versionTags("local", "frontend")], []],
    ["no URN: not judged", [{ ...versionTags("prod", "frontend"), urn: undefined }], []],
  ];
  it.each(cases)("%s", (_name, resources, violations) => {
    expect(checkSignedReleases(resources)).toEqual(violations);
  });

  it("reads the stack from a URN", () => {
    expect(stackOfUrn("urn:pulumi:prod::battlescope::pulumi:pulumi:Stack::battlescope-prod")).toBe(
      "prod",
    );
    expect(stackOfUrn("not-a-urn")).toBeUndefined();
    expect(stackOfUrn(undefined)).toBeUndefined();
  });
});

describe("releases-scanned", () => {
  const scanName = (service: string) => `${service}-v3.1.0-scan`;
  /** An ImageScan as the release declares it, with `overrides` on its props. */
  const imageScan = (
    stack: string,
    service: string,
    overrides: Record<string, unknown> = {},
  ): RuleResource => ({
    type: RESOURCE_TYPES.imageScan,
    name: scanName(service),
    urn: urn(stack, RESOURCE_TYPES.imageScan, scanName(service)),
    props: {
      registry: "docker.io",
      repository: `battlescope/${service}`,
      service,
      version: "v3.1.0",
      images: {
        "linux/amd64": `sha256:${"a".repeat(64)}`,
        "linux/arm64": `sha256:${"b".repeat(64)}`,
      },
      failOn: "high",
      database: "/var/cache/grype/db",
      maxDatabaseAgeHours: 120,
      exceptions: [],
      ...overrides,
    },
  });
  const unscanned = (service: string, registry = "docker.io") => ({
    message: `stack prod releases ${registry}/battlescope/${service} unscanned ("${service}-v3.1.0-tags"): its releases are scanned for vulnerabilities before any tag names them; fix: set battlescope:scan to true and battlescope:vulnerabilityDb to the folder of the grype database (the workflows run grype db update into it)`,
    urn: urn("prod", RESOURCE_TYPES.registryTagSet, `${service}-v3.1.0-tags`),
  });
  const lenient = (service: string, found: string) => ({
    message: `stack prod scans docker.io/battlescope/${service} with ${found} ("${service}-v3.1.0-scan"): its releases are refused at a high or critical finding; fix: set battlescope:failOn to high or critical`,
    urn: urn("prod", RESOURCE_TYPES.imageScan, scanName(service)),
  });
  const cases: Array<{
    name: string;
    resources: RuleResource[];
    violations: Array<{ message: string; urn: string }>;
  }> = [
    {
      name: "prod, every release scanned at high",
      resources: [versionTags("prod", "frontend"), imageScan("prod", "frontend")],
      violations: [],
    },
    {
      name: "prod, scanned at critical",
      resources: [
        versionTags("prod", "frontend"),
        imageScan("prod", "frontend", { failOn: "critical" }),
      ],
      violations: [],
    },
    {
      name: "prod, no scan (battlescope:scan false)",
      resources: [versionTags("prod", "frontend"), versionTags("prod", "init")],
      violations: [unscanned("frontend"), unscanned("init")],
    },
    {
      name: "prod, one of two scanned",
      resources: [
        versionTags("prod", "frontend"),
        versionTags("prod", "init"),
        imageScan("prod", "init"),
      ],
      violations: [unscanned("frontend")],
    },
    {
      name: "prod, a scan of the same repository on another registry is not this one's",
      resources: [
        {
          ...versionTags("prod", "frontend"),
          props: {
            registry: "127.0.0.1:5000",
            repository: "battlescope/frontend",
            createOnly: true,
          },
        },
        imageScan("prod", "frontend"),
      ],
      violations: [unscanned("frontend", "127.0.0.1:5000")],
    },
    {
      name: "prod, failOn medium",
      resources: [
        versionTags("prod", "frontend"),
        imageScan("prod", "frontend", { failOn: "medium" }),
      ],
      violations: [lenient("frontend", 'failOn "medium"')],
    },
    {
      name: "prod, failOn low on one of two",
      resources: [
        versionTags("prod", "frontend"),
        imageScan("prod", "frontend"),
        versionTags("prod", "init"),
        imageScan("prod", "init", { failOn: "low" }),
      ],
      violations: [lenient("init", 'failOn "low"')],
    },
    {
      name: "prod, failOn negligible",
      resources: [
        versionTags("prod", "frontend"),
        imageScan("prod", "frontend", { failOn: "negligible" }),
      ],
      violations: [lenient("frontend", 'failOn "negligible"')],
    },
    {
      name: "prod, failOn in capitals is not a severity the scan knows",
      resources: [
        versionTags("prod", "frontend"),
        imageScan("prod", "frontend", { failOn: "HIGH" }),
      ],
      violations: [lenient("frontend", 'failOn "HIGH"')],
    },
    {
      name: "prod, no failOn",
      resources: [
        versionTags("prod", "frontend"),
        imageScan("prod", "frontend", { failOn: undefined }),
      ],
      violations: [lenient("frontend", "no failOn")],
    },
    {
      name: "prod, failOn unknown at preview: skipped (pulumi up checks it)",
      resources: [
        versionTags("prod", "frontend"),
        imageScan("prod", "frontend", { failOn: UNKNOWN }),
      ],
      violations: [],
    },
    {
      name: "prod, a scan's repository unknown at preview: it may be the missing one",
      resources: [
        versionTags("prod", "frontend"),
        versionTags("prod", "init"),
        imageScan("prod", "init", { repository: UNKNOWN }),
      ],
      violations: [],
    },
    {
      name: "prod, floating tags need no scan of their own",
      resources: [versionTags("prod", "init", false)],
      violations: [],
    },
    {
      name: "dev stack: not required, any failOn",
      resources: [versionTags("dev", "frontend"), imageScan("dev", "init", { failOn: "low" })],
      violations: [],
    },
    {
      name: "local stack: not required",
      resources: [versionTags("local", "frontend")],
      violations: [],
    },
    {
      name: "no URN: not judged",
      resources: [{ ...versionTags("prod", "frontend"), urn: undefined }],
      violations: [],
    },
  ];
  it.each(cases)("$name", ({ resources, violations }) => {
    expect(checkScannedReleases(resources)).toEqual(violations);
  });

  const SEVERITIES = ["negligible", "low", "medium", "high", "critical"] as const;
  it("refuses exactly the scans whose failOn is below high, whatever the mix", () => {
    const services = ["frontend", "init", "battle-service", "search"];
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...SEVERITIES), {
          minLength: services.length,
          maxLength: services.length,
        }),
        (severities) => {
          const resources = services.flatMap((service, i) => [
            versionTags("prod", service),
            imageScan("prod", service, { failOn: severities[i] }),
          ]);
          const refused = services.filter(
            (_, i) => SEVERITIES.indexOf(severities[i] as (typeof SEVERITIES)[number]) < 3,
          );
          expect(checkScannedReleases(resources)).toEqual(
            refused.map((service) =>
              lenient(service, `failOn "${severities[services.indexOf(service)]}"`),
            ),
          );
        },
      ),
    );
  });
});
