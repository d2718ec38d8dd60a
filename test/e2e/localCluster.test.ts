/**
 * The local cluster leaves the host as it found it: `start` changes none of the host's sysctls,
 * and after `stop` no process, mount, network link or cgroup of the node is left.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { procStatFields } from "../../scripts/procStat";
import { REPO_ROOT } from "../../scripts/stack";

const run = promisify(execFile);
const SERVICES_SCRIPT = path.join(REPO_ROOT, "scripts/local-services.sh");
const SYSCTLS = [
  "vm/overcommit_memory",
  "kernel/panic",
  "kernel/panic_on_oops",
  "net/ipv4/ip_forward",
  "net/bridge/bridge-nf-call-iptables",
];
/** Process names (`comm`, cut to 15 characters by the kernel) of the cluster's programs. */
const CLUSTER_PROGRAMS =
  /^(etcd|kube-apiserver|kube-controller|kube-scheduler|kubelet|containerd|containerd-shim|pause)$/;

interface HostView {
  readonly sysctls: Record<string, string>;
  readonly mounts: string[];
  readonly links: string[];
  readonly podCgroups: string[];
  readonly clusterProcesses: string[];
  readonly fixedPaths: string[];
}

function hostView(): HostView {
  const sysctls = Object.fromEntries(
    SYSCTLS.filter((name) => fs.existsSync(`/proc/sys/${name}`)).map((name) => [
      name,
      fs.readFileSync(`/proc/sys/${name}`, "utf8").trim(),
    ]),
  );
  // Mount points and file systems of this (the host's) mount namespace.
  const mounts = fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const fields = line.split(" ");
      return `${fields[4]} ${fields[fields.indexOf("-") + 1]}`;
    })
    .sort();
  const links = fs.readdirSync("/sys/class/net").sort();
  const podCgroups: string[] = [];
  for (const hierarchy of fs.readdirSync("/sys/fs/cgroup")) {
    const dir = path.join("/sys/fs/cgroup", hierarchy);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const entry of fs.readdirSync(dir)) {
      if (entry === "k8s.io" || entry.startsWith("kubepods"))
        podCgroups.push(path.join(dir, entry));
    }
  }
  const clusterProcesses = fs
    .readdirSync("/proc")
    .filter((entry) => /^[0-9]+$/.test(entry))
    .flatMap((pid) => {
      try {
        // An exited process waits as a zombie until init reaps it (about 2 s on these VMs): it
        // has stopped, and holds nothing but its pid.
        const state = procStatFields(pid)?.[0];
        if (state === undefined || state === "Z" || state === "X") return [];
        const comm = fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
        return CLUSTER_PROGRAMS.test(comm) ? [`${pid} ${comm}`] : [];
      } catch {
        return [];
      }
    });
  const fixedPaths = [
    "/var/lib/kubelet",
    "/var/lib/cni",
    "/var/log/pods",
    "/var/log/containers",
  ].filter((dir) => fs.existsSync(dir));
  return { sysctls, mounts, links, podCgroups, clusterProcesses, fixedPaths };
}

async function services(...args: string[]): Promise<string> {
  const { stdout, stderr } = await run("bash", [SERVICES_SCRIPT, ...args], { maxBuffer: 1 << 24 });
  return stdout + stderr;
}

describe("the local cluster on the host", () => {
  afterAll(async () => {
    // The suites after this one use the cluster.
    await services("start-cluster");
  });

  it("changes no host sysctl while it runs and leaves nothing behind when it stops", async () => {
    await services("stop", "cluster");
    const before = hostView();
    expect(before.clusterProcesses).toEqual([]);

    const started = Date.now();
    await services("start-cluster");
    const startSeconds = (Date.now() - started) / 1000;
    const running = hostView();
    // The node's kernel defaults are bind-mounted in its own mount namespace only.
    expect(running.sysctls).toEqual(before.sysctls);
    const names = new Set(running.clusterProcesses.map((entry) => entry.split(" ")[1]));
    expect([...names].sort()).toEqual(
      expect.arrayContaining([
        "containerd",
        "etcd",
        "kube-apiserver",
        "kube-controller",
        "kube-scheduler",
        "kubelet",
      ]),
    );
    expect(running.mounts).toEqual(before.mounts);
    const status = await services("status");
    expect(status).toMatch(/node \(containerd\+kubelet\)\s+up .*node localhost Ready/);

    const stopping = Date.now();
    await services("stop", "cluster");
    const stopSeconds = (Date.now() - stopping) / 1000;
    const after = hostView();
    expect(after).toEqual(before);
    expect(after.links).not.toContain("bscope0");
    expect(after.podCgroups).toEqual([]);
    console.log(`cluster start ${startSeconds.toFixed(1)} s, stop ${stopSeconds.toFixed(1)} s`);
  });
});
