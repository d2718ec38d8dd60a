/**
 * What every rule of the pack shares: the plain values rules read (the engine's properties copied
 * by {@link toPlain}, unknowns as {@link UNKNOWN}), the shape of a rule and of a violation, and
 * small readers over plain values.
 *
 * Nothing here imports `@pulumi/*`: the pack (index.ts) turns the engine's properties into plain
 * values and reports what the rules return; the unit tests call the rules directly with tables.
 */

/** A value not known during preview. */
export const UNKNOWN: unique symbol = Symbol.for("battlescope.policy.unknown");

/** One resource as a rule sees it: plain properties, unknowns as {@link UNKNOWN}. */
export interface RuleResource {
  readonly type: string;
  readonly name: string;
  readonly urn?: string;
  readonly props: unknown;
}

export interface Violation {
  readonly message: string;
  /** The resource the violation is about, for stack rules. */
  readonly urn?: string;
}

interface RuleBase {
  /** The policy name shown by `pulumi preview` (letters, digits, `-`). */
  readonly name: string;
  readonly description: string;
}

export interface ResourceRule extends RuleBase {
  readonly kind: "resource";
  /** Resource types the rule applies to. */
  readonly types: readonly string[];
  check(resource: RuleResource): Violation[];
}

export interface StackRule extends RuleBase {
  readonly kind: "stack";
  check(resources: readonly RuleResource[]): Violation[];
}

export type Rule = ResourceRule | StackRule;

/**
 * A deep plain copy of a value read through accessors that may throw for unknown values (the
 * policy SDK's proxies): every value whose read throws an error `isUnknownError` accepts becomes
 * {@link UNKNOWN}; other errors propagate.
 */
export function toPlain(value: unknown, isUnknownError: (error: unknown) => boolean): unknown {
  if (value === null || typeof value !== "object") return value;
  const read = (container: Record<string | number, unknown>, key: string | number): unknown => {
    try {
      return toPlain(container[key], isUnknownError);
    } catch (error) {
      if (isUnknownError(error)) return UNKNOWN;
      throw error;
    }
  };
  const source = value as Record<string | number, unknown>;
  if (Array.isArray(value)) {
    return Array.from({ length: value.length }, (_, i) => read(source, i));
  }
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = read(source, key);
  return copy;
}

export type Plain = Record<string, unknown>;

export function isObject(value: unknown): value is Plain {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The value at `path`, UNKNOWN when a step on the way is unknown, undefined when absent. */
export function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === UNKNOWN) return UNKNOWN;
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

export function quote(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** The strings of a list, UNKNOWN when the list or one of its entries is unknown. */
export function stringList(value: unknown): string[] | typeof UNKNOWN {
  if (value === UNKNOWN) return UNKNOWN;
  if (!Array.isArray(value)) return [];
  if (value.includes(UNKNOWN)) return UNKNOWN;
  return value.filter((entry): entry is string => typeof entry === "string");
}
