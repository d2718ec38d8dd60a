/**
 * How the stack config is read: a reader of raw values that collects, key by key, what is wrong
 * with them (every problem is reported at once, in the order the keys are read), and the
 * refusal that lists them.
 */
import { Refusal } from "../refusal";

/** The Pulumi project name, and so the namespace of every config key. */
export const CONFIG_NAMESPACE = "battlescope";

export class ConfigError extends Refusal {
  constructor(readonly problems: readonly string[]) {
    super(
      problems.length === 1
        ? (problems[0] as string)
        : `invalid stack config:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

/** Reads one key's raw value as Pulumi stores it: structured values arrive as JSON text. */
export type ConfigReader = (key: string) => string | undefined;

export function problem(key: string, value: unknown, accepted: string): string {
  return `invalid config "${CONFIG_NAMESPACE}:${key}": ${JSON.stringify(value)} is not accepted; expected ${accepted}`;
}

/** Reads keys and collects what is wrong with them, in the order they are read. */
export interface KeyReader {
  readonly read: ConfigReader;
  readonly problems: string[];
  /** Every key asked for, set or not: the settings (`STACK_SETTINGS`). */
  readonly asked: Set<string>;
  /** The keys asked for as structured values (maps and lists). */
  readonly structured: Set<string>;
  /** A value matching `pattern`, else the fallback when unset. */
  text(key: string, fallback: string, pattern: RegExp, accepted: string): string;
  bool(key: string, fallback: boolean): boolean;
  /** A structured value (a list or map), parsed; a plain string stays one, for the caller to report. */
  json(key: string): unknown;
  /** A whole number from `min` to `max`, else the fallback when unset. */
  count(key: string, fallback: string, min: number, max: number, accepted: string): number;
}

export function keyReader(readValue: ConfigReader): KeyReader {
  const problems: string[] = [];
  const asked = new Set<string>();
  const structured = new Set<string>();
  const read = (key: string) => {
    asked.add(key);
    return readValue(key);
  };
  return {
    read,
    problems,
    asked,
    structured,
    text(key, fallback, pattern, accepted) {
      const value = read(key) ?? fallback;
      if (!pattern.test(value)) problems.push(problem(key, value, accepted));
      return value;
    },
    bool(key, fallback) {
      const value = read(key);
      if (value === undefined) return fallback;
      if (value === "true") return true;
      if (value === "false") return false;
      problems.push(problem(key, value, "true or false"));
      return fallback;
    },
    json(key) {
      structured.add(key);
      const value = read(key);
      if (value === undefined) return undefined;
      try {
        return JSON.parse(value);
      } catch {
        return value;
      }
    },
    count(key, fallback, min, max, accepted) {
      const raw = read(key) ?? fallback;
      const value = Number(raw);
      if (!/^[0-9]+$/.test(raw) || value < min || value > max) {
        problems.push(problem(key, raw, accepted));
      }
      return value;
    },
  };
}

export const isMap = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** A key holding a map of service name to a string value, and how each part is judged. */
export interface ServiceMapSpec {
  /** What the key holds, for a value that is no map. */
  readonly map: string;
  readonly names: readonly string[];
  /** What a name must be, for one that is not among `names`. */
  readonly namesAre: string;
  /** What a value must be, for one that is not `valid`. */
  readonly accepted: string;
  readonly valid: (value: string) => boolean;
}

/** A map keyed by service (`versions`, `healthPaths`): its good entries, a problem per bad one. */
export function serviceMap(
  keys: KeyReader,
  key: string,
  spec: ServiceMapSpec,
): Record<string, string> {
  const entries: Record<string, string> = {};
  const raw = keys.json(key);
  if (raw !== undefined && !isMap(raw)) keys.problems.push(problem(key, raw, spec.map));
  for (const [name, value] of Object.entries(isMap(raw) ? raw : {})) {
    if (!spec.names.includes(name)) {
      keys.problems.push(
        `invalid config "${CONFIG_NAMESPACE}:${key}": ${JSON.stringify(name)} is not ${spec.namesAre}; expected one of ${spec.names.join(", ")}`,
      );
    } else if (typeof value !== "string" || !spec.valid(value)) {
      keys.problems.push(problem(`${key}.${name}`, value, spec.accepted));
    } else {
      entries[name] = value;
    }
  }
  return entries;
}
