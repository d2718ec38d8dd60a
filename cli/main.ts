/**
 * The `battlescope-images` command line: one module per command (tags, readme, cleanup, verify, scan),
 * put together here. What the commands share is in cli/shared.ts.
 */
import { Command } from "commander";
import { registerCleanup } from "./cleanup";
import { registerReadme } from "./readme";
import { registerScan } from "./scan";
import { type CliIo, runProgram } from "./shared";
import { registerTags } from "./tags";
import { registerVerify } from "./verify";

export function buildProgram(io: CliIo): Command {
  const program = new Command("battlescope-images")
    .description("Tag plans, Docker Hub READMEs and registry checks for the BattleScope images")
    .showHelpAfterError(false)
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();
  registerTags(program, io);
  registerReadme(program, io);
  registerCleanup(program, io);
  registerVerify(program, io);
  registerScan(program, io);
  return program;
}

/** Runs the command line and returns its exit code; bad input is one line on stderr and code 2. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  return runProgram(buildProgram(io), argv, io);
}

/** The process entry point, used by `bin/battlescope-images.js` and `npm run images`. */
export function main(): void {
  runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  }).then((code) => {
    process.exitCode = code;
  });
}

if (require.main === module) main();
