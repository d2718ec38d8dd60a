import { describe, expect, it } from "vitest";
import { loadStackConfig } from "../../lib/config";
import { formatDbMaxAge, parseDbMaxAge, vulnerabilityDbDirectory } from "../../lib/config/scanKeys";
import { exactly } from "../support/exactly";

/** The day every config here is read on: 180 days after it is 2026-10-29. */
const TODAY = new Date("2026-05-02T09:30:00Z");
const base: Record<string, string> = { version: "v3.0.0", sourceRoot: "src" };
const IMAGES =
  "ingestion-service, enrichment-service, battle-service, search-service, notification-service, frontend-bff, frontend, db-migrator, init";
const EXPIRES_IS =
  "the exception's last day, YYYY-MM-DD, at most 180 days after today (2026-05-02): 2026-10-29 at the latest";
const REASON_IS =
  "a text saying why the finding is accepted (why it does not apply, or what stands in for the fix)";
const KEY = "battlescope:vulnerabilityExceptions";

const load = (values: Record<string, string>, today = TODAY) =>
  loadStackConfig(
    (key) => values[key],
    Object.keys(values).map((key) => `battlescope:${key}`),
    today,
  );
const withExceptions = (exceptions: unknown) =>
  load({ ...base, vulnerabilityExceptions: JSON.stringify(exceptions) });

const GOOD = {
  id: "CVE-2022-30065",
  reason: "the images never run busybox awk",
  expires: "2026-06-01",
};

describe("the scan keys", () => {
  it("reads the exceptions, with or without services, expired ones included", () => {
    const expired = { ...GOOD, id: "GHSA-xxxx-xxxx-xxxx", expires: "2026-05-01" };
    const scoped = { ...GOOD, services: ["frontend", "init"] };
    expect(withExceptions([GOOD, scoped, expired]).vulnerabilityExceptions).toEqual([
      GOOD,
      scoped,
      expired,
    ]);
  });

  it.each([
    { name: "180 days ahead, the latest day accepted", expires: "2026-10-29" },
    { name: "today", expires: "2026-05-02" },
    { name: "long past (expired is no bad input)", expires: "2020-01-01" },
  ])("accepts an expiry $name", ({ expires }) => {
    expect(withExceptions([{ ...GOOD, expires }]).vulnerabilityExceptions[0]?.expires).toBe(
      expires,
    );
  });

  it.each([
    { value: "120h", hours: 120, written: "5d" },
    { value: "5d", hours: 120, written: "5d" },
    { value: "30h", hours: 30, written: "30h" },
    { value: "1d", hours: 24, written: "1d" },
  ])("reads vulnerabilityDbMaxAge $value as $hours hours", ({ value, hours, written }) => {
    expect(parseDbMaxAge(value)).toBe(hours);
    expect(load({ ...base, vulnerabilityDbMaxAge: value }).vulnerabilityDbMaxAgeHours).toBe(hours);
    expect(formatDbMaxAge(hours)).toBe(written);
  });

  it.each([
    { name: "default on Linux", configured: undefined, env: {}, found: "/home/r/.cache/grype/db" },
    {
      name: "default under XDG_CACHE_HOME",
      configured: undefined,
      env: { XDG_CACHE_HOME: "/xdg/" },
      found: "/xdg/grype/db",
    },
    { name: "home", configured: "~/grype", env: {}, found: "/home/r/grype" },
    {
      name: "a variable",
      configured: "$BATTLESCOPE_STATE/grype-db",
      env: { BATTLESCOPE_STATE: "/state" },
      found: "/state/grype-db",
    },
    { name: "relative, as set", configured: ".local/db", env: {}, found: ".local/db" },
  ])("finds grype's database folder: $name", ({ configured, env, found }) => {
    expect(vulnerabilityDbDirectory(configured, env, "/home/r")).toBe(found);
  });

  it("refuses a database folder naming a variable that is not set", () => {
    expect(() => vulnerabilityDbDirectory("$NOPE/db", {}, "/home/r")).toThrow(
      exactly(
        'invalid config "battlescope:vulnerabilityDb": "$NOPE/db" uses $NOPE, which is not set',
      ),
    );
  });
});

describe("bad scan keys", () => {
  it.each<{ name: string; values: Record<string, string>; message: string }>([
    {
      name: "scan that is not a boolean",
      values: { scan: "sometimes" },
      message:
        'invalid config "battlescope:scan": "sometimes" is not accepted; expected true or false',
    },
    {
      name: "failOn that is no severity",
      values: { failOn: "severe" },
      message:
        'invalid config "battlescope:failOn": "severe" is not accepted; expected one of negligible, low, medium, high, critical',
    },
    {
      name: "failOn unknown (grype never fails on it)",
      values: { failOn: "unknown" },
      message:
        'invalid config "battlescope:failOn": "unknown" is not accepted; expected one of negligible, low, medium, high, critical',
    },
    {
      name: "failOn capitalised as grype prints it",
      values: { failOn: "High" },
      message:
        'invalid config "battlescope:failOn": "High" is not accepted; expected one of negligible, low, medium, high, critical',
    },
    {
      name: "a blank database folder",
      values: { vulnerabilityDb: " " },
      message:
        'invalid config "battlescope:vulnerabilityDb": " " is not accepted; expected the folder of grype\'s database (GRYPE_DB_CACHE_DIR)',
    },
    {
      name: "a maximum age in weeks",
      values: { vulnerabilityDbMaxAge: "1w" },
      message:
        'invalid config "battlescope:vulnerabilityDbMaxAge": "1w" is not accepted; expected hours or days such as 120h or 5d (grype\'s own limit is 120h)',
    },
    {
      name: "a maximum age of zero",
      values: { vulnerabilityDbMaxAge: "0h" },
      message:
        'invalid config "battlescope:vulnerabilityDbMaxAge": "0h" is not accepted; expected hours or days such as 120h or 5d (grype\'s own limit is 120h)',
    },
  ])("refuses $name", ({ values, message }) => {
    expect(() => load({ ...base, ...values })).toThrow(exactly(message));
  });

  it.each([
    {
      name: "an exception without a reason",
      exceptions: [{ id: "CVE-2022-30065", expires: "2026-06-01" }],
      message: `missing config "${KEY}[0].reason" (the exception for CVE-2022-30065): expected ${REASON_IS}`,
    },
    {
      name: "an exception with a blank reason",
      exceptions: [{ ...GOOD, reason: "  " }],
      message: `invalid config "${KEY}[0].reason" (the exception for CVE-2022-30065): "  " is not accepted; expected ${REASON_IS}`,
    },
    {
      name: "an exception without an expiry",
      exceptions: [{ id: "CVE-2022-30065", reason: "r" }],
      message: `missing config "${KEY}[0].expires" (the exception for CVE-2022-30065): expected ${EXPIRES_IS}`,
    },
    {
      name: "a date that does not exist",
      exceptions: [{ ...GOOD, expires: "2026-02-30" }],
      message: `invalid config "${KEY}[0].expires" (the exception for CVE-2022-30065): "2026-02-30" is not accepted; expected ${EXPIRES_IS}`,
    },
    {
      name: "a date in another form",
      exceptions: [GOOD, { ...GOOD, id: "GHSA-abcd-efgh-ijkl", expires: "06/01/2026" }],
      message: `invalid config "${KEY}[1].expires" (the exception for GHSA-abcd-efgh-ijkl): "06/01/2026" is not accepted; expected ${EXPIRES_IS}`,
    },
    {
      name: "an expiry 181 days ahead",
      exceptions: [{ ...GOOD, expires: "2026-10-30" }],
      message: `invalid config "${KEY}[0].expires" (the exception for CVE-2022-30065): "2026-10-30" is 181 days after today (2026-05-02); expected at most 180 days ahead: 2026-10-29 at the latest (an exception is looked at again at least twice a year)`,
    },
    {
      name: "an unknown service",
      exceptions: [{ ...GOOD, services: ["frontend", "billing-service"] }],
      message: `invalid config "${KEY}[0].services" (the exception for CVE-2022-30065): "billing-service" is not a BattleScope image; expected one of ${IMAGES}`,
    },
    {
      name: "services that is no list",
      exceptions: [{ ...GOOD, services: "frontend" }],
      message: `invalid config "${KEY}[0].services" (the exception for CVE-2022-30065): "frontend" is not accepted; expected a non-empty list of BattleScope images among ${IMAGES}`,
    },
    {
      name: "an empty list of services (it would accept nothing)",
      exceptions: [{ ...GOOD, services: [] }],
      message: `invalid config "${KEY}[0].services" (the exception for CVE-2022-30065): [] is not accepted; expected a non-empty list of BattleScope images among ${IMAGES}`,
    },
    {
      name: "a misspelt field, with the one it likely meant",
      exceptions: [{ ...GOOD, service: ["frontend"] }],
      message: `invalid config "${KEY}[0]" (the exception for CVE-2022-30065): "service" is not a field of an exception; did you mean services?`,
    },
    {
      name: "a field far from any",
      exceptions: [{ ...GOOD, ticket: "SEC-12" }],
      message: `invalid config "${KEY}[0]" (the exception for CVE-2022-30065): "ticket" is not a field of an exception; expected one of id, services, reason, expires`,
    },
    {
      name: "an exception without an id",
      exceptions: [{ reason: "r", expires: "2026-06-01" }],
      message: `missing config "${KEY}[0].id": expected a vulnerability id such as CVE-2022-30065 or GHSA-xxxx-xxxx-xxxx`,
    },
    {
      name: "an id that is none",
      exceptions: [{ ...GOOD, id: "busybox awk" }],
      message: `invalid config "${KEY}[0].id": "busybox awk" is not accepted; expected a vulnerability id such as CVE-2022-30065 or GHSA-xxxx-xxxx-xxxx`,
    },
    {
      name: "an entry that is no map",
      exceptions: ["CVE-2022-30065"],
      message: `invalid config "${KEY}[0]": "CVE-2022-30065" is not accepted; expected {"id": ..., "services": [...], "reason": ..., "expires": YYYY-MM-DD}`,
    },
    {
      name: "one exception that is not a list of them",
      exceptions: GOOD,
      message: `invalid config "${KEY}": {"id":"CVE-2022-30065","reason":"the images never run busybox awk","expires":"2026-06-01"} is not accepted; expected a list of {id, services?, reason, expires}`,
    },
  ])("refuses $name", ({ exceptions, message }) => {
    expect(() => withExceptions(exceptions)).toThrow(exactly(message));
  });

  it("refuses a plain string, not a list", () => {
    expect(() => load({ ...base, vulnerabilityExceptions: "CVE-2022-30065" })).toThrow(
      exactly(
        `invalid config "${KEY}": "CVE-2022-30065" is not accepted; expected a list of {id, services?, reason, expires}`,
      ),
    );
  });

  it("judges the expiry against the day it is given, not the machine's clock", () => {
    const exceptions = JSON.stringify([{ ...GOOD, expires: "2026-10-30" }]);
    expect(() => load({ ...base, vulnerabilityExceptions: exceptions })).toThrow(/181 days/);
    const dayLater = new Date("2026-05-03T00:00:00Z");
    expect(
      load({ ...base, vulnerabilityExceptions: exceptions }, dayLater).vulnerabilityExceptions,
    ).toHaveLength(1);
  });

  it("reports every problem of an entry, each once, in field order", () => {
    expect(() =>
      withExceptions([{ id: "cve 2022", services: "frontend", reason: " ", expires: 20260601 }]),
    ).toThrow(
      exactly(
        [
          "invalid stack config:",
          `  - invalid config "${KEY}[0].id": "cve 2022" is not accepted; expected a vulnerability id such as CVE-2022-30065 or GHSA-xxxx-xxxx-xxxx`,
          `  - invalid config "${KEY}[0].services": "frontend" is not accepted; expected a non-empty list of BattleScope images among ${IMAGES}`,
          `  - invalid config "${KEY}[0].reason": " " is not accepted; expected ${REASON_IS}`,
          `  - invalid config "${KEY}[0].expires": 20260601 is not accepted; expected ${EXPIRES_IS}`,
        ].join("\n"),
      ),
    );
  });
});
