/**
 * How the program's refusals reach the engine (release/refusal.ts): as Pulumi's RunError, which
 * the language host prints as its message alone; faults keep their stack. The CLI's output is
 * checked end to end in test/e2e/refusal.test.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../lib/config";
import { releaseProgramIn } from "../../program";
import { parseServiceConfig, ReleaseRefusedError } from "../../release/plan";
import { asPulumiError, reportingRefusals } from "../../release/refusal";
import { exactly } from "../support/exactly";
import { mockRuntime } from "../support/pulumiMocks";

describe("asPulumiError", () => {
  it.each([
    {
      name: "bad config",
      error: new ConfigError(['missing config "battlescope:version"', "another"]),
      message: 'invalid stack config:\n  - missing config "battlescope:version"\n  - another',
    },
    {
      name: "a version tag holding other content",
      error: new ReleaseRefusedError(["refusing to overwrite a", "refusing to overwrite b"]),
      message: "refusing to overwrite a\nrefusing to overwrite b",
    },
  ])("makes a refusal ($name) a RunError with its message", ({ error, message }) => {
    const reported = asPulumiError(error);
    expect(pulumi.RunError.isInstance(reported)).toBe(true);
    expect((reported as Error).message).toBe(message);
  });

  it("leaves any other error as it is, stack and all", () => {
    const fault = new TypeError("cannot read properties of undefined");
    expect(asPulumiError(fault)).toBe(fault);
    expect(pulumi.RunError.isInstance(asPulumiError(fault))).toBe(false);
  });

  it("reports a check's refusal where a value is known (serviceConfig's apply)", () => {
    const parse = reportingRefusals(parseServiceConfig);
    expect(() => parse("{nope")).toThrow(
      exactly(
        'invalid config "battlescope:serviceConfig": not JSON; expected a JSON map of service name to a map of variable name to string value',
      ),
    );
    expect(() => parse("{nope")).toThrow(pulumi.RunError);
    expect(parse('{"frontend":{}}')).toEqual({ frontend: {} });
  });
});

describe("releaseProgram", () => {
  afterEach(() => pulumi.runtime.setAllConfig({}));

  it("refuses the stack's keys that are no settings, as a RunError, before anything is read", async () => {
    mockRuntime();
    pulumi.runtime.setAllConfig({
      "battlescope:version": "v3.0.0",
      "battlescope:sourceRoot": "fixtures/battlescope",
      "battlescope:rolloutTimout": "120",
      "battlescope:seal": "true",
      "kubernetes:context": "elsewhere",
    });
    const refusal = await releaseProgramIn(process.cwd())().catch((error: unknown) => error);
    expect(pulumi.RunError.isInstance(refusal)).toBe(true);
    expect((refusal as Error).message).toBe(
      [
        "invalid stack config:",
        "  - battlescope:rolloutTimout is not a setting; did you mean rolloutTimeout?",
        "  - battlescope:seal is not a setting (none is close; README.md#stacks-and-their-secrets lists them)",
      ].join("\n"),
    );
  });
});
