/**
 * BuildKit in the local cluster through buildx's kubernetes driver (scripts/kube-builder/try.sh):
 * a rootless BuildKit Deployment made from the toolchain's binaries, one platform of a fixture
 * built on it, and nothing of it left behind (namespace, builder, image tag).
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/stack";
import { makeTempDir } from "../support/tempDirs";
import { FIXTURES, KUBECONFIG, registryClient } from "./harness";

const run = promisify(execFile);
const TRY = path.join(REPO_ROOT, "scripts/kube-builder/try.sh");
/** ELF e_machine of x86-64. */
const EM_X86_64 = 0x3e;

function elfMachine(file: string): number {
  return fs.readFileSync(file).readUInt16LE(18);
}

describe("BuildKit in the local cluster (buildx kubernetes driver, rootless)", () => {
  it("builds the frontend's linux/amd64 on a BuildKit pod, then removes the namespace, builder and image", async () => {
    expect(KUBECONFIG, "BATTLESCOPE_KUBECONFIG (scripts/local-services.sh env)").not.toBe("");
    const out = path.join(makeTempDir("kube-builder"), "out");
    const started = Date.now();
    const { stdout, stderr } = await run(
      "bash",
      [TRY, path.join(FIXTURES, "frontend"), "linux/amd64", out],
      { cwd: REPO_ROOT, env: process.env, maxBuffer: 16 * 1024 * 1024, timeout: 5 * 60_000 },
    );
    const seconds = (Date.now() - started) / 1000;
    const namespace = /namespace (bk-try-[0-9a-f]{8}),/.exec(stderr)?.[1];
    expect(namespace, stderr).toBeDefined();

    // The build stage's RUN ran on the pod: its files for the target are in the output.
    expect(fs.readFileSync(path.join(out, "app/ARCH"), "utf8")).toBe("amd64\n");
    expect(JSON.parse(fs.readFileSync(path.join(out, "app/www/health"), "utf8"))).toEqual({
      service: "frontend",
      status: "ok",
      arch: "amd64",
    });
    expect(elfMachine(path.join(out, "bin/busybox"))).toBe(EM_X86_64);
    // The cluster's BuildKit recorded the build itself (buildx history, read through the pod).
    expect(stdout).toContain("builds recorded by the cluster BuildKit: 1\n");

    // Nothing left: the namespace (and the Deployment in it) and the pushed image tag.
    const namespaces = await run("kubectl", [
      "--kubeconfig",
      KUBECONFIG,
      "get",
      "namespaces",
      "-o",
      "jsonpath={.items[*].metadata.name}",
    ]);
    expect(namespaces.stdout.split(" ")).not.toContain(namespace);
    const tags = await registryClient()
      .listTags("bk-try/buildkit")
      .catch(() => [] as string[]);
    expect(tags).not.toContain(namespace);
    console.log(`kube-builder: ${seconds.toFixed(1)} s in all\n${stderr}`);
  });
});
