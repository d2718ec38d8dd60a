/**
 * The predicate of `cosign attest --type vuln` for one platform image, and its reader. The
 * envelope is cosign's CosignVulnPredicate (cosign v3.1.3, pkg/cosign/attestation:
 * invocation, scanner {uri, version, db {uri, version}, result}, metadata {scanStartedOn,
 * scanFinishedOn}); `scanner.result` is ours: every finding with its status, the ignored ones'
 * exceptions, `failOn` and when the database was built.
 */
import { isDeepStrictEqual } from "node:util";
import {
  FAIL_ON_SEVERITIES,
  type FailOn,
  type Finding,
  type FixState,
  type IgnoredFinding,
  type Judgement,
  SEVERITIES,
  type Severity,
  type VulnerabilityException,
} from "./vulnerabilities";

/** The predicate type cosign writes for `--type vuln`. */
export const VULN_PREDICATE_TYPE = "https://cosign.sigstore.dev/attestation/vuln/v1";
/** `cosign attest --type` name of the predicate. */
export const COSIGN_VULN_TYPE = "vuln";
/** Names the form of `scanner.result`, so a reader knows it is ours. */
export const SCAN_RESULT_SCHEMA = "https://battlescope.dev/images/vuln-scan/v1";

export interface VulnScanInput {
  readonly service: string;
  readonly platform: string;
  /** The image scanned, `<registry>/<org>/<service>@sha256:...`. */
  readonly image: string;
  readonly failOn: FailOn;
  readonly judgement: Judgement;
  /** grype's version, e.g. `0.121.3`. */
  readonly scannerVersion: string;
  /** When the database was built, RFC 3339. */
  readonly databaseBuilt: string;
  /** The database's schema version (grype's `schemaVersion`, e.g. `v6.1.4`), when known. */
  readonly databaseSchema?: string;
  /** RFC 3339 times. */
  readonly startedOn: string;
  readonly finishedOn: string;
}

type Status = "blocking" | "ignored" | "below";

/** The predicate: the image's findings as judged, each once, with the exceptions that apply. */
export function vulnPredicate(input: VulnScanInput): Record<string, unknown> {
  const { judgement } = input;
  const findings = [
    ...judgement.blocking.map((finding) => ({ ...finding, status: "blocking" as Status })),
    ...judgement.ignored.map(({ finding }) => ({ ...finding, status: "ignored" as Status })),
    ...judgement.below.map((finding) => ({ ...finding, status: "below" as Status })),
  ];
  return {
    invocation: {
      parameters: {
        service: input.service,
        platform: input.platform,
        image: input.image,
        failOn: input.failOn,
      },
      uri: "",
      event_id: "",
      "builder.id": "battlescope-images",
    },
    scanner: {
      uri: `pkg:golang/github.com/anchore/grype@v${input.scannerVersion.replace(/^v/, "")}`,
      version: input.scannerVersion,
      db: { uri: "", version: input.databaseSchema ?? "" },
      result: {
        schema: SCAN_RESULT_SCHEMA,
        failOn: input.failOn,
        database: { built: input.databaseBuilt },
        findings,
        ignored: judgement.ignored.map(({ finding, exception }) => ({
          id: finding.id,
          package: finding.package,
          exception,
        })),
      },
    },
    metadata: { scanStartedOn: input.startedOn, scanFinishedOn: input.finishedOn },
  };
}

/** A predicate that is not one `vulnPredicate` wrote. */
export class VulnPredicateError extends Error {
  constructor(detail: string) {
    super(`not a battlescope vulnerability scan (cosign --type vuln) predicate: ${detail}`);
    this.name = "VulnPredicateError";
  }
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function field(value: Json, name: string, where: string): Json {
  const found = value[name];
  if (!isObject(found)) throw new VulnPredicateError(`${where}${name} is not an object`);
  return found;
}
function text(value: Json, name: string, where: string): string {
  const found = value[name];
  if (typeof found !== "string") throw new VulnPredicateError(`${where}${name} is not a string`);
  return found;
}
function texts(value: Json, name: string, where: string): string[] {
  const found = value[name];
  if (!Array.isArray(found) || found.some((item) => typeof item !== "string")) {
    throw new VulnPredicateError(`${where}${name} is not a list of strings`);
  }
  return found as string[];
}
function list(value: Json, name: string, where: string): unknown[] {
  const found = value[name];
  if (!Array.isArray(found)) throw new VulnPredicateError(`${where}${name} is not a list`);
  return found;
}
function oneOf<T extends string>(value: string, allowed: readonly T[], where: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new VulnPredicateError(
      `${where} is ${JSON.stringify(value)}, not one of ${allowed.join(", ")}`,
    );
  }
  return value as T;
}

function packageOf(value: Json, where: string): Finding["package"] {
  const pkg = field(value, "package", where);
  const at = `${where}package.`;
  return {
    name: text(pkg, "name", at),
    version: text(pkg, "version", at),
    type: text(pkg, "type", at),
  };
}

function findingOf(value: unknown, where: string): { finding: Finding; status: Status } {
  if (!isObject(value)) throw new VulnPredicateError(`${where} is not an object`);
  const at = `${where}.`;
  const finding: Finding = {
    id: text(value, "id", at),
    severity: oneOf<Severity>(text(value, "severity", at), SEVERITIES, `${at}severity`),
    package: packageOf(value, at),
    fix: oneOf<FixState>(
      text(value, "fix", at),
      ["fixed", "not-fixed", "wont-fix", "unknown"],
      `${at}fix`,
    ),
    fixedIn: texts(value, "fixedIn", at),
    relatedIds: texts(value, "relatedIds", at),
    dataSource: text(value, "dataSource", at),
    urls: texts(value, "urls", at),
  };
  const status = oneOf<Status>(
    text(value, "status", at),
    ["blocking", "ignored", "below"],
    `${at}status`,
  );
  return { finding, status };
}

function exceptionOf(value: Json, where: string): VulnerabilityException {
  const exception = field(value, "exception", where);
  const at = `${where}exception.`;
  return {
    id: text(exception, "id", at),
    ...(exception.services === undefined ? {} : { services: texts(exception, "services", at) }),
    reason: text(exception, "reason", at),
    expires: text(exception, "expires", at),
  };
}

const packageKey = (id: string, pkg: Finding["package"]) =>
  JSON.stringify([id, pkg.name, pkg.version, pkg.type]);

/** What an image's vulnerability attestation says: what `vulnPredicate` was given. */
export type ScanResult = VulnScanInput;

/** Reads a predicate `vulnPredicate` wrote back (for `verify` and `scan`); throws on any other. */
export function scanResultOf(predicate: unknown): ScanResult {
  if (!isObject(predicate)) throw new VulnPredicateError("it is not an object");
  const invocation = field(predicate, "invocation", "");
  const parameters = field(invocation, "parameters", "invocation.");
  const scanner = field(predicate, "scanner", "");
  const db = field(scanner, "db", "scanner.");
  const result = field(scanner, "result", "scanner.");
  const metadata = field(predicate, "metadata", "");
  if (result.schema !== SCAN_RESULT_SCHEMA) {
    throw new VulnPredicateError(
      `scanner.result.schema is ${JSON.stringify(result.schema)}, not ${SCAN_RESULT_SCHEMA}`,
    );
  }
  const exceptions = new Map(
    list(result, "ignored", "scanner.result.").map((entry, index) => {
      const where = `scanner.result.ignored[${index}].`;
      if (!isObject(entry)) throw new VulnPredicateError(`${where} is not an object`);
      return [
        packageKey(text(entry, "id", where), packageOf(entry, where)),
        exceptionOf(entry, where),
      ];
    }),
  );
  const blocking: Finding[] = [];
  const ignored: IgnoredFinding[] = [];
  const below: Finding[] = [];
  list(result, "findings", "scanner.result.").forEach((entry, index) => {
    const where = `scanner.result.findings[${index}]`;
    const { finding, status } = findingOf(entry, where);
    if (status === "blocking") blocking.push(finding);
    else if (status === "below") below.push(finding);
    else {
      const exception = exceptions.get(packageKey(finding.id, finding.package));
      if (exception === undefined) {
        throw new VulnPredicateError(
          `${where} is ignored, but scanner.result.ignored has no exception for it`,
        );
      }
      ignored.push({ finding, exception });
    }
  });
  const schema = text(db, "version", "scanner.db.");
  return {
    service: text(parameters, "service", "invocation.parameters."),
    platform: text(parameters, "platform", "invocation.parameters."),
    image: text(parameters, "image", "invocation.parameters."),
    failOn: oneOf<FailOn>(
      text(result, "failOn", "scanner.result."),
      FAIL_ON_SEVERITIES,
      "scanner.result.failOn",
    ),
    judgement: { blocking, ignored, below },
    scannerVersion: text(scanner, "version", "scanner."),
    databaseBuilt: text(
      field(result, "database", "scanner.result."),
      "built",
      "scanner.result.database.",
    ),
    ...(schema === "" ? {} : { databaseSchema: schema }),
    startedOn: text(metadata, "scanStartedOn", "metadata."),
    finishedOn: text(metadata, "scanFinishedOn", "metadata."),
  };
}

/** A value as JSON reads it back: no `undefined` members, numbers and strings as written. */
const asJson = (value: unknown): unknown =>
  value === undefined ? undefined : JSON.parse(JSON.stringify(value));

/**
 * Whether two predicates carry the same scan result, whatever their times and the order of their
 * keys: cosign hands a predicate back with its keys sorted (Go marshals a map that way), so the
 * stored one and the one just made differ in order even when they say the same.
 */
export function sameScanResult(a: unknown, b: unknown): boolean {
  const resultOf = (predicate: unknown) =>
    asJson((predicate as { scanner?: { result?: unknown } } | undefined)?.scanner?.result);
  const left = resultOf(a);
  return left !== undefined && isDeepStrictEqual(left, resultOf(b));
}
