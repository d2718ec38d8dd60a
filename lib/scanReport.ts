/**
 * What the vulnerability gate says: the refusal of a release whose images have findings at or
 * above `failOn`, the refusals of a stale or missing database, and the table (or JSON) the
 * `scan` command prints. Every listing is in one order: service (the catalog's), platform,
 * severity (highest first), id.
 */
import { SERVICE_NAMES } from "../services/catalog";
import { CONFIG_NAMESPACE } from "./config/keyReader";
import { formatDbMaxAge } from "./config/scanKeys";
import {
  addDays,
  compareFindings,
  compareText,
  dayOf,
  type FailOn,
  type Finding,
  type Judgement,
  MAX_EXCEPTION_DAYS,
  type VulnerabilityException,
} from "./vulnerabilities";

/** One platform image's judged findings. */
export interface ImageScan {
  readonly service: string;
  readonly platform: string;
  readonly judgement: Judgement;
}

/** The catalog's order, then any other image (benchmark copies) by name. */
function compareServices(a: string, b: string): number {
  const rank = (name: string) => {
    const index = SERVICE_NAMES.indexOf(name);
    return index === -1 ? SERVICE_NAMES.length : index;
  };
  return rank(a) - rank(b) || compareText(a, b);
}

export function compareScans(a: ImageScan, b: ImageScan): number {
  return compareServices(a.service, b.service) || compareText(a.platform, b.platform);
}

/** `fixed in 1.36.0`, or why there is no version to upgrade to. */
export function fixText(finding: Finding): string {
  if (finding.fixedIn.length > 0) return `fixed in ${finding.fixedIn.join(" or ")}`;
  if (finding.fix === "wont-fix") return "its maintainers will not fix it";
  if (finding.fix === "not-fixed") return "no fixed version yet";
  return "no fixed version known";
}

/** grype's type of a package whose ecosystem the SBOM does not say. */
const UNTYPED_PACKAGE = "UnknownPackage";

function findingLine(finding: Finding): string {
  const { name, version, type } = finding.package;
  // A package syft found by its binary comes back from the SPDX SBOM untyped.
  const kind = type === "" || type === UNTYPED_PACKAGE ? "" : ` (${type})`;
  return `${finding.id} ${finding.severity} in ${name} ${version}${kind}: ${fixText(finding)}`;
}

export interface RefusalOptions {
  readonly failOn: FailOn;
  /** How many exceptions the stack has: the example adds the next one. */
  readonly exceptionCount: number;
  readonly today: Date;
}

const plural = (count: number, one: string, many = `${one}s`) =>
  `${count} ${count === 1 ? one : many}`;

/** A shell word: as is when it is safe, else in single quotes. */
const shellWord = (word: string) =>
  /^[A-Za-z0-9_./:@=+-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;

/**
 * The release's refusal when any image has a blocking finding, undefined when none has: each
 * image's blocking findings, then what to do, with the `pulumi config set --path` commands of an
 * exception for the first of them.
 */
export function scanRefusal(
  scans: readonly ImageScan[],
  options: RefusalOptions,
): string | undefined {
  const blocked = [...scans]
    .filter((scan) => scan.judgement.blocking.length > 0)
    .sort(compareScans);
  const first = blocked[0]?.judgement.blocking.slice().sort(compareFindings)[0];
  if (first === undefined) return undefined;
  const count = blocked.reduce((sum, scan) => sum + scan.judgement.blocking.length, 0);
  const lines = [
    `vulnerability scan refused the release: ${plural(count, "finding")} at or above ${options.failOn} (${CONFIG_NAMESPACE}:failOn) in ${plural(blocked.length, "image")}`,
  ];
  for (const scan of blocked) {
    lines.push(`  ${scan.service} ${scan.platform}:`);
    for (const finding of [...scan.judgement.blocking].sort(compareFindings)) {
      lines.push(`    - ${findingLine(finding)}`);
    }
  }
  const today = dayOf(options.today);
  const latest = addDays(today, MAX_EXCEPTION_DAYS);
  const services = [
    ...new Set(
      blocked
        .filter((scan) => scan.judgement.blocking.some((finding) => finding.id === first.id))
        .map((scan) => scan.service),
    ),
  ];
  const entry = `${CONFIG_NAMESPACE}:vulnerabilityExceptions[${options.exceptionCount}]`;
  const set = (field: string, value: string) =>
    `  pulumi config set --path '${entry}.${field}' ${shellWord(value)}`;
  lines.push(
    "To release: upgrade the base image or the package to the fixed version; or, where a finding does not apply to these images, accept it with an exception in " +
      `${CONFIG_NAMESPACE}:vulnerabilityExceptions that says why and expires at most ${MAX_EXCEPTION_DAYS} days ahead (${latest} at the latest), such as:`,
    set("id", first.id),
    ...services.map((service, index) => set(`services[${index}]`, service)),
    set("reason", "<why it does not apply>"),
    set("expires", addDays(today, 30)),
    "Nothing was tagged or deployed; the published tags of earlier releases are untouched.",
  );
  return lines.join("\n");
}

/** Whether a database built at `built` is older than `maxAgeHours` at `now`. */
export function databaseTooOld(built: Date, now: Date, maxAgeHours: number): boolean {
  return now.getTime() - built.getTime() > maxAgeHours * 60 * 60 * 1000;
}

/** An age in days and hours, rounded up to the hour: never shorter than it is. */
function ageText(ms: number): string {
  const hours = Math.max(0, Math.ceil(ms / (60 * 60 * 1000)));
  const days = Math.floor(hours / 24);
  const rest = hours % 24;
  if (days === 0) return plural(rest, "hour");
  return rest === 0 ? plural(days, "day") : `${plural(days, "day")} and ${plural(rest, "hour")}`;
}

/** The refusal of a database older than `vulnerabilityDbMaxAge` allows. */
export function staleDatabaseRefusal(input: {
  readonly directory: string;
  readonly built: Date;
  readonly now: Date;
  readonly maxAgeHours: number;
}): string {
  const built = input.built.toISOString().replace(/\.000Z$/, "Z");
  return `vulnerability database ${input.directory} was built ${built}, ${ageText(input.now.getTime() - input.built.getTime())} ago; ${CONFIG_NAMESPACE}:vulnerabilityDbMaxAge allows ${formatDbMaxAge(input.maxAgeHours)}: update it (grype db update with GRYPE_DB_CACHE_DIR=${input.directory})`;
}

/** The refusal of a database folder grype cannot read (`detail`: grype's reason). */
export function missingDatabaseRefusal(directory: string, detail: string): string {
  return `no vulnerability database in ${directory} (${CONFIG_NAMESPACE}:vulnerabilityDb): ${detail}; download it (grype db update with GRYPE_DB_CACHE_DIR=${directory}), or set ${CONFIG_NAMESPACE}:vulnerabilityDb to the folder that holds it`;
}

/** One finding of one image, as the `scan` command lists it. */
export interface ScanRow {
  readonly service: string;
  readonly platform: string;
  readonly id: string;
  readonly severity: Finding["severity"];
  readonly package: string;
  readonly version: string;
  readonly type: string;
  readonly fixedIn: readonly string[];
  readonly status: "blocking" | "ignored" | "below";
  /** The exception that accepts it, when ignored. */
  readonly exception?: VulnerabilityException;
}

/** Every finding of every image, in report order (the JSON form of `scan`). */
export function scanRows(scans: readonly ImageScan[]): ScanRow[] {
  return [...scans].sort(compareScans).flatMap((scan) => {
    const exceptions = new Map(scan.judgement.ignored.map((i) => [i.finding, i.exception]));
    const findings = [
      ...scan.judgement.blocking,
      ...scan.judgement.ignored.map((i) => i.finding),
      ...scan.judgement.below,
    ].sort(compareFindings);
    return findings.map((finding): ScanRow => {
      const exception = exceptions.get(finding);
      const status = scan.judgement.blocking.includes(finding)
        ? "blocking"
        : exception === undefined
          ? "below"
          : "ignored";
      return {
        service: scan.service,
        platform: scan.platform,
        id: finding.id,
        severity: finding.severity,
        package: finding.package.name,
        version: finding.package.version,
        type: finding.package.type,
        fixedIn: finding.fixedIn,
        status,
        ...(exception === undefined ? {} : { exception }),
      };
    });
  });
}

const HEADER = [
  "SERVICE",
  "PLATFORM",
  "ID",
  "SEVERITY",
  "PACKAGE",
  "VERSION",
  "FIXED IN",
  "STATUS",
] as const;

/** The plain-text table `scan` prints: columns padded, two spaces apart, one line per row. */
export function scanTable(rows: readonly ScanRow[]): string {
  if (rows.length === 0) return "no vulnerabilities found\n";
  const table = [
    [...HEADER],
    ...rows.map((row) => [
      row.service,
      row.platform,
      row.id,
      row.severity,
      row.package,
      row.version,
      row.fixedIn.length === 0 ? "-" : row.fixedIn.join(", "),
      row.status === "ignored" ? `ignored (until ${row.exception?.expires})` : row.status,
    ]),
  ];
  const widths = HEADER.map((_, column) =>
    Math.max(...table.map((cells) => (cells[column] ?? "").length)),
  );
  return table
    .map(
      (cells) =>
        `${cells
          .map((cell, column) => cell.padEnd(widths[column] ?? 0))
          .join("  ")
          .trimEnd()}\n`,
    )
    .join("");
}

/** What grype says of a database folder (`grype db status`): its build time, or why it cannot read it. */
export interface DatabaseState {
  /** RFC 3339; absent when there is no database. */
  readonly built?: string;
  readonly error?: string;
}

/**
 * Why a scan cannot use the database in `directory`, undefined when it can: none there (or one
 * grype cannot read), or one older than `maxAgeHours` at `now`.
 */
export function databaseProblem(
  state: DatabaseState,
  directory: string,
  maxAgeHours: number,
  now: Date,
): string | undefined {
  if (state.built === undefined) {
    return missingDatabaseRefusal(directory, `grype says "${state.error ?? "no database"}"`);
  }
  const built = new Date(state.built);
  if (databaseTooOld(built, now, maxAgeHours)) {
    return staleDatabaseRefusal({ directory, built, now, maxAgeHours });
  }
  return undefined;
}
