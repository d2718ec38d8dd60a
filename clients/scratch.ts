/**
 * Scratch folders of the program and the scripts: `battlescope-<label>-XXXXXX` in the temporary
 * directory for the length of one piece of work, removed when it ends, also when it throws. And
 * when the process is stopped meanwhile: the engine stops a dynamic provider with SIGINT (then
 * SIGKILL 5 s later) when an update fails, while other resources' signing is still in flight, and
 * Node's default for SIGINT and SIGTERM is to exit without running `finally`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
const live = new Set<string>();

function removeLive(): void {
  for (const dir of live) fs.rmSync(dir, { recursive: true, force: true });
  live.clear();
}

/** Removes the live folders, then lets the signal do what it would have done without this. */
function onStopSignal(signal: NodeJS.Signals): void {
  removeLive();
  uninstall();
  // Another listener handles the signal as it would have; with none, the process dies of it.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  for (const signal of STOP_SIGNALS) process.on(signal, onStopSignal);
  process.on("exit", removeLive);
}

function uninstall(): void {
  for (const signal of STOP_SIGNALS) process.off(signal, onStopSignal);
  process.off("exit", removeLive);
}

/**
 * Runs `work` with a new empty folder and removes the folder after it. The process's handling of
 * stop signals changes only while a folder exists.
 */
export async function withScratchDir<T>(
  label: string,
  work: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `battlescope-${label}-`));
  if (live.size === 0) install();
  live.add(dir);
  try {
    return await work(dir);
  } finally {
    live.delete(dir);
    if (live.size === 0) uninstall();
    // Retries: a process the work started and gave up on may still be writing there.
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}
