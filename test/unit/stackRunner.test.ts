/**
 * How the Automation API runner (scripts/stack.ts) ends a failed engine command, and when the
 * inline program's error is left to the diagnostic the engine already printed
 * (scripts/inlineProgramErrors.ts). The whole output is checked in test/e2e/refusal.test.ts.
 */
import { describe, expect, it } from "vitest";
import { reportedByHandler } from "../../scripts/inlineProgramErrors";
import { engineFailureLine } from "../../scripts/stack";

/** A `CommandError`'s text, as the Automation API writes it (`CommandResult.toString`). */
const commandErrorText = (execaMessage: string) =>
  `code: -2\n stdout: \n stderr: ${execaMessage}\n err?: Error: ${execaMessage}\n`;

describe("engineFailureLine", () => {
  it.each([
    {
      name: "the engine ran and failed: its exit status, and where its error is",
      failure: commandErrorText(
        "Command failed with exit code 1: pulumi up --parallel 64 --color never --stack local --non-interactive\nerror: invalid stack config:\n  - a\n  - b\nUpdating (local):\nResources:",
      ),
      line: "pulumi up --stack local failed (exit 1): see the error above",
    },
    {
      name: "the CLI never ran: why, since nothing was printed",
      failure: commandErrorText(
        "Command failed with ENOENT: pulumi preview --stack dev\nspawn pulumi ENOENT",
      ),
      line: "pulumi preview --stack dev failed: Command failed with ENOENT: pulumi preview --stack dev",
    },
    {
      name: "a text of another form: its first line",
      failure: "something else\nand more",
      line: "pulumi refresh --stack dev failed: something else",
    },
  ])("$name", ({ failure, line }) => {
    const command = line.slice(0, line.indexOf(" failed"));
    expect(engineFailureLine(command, failure)).toBe(line);
  });
});

describe("reportedByHandler: the inline program's errors the engine has already printed", () => {
  const refusal = new Error("invalid stack config:\n  - a");
  const engineGone = Object.assign(new Error("14 UNAVAILABLE: No connection established"), {
    code: 14,
  });
  it.each([
    { name: "an error seen as an unhandled rejection", error: refusal, seen: [refusal], is: true },
    { name: "an error never seen: the engine is told", error: refusal, seen: [], is: false },
    {
      name: "another error than the one seen",
      error: new Error("invalid stack config:\n  - a"),
      seen: [refusal],
      is: false,
    },
    {
      name: "the engine's own gRPC failure, which the handler does not log",
      error: engineGone,
      seen: [engineGone],
      is: false,
    },
    { name: "no error", error: undefined, seen: [undefined], is: false },
  ])("$name", ({ error, seen, is }) => {
    expect(reportedByHandler(error, new Set<unknown>(seen))).toBe(is);
  });
});
