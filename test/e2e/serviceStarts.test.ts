/**
 * Every local service starts on the first try, however slow its process is to begin: the start
 * of each one (registry, BuildKit, the Hub emulator, etcd, the control plane, containerd and the
 * kubelet) is judged by scripts/local-services/daemon.sh, which never calls a process dead before
 * it ran. Proven twice: with every daemon held for a second between its fork and its exec, and by
 * 20 stop/start cycles with a dropped page cache and two CPU-bound processes beside them, 5 of
 * them from an empty local state (as on a fresh machine).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/stack";
import { makeTempDir } from "../support/tempDirs";

const SERVICES_SCRIPT = path.join(REPO_ROOT, "scripts/local-services.sh");
const DEFAULT_STATE =
  process.env.BATTLESCOPE_STATE ?? path.join(os.homedir(), ".cache/battlescope/local");
const CYCLES = 20;
/** Cycles (1-based) that start from an empty local state. */
const EMPTY_STATE_CYCLES = new Set([4, 8, 12, 16, 20]);
/** Every daemon the local services start, by the name its "ready in" line gives. */
const DAEMONS = [
  "registry",
  "buildkitd",
  "hub emulator",
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "containerd",
  "kubelet",
  "node (containerd + kubelet)",
];

interface Start {
  readonly ok: boolean;
  readonly output: string;
  /** Seconds from each daemon's start to its readiness. */
  readonly ready: Record<string, number>;
}

/** The state folder the running services belong to (stop must be given the same one). */
let runningState = DEFAULT_STATE;
const madeStates: string[] = [];
const burners: ChildProcess[] = [];

function services(state: string, args: string[], env: Record<string, string> = {}) {
  return new Promise<{ ok: boolean; output: string }>((resolve) => {
    execFile(
      "bash",
      [SERVICES_SCRIPT, ...args],
      { env: { ...process.env, BATTLESCOPE_STATE: state, ...env }, maxBuffer: 1 << 26 },
      (error, stdout, stderr) => resolve({ ok: !error, output: stdout + stderr }),
    );
  });
}

function readyTimes(text: string): Record<string, number> {
  const ready: Record<string, number> = {};
  for (const match of text.matchAll(
    /^(?:local-services|cluster|node): (.+) ready in (\d+\.\d)s$/gm,
  )) {
    const [, name = "", seconds = ""] = match;
    ready[name] = Number(seconds);
  }
  return ready;
}

/** The node's entry script logs containerd's and the kubelet's starts to node.log. */
function nodeLogSize(state: string): number {
  try {
    return fs.statSync(path.join(state, "cluster/logs/node.log")).size;
  } catch {
    return 0;
  }
}

function nodeLogSince(state: string, offset: number): string {
  try {
    return fs.readFileSync(path.join(state, "cluster/logs/node.log")).subarray(offset).toString();
  } catch {
    return "";
  }
}

async function stopAll(): Promise<void> {
  const stopped = await services(runningState, ["stop"]);
  if (!stopped.ok) throw new Error(`stop failed:\n${stopped.output}`);
}

async function start(state: string, env: Record<string, string> = {}): Promise<Start> {
  const offset = nodeLogSize(state);
  runningState = state;
  const started = await services(state, ["start"], env);
  const output = `${started.output}${nodeLogSince(state, offset)}`;
  return { ok: started.ok, output, ready: readyTimes(output) };
}

function dropPageCache(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("bash", ["-c", "sync; echo 3 >/proc/sys/vm/drop_caches"], (error) =>
      error ? reject(error) : resolve(),
    );
  });
}

function emptyState(): string {
  const state = makeTempDir("fresh-state");
  madeStates.push(state);
  return state;
}

describe("the local services' starts", () => {
  beforeAll(() => {
    for (let i = 0; i < 2; i++) {
      const burner = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
      burners.push(burner);
    }
  });

  afterAll(async () => {
    for (const burner of burners) burner.kill("SIGKILL");
    // The suites after this one use the services, from the usual state.
    if (runningState !== DEFAULT_STATE) await services(runningState, ["stop"]);
    for (const state of madeStates) fs.rmSync(state, { recursive: true, force: true });
    const restored = await start(DEFAULT_STATE);
    if (!restored.ok) throw new Error(`restoring the local services failed:\n${restored.output}`);
  }, 600_000);

  it("starts every daemon when each waits a second between its fork and its exec", async () => {
    await stopAll();
    const held = await start(DEFAULT_STATE, { BATTLESCOPE_DAEMON_START_DELAY: "1" });
    expect(held.output).not.toMatch(/did not become ready|exited with status/);
    expect(held.ok).toBe(true);
    const slow = DAEMONS.filter((name) => !((held.ready[name] ?? 0) >= 1));
    // Each daemon's start took at least the second it was held: the hold reached every one.
    expect(slow, held.output).toEqual([]);
    await stopAll();
    const plain = await start(DEFAULT_STATE);
    expect(plain.ok, plain.output).toBe(true);
  });

  /** The cluster's binaries with kube-scheduler replaced by a script of the test's. */
  function binariesWithScheduler(script: string): string {
    const cache = process.env.BATTLESCOPE_CACHE ?? path.join(os.homedir(), ".cache/battlescope");
    const real = path.dirname(fs.realpathSync(path.join(cache, "bin", "kubectl")));
    const bin = makeTempDir("cluster-bin");
    for (const name of fs.readdirSync(real)) {
      if (name !== "kube-scheduler") fs.symlinkSync(path.join(real, name), path.join(bin, name));
    }
    fs.writeFileSync(path.join(bin, "kube-scheduler"), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    return bin;
  }

  async function clusterStartWith(script: string, timeout: string): Promise<string> {
    await services(DEFAULT_STATE, ["stop", "cluster"]);
    const begun = Date.now();
    const failed = await services(DEFAULT_STATE, ["start-cluster"], {
      BATTLESCOPE_CLUSTER_BIN: binariesWithScheduler(script),
      BATTLESCOPE_START_TIMEOUT: timeout,
    });
    const seconds = (Date.now() - begun) / 1000;
    await services(DEFAULT_STATE, ["stop", "cluster"]);
    const restored = await services(DEFAULT_STATE, ["start-cluster"]);
    expect(restored.ok, restored.output).toBe(true);
    expect(failed.ok).toBe(false);
    return `${failed.output}\n(took ${seconds < 60 ? "under a minute" : "a minute or more"})`;
  }

  it("a daemon that exits at start is reported as exited, with its status and its log, at once", async () => {
    const output = await clusterStartWith(
      'echo "flag provided but not defined: -bogus" >&2; exit 2',
      "120",
    );
    expect(output).toMatch(
      /^cluster: kube-scheduler exited with status 2 after \d+\.\ds \(pid \d+\); last lines of \/.*\/cluster\/logs\/kube-scheduler\.log:\n(?: {2}.*\n)* {2}flag provided but not defined: -bogus\n/m,
    );
    expect(output).not.toContain("did not become ready");
    expect(output).toContain("(took under a minute)");
  });

  it("a daemon that never answers is reported as a deadline, with how long it waited and the last probe", async () => {
    const output = await clusterStartWith("exec sleep 600", "20");
    expect(output).toMatch(
      /^cluster: kube-scheduler did not become ready within 20s \(waited 2\d\.\ds; last probe: \(7\) Failed to connect to 127\.0\.0\.1 port 10259 after \d+ ms: Couldn't connect to server\); last lines of \/.*\/kube-scheduler\.log:$/m,
    );
    expect(output).not.toContain("exited with status");
  });

  it(
    `passes ${CYCLES} stop/start cycles with a dropped page cache and the CPU loaded, ${EMPTY_STATE_CYCLES.size} of them from an empty state`,
    async () => {
      const failures: string[] = [];
      const times: Record<string, number[]> = {};
      for (let cycle = 1; cycle <= CYCLES; cycle++) {
        await stopAll();
        if (runningState !== DEFAULT_STATE) {
          fs.rmSync(runningState, { recursive: true, force: true });
        }
        await dropPageCache();
        const state = EMPTY_STATE_CYCLES.has(cycle) ? emptyState() : DEFAULT_STATE;
        const begun = Date.now();
        const result = await start(state);
        const seconds = ((Date.now() - begun) / 1000).toFixed(1);
        const fresh = state === DEFAULT_STATE ? "" : " (empty state)";
        if (!result.ok) {
          failures.push(
            `cycle ${cycle}${fresh}:\n${result.output.split("\n").slice(-40).join("\n")}`,
          );
        }
        for (const [name, value] of Object.entries(result.ready)) {
          if (!times[name]) times[name] = [];
          times[name].push(value);
        }
        console.log(`cycle ${cycle}${fresh}: ${result.ok ? "started" : "FAILED"} in ${seconds} s`);
      }
      const rows = Object.entries(times).map(
        ([name, values]) =>
          `${name.padEnd(30)} ${String(values.length).padStart(6)} ${Math.max(...values)
            .toFixed(1)
            .padStart(8)} s`,
      );
      console.log(
        [
          `${CYCLES} cycles, ${failures.length} failed`,
          `${"daemon".padEnd(30)} ${"starts".padStart(6)} ${"slowest".padStart(10)}`,
          ...rows,
        ].join("\n"),
      );
      expect(failures).toEqual([]);
      for (const name of DAEMONS) expect(times[name], name).toHaveLength(CYCLES);
    },
    60 * 60_000,
  );
});
