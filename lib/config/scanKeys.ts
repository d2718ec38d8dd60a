/**
 * The vulnerability gate's keys: `scan`, `failOn`, `vulnerabilityDb`, `vulnerabilityDbMaxAge`
 * and `vulnerabilityExceptions`. An exception is judged against the day the config is read, so
 * this group is the one that needs a clock.
 */
import { SERVICE_NAMES } from "../../services/catalog";
import { Refusal } from "../refusal";
import { nearestWord } from "../spelling";
import {
  addDays,
  DEFAULT_FAIL_ON,
  dayOf,
  daysBetween,
  FAIL_ON_SEVERITIES,
  type FailOn,
  isCalendarDate,
  MAX_EXCEPTION_DAYS,
  type VulnerabilityException,
} from "../vulnerabilities";
import {
  CONFIG_NAMESPACE,
  ConfigError,
  isMap,
  type KeyReader,
  keyReader,
  problem,
} from "./keyReader";

export interface ScanConfig {
  /** Scan every platform image before any tag names it, and refuse what `failOn` blocks. */
  readonly scan: boolean;
  readonly failOn: FailOn;
  /**
   * grype's database folder (`GRYPE_DB_CACHE_DIR`) as set, `~` and `$VAR` unexpanded
   * (`vulnerabilityDbDirectory` expands it); grype's own cache folder when unset.
   */
  readonly vulnerabilityDb?: string;
  /** How old the database may be, in hours. */
  readonly vulnerabilityDbMaxAgeHours: number;
  readonly vulnerabilityExceptions: readonly VulnerabilityException[];
}

/** grype's own limit (`db.max-allowed-built-age`, 120h). */
export const DEFAULT_DB_MAX_AGE = "120h";
const AGE_FORM = /^([1-9][0-9]{0,4})([hd])$/;

/** `120h` or `5d` as hours; undefined for anything else. */
export function parseDbMaxAge(text: string): number | undefined {
  const match = AGE_FORM.exec(text);
  if (match === null) return undefined;
  return Number(match[1]) * (match[2] === "d" ? 24 : 1);
}

/** Hours as the key is written: whole days as `5d`, anything else as `30h`. */
export function formatDbMaxAge(hours: number): string {
  return hours % 24 === 0 ? `${hours / 24}d` : `${hours}h`;
}

/**
 * grype's database folder: `configured` with `$VAR` and a leading `~/` expanded, else grype's
 * default (`$XDG_CACHE_HOME/grype/db`, else `~/.cache/grype/db`: grype's `xdg.CacheHome` on
 * Linux). A relative result is relative to the project folder, as for `kubeconfigPath`.
 */
export function vulnerabilityDbDirectory(
  configured: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  home: string,
): string {
  const join = (...parts: string[]) => parts.join("/").replace(/\/{2,}/g, "/");
  if (configured === undefined) {
    const cache = env.XDG_CACHE_HOME;
    return join(cache === undefined || cache === "" ? join(home, ".cache") : cache, "grype/db");
  }
  const expanded = configured.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
    const found = env[name];
    if (found === undefined || found === "") {
      throw new VulnerabilityDbPathError(
        `invalid config "${CONFIG_NAMESPACE}:vulnerabilityDb": ${JSON.stringify(configured)} uses $${name}, which is not set`,
      );
    }
    return found;
  });
  if (expanded === "~") return home;
  return expanded.startsWith("~/") ? join(home, expanded.slice(2)) : expanded;
}

/** A `vulnerabilityDb` naming a variable that is not set. */
export class VulnerabilityDbPathError extends Refusal {
  constructor(message: string) {
    super(message);
    this.name = "VulnerabilityDbPathError";
  }
}

const EXCEPTION_FIELDS = ["id", "services", "reason", "expires"] as const;
const EXCEPTIONS_ARE = "a list of {id, services?, reason, expires}";
/** Advisory ids: CVE-2022-30065, GHSA-xxxx-xxxx-xxxx, GO-2022-0001, ALAS2-2023-1234, ... */
const VULNERABILITY_ID = /^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const ID_IS = "a vulnerability id such as CVE-2022-30065 or GHSA-xxxx-xxxx-xxxx";

/** One entry of `vulnerabilityExceptions`: the exception, or undefined after its problems. */
function exceptionEntry(
  keys: KeyReader,
  entry: unknown,
  index: number,
  today: string,
): VulnerabilityException | undefined {
  const key = `vulnerabilityExceptions[${index}]`;
  if (!isMap(entry)) {
    keys.problems.push(
      problem(key, entry, '{"id": ..., "services": [...], "reason": ..., "expires": YYYY-MM-DD}'),
    );
    return undefined;
  }
  const before = keys.problems.length;
  const { id } = entry;
  const idOk = typeof id === "string" && VULNERABILITY_ID.test(id);
  // Each problem names the exception by its id, once the id is one.
  const at = (path: string) =>
    `"${CONFIG_NAMESPACE}:${path}"${idOk ? ` (the exception for ${id})` : ""}`;
  const field = (name: string) => at(`${key}.${name}`);
  const invalid = (name: string, value: unknown, accepted: string) =>
    keys.problems.push(
      `invalid config ${field(name)}: ${JSON.stringify(value)} is not accepted; expected ${accepted}`,
    );
  const missing = (name: string, expected: string) =>
    keys.problems.push(`missing config ${field(name)}: expected ${expected}`);

  for (const name of Object.keys(entry)) {
    if ((EXCEPTION_FIELDS as readonly string[]).includes(name)) continue;
    const meant = nearestWord(name, EXCEPTION_FIELDS);
    keys.problems.push(
      `invalid config ${at(key)}: ${JSON.stringify(name)} is not a field of an exception; ${meant === undefined ? `expected one of ${EXCEPTION_FIELDS.join(", ")}` : `did you mean ${meant}?`}`,
    );
  }
  if (id === undefined) missing("id", ID_IS);
  else if (!idOk) invalid("id", id, ID_IS);

  const { services } = entry;
  if (services !== undefined) {
    const servicesAre = `a non-empty list of BattleScope images among ${SERVICE_NAMES.join(", ")}`;
    if (!Array.isArray(services) || services.length === 0) {
      invalid("services", services, servicesAre);
    } else {
      for (const service of services) {
        if (typeof service === "string" && SERVICE_NAMES.includes(service)) continue;
        keys.problems.push(
          `invalid config ${field("services")}: ${JSON.stringify(service)} is not a BattleScope image; expected one of ${SERVICE_NAMES.join(", ")}`,
        );
      }
    }
  }

  const { reason } = entry;
  const reasonIs =
    "a text saying why the finding is accepted (why it does not apply, or what stands in for the fix)";
  if (reason === undefined) missing("reason", reasonIs);
  else if (typeof reason !== "string" || reason.trim() === "") invalid("reason", reason, reasonIs);

  const { expires } = entry;
  const latest = addDays(today, MAX_EXCEPTION_DAYS);
  const expiresIs = `the exception's last day, YYYY-MM-DD, at most ${MAX_EXCEPTION_DAYS} days after today (${today}): ${latest} at the latest`;
  if (expires === undefined) missing("expires", expiresIs);
  else if (typeof expires !== "string" || !isCalendarDate(expires)) {
    invalid("expires", expires, expiresIs);
  } else if (expires > latest) {
    keys.problems.push(
      `invalid config ${field("expires")}: ${JSON.stringify(expires)} is ${daysBetween(today, expires)} days after today (${today}); expected at most ${MAX_EXCEPTION_DAYS} days ahead: ${latest} at the latest (an exception is looked at again at least twice a year)`,
    );
  }

  if (keys.problems.length > before) return undefined;
  return {
    id: id as string,
    ...(services === undefined ? {} : { services: services as string[] }),
    reason: reason as string,
    expires: expires as string,
  };
}

/** `vulnerabilityExceptions`: a list; every bad entry is reported, the good ones are kept. */
function exceptionKeys(keys: KeyReader, today: string): VulnerabilityException[] {
  const raw = keys.json("vulnerabilityExceptions");
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    keys.problems.push(problem("vulnerabilityExceptions", raw, EXCEPTIONS_ARE));
    return [];
  }
  return raw.flatMap((entry, index) => exceptionEntry(keys, entry, index, today) ?? []);
}

/**
 * A list of exceptions given on its own (the `scan` command's --exceptions file), judged as the
 * stack's `vulnerabilityExceptions` is; throws a ConfigError naming every bad entry.
 */
export function readExceptionList(text: string, today: Date): VulnerabilityException[] {
  const keys = keyReader((key) => (key === "vulnerabilityExceptions" ? text : undefined));
  const exceptions = exceptionKeys(keys, dayOf(today));
  if (keys.problems.length > 0) throw new ConfigError(keys.problems);
  return exceptions;
}

/** The gate's keys, judged against `today` (an exception may run at most 180 days from it). */
export function scanKeys(keys: KeyReader, today: Date): ScanConfig {
  const scan = keys.bool("scan", true);
  const failOn = keys.text(
    "failOn",
    DEFAULT_FAIL_ON,
    new RegExp(`^(?:${FAIL_ON_SEVERITIES.join("|")})$`),
    `one of ${FAIL_ON_SEVERITIES.join(", ")}`,
  ) as FailOn;
  const vulnerabilityDb = keys.read("vulnerabilityDb");
  if (vulnerabilityDb !== undefined && vulnerabilityDb.trim() === "") {
    keys.problems.push(
      problem(
        "vulnerabilityDb",
        vulnerabilityDb,
        "the folder of grype's database (GRYPE_DB_CACHE_DIR)",
      ),
    );
  }
  const maxAge = keys.read("vulnerabilityDbMaxAge") ?? DEFAULT_DB_MAX_AGE;
  let vulnerabilityDbMaxAgeHours = parseDbMaxAge(maxAge);
  if (vulnerabilityDbMaxAgeHours === undefined) {
    keys.problems.push(
      problem(
        "vulnerabilityDbMaxAge",
        maxAge,
        `hours or days such as ${DEFAULT_DB_MAX_AGE} or 5d (grype's own limit is ${DEFAULT_DB_MAX_AGE})`,
      ),
    );
    vulnerabilityDbMaxAgeHours = parseDbMaxAge(DEFAULT_DB_MAX_AGE) as number;
  }
  return {
    scan,
    failOn: (FAIL_ON_SEVERITIES as readonly string[]).includes(failOn) ? failOn : DEFAULT_FAIL_ON,
    ...(vulnerabilityDb === undefined ? {} : { vulnerabilityDb }),
    vulnerabilityDbMaxAgeHours,
    vulnerabilityExceptions: exceptionKeys(keys, dayOf(today)),
  };
}
