/**
 * The BattleScope policy pack: `pulumi preview --stack prod --policy-pack policy`.
 *
 * Thin on purpose: every rule is a pure function (rules.ts lists them; unit-tested with tables);
 * this file only hands them the engine's resources as plain values and reports what they return.
 */
import {
  PolicyPack,
  type ResourceValidationPolicy,
  type StackValidationPolicy,
  UnknownValueError,
} from "@pulumi/policy";
import { RULES, type RuleResource, toPlain } from "./rules";

const isUnknown = (error: unknown): boolean => error instanceof UnknownValueError;

function plainResource(resource: {
  type: string;
  name: string;
  urn: string;
  props: Record<string, unknown>;
}): RuleResource {
  return {
    type: resource.type,
    name: resource.name,
    urn: resource.urn,
    props: toPlain(resource.props, isUnknown),
  };
}

const policies = RULES.map((rule): ResourceValidationPolicy | StackValidationPolicy =>
  rule.kind === "resource"
    ? {
        name: rule.name,
        description: rule.description,
        enforcementLevel: "mandatory",
        validateResource: (args, reportViolation) => {
          if (!rule.types.includes(args.type)) return;
          for (const violation of rule.check(plainResource(args))) {
            reportViolation(violation.message);
          }
        },
      }
    : {
        name: rule.name,
        description: rule.description,
        enforcementLevel: "mandatory",
        validateStack: (args, reportViolation) => {
          for (const violation of rule.check(args.resources.map(plainResource))) {
            reportViolation(violation.message, violation.urn);
          }
        },
      },
);

new PolicyPack("battlescope", { enforcementLevel: "mandatory", policies });
