import type { Finding } from "../../lib/vulnerabilities";

/** A finding of the fixtures' kind (BusyBox 1.35.0's awk, CVE-2022-30065, untyped as grype reads it from an SPDX SBOM), with what differs. */
export function finding(overrides: Partial<Finding> = {}): Finding {
  return {
    id: "CVE-2022-30065",
    severity: "high",
    package: { name: "busybox", version: "1.35.0", type: "UnknownPackage" },
    fix: "fixed",
    fixedIn: ["1.36.0"],
    relatedIds: [],
    dataSource: "https://nvd.nist.gov/vuln/detail/CVE-2022-30065",
    urls: [],
    ...overrides,
  };
}
