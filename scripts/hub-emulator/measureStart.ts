/**
 * How long a service takes from spawn until it says it listens: starts a command N times and
 * prints the milliseconds from spawn to its first stdout line containing "listening".
 *
 *   node scripts/hub-emulator/measureStart.ts 5 node scripts/hub-emulator/hubEmulatorMain.ts --port 0
 */
import { spawn } from "node:child_process";

async function once(command: readonly string[]): Promise<number> {
  const started = process.hrtime.bigint();
  const [file, ...args] = command as [string, ...string[]];
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("listening")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`exited with ${code} before listening: ${out}`)));
  });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
  return elapsed;
}

async function main(): Promise<void> {
  const [runs, ...command] = process.argv.slice(2);
  if (runs === undefined || !/^[1-9][0-9]*$/.test(runs) || command.length === 0) {
    process.stderr.write("usage: measureStart.ts <runs> <command> [args...]\n");
    process.exit(2);
  }
  const times: number[] = [];
  for (let i = 0; i < Number(runs); i++) times.push(await once(command));
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  process.stdout.write(
    `${times.map((t) => t.toFixed(0)).join(", ")} ms; median ${median.toFixed(0)} ms, max ${(sorted.at(-1) ?? 0).toFixed(0)} ms\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
