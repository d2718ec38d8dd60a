/**
 * An inline program's error, told once. The Automation API runs an inline program in this process
 * through the SDK's own language server (`@pulumi/pulumi/automation/server`), which reports the
 * program's error twice: its handler of unhandled rejections logs it as a diagnostic (a refusal's
 * `RunError` as its message alone, any other error with its stack), and its `Run` then answers the
 * engine with the same error, which the engine prints a second time. The CLI's language host does
 * not (scripts/toolchain/language-host: a program that has reported its error exits 32 and the
 * host answers `bail`); this makes the inline server answer alike. Only an error that handler has
 * logged during the run is answered with `bail`; any other answer goes to the engine as the SDK
 * made it, so an error is never lost. test/e2e/refusal.test.ts checks the runner's output.
 */
import * as languageServer from "@pulumi/pulumi/automation/server";
import { isGrpcError } from "@pulumi/pulumi/errors";
import { RunResponse } from "@pulumi/pulumi/proto/language_pb";

type RunCallback = (error: unknown, response?: unknown) => void;
type Run = (call: unknown, callback: RunCallback) => unknown;

/** The SDK's inline language server: internal, so its declaration file declares nothing. */
const { LanguageServer } = languageServer as unknown as {
  LanguageServer: { prototype: { run: Run } };
};

const INSTALLED = Symbol.for("battlescope.inlineProgramErrorsReportedOnce");

/**
 * Whether the engine already has the error as a diagnostic: the SDK's handler of unhandled
 * rejections logs every error it sees but the engine's own gRPC failures.
 */
export function reportedByHandler(error: unknown, unhandled: ReadonlySet<unknown>): boolean {
  return error instanceof Error && unhandled.has(error) && !isGrpcError(error);
}

/** Installs the answer for every inline run of this process; a second call does nothing. */
export function reportProgramErrorsOnce(): void {
  const prototype = LanguageServer.prototype as { run: Run; [INSTALLED]?: true };
  if (prototype[INSTALLED]) return;
  const run = prototype.run;
  prototype.run = function (this: unknown, call, callback) {
    // Listens beside the SDK's handler, which is installed for the run's length too.
    const unhandled = new Set<unknown>();
    const observe = (reason: unknown) => unhandled.add(reason);
    process.on("unhandledRejection", observe);
    let bailed = false;
    return run.call(this, call, (error, response) => {
      process.off("unhandledRejection", observe);
      // After an error the SDK calls back a second time, with the same error in the response.
      if (bailed) return;
      if (!reportedByHandler(error, unhandled)) {
        callback(error, response);
        return;
      }
      bailed = true;
      callback(null, new RunResponse().setBail(true));
    });
  };
  prototype[INSTALLED] = true;
}
