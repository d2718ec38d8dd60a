import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { findingsFromGrype, grypeRun } from "../../lib/grypeReport";
import { exactly } from "../support/exactly";

/**
 * grype v0.121.3's own snapshot of its JSON presenter
 * (grype/presenter/json/testdata/snapshot/TestJsonImgsPresenter.golden, Apache-2.0), reformatted.
 */
const GOLDEN = JSON.parse(
  fs.readFileSync(path.join(__dirname, "fixtures/grype/TestJsonImgsPresenter.json"), "utf8"),
);

/** A match as grype writes one, with what differs. */
function match(overrides: {
  id?: string;
  severity?: string;
  fix?: unknown;
  related?: string[];
  name?: string;
  version?: string;
}) {
  return {
    vulnerability: {
      id: overrides.id ?? "CVE-2022-30065",
      dataSource: "https://nvd.nist.gov/vuln/detail/CVE-2022-30065",
      namespace: "nvd:cpe",
      severity: overrides.severity ?? "High",
      urls: ["https://bugs.busybox.net/show_bug.cgi?id=14781"],
      cvss: [],
      fix: overrides.fix ?? { versions: ["1.36.0"], state: "fixed" },
      advisories: [],
      risk: 0.5,
    },
    relatedVulnerabilities: (overrides.related ?? []).map((id) => ({
      id,
      dataSource: "",
      namespace: "github:language:go",
      urls: [],
      cvss: [],
    })),
    matchDetails: [],
    artifact: {
      id: "5a0f3d3e0c1b2a10",
      name: overrides.name ?? "busybox",
      version: overrides.version ?? "1.35.0",
      type: "binary",
      locations: [{ path: "/bin/busybox" }],
      language: "",
      licenses: [],
      cpes: ["cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*"],
      purl: "",
      upstreams: [],
    },
  };
}

const report = (matches: unknown[], descriptor: Record<string, unknown> = {}) => ({
  matches,
  source: { type: "sbom", target: "" },
  distro: { name: "", version: "", idLike: null },
  descriptor: { name: "grype", version: "0.121.3", ...descriptor },
});

describe("findingsFromGrype", () => {
  it("reads grype's own snapshot: severities, fix versions only when fixed", () => {
    expect(findingsFromGrype(GOLDEN)).toEqual([
      {
        id: "CVE-1999-0002",
        severity: "critical",
        package: { name: "package-2", version: "2.2.2", type: "deb" },
        fix: "unknown",
        fixedIn: [],
        relatedIds: [],
        dataSource: "",
        urls: [],
      },
      {
        id: "CVE-1999-0001",
        severity: "low",
        package: { name: "package-1", version: "1.1.1", type: "rpm" },
        fix: "fixed",
        fixedIn: ["1.2.1", "2.1.3", "3.4.0"],
        relatedIds: [],
        dataSource: "",
        urls: [],
      },
    ]);
  });

  it("reads related ids, and no fix versions unless the state is fixed", () => {
    const [found] = findingsFromGrype(
      report([
        match({
          id: "GHSA-abcd-efgh-ijkl",
          related: ["CVE-2022-30065", "GHSA-abcd-efgh-ijkl"],
          fix: { versions: ["1.36.0"], state: "wont-fix" },
        }),
      ]),
    );
    expect(found).toMatchObject({
      id: "GHSA-abcd-efgh-ijkl",
      relatedIds: ["CVE-2022-30065"],
      fix: "wont-fix",
      fixedIn: [],
      severity: "high",
    });
  });

  it("merges two matches of one vulnerability in one package, keeping the higher severity", () => {
    const findings = findingsFromGrype(
      report([
        match({ severity: "Medium", fix: { versions: ["1.35.1"], state: "fixed" } }),
        match({ severity: "High", related: ["GHSA-abcd-efgh-ijkl"] }),
        match({ name: "busybox-static" }),
      ]),
    );
    expect(findings.map((f) => [f.package.name, f.severity, f.fixedIn, f.relatedIds])).toEqual([
      ["busybox", "high", ["1.35.1", "1.36.0"], ["GHSA-abcd-efgh-ijkl"]],
      ["busybox-static", "high", ["1.36.0"], []],
    ]);
  });

  it("reads a report without findings", () => {
    expect(findingsFromGrype(report([]))).toEqual([]);
  });

  it.each([
    { name: "not an object", document: [], message: "the document is not an object" },
    {
      name: "another tool's JSON (trivy)",
      document: { SchemaVersion: 2, Results: [] },
      message: "descriptor is not an object",
    },
    {
      name: "syft's JSON",
      document: { artifacts: [], descriptor: { name: "syft", version: "1.0.0" } },
      message: 'descriptor.name is "syft", not "grype"',
    },
    {
      name: "matches missing",
      document: { descriptor: { name: "grype" } },
      message: "matches is not a list",
    },
    {
      name: "a match without a package",
      document: report([{ ...match({}), artifact: undefined }]),
      message: "matches[0].artifact is not an object",
    },
    {
      name: "a package without a version",
      document: report([
        match({}),
        { ...match({}), artifact: { ...match({}).artifact, version: 1 } },
      ]),
      message: "matches[1].artifact.version is not a string",
    },
    {
      name: "an empty id",
      document: report([match({ id: "" })]),
      message: "matches[0].vulnerability.id is empty",
    },
    {
      name: "fix versions that are no list",
      document: report([match({ fix: { versions: "1.36.0", state: "fixed" } })]),
      message: "matches[0].vulnerability.fix.versions is not a list",
    },
  ])("refuses $name", ({ document, message }) => {
    expect(() => findingsFromGrype(document)).toThrow(
      exactly(`not a grype JSON report (grype -o json): ${message}`),
    );
  });
});

describe("grypeRun", () => {
  it("reads grype's version and its database's build time and schema", () => {
    const db = {
      status: {
        schemaVersion: "v6.1.4",
        from: "https://grype.anchore.io/databases/v6/vulnerability-db_v6.1.4_2026-05-01T00:00:00Z_1746057600.tar.zst",
        built: "2026-05-01T00:00:00Z",
        path: "/home/r/.cache/grype/db/6/vulnerability.db",
        valid: true,
      },
      providers: {},
    };
    expect(grypeRun(report([], { db }))).toEqual({
      version: "0.121.3",
      databaseBuilt: "2026-05-01T00:00:00Z",
      databaseSchema: "v6.1.4",
    });
  });

  it("leaves out what the report does not say", () => {
    expect(grypeRun(GOLDEN)).toEqual({ version: "[not provided]" });
  });
});
