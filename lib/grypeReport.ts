/**
 * grype's JSON report (`grype -o json`), read into findings. The shape is grype v0.121.3's
 * (grype/presenter/models: Document, Match, Vulnerability, VulnerabilityMetadata, Package,
 * descriptor; the database status from cmd/grype/cli/commands/root.go `dbInfo`).
 */
import {
  compareFindings,
  type Finding,
  type FixState,
  parseSeverity,
  severityRank,
} from "./vulnerabilities";

/** A document that is not grype's JSON report, or not one this reader knows. */
export class GrypeReportError extends Error {
  constructor(detail: string) {
    super(`not a grype JSON report (grype -o json): ${detail}`);
    this.name = "GrypeReportError";
  }
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function objectAt(value: unknown, where: string): Json {
  if (!isObject(value)) throw new GrypeReportError(`${where} is not an object`);
  return value;
}

function textAt(value: unknown, where: string, optional = false): string {
  if (optional && (value === undefined || value === null)) return "";
  if (typeof value !== "string") throw new GrypeReportError(`${where} is not a string`);
  return value;
}

/** A list of strings; grype writes `null` for an empty one in some places (a nil Go slice). */
function textsAt(value: unknown, where: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new GrypeReportError(`${where} is not a list`);
  return value.map((item, index) => textAt(item, `${where}[${index}]`));
}

const FIX_STATES: readonly string[] = ["fixed", "not-fixed", "wont-fix", "unknown"];

function findingOf(match: unknown, where: string): Finding {
  const entry = objectAt(match, where);
  const vulnerability = objectAt(entry.vulnerability, `${where}.vulnerability`);
  const artifact = objectAt(entry.artifact, `${where}.artifact`);
  const id = textAt(vulnerability.id, `${where}.vulnerability.id`);
  if (id === "") throw new GrypeReportError(`${where}.vulnerability.id is empty`);
  // A match without metadata has an empty fix ({versions: null, state: ""}): nothing known.
  const fix = vulnerability.fix === undefined ? {} : objectAt(vulnerability.fix, `${where}.fix`);
  const state = textAt(fix.state, `${where}.vulnerability.fix.state`, true);
  const related = entry.relatedVulnerabilities;
  if (related !== undefined && related !== null && !Array.isArray(related)) {
    throw new GrypeReportError(`${where}.relatedVulnerabilities is not a list`);
  }
  const relatedIds = (Array.isArray(related) ? related : []).map((item, index) =>
    textAt(
      objectAt(item, `${where}.relatedVulnerabilities[${index}]`).id,
      `${where}.relatedVulnerabilities[${index}].id`,
    ),
  );
  const fixState: FixState = FIX_STATES.includes(state) ? (state as FixState) : "unknown";
  return {
    id,
    severity: parseSeverity(
      textAt(vulnerability.severity, `${where}.vulnerability.severity`, true),
    ),
    package: {
      name: textAt(artifact.name, `${where}.artifact.name`),
      version: textAt(artifact.version, `${where}.artifact.version`),
      type: textAt(artifact.type, `${where}.artifact.type`, true),
    },
    fix: fixState,
    fixedIn:
      fixState === "fixed" ? textsAt(fix.versions, `${where}.vulnerability.fix.versions`) : [],
    relatedIds: [...new Set(relatedIds.filter((related) => related !== id))],
    dataSource: textAt(vulnerability.dataSource, `${where}.vulnerability.dataSource`, true),
    urls: textsAt(vulnerability.urls, `${where}.vulnerability.urls`),
  };
}

const findingKey = (finding: Finding) =>
  JSON.stringify([finding.id, finding.package.name, finding.package.version, finding.package.type]);

/**
 * Two matches of one vulnerability in one package (grype matches by CPE and by language
 * ecosystem, or one package found at two paths) are one finding: the higher severity, every
 * fix version and related id.
 */
function merged(a: Finding, b: Finding): Finding {
  const higher = severityRank(b.severity) > severityRank(a.severity) ? b : a;
  return {
    ...higher,
    fixedIn: [...new Set([...a.fixedIn, ...b.fixedIn])],
    relatedIds: [...new Set([...a.relatedIds, ...b.relatedIds])],
    urls: [...new Set([...a.urls, ...b.urls])],
  };
}

function descriptorOf(report: unknown): Json {
  const document = objectAt(report, "the document");
  const descriptor = objectAt(document.descriptor, "descriptor");
  if (descriptor.name !== "grype") {
    throw new GrypeReportError(
      `descriptor.name is ${JSON.stringify(descriptor.name)}, not "grype"`,
    );
  }
  return descriptor;
}

/** The findings of grype's JSON report, one per vulnerability and package, highest first. */
export function findingsFromGrype(report: unknown): Finding[] {
  descriptorOf(report);
  const matches = (report as Json).matches;
  if (!Array.isArray(matches)) throw new GrypeReportError("matches is not a list");
  const byKey = new Map<string, Finding>();
  matches.forEach((match, index) => {
    const finding = findingOf(match, `matches[${index}]`);
    const key = findingKey(finding);
    const seen = byKey.get(key);
    byKey.set(key, seen === undefined ? finding : merged(seen, finding));
  });
  return [...byKey.values()].sort(compareFindings);
}

/** What grype says about itself and the database it used. */
export interface GrypeRun {
  /** grype's version, e.g. `0.121.3`. */
  readonly version: string;
  /** When the database was built (RFC 3339, UTC), when the report says. */
  readonly databaseBuilt?: string;
  /** The database's schema version, e.g. `v6.1.4`, when the report says. */
  readonly databaseSchema?: string;
}

export function grypeRun(report: unknown): GrypeRun {
  const descriptor = descriptorOf(report);
  const db = isObject(descriptor.db) ? descriptor.db : {};
  const status = isObject(db.status) ? db.status : {};
  return {
    version: textAt(descriptor.version, "descriptor.version", true),
    ...(typeof status.built === "string" && status.built !== ""
      ? { databaseBuilt: status.built }
      : {}),
    ...(typeof status.schemaVersion === "string" && status.schemaVersion !== ""
      ? { databaseSchema: status.schemaVersion }
      : {}),
  };
}
