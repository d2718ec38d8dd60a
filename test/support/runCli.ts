import { Command } from "commander";
import { runCli } from "../../cli/main";
import { type CliIo, runProgram } from "../../cli/shared";

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function capture() {
  const out = { stdout: "", stderr: "" };
  const io: CliIo = {
    stdout: (text) => {
      out.stdout += text;
    },
    stderr: (text) => {
      out.stderr += text;
    },
  };
  return { out, io };
}

/** Runs the real command line in-process, as `battlescope-images <argv>` would, capturing its output. */
export async function cli(...argv: string[]): Promise<CliRun> {
  const { out, io } = capture();
  const code = await runCli(argv, io);
  return { code, ...out };
}

/**
 * Runs one subcommand registered with injected dependencies (HTTP, sleep, environment), with the
 * command line's own exit-code mapping.
 */
export async function cliWith<D>(
  register: (program: Command, io: CliIo, deps: D) => Command,
  deps: D,
  argv: readonly string[],
): Promise<CliRun> {
  const { out, io } = capture();
  const program = new Command("battlescope-images")
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();
  register(program, io, deps);
  const code = await runProgram(program, argv, io);
  return { code, ...out };
}
