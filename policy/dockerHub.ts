/** The rule on what the stack writes to Docker Hub. */
import { field, quote, type RuleResource, type Violation } from "./plain";
import { lengthProblems, SHORT_DESCRIPTION_LIMIT } from "./vocabulary";

export function checkShortDescription(resource: RuleResource): Violation[] {
  const description = field(resource.props, "description");
  if (typeof description !== "string") return [];
  const [problem] = lengthProblems({ description });
  if (problem === undefined) return [];
  const namespace = field(resource.props, "namespace");
  const repository = field(resource.props, "repository");
  const fullName =
    typeof namespace === "string" && typeof repository === "string"
      ? ` ${namespace}/${repository}`
      : "";
  return [
    {
      message: `Docker Hub repository${fullName} (${quote(resource.name)}): ${problem.message}; fix: shorten the service's one-line description in services/catalog.ts ("BattleScope V3 - <Service Name> - <one line>" within ${SHORT_DESCRIPTION_LIMIT} bytes)`,
    },
  ];
}
