/**
 * The vulnerability gate's rules, as pure data: severities and their order, the findings of a
 * scan, the exceptions a stack accepts for a while, and the judgement of one image's findings
 * against `failOn` (docs/rules.md). grype finds; this module decides.
 */
import { CONFIG_NAMESPACE } from "./config/keyReader";

/**
 * grype's severities, lowest first. "unknown" (a finding whose advisory carries no rating) ranks
 * below "negligible", as in grype's own order, and `failOn` cannot name it: grype's `--fail-on`
 * never fails on it either, so the gate blocks exactly what `grype --fail-on` would. It is still
 * a level of its own, not dropped: an unrated advisory is listed and attested like any other,
 * for someone to look at.
 */
export const SEVERITIES = ["unknown", "negligible", "low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The severities `failOn` accepts: every one but "unknown". */
export const FAIL_ON_SEVERITIES = SEVERITIES.filter(
  (severity): severity is Exclude<Severity, "unknown"> => severity !== "unknown",
);
export type FailOn = (typeof FAIL_ON_SEVERITIES)[number];
export const DEFAULT_FAIL_ON: FailOn = "high";

/** A severity as grype writes it ("High", "Critical"); like grype, anything else is "unknown". */
export function parseSeverity(text: string | undefined): Severity {
  const lower = (text ?? "").toLowerCase();
  return (SEVERITIES as readonly string[]).includes(lower) ? (lower as Severity) : "unknown";
}

export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

/** Whether a finding of `severity` is at or above the stack's `failOn`. */
export function atOrAbove(severity: Severity, failOn: FailOn): boolean {
  return severityRank(severity) >= severityRank(failOn);
}

/** grype's fix states (grype/vulnerability/fix.go). */
export type FixState = "fixed" | "not-fixed" | "wont-fix" | "unknown";

/** One vulnerability grype matched to one package of an image. */
export interface Finding {
  /** The advisory's id as grype reports it: `CVE-2022-30065`, `GHSA-xxxx-xxxx-xxxx`, ... */
  readonly id: string;
  readonly severity: Severity;
  readonly package: { readonly name: string; readonly version: string; readonly type: string };
  readonly fix: FixState;
  /** The versions that fix it, when `fix` is "fixed". */
  readonly fixedIn: readonly string[];
  /** The ids of the same vulnerability in other databases (a GHSA's CVE, a CVE's GHSA). */
  readonly relatedIds: readonly string[];
  readonly dataSource: string;
  readonly urls: readonly string[];
}

/** An accepted finding, for a while: an entry of `vulnerabilityExceptions`. */
export interface VulnerabilityException {
  readonly id: string;
  /** The images it applies to; all of them when absent. */
  readonly services?: readonly string[];
  readonly reason: string;
  /** The last day it applies, `YYYY-MM-DD` (UTC). */
  readonly expires: string;
}

/** The longest an exception may run, from the day it is judged. */
export const MAX_EXCEPTION_DAYS = 180;
/** Preview warns about exceptions that end within this many days. */
export const EXPIRY_WARNING_DAYS = 14;

const DAY_MS = 24 * 60 * 60 * 1000;
const DATE_FORM = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * The calendar day of an instant, `YYYY-MM-DD`. Days are UTC days, on every machine: an
 * exception ends at the same moment for a release engineer and for CI.
 */
export function dayOf(instant: Date): string {
  return instant.toISOString().slice(0, 10);
}

/** Whether `text` is a real calendar date written `YYYY-MM-DD` (no 2026-02-30). */
export function isCalendarDate(text: string): boolean {
  const match = DATE_FORM.exec(text);
  if (match === null) return false;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return !Number.isNaN(date.getTime()) && dayOf(date) === text;
}

/** The day `days` after `day` (both `YYYY-MM-DD`). */
export function addDays(day: string, days: number): string {
  return dayOf(new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS));
}

/** Whole days from `from` to `to` (both `YYYY-MM-DD`); negative when `to` is earlier. */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

const sameId = (a: string, b: string) => a.toUpperCase() === b.toUpperCase();

/** An exception still applies on its expiry day, not the day after. */
export function isExpired(exception: VulnerabilityException, today: Date): boolean {
  return exception.expires < dayOf(today);
}

/**
 * Whether `exception` accepts `finding` in `service`'s images today: the same vulnerability (its
 * id, or an id grype relates to it), a service it names (or it names none), not expired.
 */
export function exceptionApplies(
  exception: VulnerabilityException,
  finding: Finding,
  service: string,
  today: Date,
): boolean {
  const ids = [finding.id, ...finding.relatedIds];
  return (
    ids.some((id) => sameId(id, exception.id)) &&
    (exception.services === undefined || exception.services.includes(service)) &&
    !isExpired(exception, today)
  );
}

export interface IgnoredFinding {
  readonly finding: Finding;
  readonly exception: VulnerabilityException;
}

/** One image's findings, judged: every finding is in exactly one of the three. */
export interface Judgement {
  /** At or above `failOn`, no exception applies: the release stops. */
  readonly blocking: readonly Finding[];
  /** At or above `failOn`, accepted by an exception (the first that applies, in config order). */
  readonly ignored: readonly IgnoredFinding[];
  /** Below `failOn`: reported and attested, never blocking. */
  readonly below: readonly Finding[];
}

export interface JudgeOptions {
  readonly service: string;
  readonly failOn: FailOn;
  readonly exceptions: readonly VulnerabilityException[];
  readonly today: Date;
}

/** Highest severity first, then by id, package name and version: the order every report uses. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    severityRank(b.severity) - severityRank(a.severity) ||
    compareText(a.id, b.id) ||
    compareText(a.package.name, b.package.name) ||
    compareText(a.package.version, b.package.version) ||
    compareText(a.package.type, b.package.type)
  );
}

/** Code-point order, the same on every machine (localeCompare depends on the locale). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorts an image's findings into blocking, ignored and below, each in report order. */
export function judgeFindings(findings: readonly Finding[], options: JudgeOptions): Judgement {
  const blocking: Finding[] = [];
  const ignored: IgnoredFinding[] = [];
  const below: Finding[] = [];
  for (const finding of [...findings].sort(compareFindings)) {
    if (!atOrAbove(finding.severity, options.failOn)) {
      below.push(finding);
      continue;
    }
    const exception = options.exceptions.find((candidate) =>
      exceptionApplies(candidate, finding, options.service, options.today),
    );
    if (exception === undefined) blocking.push(finding);
    else ignored.push({ finding, exception });
  }
  return { blocking, ignored, below };
}

/** An exception preview warns about, with the warning it prints. */
export interface ExceptionNotice {
  readonly exception: VulnerabilityException;
  /** Its place in `vulnerabilityExceptions`, for `pulumi config set --path`. */
  readonly index: number;
  /** Days from today to its expiry day: 0 on its last day, negative once expired. */
  readonly days: number;
  readonly warning: string;
}

const exceptionKey = (index: number) => `${CONFIG_NAMESPACE}:vulnerabilityExceptions[${index}]`;

function appliesTo(exception: VulnerabilityException): string {
  return exception.services === undefined ? "" : ` (${exception.services.join(", ")})`;
}

function inDays(days: number): string {
  if (days === 0) return "today, its last day";
  return days === 1 ? "tomorrow" : `in ${days} days`;
}

/** Exceptions that still apply but end within `withinDays` days (their last day included). */
export function expiringExceptions(
  exceptions: readonly VulnerabilityException[],
  today: Date,
  withinDays = EXPIRY_WARNING_DAYS,
): ExceptionNotice[] {
  return exceptions.flatMap((exception, index) => {
    const days = daysBetween(dayOf(today), exception.expires);
    if (days < 0 || days > withinDays) return [];
    const warning = `vulnerability exception for ${exception.id}${appliesTo(exception)} expires ${exception.expires} (${inDays(days)}): fix the finding, or renew ${exceptionKey(index)} with a new expiry if its reason still holds`;
    return [{ exception, index, days, warning }];
  });
}

/** Exceptions past their last day: kept in the config, but they accept nothing any more. */
export function expiredExceptions(
  exceptions: readonly VulnerabilityException[],
  today: Date,
): ExceptionNotice[] {
  return exceptions.flatMap((exception, index) => {
    if (!isExpired(exception, today)) return [];
    const days = daysBetween(dayOf(today), exception.expires);
    const warning = `vulnerability exception for ${exception.id}${appliesTo(exception)} expired on ${exception.expires} and no longer applies: remove ${exceptionKey(index)}, or renew it with a new expiry if its reason still holds`;
    return [{ exception, index, days, warning }];
  });
}

/** The exceptions that can accept findings in `service`'s images: its own and everyone's. */
export function exceptionsFor(
  exceptions: readonly VulnerabilityException[],
  service: string,
): VulnerabilityException[] {
  return exceptions.filter(
    (exception) => exception.services === undefined || exception.services.includes(service),
  );
}

/** What a preview warns of the exceptions: those that expired, then those about to. */
export function exceptionWarnings(
  exceptions: readonly VulnerabilityException[],
  today: Date,
): string[] {
  return [...expiredExceptions(exceptions, today), ...expiringExceptions(exceptions, today)].map(
    (notice) => notice.warning,
  );
}
