/**
 * A BuildKit daemon of a test's own: its root, socket or TCP address, log and certificates in a
 * temporary folder, the local services' registry settings (their buildkitd.toml, root and
 * address replaced). The tests that kill a node mid-release, or give one certificates of their
 * own, use these rather than the local services' daemons, which other tests build on meanwhile.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildxConfigDir, tlsFiles } from "../../clients/buildxBuilder";
import { makeTempDir } from "./tempDirs";

const STATE = process.env.BATTLESCOPE_STATE ?? "";

export interface BuildkitNode {
  /** `unix:///.../buildkitd.sock` or `tcp://127.0.0.1:<port>`. */
  readonly address: string;
  readonly dir: string;
  /** The build records' platforms and exported image names, read from the daemon itself. */
  histories(): BuildRecord[];
  /** SIGKILL, as a machine that goes away. */
  kill(): void;
  /** Starts it again on the same root and address. */
  start(): Promise<void>;
  /** Stops it (SIGTERM, then SIGKILL) and unmounts what it left under its folder. */
  stop(): Promise<void>;
}

export interface BuildRecord {
  readonly platform: string;
  /** The image names the record's exporters pushed to. */
  readonly names: string[];
}

export interface NodeTlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** The local services' buildkitd.toml with this node's root and address. */
function nodeConfig(dir: string, address: string): string {
  const shared = fs.readFileSync(path.join(STATE, "buildkit/buildkitd.toml"), "utf8");
  return shared
    .replace(/^root = .*$/m, `root = "${path.join(dir, "root")}"`)
    .replace(/^(\s*)address = .*$/m, `$1address = [ "${address}" ]`)
    .replace(/^(\s*)snapshotter = .*$/m, '$1snapshotter = "native"');
}

function buildctl(address: string, tls: NodeTlsFiles | undefined, ...args: string[]): string {
  const tlsArgs =
    tls === undefined ? [] : ["--tlscacert", tls.ca, "--tlscert", tls.cert, "--tlskey", tls.key];
  return execFileSync("buildctl", ["--addr", address, "--timeout", "3", ...tlsArgs, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

async function waitReady(
  address: string,
  tls: NodeTlsFiles | undefined,
  child: ChildProcess,
  log: string,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      buildctl(address, tls, "debug", "workers");
      return;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `buildkitd on ${address} did not answer: ${String(error)}\n${fs.readFileSync(log, "utf8").slice(-2000)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/**
 * Mounts a killed daemon left: mount points under `dir`, and mounts of its snapshots elsewhere
 * (BuildKit mounts a snapshot at /tmp/buildkit-mount<n> while it reads an image's files),
 * deepest first. mountinfo's fourth field is the mounted root, its fifth the mount point.
 */
function mountsOf(dir: string): string[] {
  return fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" "))
    .filter(
      ([, , , root = "", point = ""]) => point.startsWith(`${dir}/`) || root.startsWith(`${dir}/`),
    )
    .map(([, , , , point = ""]) => point)
    .sort((a, b) => b.length - a.length);
}

/**
 * Starts a daemon on a socket in its folder, or on `tcp` (127.0.0.1:<port>) with the server's
 * certificate and the CA it checks clients against (`serverTls`; `clientTls` is what buildctl
 * uses to ask it).
 */
export async function startBuildkitNode(
  label: string,
  options: {
    tcpPort?: number;
    serverTls?: NodeTlsFiles;
    clientTls?: NodeTlsFiles;
    /** Its folder when not a test's temporary one (the bench's runs are no tests). */
    dir?: string;
  } = {},
): Promise<BuildkitNode> {
  const dir = options.dir ?? makeTempDir(label);
  const address =
    options.tcpPort === undefined
      ? `unix://${path.join(dir, "buildkitd.sock")}`
      : `tcp://127.0.0.1:${options.tcpPort}`;
  const config = path.join(dir, "buildkitd.toml");
  fs.writeFileSync(config, nodeConfig(dir, address));
  const log = path.join(dir, "buildkitd.log");
  const server = options.serverTls;
  const flags = [
    "--config",
    config,
    ...(server === undefined
      ? []
      : ["--tlscacert", server.ca, "--tlscert", server.cert, "--tlskey", server.key]),
  ];
  let child: ChildProcess | undefined;
  const start = async () => {
    const out = fs.openSync(log, "a");
    child = spawn("buildkitd", flags, { detached: true, stdio: ["ignore", out, out] });
    fs.closeSync(out);
    child.unref();
    await waitReady(address, options.clientTls, child, log);
  };
  const exited = (process: ChildProcess) =>
    process.exitCode !== null || process.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => process.once("exit", () => resolve()));
  const signal = (name: NodeJS.Signals) => {
    if (child?.pid !== undefined) {
      try {
        process.kill(-child.pid, name);
      } catch {
        // already gone
      }
    }
  };
  await start();
  return {
    address,
    dir,
    histories() {
      const text = buildctl(
        address,
        options.clientTls,
        "debug",
        "histories",
        "--format",
        "{{json .}}",
      );
      // One JSON object per line: {"record": {"FrontendAttrs": ..., "Exporters": ...}}.
      const records = text
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map(
          (line) =>
            JSON.parse(line) as {
              record: {
                FrontendAttrs?: Record<string, string>;
                Exporters?: Array<{ Attrs?: Record<string, string> }>;
              };
            },
        );
      return records.map((entry) => {
        const { record } = entry;
        return {
          platform: record.FrontendAttrs?.platform ?? "",
          names: (record.Exporters ?? []).flatMap((exporter) =>
            exporter.Attrs?.name === undefined ? [] : exporter.Attrs.name.split(","),
          ),
        };
      });
    },
    kill() {
      signal("SIGKILL");
    },
    start,
    async stop() {
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        signal("SIGTERM");
        const timer = setTimeout(() => signal("SIGKILL"), 10_000);
        await exited(child);
        clearTimeout(timer);
      }
      for (const mount of mountsOf(dir)) {
        execFileSync("umount", ["-l", mount]);
        if (!mount.startsWith(`${dir}/`)) fs.rmSync(mount, { recursive: true, force: true });
      }
    },
  };
}

/**
 * A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl in `dir`;
 * `otherCa` makes a second CA and a client certificate it signed (one the daemon does not trust).
 */
export function makeMtlsFiles(dir: string): {
  server: NodeTlsFiles;
  client: NodeTlsFiles;
  strangerClient: NodeTlsFiles;
} {
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) =>
    execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
  /** `openssl req` with a new P-256 key for `name`: a self-signed CA, or a signing request. */
  const newKey = (name: string, kind: "ca" | "request") =>
    openssl(
      "req",
      ...(kind === "ca" ? ["-x509", "-days", "2"] : []),
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      file(`${name}.key`),
      "-out",
      file(kind === "ca" ? `${name}.pem` : `${name}.csr`),
      "-subj",
      `/CN=${name}`,
    );
  const ca = (name: string) => newKey(name, "ca");
  const signed = (name: string, by: string, extensions: string) => {
    newKey(name, "request");
    fs.writeFileSync(file(`${name}.ext`), extensions);
    openssl(
      "x509",
      "-req",
      "-in",
      file(`${name}.csr`),
      "-CA",
      file(`${by}.pem`),
      "-CAkey",
      file(`${by}.key`),
      "-CAcreateserial",
      "-out",
      file(`${name}.pem`),
      "-days",
      "2",
      "-extfile",
      file(`${name}.ext`),
    );
  };
  ca("ca");
  ca("stranger-ca");
  signed("server", "ca", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  signed("client", "ca", "extendedKeyUsage=clientAuth\n");
  signed("stranger-client", "stranger-ca", "extendedKeyUsage=clientAuth\n");
  const pair = (name: string, caName: string) => ({
    ca: file(`${caName}.pem`),
    cert: file(`${name}.pem`),
    key: file(`${name}.key`),
  });
  return {
    server: pair("server", "ca"),
    client: pair("client", "ca"),
    strangerClient: pair("stranger-client", "stranger-ca"),
  };
}

/** Removes the buildx builders the read step made for `builders` (the builder and one per node). */
export function removeNodesBuilder(
  name: string,
  nodes: readonly string[] = ["amd64", "arm64"],
): void {
  for (const builder of [name, ...nodes.map((node) => `${name}-${node}`)]) {
    try {
      execFileSync("docker-buildx", ["rm", builder], { stdio: "ignore" });
    } catch {
      // never made
    }
  }
  fs.rmSync(path.dirname(tlsFiles(buildxConfigDir(), name, "x").dir), {
    recursive: true,
    force: true,
  });
}
