/**
 * The buildx builder of a stack's `builders`: one builder with a node per entry, made with
 * `buildx create` (then `--append`), in the buildx configuration the docker-build provider reads
 * (`$BUILDX_CONFIG`, else `${DOCKER_CONFIG:-~/.docker}/buildx`). Each node is asked for its
 * workers with `buildctl` before anything is built, so an unreachable node or a certificate that
 * does not match refuses the preview, naming the node and its address.
 */
import { execFile } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import {
  type BuilderNode,
  driverOf,
  type NodeTls,
  nodeBuilderName,
  nodePlatforms,
} from "../lib/config/builderKeys";
import { Refusal } from "../lib/refusal";
import type { Platform } from "../lib/vocabulary";

export interface NodesBuilder {
  /** The buildx builder's name. */
  readonly name: string;
  readonly nodes: readonly BuilderNode[];
  /** The release's platforms, each routed to one node (`nodePlatforms`). */
  readonly platforms: readonly Platform[];
  /** Each tcp node's mTLS material, by node name. */
  readonly tls: ReadonlyMap<string, NodeTls>;
}

/** The buildx configuration folder, as buildx finds it. */
export function buildxConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BUILDX_CONFIG !== undefined && env.BUILDX_CONFIG !== "") return env.BUILDX_CONFIG;
  return path.join(env.DOCKER_CONFIG ?? path.join(os.homedir(), ".docker"), "buildx");
}

/** Where a tcp node's certificate files live: buildx reads them by path at every build. */
export function tlsFiles(configDir: string, builder: string, node: string) {
  const dir = path.join(configDir, "battlescope-tls", builder, node);
  return {
    dir,
    ca: path.join(dir, "ca.pem"),
    cert: path.join(dir, "cert.pem"),
    key: path.join(dir, "key.pem"),
  };
}

/** The `buildx create` arguments of one node, in the builder `name`. */
function nodeCreate(
  spec: NodesBuilder,
  node: BuilderNode,
  name: string,
  platforms: readonly Platform[],
  append: boolean,
  configDir: string,
): string[] {
  const args = ["create", "--name", name, "--node", node.name];
  if (append) args.push("--append");
  if (platforms.length > 0) args.push("--platform", platforms.join(","));
  args.push("--driver", driverOf(node.endpoint));
  const { endpoint } = node;
  if (endpoint.kind === "kubernetes") {
    const opts = { namespace: endpoint.namespace, ...node.driverOpts };
    args.push(
      "--driver-opt",
      Object.entries(opts)
        .map(([key, value]) => `${key}=${value}`)
        .join(","),
    );
    return args;
  }
  if (endpoint.kind === "tcp") {
    const files = tlsFiles(configDir, spec.name, node.name);
    args.push(
      "--driver-opt",
      `cacert=${files.ca},cert=${files.cert},key=${files.key},servername=${endpoint.host}`,
    );
  }
  args.push(endpoint.address);
  return args;
}

/**
 * The `buildx create` argument lists: the builder of every node (the first node, then
 * `--append`s), where buildx itself routes each platform to the node created with it (for
 * `docker buildx build --builder <name>`), then a single-node builder per node, which the stack's
 * images name per platform (`nodeBuilderName`: the provider does not route by `--platform`).
 */
export function createCommands(spec: NodesBuilder, configDir: string): string[][] {
  const platformsOf = nodePlatforms(spec.nodes, spec.platforms);
  const routed = (node: BuilderNode) => platformsOf.get(node.name) ?? [];
  return [
    ...spec.nodes.map((node, index) =>
      nodeCreate(spec, node, spec.name, routed(node), index > 0, configDir),
    ),
    ...spec.nodes.map((node) =>
      nodeCreate(spec, node, nodeBuilderName(spec.name, node.name), routed(node), false, configDir),
    ),
  ];
}

/** Every builder `createCommands` makes. */
export function builderNames(spec: NodesBuilder): string[] {
  return [spec.name, ...spec.nodes.map((node) => nodeBuilderName(spec.name, node.name))];
}

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(binary: string, args: readonly string[], timeoutMs: number): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { encoding: "utf8", timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code === "string") {
        reject(
          new Refusal(
            error.code === "ENOENT"
              ? `${binary} is not installed: it was not found on PATH (bash scripts/toolchain.sh builds it)`
              : `${binary} could not start: ${error.message}`,
          ),
        );
        return;
      }
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr: error?.killed ? `${stderr}timed out` : stderr });
    });
  });
}

const BUILDX = () => process.env.BUILDX_BINARY ?? "docker-buildx";
const BUILDCTL = () => process.env.BUILDCTL_BINARY ?? "buildctl";

/** The text a failed command left, on one line: buildctl's `error: ...` without the prefix. */
function lastWords(ran: Ran): string {
  const text = `${ran.stderr}\n${ran.stdout}`.trim();
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  return (lines[lines.length - 1] ?? `exit ${ran.code}`).replace(/^error: /, "").trim();
}

const TLS_WORDS = /x509|tls:|certificate|handshake/i;

/** What is wrong with one node as buildctl found it (pure: the text of its failure). */
export function nodeProblem(node: BuilderNode, failure: string): string {
  const at = `builder node ${node.name} at ${node.endpoint.address}`;
  if (TLS_WORDS.test(failure)) {
    return `${at} refused the mTLS connection: ${failure} (check the secret builderTls.${node.name}: its CA must have signed the daemon's certificate, and the daemon's CA the client certificate)`;
  }
  return `${at} cannot be reached: ${failure}`;
}

/** A node's worker platforms, as `buildctl debug workers --format '{{json .}}'` prints them. */
export function workerPlatforms(json: string): string[] {
  const workers = JSON.parse(json) as Array<{
    platforms?: Array<{ os: string; architecture: string; variant?: string }>;
  }>;
  return workers.flatMap((worker) =>
    (worker.platforms ?? []).map(
      (p) => `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`,
    ),
  );
}

/** Network errors: the node is not reached at all, which buildctl then reports. */
const UNREACHED = new Set(["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ETIMEDOUT", "ECONNRESET"]);

/** What a TLS failure says, in words naming the secret to fix (pure). */
export function tlsFailure(node: string, code: string | undefined, message: string): string {
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(code ?? "");
  if (alert !== null) {
    const words = (alert[1] as string).toLowerCase().replace(/_/g, " ");
    return `the daemon refused the client certificate of builderTls.${node}.cert (TLS alert: ${words})`;
  }
  // Node adds a hint about the system's CA store after a ";": the stack's CA is the one to check.
  const reason = message.split(";")[0] as string;
  return `the daemon's certificate does not verify against builderTls.${node}.ca: ${reason}${code === undefined ? "" : ` (${code})`}`;
}

/**
 * A TLS handshake with a tcp node, kept open until the daemon's first HTTP/2 frame: a daemon that
 * refuses the client certificate says so with an alert before any frame (TLS 1.3 checks the
 * client's certificate after the client's handshake ends, so gRPC's own error for it varies
 * with timing). The problem when the certificates do not match; undefined otherwise, also when
 * the node is not reached (buildctl names that).
 */
function tlsProblem(
  node: BuilderNode & { endpoint: { kind: "tcp" } },
  files: ReturnType<typeof tlsFiles>,
): Promise<string | undefined> {
  const match = /:([0-9]+)$/.exec(node.endpoint.address);
  const port = Number(match?.[1]);
  return new Promise((resolve) => {
    let settled = false;
    const done = (problem: string | undefined) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(problem);
    };
    const socket = tls.connect({
      host: node.endpoint.host,
      port,
      servername: /^[0-9.:]+$/.test(node.endpoint.host) ? "" : node.endpoint.host,
      ca: fs.readFileSync(files.ca),
      cert: fs.readFileSync(files.cert),
      key: fs.readFileSync(files.key),
      ALPNProtocols: ["h2"],
      timeout: 10_000,
    });
    socket.on("secureConnect", () => {
      socket.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    });
    socket.on("data", () => done(undefined));
    socket.on("timeout", () => done(undefined));
    socket.on("close", () => done(undefined));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== undefined && UNREACHED.has(error.code)) return done(undefined);
      done(tlsFailure(node.name, error.code, error.message));
    });
  });
}

/** Asks one daemon for its workers; the problem when it does not answer or lacks a platform. */
async function probeNode(
  spec: NodesBuilder,
  node: BuilderNode,
  configDir: string,
): Promise<string | undefined> {
  if (node.endpoint.kind === "kubernetes") return undefined; // buildx starts the Deployment itself
  const args = ["--addr", node.endpoint.address, "--timeout", "10"];
  if (node.endpoint.kind === "tcp") {
    const files = tlsFiles(configDir, spec.name, node.name);
    const refused = await tlsProblem({ ...node, endpoint: node.endpoint }, files);
    if (refused !== undefined) {
      return `builder node ${node.name} at ${node.endpoint.address} refused the mTLS connection: ${refused}`;
    }
    args.push("--tlscacert", files.ca, "--tlscert", files.cert, "--tlskey", files.key);
    args.push("--tlsservername", node.endpoint.host);
  }
  const ran = await run(
    BUILDCTL(),
    [...args, "debug", "workers", "--format", "{{json .}}"],
    20_000,
  );
  if (ran.code !== 0) return nodeProblem(node, lastWords(ran));
  const has = workerPlatforms(ran.stdout);
  const missing = (nodePlatforms(spec.nodes, spec.platforms).get(node.name) ?? []).filter(
    (platform) => !has.includes(platform),
  );
  if (missing.length === 0) return undefined;
  return `builder node ${node.name} at ${node.endpoint.address} does not build ${missing.join(", ")}: its workers build ${has.join(", ")} (a platform under "emulates" needs QEMU registered on that machine)`;
}

/**
 * Makes (or keeps, when unchanged) the builder and checks every node answers; throws a Refusal
 * listing each node that does not. The certificates are written under the buildx configuration
 * (private to its owner), since buildx reads them by path at each build.
 */
export async function prepareNodesBuilder(spec: NodesBuilder): Promise<void> {
  const configDir = buildxConfigDir();
  for (const [node, tls] of spec.tls) {
    const files = tlsFiles(configDir, spec.name, node);
    fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(files.ca, tls.ca, { mode: 0o600 });
    fs.writeFileSync(files.cert, tls.cert, { mode: 0o600 });
    fs.writeFileSync(files.key, tls.key, { mode: 0o600 });
  }
  const commands = createCommands(spec, configDir);
  const names = builderNames(spec);
  const fingerprint = crypto.createHash("sha256").update(JSON.stringify(commands)).digest("hex");
  const stampFile = path.join(configDir, "battlescope-tls", spec.name, "builders.json");
  const stamp = fs.existsSync(stampFile)
    ? (JSON.parse(fs.readFileSync(stampFile, "utf8")) as { fingerprint: string; names: string[] })
    : { fingerprint: "", names: [] };
  const present = (name: string) => fs.existsSync(path.join(configDir, "instances", name));
  if (stamp.fingerprint !== fingerprint || !names.every(present)) {
    for (const name of new Set([...stamp.names, ...names])) {
      if (present(name)) await run(BUILDX(), ["rm", name], 60_000);
    }
    for (const args of commands) {
      const ran = await run(BUILDX(), args, 60_000);
      if (ran.code !== 0) {
        throw new Refusal(`buildx ${args.join(" ")} failed: ${lastWords(ran)}`);
      }
    }
    fs.mkdirSync(path.dirname(stampFile), { recursive: true, mode: 0o700 });
    fs.writeFileSync(stampFile, JSON.stringify({ fingerprint, names }));
  }
  const found = await nodeProblems(spec);
  if (found.length === 1) throw new Refusal(found[0] as string);
  if (found.length > 1) {
    throw new Refusal(`builder nodes:\n${found.map((line) => `  - ${line}`).join("\n")}`);
  }
}

/** Each node asked at once: the problem of every node that does not answer as it should. */
export async function nodeProblems(spec: NodesBuilder): Promise<string[]> {
  const configDir = buildxConfigDir();
  const problems = await Promise.all(spec.nodes.map((node) => probeNode(spec, node, configDir)));
  return problems.filter((problem): problem is string => problem !== undefined);
}

/**
 * After a failed `up`: the nodes that no longer answer, each with the release platforms routed
 * to it (their images are the ones that failed); empty when every node answers.
 */
export async function failedNodesReport(spec: NodesBuilder): Promise<string> {
  const routed = nodePlatforms(spec.nodes, spec.platforms);
  const lines = await Promise.all(
    spec.nodes.map(async (node) => {
      const problem = await probeNode(spec, node, buildxConfigDir());
      if (problem === undefined) return undefined;
      const platforms = routed.get(node.name) ?? [];
      return `${problem}${platforms.length === 0 ? "" : `; the release's ${platforms.join(", ")} images build on it`}`;
    }),
  );
  const found = lines.filter((line): line is string => line !== undefined);
  return found.length === 0
    ? ""
    : `builder nodes that do not answer:\n${found.map((line) => `  - ${line}`).join("\n")}`;
}
