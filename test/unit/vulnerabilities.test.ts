import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  atOrAbove,
  exceptionApplies,
  expiredExceptions,
  expiringExceptions,
  FAIL_ON_SEVERITIES,
  type FailOn,
  isCalendarDate,
  judgeFindings,
  parseSeverity,
  SEVERITIES,
  type Severity,
  type VulnerabilityException,
} from "../../lib/vulnerabilities";
import { finding } from "../support/findings";

const EXCEPTION: VulnerabilityException = {
  id: "CVE-2022-30065",
  reason: "the images never run busybox awk",
  expires: "2026-06-01",
};
const at = (instant: string) => new Date(instant);

describe("severities", () => {
  it("orders them unknown < negligible < low < medium < high < critical", () => {
    expect(SEVERITIES).toEqual(["unknown", "negligible", "low", "medium", "high", "critical"]);
    expect(FAIL_ON_SEVERITIES).toEqual(["negligible", "low", "medium", "high", "critical"]);
  });

  it.each([
    { text: "High", severity: "high" },
    { text: "CRITICAL", severity: "critical" },
    { text: "negligible", severity: "negligible" },
    { text: "Medium", severity: "medium" },
    { text: "Unknown", severity: "unknown" },
    { text: "", severity: "unknown" },
    { text: undefined, severity: "unknown" },
    { text: "Important", severity: "unknown" },
  ])("reads grype's $text as $severity", ({ text, severity }) => {
    expect(parseSeverity(text)).toBe(severity);
  });

  it.each<{ severity: Severity; failOn: FailOn; blocks: boolean }>([
    { severity: "critical", failOn: "high", blocks: true },
    { severity: "high", failOn: "high", blocks: true },
    { severity: "medium", failOn: "high", blocks: false },
    { severity: "negligible", failOn: "negligible", blocks: true },
    { severity: "unknown", failOn: "negligible", blocks: false },
    { severity: "low", failOn: "medium", blocks: false },
    { severity: "critical", failOn: "critical", blocks: true },
  ])("$severity at failOn $failOn blocks: $blocks", ({ severity, failOn, blocks }) => {
    expect(atOrAbove(severity, failOn)).toBe(blocks);
  });
});

describe("exceptions", () => {
  it.each([
    { name: "its id", exception: EXCEPTION, now: "2026-05-02T00:00:00Z", applies: true },
    {
      name: "its id in another case",
      exception: { ...EXCEPTION, id: "cve-2022-30065" },
      now: "2026-05-02T00:00:00Z",
      applies: true,
    },
    {
      name: "another id",
      exception: { ...EXCEPTION, id: "CVE-2022-30066" },
      now: "2026-05-02T00:00:00Z",
      applies: false,
    },
    {
      name: "the related GHSA of the CVE found",
      exception: { ...EXCEPTION, id: "GHSA-abcd-efgh-ijkl" },
      found: finding({ relatedIds: ["GHSA-abcd-efgh-ijkl"] }),
      now: "2026-05-02T00:00:00Z",
      applies: true,
    },
    {
      name: "the CVE related to the GHSA found",
      exception: EXCEPTION,
      found: finding({ id: "GHSA-abcd-efgh-ijkl", relatedIds: ["CVE-2022-30065"] }),
      now: "2026-05-02T00:00:00Z",
      applies: true,
    },
    {
      name: "on its last day, to its last second (UTC)",
      exception: EXCEPTION,
      now: "2026-06-01T23:59:59Z",
      applies: true,
    },
    {
      name: "not the day after",
      exception: EXCEPTION,
      now: "2026-06-02T00:00:00Z",
      applies: false,
    },
    {
      name: "a service it names",
      exception: { ...EXCEPTION, services: ["init", "frontend"] },
      now: "2026-05-02T00:00:00Z",
      applies: true,
    },
    {
      name: "not a service it does not name",
      exception: { ...EXCEPTION, services: ["init"] },
      now: "2026-05-02T00:00:00Z",
      applies: false,
    },
  ])("applies to $name: $applies", ({ exception, found, now, applies }) => {
    expect(exceptionApplies(exception, found ?? finding(), "frontend", at(now))).toBe(applies);
  });

  it.each([
    { text: "2026-06-01", valid: true },
    { text: "2028-02-29", valid: true },
    { text: "2026-02-29", valid: false },
    { text: "2026-13-01", valid: false },
    { text: "2026-6-1", valid: false },
    { text: "2026-06-01T00:00:00Z", valid: false },
  ])("$text is a calendar date: $valid", ({ text, valid }) => {
    expect(isCalendarDate(text)).toBe(valid);
  });

  const exceptions: VulnerabilityException[] = [
    { ...EXCEPTION, expires: "2026-05-16" },
    {
      ...EXCEPTION,
      id: "GHSA-abcd-efgh-ijkl",
      services: ["frontend", "init"],
      expires: "2026-05-02",
    },
    { ...EXCEPTION, id: "CVE-2023-0001", expires: "2026-05-17" },
    { ...EXCEPTION, id: "CVE-2021-0001", expires: "2026-05-01" },
    { ...EXCEPTION, id: "CVE-2022-0002", expires: "2026-05-03" },
  ];

  it("warns of those that end within 14 days, their last day included", () => {
    expect(
      expiringExceptions(exceptions, at("2026-05-02T08:00:00Z")).map((n) => n.warning),
    ).toEqual([
      "vulnerability exception for CVE-2022-30065 expires 2026-05-16 (in 14 days): fix the finding, or renew battlescope:vulnerabilityExceptions[0] with a new expiry if its reason still holds",
      "vulnerability exception for GHSA-abcd-efgh-ijkl (frontend, init) expires 2026-05-02 (today, its last day): fix the finding, or renew battlescope:vulnerabilityExceptions[1] with a new expiry if its reason still holds",
      "vulnerability exception for CVE-2022-0002 expires 2026-05-03 (tomorrow): fix the finding, or renew battlescope:vulnerabilityExceptions[4] with a new expiry if its reason still holds",
    ]);
    expect(
      expiringExceptions(exceptions, at("2026-05-02T08:00:00Z"), 1).map((n) => n.index),
    ).toEqual([1, 4]);
  });

  it("lists those past their last day, which no longer apply", () => {
    const notices = expiredExceptions(exceptions, at("2026-05-02T23:00:00Z"));
    expect(notices.map((n) => [n.index, n.days])).toEqual([[3, -1]]);
    expect(notices[0]?.warning).toBe(
      "vulnerability exception for CVE-2021-0001 expired on 2026-05-01 and no longer applies: remove battlescope:vulnerabilityExceptions[3], or renew it with a new expiry if its reason still holds",
    );
  });
});

describe("judgeFindings", () => {
  const TODAY = at("2026-05-02T12:00:00Z");
  it("blocks what is at or above failOn, ignores what an exception accepts, lists the rest below", () => {
    const critical = finding({ id: "CVE-2023-0002", severity: "critical" });
    const accepted = finding();
    const medium = finding({ id: "CVE-2021-0003", severity: "medium" });
    const unknown = finding({ id: "CVE-2021-0004", severity: "unknown" });
    const judged = judgeFindings([unknown, medium, accepted, critical], {
      service: "frontend",
      failOn: "high",
      exceptions: [{ ...EXCEPTION, services: ["init"] }, EXCEPTION],
      today: TODAY,
    });
    expect(judged).toEqual({
      blocking: [critical],
      ignored: [{ finding: accepted, exception: EXCEPTION }],
      below: [medium, unknown],
    });
  });

  it("an expired exception accepts nothing", () => {
    const judged = judgeFindings([finding()], {
      service: "frontend",
      failOn: "high",
      exceptions: [{ ...EXCEPTION, expires: "2026-05-01" }],
      today: TODAY,
    });
    expect(judged.blocking).toEqual([finding()]);
  });

  const severity = fc.constantFrom(...SEVERITIES);
  const failOn = fc.constantFrom(...FAIL_ON_SEVERITIES);
  const ids = ["CVE-2022-30065", "CVE-2023-0001", "GHSA-abcd-efgh-ijkl", "GO-2024-0001"];
  const anyFinding = fc
    .record({
      id: fc.constantFrom(...ids),
      severity,
      related: fc.subarray(ids, { maxLength: 2 }),
      name: fc.constantFrom("busybox", "openssl", "musl"),
    })
    .map(({ id, severity, related, name }) =>
      finding({
        id,
        severity,
        relatedIds: related,
        package: { name, version: "1", type: "binary" },
      }),
    );
  const anyException = fc.record(
    {
      id: fc.constantFrom(...ids),
      services: fc.subarray(["frontend", "init", "battle-service"], { minLength: 1 }),
      reason: fc.constant("r"),
      expires: fc.constantFrom("2026-05-01", "2026-05-02", "2026-06-01"),
    },
    { requiredKeys: ["id", "reason", "expires"] },
  );
  const options = fc.record({
    service: fc.constantFrom("frontend", "init"),
    failOn,
    exceptions: fc.array(anyException, { maxLength: 4 }),
  });
  const findings = fc.array(anyFinding, { maxLength: 12 });

  it("puts every finding in exactly one of blocking, ignored and below", () => {
    fc.assert(
      fc.property(findings, options, (all, opts) => {
        const judged = judgeFindings(all, { ...opts, today: TODAY });
        const parts = [
          ...judged.blocking,
          ...judged.ignored.map((ignored) => ignored.finding),
          ...judged.below,
        ];
        expect(parts).toHaveLength(all.length);
        expect(new Set(parts)).toEqual(new Set(all));
      }),
    );
  });

  it("never blocks more when failOn is raised", () => {
    fc.assert(
      fc.property(findings, options, failOn, failOn, (all, opts, one, other) => {
        const [lower, raised] = [one, other].sort(
          (a, b) => FAIL_ON_SEVERITIES.indexOf(a) - FAIL_ON_SEVERITIES.indexOf(b),
        ) as [FailOn, FailOn];
        const atLower = judgeFindings(all, { ...opts, failOn: lower, today: TODAY }).blocking;
        const atRaised = judgeFindings(all, { ...opts, failOn: raised, today: TODAY }).blocking;
        for (const blocked of atRaised) expect(atLower).toContain(blocked);
      }),
    );
  });

  it("an exception never makes a finding blocking", () => {
    fc.assert(
      fc.property(findings, options, anyException, (all, opts, extra) => {
        const before = judgeFindings(all, { ...opts, today: TODAY }).blocking;
        const after = judgeFindings(all, {
          ...opts,
          exceptions: [...opts.exceptions, extra],
          today: TODAY,
        }).blocking;
        for (const blocked of after) expect(before).toContain(blocked);
      }),
    );
  });

  it("blocks only findings at or above failOn, and ignores only with an exception that applies", () => {
    fc.assert(
      fc.property(findings, options, (all, opts) => {
        const judged = judgeFindings(all, { ...opts, today: TODAY });
        for (const blocked of judged.blocking)
          expect(atOrAbove(blocked.severity, opts.failOn)).toBe(true);
        for (const below of judged.below)
          expect(atOrAbove(below.severity, opts.failOn)).toBe(false);
        for (const { finding: found, exception } of judged.ignored) {
          expect(exceptionApplies(exception, found, opts.service, TODAY)).toBe(true);
        }
      }),
    );
  });
});
