import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  databaseTooOld,
  fixText,
  type ImageScan,
  missingDatabaseRefusal,
  scanRefusal,
  scanRows,
  scanTable,
  staleDatabaseRefusal,
} from "../../lib/scanReport";
import {
  type Finding,
  judgeFindings,
  SEVERITIES,
  type VulnerabilityException,
} from "../../lib/vulnerabilities";
import {
  sameScanResult,
  scanResultOf,
  VULN_PREDICATE_TYPE,
  vulnPredicate,
} from "../../lib/vulnPredicate";
import { exactly } from "../support/exactly";
import { finding } from "../support/findings";

const TODAY = new Date("2026-05-02T12:00:00Z");
const ACCEPTED: VulnerabilityException = {
  id: "CVE-2023-0003",
  services: ["frontend"],
  reason: "musl's printf is not reachable from the service",
  expires: "2026-06-01",
};
const BUSYBOX = finding();
const OPENSSL = finding({
  id: "CVE-2024-1111",
  severity: "critical",
  package: { name: "openssl", version: "3.0.1", type: "apk" },
  fix: "not-fixed",
  fixedIn: [],
});
const MUSL = finding({
  id: "CVE-2023-0003",
  package: { name: "musl", version: "1.2.3", type: "apk" },
  fixedIn: ["1.2.4"],
});
const LOW = finding({ id: "CVE-2020-0001", severity: "low" });

/** frontend and battle-service on both platforms, given in no particular order. */
const SCANS: ImageScan[] = ["frontend", "battle-service"].flatMap((service) =>
  ["linux/arm64", "linux/amd64"].map((platform) => ({
    service,
    platform,
    judgement: judgeFindings(service === "frontend" ? [LOW, MUSL, BUSYBOX, OPENSSL] : [BUSYBOX], {
      service,
      failOn: "high",
      exceptions: [ACCEPTED],
      today: TODAY,
    }),
  })),
);

describe("scanRefusal", () => {
  it("names each blocking finding per service and platform, then what to do", () => {
    expect(scanRefusal(SCANS, { failOn: "high", exceptionCount: 1, today: TODAY })).toBe(
      [
        "vulnerability scan refused the release: 6 findings at or above high (battlescope:failOn) in 4 images",
        "  battle-service linux/amd64:",
        "    - CVE-2022-30065 high in busybox 1.35.0: fixed in 1.36.0",
        "  battle-service linux/arm64:",
        "    - CVE-2022-30065 high in busybox 1.35.0: fixed in 1.36.0",
        "  frontend linux/amd64:",
        "    - CVE-2024-1111 critical in openssl 3.0.1 (apk): no fixed version yet",
        "    - CVE-2022-30065 high in busybox 1.35.0: fixed in 1.36.0",
        "  frontend linux/arm64:",
        "    - CVE-2024-1111 critical in openssl 3.0.1 (apk): no fixed version yet",
        "    - CVE-2022-30065 high in busybox 1.35.0: fixed in 1.36.0",
        "To release: upgrade the base image or the package to the fixed version; or, where a finding does not apply to these images, accept it with an exception in battlescope:vulnerabilityExceptions that says why and expires at most 180 days ahead (2026-10-29 at the latest), such as:",
        "  pulumi config set --path 'battlescope:vulnerabilityExceptions[1].id' CVE-2022-30065",
        "  pulumi config set --path 'battlescope:vulnerabilityExceptions[1].services[0]' battle-service",
        "  pulumi config set --path 'battlescope:vulnerabilityExceptions[1].services[1]' frontend",
        "  pulumi config set --path 'battlescope:vulnerabilityExceptions[1].reason' '<why it does not apply>'",
        "  pulumi config set --path 'battlescope:vulnerabilityExceptions[1].expires' 2026-06-01",
        "Nothing was tagged or deployed; the published tags of earlier releases are untouched.",
      ].join("\n"),
    );
  });

  it("says nothing when no image has a blocking finding", () => {
    const passing = SCANS.filter((scan) => scan.service === "battle-service").map((scan) => ({
      ...scan,
      judgement: { blocking: [], ignored: [], below: [LOW] },
    }));
    expect(scanRefusal(passing, { failOn: "high", exceptionCount: 0, today: TODAY })).toBe(
      undefined,
    );
  });

  it("does not depend on the order the scans finished in", () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(SCANS, { minLength: SCANS.length }), (shuffled) => {
        const options = { failOn: "high" as const, exceptionCount: 1, today: TODAY };
        expect(scanRefusal(shuffled, options)).toBe(scanRefusal(SCANS, options));
      }),
    );
  });

  it.each<{ name: string; found: Finding; text: string }>([
    { name: "one fix", found: BUSYBOX, text: "fixed in 1.36.0" },
    {
      name: "fixes on two branches",
      found: finding({ fixedIn: ["1.35.1", "1.36.0"] }),
      text: "fixed in 1.35.1 or 1.36.0",
    },
    { name: "none yet", found: OPENSSL, text: "no fixed version yet" },
    {
      name: "won't fix",
      found: finding({ fix: "wont-fix", fixedIn: [] }),
      text: "its maintainers will not fix it",
    },
    {
      name: "unknown",
      found: finding({ fix: "unknown", fixedIn: [] }),
      text: "no fixed version known",
    },
  ])("tells the fix: $name", ({ found, text }) => {
    expect(fixText(found)).toBe(text);
  });
});

describe("the database refusals", () => {
  it.each([
    { built: "2026-04-26T10:00:00Z", maxAgeHours: 120, age: "6 days and 2 hours" },
    { built: "2026-04-27T11:59:59Z", maxAgeHours: 120, age: "5 days and 1 hour" },
    { built: "2026-04-27T12:00:00Z", maxAgeHours: 24, age: "5 days" },
    { built: "2026-05-02T00:00:00Z", maxAgeHours: 6, age: "12 hours" },
  ])("says how old a database built $built is", ({ built, maxAgeHours, age }) => {
    const allows = maxAgeHours % 24 === 0 ? `${maxAgeHours / 24}d` : `${maxAgeHours}h`;
    expect(databaseTooOld(new Date(built), TODAY, maxAgeHours)).toBe(true);
    expect(
      staleDatabaseRefusal({
        directory: "/home/r/.cache/grype/db",
        built: new Date(built),
        now: TODAY,
        maxAgeHours,
      }),
    ).toBe(
      `vulnerability database /home/r/.cache/grype/db was built ${built}, ${age} ago; battlescope:vulnerabilityDbMaxAge allows ${allows}: update it (grype db update with GRYPE_DB_CACHE_DIR=/home/r/.cache/grype/db)`,
    );
  });

  it.each([
    { built: "2026-04-27T12:00:00Z", old: false },
    { built: "2026-04-27T11:59:59Z", old: true },
  ])("a database built $built is too old for 120h: $old", ({ built, old }) => {
    expect(databaseTooOld(new Date(built), TODAY, 120)).toBe(old);
  });

  it("names what grype found wrong and both ways out", () => {
    expect(missingDatabaseRefusal("/state/grype-db", "6/import.json is missing")).toBe(
      "no vulnerability database in /state/grype-db (battlescope:vulnerabilityDb): 6/import.json is missing; download it (grype db update with GRYPE_DB_CACHE_DIR=/state/grype-db), or set battlescope:vulnerabilityDb to the folder that holds it",
    );
  });
});

describe("scanTable", () => {
  it("lists every finding of every image with its status", () => {
    expect(scanTable(scanRows(SCANS.filter((scan) => scan.platform === "linux/arm64")))).toBe(
      [
        "SERVICE         PLATFORM     ID              SEVERITY  PACKAGE  VERSION  FIXED IN  STATUS",
        "battle-service  linux/arm64  CVE-2022-30065  high      busybox  1.35.0   1.36.0    blocking",
        "frontend        linux/arm64  CVE-2024-1111   critical  openssl  3.0.1    -         blocking",
        "frontend        linux/arm64  CVE-2022-30065  high      busybox  1.35.0   1.36.0    blocking",
        "frontend        linux/arm64  CVE-2023-0003   high      musl     1.2.3    1.2.4     ignored (until 2026-06-01)",
        "frontend        linux/arm64  CVE-2020-0001   low       busybox  1.35.0   1.36.0    below",
        "",
      ].join("\n"),
    );
  });

  it("says so when there is nothing to list", () => {
    expect(scanTable([])).toBe("no vulnerabilities found\n");
  });

  it("gives the JSON form the same rows, the exception with the ignored one", () => {
    const rows = scanRows(SCANS.filter((scan) => scan.service === "frontend"));
    expect(rows.map((row) => `${row.platform} ${row.id} ${row.status}`)).toEqual([
      "linux/amd64 CVE-2024-1111 blocking",
      "linux/amd64 CVE-2022-30065 blocking",
      "linux/amd64 CVE-2023-0003 ignored",
      "linux/amd64 CVE-2020-0001 below",
      "linux/arm64 CVE-2024-1111 blocking",
      "linux/arm64 CVE-2022-30065 blocking",
      "linux/arm64 CVE-2023-0003 ignored",
      "linux/arm64 CVE-2020-0001 below",
    ]);
    expect(rows[2]).toEqual({
      service: "frontend",
      platform: "linux/amd64",
      id: "CVE-2023-0003",
      severity: "high",
      package: "musl",
      version: "1.2.3",
      type: "apk",
      fixedIn: ["1.2.4"],
      status: "ignored",
      exception: ACCEPTED,
    });
  });
});

describe("the vuln predicate", () => {
  const frontend = SCANS.find(
    (scan) => scan.service === "frontend" && scan.platform === "linux/amd64",
  ) as ImageScan;
  const input = {
    service: "frontend",
    platform: "linux/amd64",
    image: `127.0.0.1:5000/battlescope/frontend@sha256:${"a".repeat(64)}`,
    failOn: "high" as const,
    judgement: { ...frontend.judgement, blocking: [] },
    scannerVersion: "0.121.3",
    databaseBuilt: "2026-05-01T00:00:00Z",
    databaseSchema: "v6.1.4",
    startedOn: "2026-05-02T12:00:00Z",
    finishedOn: "2026-05-02T12:00:03Z",
  };

  it("is cosign's CosignVulnPredicate, our result inside", () => {
    const predicate = vulnPredicate(input);
    expect(VULN_PREDICATE_TYPE).toBe("https://cosign.sigstore.dev/attestation/vuln/v1");
    expect(Object.keys(predicate)).toEqual(["invocation", "scanner", "metadata"]);
    expect(predicate).toMatchObject({
      invocation: { uri: "", event_id: "", "builder.id": "battlescope-images" },
      scanner: {
        uri: "pkg:golang/github.com/anchore/grype@v0.121.3",
        version: "0.121.3",
        db: { uri: "", version: "v6.1.4" },
        result: {
          failOn: "high",
          database: { built: "2026-05-01T00:00:00Z" },
          ignored: [{ id: "CVE-2023-0003", package: MUSL.package, exception: ACCEPTED }],
        },
      },
      metadata: { scanStartedOn: "2026-05-02T12:00:00Z", scanFinishedOn: "2026-05-02T12:00:03Z" },
    });
  });

  it("reads back what it was given, through JSON", () => {
    expect(scanResultOf(JSON.parse(JSON.stringify(vulnPredicate(input))))).toEqual(input);
  });

  const severity = fc.constantFrom(...SEVERITIES);
  const anyFinding = fc
    .record({
      id: fc.stringMatching(
        /^(CVE-20[0-9]{2}-[0-9]{4,6}|GHSA-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})$/,
      ),
      severity,
      name: fc.string({ minLength: 1, maxLength: 10 }),
      fixedIn: fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 }),
    })
    .map(({ id, severity, name, fixedIn }) =>
      finding({ id, severity, package: { name, version: "1.0", type: "apk" }, fixedIn }),
    );

  it("round-trips any judgement", () => {
    fc.assert(
      fc.property(fc.array(anyFinding, { maxLength: 8 }), fc.boolean(), (findings, accept) => {
        const judgement = judgeFindings(findings, {
          service: "frontend",
          failOn: "medium",
          exceptions: accept ? findings.map((f) => ({ ...ACCEPTED, id: f.id })) : [],
          today: TODAY,
        });
        const given = { ...input, failOn: "medium" as const, judgement };
        expect(scanResultOf(JSON.parse(JSON.stringify(vulnPredicate(given))))).toEqual(given);
      }),
    );
  });

  /** A JSON value with every object's keys sorted, as cosign (Go) hands a predicate back. */
  const sortedKeys = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(sortedKeys)
      : typeof value === "object" && value !== null
        ? Object.fromEntries(
            Object.keys(value)
              .sort()
              .map((key) => [key, sortedKeys((value as Record<string, unknown>)[key])]),
          )
        : value;
  const stored = sortedKeys(JSON.parse(JSON.stringify(vulnPredicate(input))));
  const later = { ...input, startedOn: "2026-05-03T08:00:00Z", finishedOn: "2026-05-03T08:00:01Z" };

  it.each([
    {
      name: "the same scan, keys sorted as cosign returns them",
      a: stored,
      b: vulnPredicate(input),
      same: true,
    },
    { name: "a later scan with the same result", a: stored, b: vulnPredicate(later), same: true },
    {
      name: "a newer database",
      a: stored,
      b: vulnPredicate({ ...input, databaseBuilt: "2026-05-02T00:00:00Z" }),
      same: false,
    },
    {
      name: "the finding no longer ignored",
      a: stored,
      b: vulnPredicate({ ...input, judgement: { ...input.judgement, ignored: [] } }),
      same: false,
    },
    { name: "a predicate without a result", a: {}, b: {}, same: false },
  ])("sameScanResult: $name", ({ a, b, same }) => {
    expect(sameScanResult(a, b)).toBe(same);
  });

  it.each([
    { name: "not an object", predicate: "x", detail: "it is not an object" },
    {
      name: "another scanner's result",
      predicate: { ...vulnPredicate(input), scanner: { db: {}, result: { Results: [] } } },
      detail: "scanner.result.schema is undefined, not https://battlescope.dev/images/vuln-scan/v1",
    },
    {
      name: "an ignored finding without its exception",
      predicate: (() => {
        const predicate = vulnPredicate(input) as { scanner: { result: { ignored: unknown[] } } };
        predicate.scanner.result.ignored = [];
        return predicate;
      })(),
      detail:
        "scanner.result.findings[0] is ignored, but scanner.result.ignored has no exception for it",
    },
  ])("refuses $name", ({ predicate, detail }) => {
    expect(() => scanResultOf(predicate)).toThrow(
      exactly(`not a battlescope vulnerability scan (cosign --type vuln) predicate: ${detail}`),
    );
  });
});
