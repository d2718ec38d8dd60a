/**
 * scripts/local-services/daemon.sh, the one way every local service is started and judged: a
 * start is never judged dead before its process ran, and each failure says what happened (the
 * process exited, with its status and its log's last lines; or the deadline passed, with how
 * long it waited and the last probe's answer).
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/stack";
import { makeTempDir } from "../support/tempDirs";

const DAEMON = path.join(REPO_ROOT, "scripts/local-services/daemon.sh");

interface Outcome {
  readonly status: number;
  readonly stderr: string;
  readonly seconds: number;
}

let dir = "";
const started: number[] = [];

beforeEach(() => {
  dir = makeTempDir("daemon");
});

afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs a bash script that sources daemon.sh, in the test's folder. */
function runScript(script: string, env: Record<string, string> = {}): Promise<Outcome> {
  const begun = Date.now();
  const full = `set -euo pipefail\nsay() { printf 'test: %s\\n' "$*" >&2; }\nsource '${DAEMON}'\ncd '${dir}'\n${script}\n`;
  return new Promise((resolve) => {
    execFile(
      "bash",
      ["-c", full],
      { env: { ...process.env, ...env }, timeout: 30_000 },
      (error, _stdout, stderr) => {
        const status = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ status, stderr, seconds: (Date.now() - begun) / 1000 });
      },
    );
  });
}

/** A port nothing listens on. */
async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function recordPid(): void {
  const text = fs.readFileSync(path.join(dir, "pid"), "utf8");
  started.push(Number(text.split(" ")[0]));
}

/** A one-line HTTP server in node: the daemon the tests start. */
function server(port: number): string {
  return `'${process.execPath}' -e 'require("http").createServer((q, s) => s.end("ok")).listen(${port}, "127.0.0.1")'`;
}

describe("daemon_start and daemon_wait", () => {
  it("a daemon that waits a second between its fork and its exec still starts", async () => {
    const port = await freePort();
    const outcome = await runScript(
      `daemon_start pid log ${server(port)}\ndaemon_wait web pid log 20 probe_http 200 http://127.0.0.1:${port}/`,
      { BATTLESCOPE_DAEMON_START_DELAY: "1" },
    );
    recordPid();
    expect(outcome.stderr).toMatch(/^test: web ready in (\d+\.\d)s$/m);
    const seconds = Number(/ready in (\d+\.\d)s/.exec(outcome.stderr)?.[1]);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(outcome.status).toBe(0);
  });

  it("the pid file names the process before its exec, and daemon_alive holds across the exec", async () => {
    const port = await freePort();
    const outcome = await runScript(
      [
        `daemon_start pid log ${server(port)}`,
        "daemon_alive pid && echo 'alive before exec' >&2",
        '[[ "$(readlink /proc/$(daemon_pid pid)/exe)" == */bash ]] || echo "exec happened too early" >&2',
        `daemon_wait web pid log 20 probe_http 200 http://127.0.0.1:${port}/`,
        "daemon_alive pid && echo 'alive after exec' >&2",
      ].join("\n"),
      { BATTLESCOPE_DAEMON_START_DELAY: "1" },
    );
    recordPid();
    expect(outcome.stderr).toContain("alive before exec");
    expect(outcome.stderr).not.toContain("exec happened too early");
    expect(outcome.stderr).toContain("alive after exec");
    expect(fs.readFileSync(path.join(dir, "pid"), "utf8")).toMatch(/^\d+ \d+ \d+\.\d+\n$/);
  });

  it("a daemon that exits at once is reported as exited, with its status and log, at once", async () => {
    const port = await freePort();
    const outcome = await runScript(
      `daemon_start pid log bash -c 'echo starting; echo "unknown flag: --bogus" >&2; exit 3'\n` +
        `daemon_wait fake pid log 120 probe_http 200 http://127.0.0.1:${port}/`,
    );
    expect(outcome.status).toBe(1);
    expect(outcome.stderr).toMatch(
      /^test: fake exited with status 3 after \d+\.\ds \(pid \d+\); last lines of log:\n {2}starting\n {2}unknown flag: --bogus\n$/,
    );
    expect(outcome.stderr).not.toContain("did not become ready");
    expect(outcome.seconds).toBeLessThan(20);
  });

  it("waits until the log has the last lines of a process that exited", async () => {
    const port = await freePort();
    const outcome = await runScript(
      `daemon_start pid log bash -c '(sleep 0.3; echo "written after the exit") & echo first; exit 2'\n` +
        `daemon_wait late pid log 120 probe_http 200 http://127.0.0.1:${port}/`,
    );
    expect(outcome.status).toBe(1);
    expect(outcome.stderr).toMatch(/late exited with status 2 after/);
    expect(outcome.stderr).toContain("  first\n  written after the exit\n");
  });

  it("a deadline that passed says how long it waited and what the last probe answered", async () => {
    const port = await freePort();
    const outcome = await runScript(
      `daemon_start pid log sleep 30\ndaemon_wait sleeper pid log 2 probe_http 200 http://127.0.0.1:${port}/`,
    );
    recordPid();
    expect(outcome.status).toBe(1);
    expect(outcome.stderr).toMatch(
      new RegExp(
        `^test: sleeper did not become ready within 2s \\(waited 2\\.\\ds; last probe: \\(7\\) Failed to connect to 127\\.0\\.0\\.1 port ${port} after \\d+ ms: Couldn't connect to server\\); last lines of log:\\n {2}\\(log is empty\\)\\n$`,
      ),
    );
    expect(outcome.stderr).not.toContain("exited");
  });

  it("a probe's HTTP answer is the last probe of a deadline", async () => {
    const port = await freePort();
    const outcome = await runScript(
      `daemon_start pid log ${server(port)}\ndaemon_wait picky pid log 2 probe_http 204 http://127.0.0.1:${port}/`,
    );
    recordPid();
    expect(outcome.stderr).toMatch(
      /picky did not become ready within 2s \(waited 2\.\ds; last probe: HTTP 200\)/,
    );
  });

  it("a daemon an earlier run started and that dies while waited on: status unknown, never a timeout", async () => {
    const port = await freePort();
    // The first run starts it and returns; the second finds it, waits, and sees it end.
    await runScript(`daemon_start pid log bash -c 'sleep 1; echo "giving up"; exit 5'`);
    const outcome = await runScript(
      `daemon_wait fake pid log 120 probe_http 200 http://127.0.0.1:${port}/`,
    );
    expect(outcome.status).toBe(1);
    expect(outcome.stderr).toMatch(
      /^test: fake exited with status unknown \(started by an earlier run\) after \d+\.\ds \(pid \d+\); last lines of log:\n {2}giving up\n$/,
    );
  });

  it("a pid file whose pid now belongs to another process is not alive", async () => {
    const outcome = await runScript(
      [
        // this shell's own pid with a start time it never had
        'echo "$$ 1 0" >pid',
        "daemon_alive pid && echo alive >&2 || echo 'not alive' >&2",
        // a pid file of an earlier version (pid alone) is judged by its command line (this
        // script's text is in it: the pattern is built at run time)
        'echo "$$" >old.pid',
        "daemon_alive old.pid bash && echo 'old alive' >&2 || true",
        "daemon_alive old.pid \"$(printf 'no-such-%s' program)\" || echo 'old not registry' >&2",
      ].join("\n"),
    );
    expect(outcome.stderr).toBe("not alive\nold alive\nold not registry\n");
  });
});
