/**
 * The release program, in three steps:
 *
 *   read    (release/read.ts)    the config, secrets, files and registries, checked as they are read
 *   plan    (release/plan.ts)    pure: each image's version, tags and reuse, and the stack's settings
 *   declare (release/declare.ts) the components the plan names, and the stack's outputs
 *
 * `pulumi up` runs it through Pulumi.yaml (index.ts); the Automation API runner (scripts/stack.ts)
 * passes it as an inline program and reads a stack's config through the same read step.
 */
import * as path from "node:path";
import { declarePlan } from "./release/declare";
import { programInputs } from "./release/inputs";
import { planRelease } from "./release/plan";
import { type ProgramInputs, readRelease } from "./release/read";
import { asPulumiError } from "./release/refusal";

export type { ProgramInputs } from "./release/read";

/** Reads, plans and declares the release; tests give their own inputs. */
export async function declareRelease(inputs: ProgramInputs): Promise<Record<string, unknown>> {
  const facts = await readRelease(inputs);
  return declarePlan(planRelease(facts));
}

/**
 * The stack's program, run by an engine working in `engineDir` (the stack's work dir, where its
 * providers start): relative config paths resolve against the project root. A refusal (bad
 * config, a Dockerfile rule, a version tag holding other content) ends it as a Pulumi error
 * naming the problems, without a stack trace (release/refusal.ts).
 */
export function releaseProgramIn(engineDir: string): () => Promise<Record<string, unknown>> {
  return async () => {
    try {
      return await declareRelease(programInputs(path.resolve(__dirname), engineDir));
    } catch (error) {
      throw asPulumiError(error);
    }
  };
}
