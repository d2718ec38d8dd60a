/**
 * `builders`: the BuildKit nodes the release builds on, one buildx builder with a node per entry
 * (clients/buildxBuilder.ts makes it). buildx routes each platform's build to the node created
 * with that platform (`--platform`), so a node lists the platforms it builds natively, and,
 * under `emulates`, those it can build under QEMU. A release platform goes to the first node
 * building it natively, else to the first node emulating it, else the release is refused: no
 * platform is left to buildx's guess (which would pick whichever node's workers report it).
 */
import { nearestWord } from "../spelling";
import { PLATFORMS, type Platform } from "../vocabulary";
import { CONFIG_NAMESPACE, isMap, type KeyReader, problem } from "./keyReader";

/** Where a node is: a BuildKit daemon over TCP (mTLS) or a socket, or a Deployment in a cluster. */
export type BuilderEndpoint =
  | { readonly kind: "tcp"; readonly address: string; readonly host: string }
  | { readonly kind: "unix"; readonly address: string }
  | { readonly kind: "kubernetes"; readonly address: string; readonly namespace: string };

export interface BuilderNode {
  /** The buildx node name; for a kubernetes node, the Deployment's name too (buildx's rule). */
  readonly name: string;
  readonly endpoint: BuilderEndpoint;
  /** The platforms it builds natively. */
  readonly platforms: readonly Platform[];
  /** The platforms it builds under emulation (QEMU on that machine). */
  readonly emulates: readonly Platform[];
  /** buildx kubernetes driver options (`--driver-opt`), kubernetes nodes only. */
  readonly driverOpts: Readonly<Record<string, string>>;
}

const NODE_FIELDS = ["name", "endpoint", "platforms", "emulates", "driverOpts"] as const;
const NODE_IS = '{"name": ..., "endpoint": ..., "platforms": [...], "emulates"?: [...]}';
const NODE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const NODE_NAME_IS = "a node name: lowercase letters, digits and dashes (a DNS label)";
const ENDPOINT_IS =
  "tcp://<host>:<port> (mTLS, certificates in the secret builderTls), unix:///<socket path> or kubernetes://<namespace>";
const TCP = /^tcp:\/\/(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;
const UNIX = /^unix:\/\/(\/[^\s]+)$/;
const KUBERNETES = /^kubernetes:\/\/([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)$/;
/** buildx's kubernetes driver options (driver/kubernetes/factory.go), less `namespace`. */
export const KUBERNETES_DRIVER_OPTS = [
  "image",
  "replicas",
  "requests.cpu",
  "requests.memory",
  "requests.ephemeral-storage",
  "persistent-volume-claim.requests.storage",
  "limits.cpu",
  "limits.memory",
  "limits.ephemeral-storage",
  "rootless",
  "schedulername",
  "serviceaccount",
  "nodeselector",
  "annotations",
  "labels",
  "tolerations",
  "loadbalance",
  "qemu.install",
  "qemu.image",
  "buildkit-root-volume-memory",
  "timeout",
] as const;

/** An endpoint as written, parsed; undefined when it is none of the accepted forms. */
export function parseEndpoint(text: string): BuilderEndpoint | undefined {
  const tcp = TCP.exec(text);
  if (tcp !== null) {
    const port = Number(tcp[2]);
    if (port < 1 || port > 65535) return undefined;
    return { kind: "tcp", address: text, host: (tcp[1] as string).replace(/^\[|\]$/g, "") };
  }
  if (UNIX.test(text)) return { kind: "unix", address: text };
  const kube = KUBERNETES.exec(text);
  if (kube !== null) return { kind: "kubernetes", address: text, namespace: kube[1] as string };
  return undefined;
}

/** The buildx driver a node's endpoint needs: one builder has one driver. */
export function driverOf(endpoint: BuilderEndpoint): "remote" | "kubernetes" {
  return endpoint.kind === "kubernetes" ? "kubernetes" : "remote";
}

/** A list of platforms of one node's field: the known ones kept, a problem per other. */
function platformList(
  keys: KeyReader,
  at: (path: string) => string,
  field: string,
  raw: unknown,
): Platform[] | undefined {
  const accepted = `a list of distinct platforms among ${PLATFORMS.join(", ")}`;
  if (!Array.isArray(raw)) {
    keys.problems.push(
      `invalid config ${at(field)}: ${JSON.stringify(raw)} is not accepted; expected ${accepted}`,
    );
    return undefined;
  }
  let ok = true;
  for (const platform of raw) {
    if ((PLATFORMS as readonly unknown[]).includes(platform)) continue;
    keys.problems.push(
      `invalid config ${at(field)}: ${JSON.stringify(platform)} is not a platform the stack builds; expected one of ${PLATFORMS.join(", ")}`,
    );
    ok = false;
  }
  if (ok && new Set(raw).size !== raw.length) {
    keys.problems.push(
      `invalid config ${at(field)}: ${JSON.stringify(raw)} is not accepted; expected ${accepted}`,
    );
    ok = false;
  }
  return ok ? (raw as Platform[]) : undefined;
}

/** One entry of `builders`: the node, or undefined after its problems. */
function nodeEntry(keys: KeyReader, entry: unknown, index: number): BuilderNode | undefined {
  const key = `builders[${index}]`;
  if (!isMap(entry)) {
    keys.problems.push(problem(key, entry, NODE_IS));
    return undefined;
  }
  const before = keys.problems.length;
  const { name } = entry;
  const nameOk = typeof name === "string" && NODE_NAME.test(name);
  const at = (path: string) =>
    `"${CONFIG_NAMESPACE}:${key}${path === "" ? "" : `.${path}`}"${nameOk ? ` (node ${name})` : ""}`;
  const invalid = (field: string, value: unknown, accepted: string) =>
    keys.problems.push(
      `invalid config ${at(field)}: ${JSON.stringify(value)} is not accepted; expected ${accepted}`,
    );
  const missing = (field: string, expected: string) =>
    keys.problems.push(`missing config ${at(field)}: expected ${expected}`);

  for (const field of Object.keys(entry)) {
    if ((NODE_FIELDS as readonly string[]).includes(field)) continue;
    const meant = nearestWord(field, NODE_FIELDS);
    keys.problems.push(
      `invalid config ${at("")}: ${JSON.stringify(field)} is not a field of a builder node; ${meant === undefined ? `expected one of ${NODE_FIELDS.join(", ")}` : `did you mean ${meant}?`}`,
    );
  }
  if (name === undefined) missing("name", NODE_NAME_IS);
  else if (!nameOk) invalid("name", name, NODE_NAME_IS);

  const endpointText = entry.endpoint;
  let endpoint: BuilderEndpoint | undefined;
  if (endpointText === undefined) missing("endpoint", ENDPOINT_IS);
  else {
    endpoint = typeof endpointText === "string" ? parseEndpoint(endpointText) : undefined;
    if (endpoint === undefined) invalid("endpoint", endpointText, ENDPOINT_IS);
  }

  if (entry.platforms === undefined) {
    missing("platforms", 'the platforms the node builds natively, e.g. ["linux/arm64"]');
  }
  const platforms =
    entry.platforms === undefined
      ? undefined
      : platformList(keys, at, "platforms", entry.platforms);
  const emulates =
    entry.emulates === undefined ? [] : platformList(keys, at, "emulates", entry.emulates);
  const both = (platforms ?? []).filter((p) => (emulates ?? []).includes(p));
  if (both.length > 0) {
    keys.problems.push(
      `invalid config ${at("emulates")}: ${both.join(", ")} is also among the node's native platforms; list a platform under one of them`,
    );
  }

  const driverOpts: Record<string, string> = {};
  const rawOpts = entry.driverOpts;
  if (rawOpts !== undefined) {
    if (endpoint !== undefined && endpoint.kind !== "kubernetes") {
      keys.problems.push(
        `invalid config ${at("driverOpts")}: driver options are for kubernetes:// nodes only (buildx's remote driver takes none but the certificates, which come from the secret builderTls)`,
      );
    } else if (!isMap(rawOpts)) {
      invalid("driverOpts", rawOpts, "a map of buildx kubernetes driver option to string value");
    } else {
      for (const [option, value] of Object.entries(rawOpts)) {
        if (!(KUBERNETES_DRIVER_OPTS as readonly string[]).includes(option)) {
          keys.problems.push(
            `invalid config ${at("driverOpts")}: ${JSON.stringify(option)} is not an option of buildx's kubernetes driver the stack passes; expected one of ${KUBERNETES_DRIVER_OPTS.join(", ")}`,
          );
        } else if (typeof value !== "string" || value === "" || /[\s,"]/.test(value)) {
          invalid(
            `driverOpts.${option}`,
            value,
            "a non-empty string without spaces, commas or quotes",
          );
        } else {
          driverOpts[option] = value;
        }
      }
    }
  }

  if (keys.problems.length > before) return undefined;
  return {
    name: name as string,
    endpoint: endpoint as BuilderEndpoint,
    platforms: platforms as Platform[],
    emulates: emulates as Platform[],
    driverOpts,
  };
}

/** The problems of the list as a whole: names, drivers, and the release's platforms. */
function listProblems(
  nodes: readonly BuilderNode[],
  releasePlatforms: readonly Platform[],
): string[] {
  const problems: string[] = [];
  const key = `"${CONFIG_NAMESPACE}:builders"`;
  const seen = new Set<string>();
  for (const node of nodes) {
    if (seen.has(node.name)) {
      problems.push(`invalid config ${key}: the node name ${node.name} is used more than once`);
    }
    seen.add(node.name);
  }
  const drivers = [...new Set(nodes.map((node) => driverOf(node.endpoint)))];
  if (drivers.length > 1) {
    problems.push(
      `invalid config ${key}: kubernetes:// nodes cannot be mixed with tcp:// or unix:// nodes (a buildx builder has one driver); nodes ${nodes
        .filter((node) => node.endpoint.kind === "kubernetes")
        .map((node) => node.name)
        .join(", ")} are kubernetes://`,
    );
  }
  for (const platform of releasePlatforms) {
    if (nodes.some((n) => n.platforms.includes(platform) || n.emulates.includes(platform)))
      continue;
    problems.push(
      `invalid config ${key}: no node builds ${platform}, a platform of the release; add a node with "platforms": ["${platform}"], or list it under "emulates" of a node that has QEMU for it`,
    );
  }
  return problems;
}

/**
 * `builders`: undefined when unset (the builder named by `builder`, as it is). A bad node is
 * reported field by field; the list as a whole once every node is good.
 */
export function builderKeys(
  keys: KeyReader,
  releasePlatforms: readonly Platform[],
): readonly BuilderNode[] | undefined {
  const raw = keys.json("builders");
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.length === 0) {
    keys.problems.push(problem("builders", raw, `a non-empty list of ${NODE_IS}`));
    return undefined;
  }
  const before = keys.problems.length;
  const nodes = raw.flatMap((entry, index) => nodeEntry(keys, entry, index) ?? []);
  if (keys.problems.length > before) return undefined;
  const problems = listProblems(nodes, releasePlatforms);
  keys.problems.push(...problems);
  return problems.length > 0 ? undefined : nodes;
}

/** Where each release platform builds: its first native node, else its first emulating node. */
export function platformRouting(
  nodes: readonly BuilderNode[],
  releasePlatforms: readonly Platform[],
): ReadonlyMap<Platform, { readonly node: string; readonly emulated: boolean }> {
  const routes = new Map<Platform, { node: string; emulated: boolean }>();
  for (const platform of releasePlatforms) {
    const native = nodes.find((node) => node.platforms.includes(platform));
    const emulating = nodes.find((node) => node.emulates.includes(platform));
    const chosen = native ?? emulating;
    if (chosen !== undefined) routes.set(platform, { node: chosen.name, emulated: !native });
  }
  return routes;
}

/**
 * The platforms each node is created with (`buildx create --platform`): the release platforms
 * routed to it. buildx sends a build to the node created with its platform, and keeps a platform
 * on one node only (appending a node that names it removes it from the others), so each release
 * platform is named once, on its route; a node routed nothing is created without platforms.
 */
export function nodePlatforms(
  nodes: readonly BuilderNode[],
  releasePlatforms: readonly Platform[],
): ReadonlyMap<string, readonly Platform[]> {
  const routes = platformRouting(nodes, releasePlatforms);
  return new Map(
    nodes.map((node) => [
      node.name,
      releasePlatforms.filter((platform) => routes.get(platform)?.node === node.name),
    ]),
  );
}

/**
 * The single-node buildx builder of one node. The docker-build provider loads a builder's nodes
 * with their workers' platforms (provider/internal/host.go: `LoadNodes(ctx, builder.WithData())`),
 * which adds every platform a daemon reports (an amd64 daemon with QEMU reports arm64 too) to the
 * platforms it was created with; buildx then sends a platform to the first node reporting it,
 * not to the node created with it. So each platform image names the builder of its node.
 */
export function nodeBuilderName(builder: string, node: string): string {
  return `${builder}-${node}`;
}

/** The builder each release platform's images build on: the single-node builder of its route. */
export function platformBuilders(
  builder: string,
  nodes: readonly BuilderNode[],
  releasePlatforms: readonly Platform[],
): Partial<Record<Platform, string>> {
  return Object.fromEntries(
    [...platformRouting(nodes, releasePlatforms)].map(([platform, route]) => [
      platform,
      nodeBuilderName(builder, route.node),
    ]),
  );
}

/** A tcp node's mTLS material (PEM): the CA its daemon's certificate is checked against, and the client's pair. */
export interface NodeTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

const TLS_FIELDS = ["ca", "cert", "key"] as const;
const PEM = {
  ca: /-----BEGIN CERTIFICATE-----/,
  cert: /-----BEGIN CERTIFICATE-----/,
  key: /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/,
} as const;
const PEM_IS = {
  ca: "the PEM certificate of the CA that signed the daemon's certificate",
  cert: "the client's PEM certificate",
  key: "the client's PEM private key",
} as const;

/**
 * The secret `builderTls` (`{"<node>": {"ca": PEM, "cert": PEM, "key": PEM}}`) judged against
 * the nodes: every tcp:// node needs its entry, and no entry names another node. Returns the
 * problems (the values are secrets: a problem never quotes one) and each tcp node's material.
 */
export function builderTls(
  nodes: readonly BuilderNode[],
  secret: string | undefined,
): { readonly problems: readonly string[]; readonly tls: ReadonlyMap<string, NodeTls> } {
  const key = `${CONFIG_NAMESPACE}:builderTls`;
  const problems: string[] = [];
  const tls = new Map<string, NodeTls>();
  const tcpNodes = nodes.filter((node) => node.endpoint.kind === "tcp");
  let parsed: unknown;
  if (secret !== undefined) {
    try {
      parsed = JSON.parse(secret);
    } catch {
      parsed = undefined;
    }
    if (!isMap(parsed)) {
      return {
        problems: [
          `invalid secret config "${key}": expected a map of node name to {"ca", "cert", "key"} (PEM texts)`,
        ],
        tls,
      };
    }
  }
  const entries = isMap(parsed) ? parsed : {};
  for (const name of Object.keys(entries)) {
    if (tcpNodes.some((node) => node.name === name)) continue;
    problems.push(
      `invalid secret config "${key}": ${JSON.stringify(name)} is not a tcp:// node of builders; expected one of ${tcpNodes.map((node) => node.name).join(", ") || "(none: no node is tcp://)"}`,
    );
  }
  for (const node of tcpNodes) {
    const entry = entries[node.name];
    const setIt = `set it with \`pulumi config set --secret --path '${key}.${node.name}.<ca|cert|key>' "$(cat <file>.pem)"\``;
    if (entry === undefined) {
      problems.push(
        `missing secret config "${key}.${node.name}": node ${node.name} at ${node.endpoint.address} is reached over mTLS and needs a CA, a client certificate and its key; ${setIt}`,
      );
      continue;
    }
    const bad = TLS_FIELDS.filter((field) => {
      const value = isMap(entry) ? entry[field] : undefined;
      return typeof value !== "string" || !PEM[field].test(value);
    });
    for (const field of bad) {
      problems.push(
        `invalid secret config "${key}.${node.name}.${field}": expected ${PEM_IS[field]}; ${setIt}`,
      );
    }
    if (bad.length === 0 && isMap(entry)) {
      tls.set(node.name, {
        ca: entry.ca as string,
        cert: entry.cert as string,
        key: entry.key as string,
      });
    }
  }
  return { problems, tls };
}
