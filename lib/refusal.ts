/**
 * The program's refusals: bad input it declines before anything happens (a bad config key, a
 * missing secret, a Dockerfile rule, a version tag that holds other content), and a registry,
 * Hub, API server or signing tool that says no while the release is read (release/read.ts).
 * Each names what to fix, so the program reports it as a Pulumi error, without a stack trace
 * (program.ts).
 */

/** What the program declines; its message says what is wrong and what to do. */
export class Refusal extends Error {}

/** A problem found in one service's sources or tags. */
export interface ServiceProblem {
  readonly service: string;
  readonly text: string;
}

/** Stands for the service's name while problems are compared; no service name holds it. */
const SERVICE = "\u0000";

/** The service's name standing as a word: after a space, before a space or punctuation. */
const AS_WORD = new RegExp(`(?<=^|\\s)${SERVICE}(?=$|[\\s,;:)])`);

/**
 * Problems that read the same but for the service's name, folded into one line naming the
 * services, in the order they came: nine services missing their build context under one source
 * root are one problem. The first place the name stands as a word gets the list ("for frontend
 * and init"); the others, such as the name inside a path, read `<service>`. When the name stands
 * only inside other words (`/src/<service>/Dockerfile:4: ...`), the list follows the line.
 */
export function foldServiceProblems(problems: readonly ServiceProblem[]): string[] {
  const groups = new Map<string, string[]>();
  for (const { service, text } of problems) {
    const template = text.split(service).join(SERVICE);
    groups.set(template, [...(groups.get(template) ?? []), service]);
  }
  return [...groups].map(([template, services]) => {
    if (services.length === 1) return template.split(SERVICE).join(services[0]);
    const names = `${services.slice(0, -1).join(", ")} and ${services.at(-1)}`;
    if (!template.includes(SERVICE)) return `${template} (for ${names})`;
    if (AS_WORD.test(template)) {
      return template.replace(AS_WORD, names).split(SERVICE).join("<service>");
    }
    return `${template.split(SERVICE).join("<service>")} (<service>: ${names})`;
  });
}
