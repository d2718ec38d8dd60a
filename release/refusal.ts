/**
 * How the program's refusals (lib/refusal.ts) reach the engine: as Pulumi's `RunError`, which the
 * language host prints as its message alone, as one `error:` of the stack. Any other error is a
 * fault of the program and keeps Pulumi's report of an unhandled exception, with its stack.
 */
import * as pulumi from "@pulumi/pulumi";
import { Refusal } from "../lib/refusal";

/** A refusal as a `RunError` with the same message; any other error unchanged. */
export function asPulumiError(error: unknown): unknown {
  return error instanceof Refusal ? new pulumi.RunError(error.message) : error;
}

/** `check`, its refusals thrown as `RunError`s: for checks run where a value is known (`apply`). */
export function reportingRefusals<A extends unknown[], R>(
  check: (...args: A) => R,
): (...args: A) => R {
  return (...args) => {
    try {
      return check(...args);
    } catch (error) {
      throw asPulumiError(error);
    }
  };
}
