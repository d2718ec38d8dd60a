/**
 * What one benchmark step costs: wall time, the registry requests and bytes in its window of the
 * access log (charged to its organization), CPU seconds by process, and the engine's per-resource
 * timeline. Every sample is kept in {@link samples} and appended to bench/out/samples.jsonl.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { REGISTRY } from "../scripts/e2eStack";
import { procStatFields } from "../scripts/procStat";
import { ACCESS_LOG, inOrganization, logSize, readLog } from "../scripts/registryAccessLog";
import * as accessLog from "./accessLog";
import { formatBytes } from "./format";

/** Raw samples, engine logs and traces. */
export const OUT = path.join(__dirname, "out");

// ------------------------------------------------------------------ samples

export interface Span {
  readonly type: string;
  readonly op: string;
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

/** What the engine's event stream says about an update, in ms from the command's start. */
export interface Profile {
  readonly firstEvent: number;
  readonly firstResource: number;
  readonly lastResource: number;
  /** The engine's summary event: the update is over (state written); then the CLI exits. */
  readonly summary: number;
  readonly end: number;
  readonly spans: readonly Span[];
  readonly ops: Record<string, number>;
}

export interface Sample {
  readonly run: number;
  readonly scenario: string;
  readonly organization: string;
  readonly wallMs: number;
  readonly requests: accessLog.RequestCounts;
  readonly totalRequests: number;
  /** `/v2/` pings and base image requests in the window (shared with other registry users). */
  readonly unscopedRequests: number;
  readonly bytes: accessLog.UploadedBytes;
  /** Requests and completed blob uploads per client (user agent). */
  readonly clients: Record<string, { requests: number; blobUploads: number; manifestPuts: number }>;
  readonly profile?: Profile;
  /** CPU seconds in the window, by who spent them (see {@link cpuSnapshot}). */
  readonly cpu: Cpu;
}

/** Every sample of this run, in the order taken. */
export const samples: Sample[] = [];
/** The 1-minute load average, sampled every 5 s during the run. */
export const loads: number[] = [];

export function say(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a step and charges it with the organization's registry traffic in its window. */
export async function measure(
  run: number,
  scenario: string,
  organization: string,
  step: () => Promise<Profile | undefined>,
): Promise<Sample> {
  const startMark = logSize(ACCESS_LOG);
  const cpuBefore = cpuSnapshot();
  const started = performance.now();
  const profile = await step();
  const wallMs = performance.now() - started;
  const cpu = cpuSince(cpuBefore);
  // The registry logs a request after answering it: let the last lines land.
  await sleep(500);
  const window = readLog(ACCESS_LOG, startMark, logSize(ACCESS_LOG));
  const own = inOrganization(window, organization);
  const requests = accessLog.countRequests(own);
  const clients: Sample["clients"] = {};
  for (const entry of own) {
    const name = accessLog.client(entry.agent);
    const row = clients[name] ?? { requests: 0, blobUploads: 0, manifestPuts: 0 };
    row.requests++;
    clients[name] = row;
  }
  for (const upload of accessLog.completedUploads(own)) {
    const row = clients[accessLog.client(upload.agent)];
    if (row !== undefined) row.blobUploads++;
  }
  for (const write of accessLog.manifestWrites(own)) {
    const row = clients[accessLog.client(write.agent)];
    if (row !== undefined) row.manifestPuts++;
  }
  const sample: Sample = {
    run,
    scenario,
    organization,
    wallMs,
    requests,
    totalRequests: accessLog.total(requests),
    unscopedRequests: accessLog.unscoped(window).length,
    bytes: await accessLog.uploadedBytes(REGISTRY, own),
    clients,
    ...(profile === undefined ? {} : { profile }),
    cpu,
  };
  samples.push(sample);
  fs.appendFileSync(path.join(OUT, "samples.jsonl"), `${JSON.stringify(sample)}\n`);
  say(
    `run ${run} ${scenario}: ${(wallMs / 1000).toFixed(1)} s, ${sample.totalRequests} requests, ${sample.bytes.blobUploads} blob uploads (${formatBytes(sample.bytes.blobBytes)}); CPU s: bench ${cpu.bench.toFixed(1)}, tools ${cpu.tools.toFixed(1)}, buildkitd ${cpu.buildkitd.toFixed(1)}, registry ${cpu.registry.toFixed(1)}`,
  );
  return sample;
}

// ------------------------------------------------------------------ CPU accounting

/**
 * CPU seconds spent so far by: this process (the inline program, the Hub emulator, the bench),
 * its exited descendants (the pulumi CLI with its plugins and providers, or the baseline's
 * docker/buildx commands: a reaped child's time, with its own reaped children's, lands in its
 * parent's cutime/cstime), and the shared buildkitd (with its runc steps) and registry daemons,
 * whose figures include any other user's work in the same window.
 */
export interface Cpu {
  bench: number;
  tools: number;
  buildkitd: number;
  registry: number;
}

const CLOCK_TICKS = 100;

function statTicks(pid: string | number): { self: number; children: number } | undefined {
  const fields = procStatFields(pid);
  if (fields === undefined) return undefined;
  // utime 14, stime 15, cutime 16, cstime 17
  const at = (field: number) => Number(fields[field - 3] ?? 0);
  return { self: at(14) + at(15), children: at(16) + at(17) };
}

/** The pid a daemon's pid file names (scripts/local-services/daemon.sh writes the pid, then its start time). */
function daemonPid(name: string): string | undefined {
  const state = process.env.BATTLESCOPE_STATE ?? "";
  try {
    return fs.readFileSync(path.join(state, name), "utf8").trim().split(/\s+/)[0];
  } catch {
    return undefined;
  }
}

function cpuSnapshot(): Cpu {
  const own = statTicks("self") ?? { self: 0, children: 0 };
  const daemon = (file: string) => {
    const pid = daemonPid(file);
    const ticks = pid === undefined ? undefined : statTicks(pid);
    return ticks === undefined ? 0 : (ticks.self + ticks.children) / CLOCK_TICKS;
  };
  return {
    bench: own.self / CLOCK_TICKS,
    tools: own.children / CLOCK_TICKS,
    buildkitd: daemon("buildkit/buildkitd.pid"),
    registry: daemon("registry/registry.pid"),
  };
}

function cpuSince(before: Cpu): Cpu {
  const now = cpuSnapshot();
  return {
    bench: now.bench - before.bench,
    tools: now.tools - before.tools,
    buildkitd: now.buildkitd - before.buildkitd,
    registry: now.registry - before.registry,
  };
}

export function profiler() {
  const started = performance.now();
  const open = new Map<string, { type: string; op: string; start: number }>();
  const spans: Span[] = [];
  const ops: Record<string, number> = {};
  let firstEvent = -1;
  let firstResource = -1;
  let lastResource = -1;
  let summary = -1;
  return {
    onEvent(event: EngineEvent): void {
      const now = performance.now() - started;
      if (firstEvent < 0) firstEvent = now;
      if (event.summaryEvent !== undefined) summary = now;
      const pre = event.resourcePreEvent?.metadata;
      if (pre !== undefined) {
        if (firstResource < 0) firstResource = now;
        ops[pre.op] = (ops[pre.op] ?? 0) + 1;
        open.set(pre.urn, { type: pre.type, op: pre.op, start: now });
      }
      const done = event.resOutputsEvent?.metadata;
      if (done !== undefined) {
        lastResource = now;
        const begun = open.get(done.urn);
        if (begun !== undefined) {
          open.delete(done.urn);
          spans.push({
            ...begun,
            name: done.urn.slice(done.urn.lastIndexOf("::") + 2),
            end: now,
          });
        }
      }
    },
    profile(): Profile {
      return {
        firstEvent,
        firstResource,
        lastResource,
        summary,
        end: performance.now() - started,
        spans,
        ops,
      };
    },
  };
}
