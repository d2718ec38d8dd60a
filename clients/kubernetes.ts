import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import type { Deployment, KubeEvent, NodeImage, Pod } from "../lib/kubeObjects";

/**
 * What the stack and the command line need from a kubeconfig: the chosen context's API server
 * and the credentials to read from it. Only the forms that need no plugin are read (CA, client
 * certificate and key, bearer token, each as data or as a file); a context whose user runs an
 * exec or auth-provider plugin can still be applied by the Pulumi provider, but these reads then
 * go unauthenticated.
 */
export interface KubeTarget {
  readonly context: string;
  readonly cluster: string;
  readonly server: string;
  readonly namespace?: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly token?: string;
  readonly insecureSkipTlsVerify: boolean;
}

export class KubeconfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KubeconfigError";
  }
}

interface Named<T> {
  readonly name?: string;
  readonly cluster?: T;
  readonly user?: T;
  readonly context?: T;
}

type Fields = Record<string, unknown>;

function named(list: unknown, kind: string): Array<Named<Fields>> {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new KubeconfigError(`the kubeconfig's "${kind}" is not a list`);
  return list as Array<Named<Fields>>;
}

/** Reads a `<name>-data` (base64) or `<name>` (file path, relative to the kubeconfig) field. */
function material(fields: Fields, name: string, baseDir: string | undefined): Buffer | undefined {
  const data = fields[`${name}-data`];
  if (typeof data === "string" && data !== "") return Buffer.from(data, "base64");
  const file = fields[name];
  if (typeof file !== "string" || file === "") return undefined;
  const resolved = path.isAbsolute(file) ? file : path.resolve(baseDir ?? process.cwd(), file);
  try {
    return fs.readFileSync(resolved);
  } catch (error) {
    throw new KubeconfigError(
      `the kubeconfig names ${name} ${resolved}, which cannot be read: ${(error as Error).message}`,
    );
  }
}

/**
 * The context to use (`context`, else the kubeconfig's current-context) with its cluster and
 * user. Unknown names are refused with the names the kubeconfig has.
 */
export function resolveKubeTarget(
  kubeconfigText: string,
  context: string | undefined,
  baseDir?: string,
): KubeTarget {
  let doc: Fields;
  try {
    doc = (parseYaml(kubeconfigText) ?? {}) as Fields;
  } catch (error) {
    throw new KubeconfigError(`the kubeconfig is not valid YAML: ${(error as Error).message}`);
  }
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new KubeconfigError("the kubeconfig is not a YAML mapping");
  }
  const contexts = named(doc.contexts, "contexts");
  const wanted = context ?? (doc["current-context"] as string | undefined);
  const names = contexts.map((entry) => String(entry.name));
  if (wanted === undefined || wanted === "") {
    throw new KubeconfigError(
      `the kubeconfig has no current-context; choose one of its contexts (${names.join(", ") || "none"}) with battlescope:kubeContext`,
    );
  }
  const found = contexts.find((entry) => entry.name === wanted);
  if (found === undefined) {
    throw new KubeconfigError(
      `unknown kubeconfig context ${JSON.stringify(wanted)}; the kubeconfig has ${names.length === 0 ? "no contexts" : names.map((name) => JSON.stringify(name)).join(", ")}`,
    );
  }
  const ctx = found.context ?? {};
  const clusterName = String(ctx.cluster ?? "");
  const cluster = named(doc.clusters, "clusters").find((entry) => entry.name === clusterName);
  if (cluster?.cluster?.server === undefined) {
    throw new KubeconfigError(
      `kubeconfig context ${JSON.stringify(wanted)} names cluster ${JSON.stringify(clusterName)}, which has no server`,
    );
  }
  const userName = String(ctx.user ?? "");
  const user = named(doc.users, "users").find((entry) => entry.name === userName)?.user ?? {};
  const clusterFields = cluster.cluster;
  const ca = material(clusterFields, "certificate-authority", baseDir);
  const cert = material(user, "client-certificate", baseDir);
  const key = material(user, "client-key", baseDir);
  const token = typeof user.token === "string" ? user.token : undefined;
  return {
    context: wanted,
    cluster: clusterName,
    server: String(clusterFields.server).replace(/\/+$/, ""),
    ...(typeof ctx.namespace === "string" ? { namespace: ctx.namespace } : {}),
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(token === undefined ? {} : { token }),
    insecureSkipTlsVerify: clusterFields["insecure-skip-tls-verify"] === true,
  };
}

/** The target of a kubeconfig file: relative paths inside it are resolved against its folder. */
export function kubeTargetFromFile(file: string, context: string | undefined): KubeTarget {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new KubeconfigError(`${file} cannot be read: ${(error as Error).message}`);
  }
  return resolveKubeTarget(text, context, path.dirname(file));
}

/** `~` and `$VAR` in a configured path, so a stack file can name a per-machine file. */
export function expandPath(
  value: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const expanded = value.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
    const found = env[name];
    if (found === undefined || found === "") {
      throw new KubeconfigError(`${JSON.stringify(value)} uses $${name}, which is not set`);
    }
    return found;
  });
  return expanded.startsWith("~/") ? path.join(os.homedir(), expanded.slice(2)) : expanded;
}

export interface KubeResponse {
  readonly status: number;
  readonly body: string;
}

/** One GET against the API server, with the target's credentials; rejects when unreachable. */
export function kubeGet(
  target: KubeTarget,
  apiPath: string,
  timeoutMs = 10_000,
): Promise<KubeResponse> {
  const url = new URL(apiPath, `${target.server}/`);
  return new Promise((resolve, reject) => {
    const request = https.get(
      url,
      {
        ...(target.ca === undefined ? {} : { ca: target.ca }),
        ...(target.cert === undefined ? {} : { cert: target.cert }),
        ...(target.key === undefined ? {} : { key: target.key }),
        rejectUnauthorized: !target.insecureSkipTlsVerify,
        headers: {
          accept: "application/json",
          ...(target.token === undefined ? {} : { authorization: `Bearer ${target.token}` }),
        },
        timeout: timeoutMs,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        response.on("error", reject);
      },
    );
    request.on("timeout", () =>
      request.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)),
    );
    request.on("error", reject);
  });
}

/** Fails with one sentence unless the API server answers (any HTTP status counts as an answer). */
export async function checkReachable(target: KubeTarget, configKey: string): Promise<void> {
  try {
    await kubeGet(target, "/version");
  } catch (error) {
    throw new KubeconfigError(
      `cannot reach the Kubernetes API server ${target.server} of kubeconfig context ${JSON.stringify(target.context)} (${configKey}): ${(error as Error).message}`,
    );
  }
}

/** A JSON object from the API; undefined on 404. */
export async function kubeGetJson<T>(target: KubeTarget, apiPath: string): Promise<T | undefined> {
  const response = await kubeGet(target, apiPath);
  if (response.status === 404) return undefined;
  if (response.status !== 200) {
    throw new Error(
      `GET ${apiPath} on ${target.server} answered ${response.status}: ${response.body.slice(0, 300)}`,
    );
  }
  return JSON.parse(response.body) as T;
}

/** The workloads of one namespace, as the rollout report and the checks read them. */
export interface NamespaceWorkloads {
  readonly deployments: Deployment[];
  readonly pods: Pod[];
  readonly events: KubeEvent[];
  /** The nodes' image lists; empty where the credentials may not read nodes. */
  readonly nodes: Array<{ status?: { images?: NodeImage[] } }>;
}

export async function readWorkloads(
  target: KubeTarget,
  namespace: string,
): Promise<NamespaceWorkloads> {
  const ns = encodeURIComponent(namespace);
  const [deployments, pods, events, nodes] = await Promise.all([
    kubeGetJson<{ items: Deployment[] }>(target, `/apis/apps/v1/namespaces/${ns}/deployments`),
    kubeGetJson<{ items: Pod[] }>(target, `/api/v1/namespaces/${ns}/pods`),
    kubeGetJson<{ items: KubeEvent[] }>(target, `/api/v1/namespaces/${ns}/events`),
    // Nodes are cluster-wide: a release account may not read them.
    kubeGetJson<{ items: NamespaceWorkloads["nodes"] }>(target, "/api/v1/nodes").catch(
      () => undefined,
    ),
  ]);
  return {
    deployments: deployments?.items ?? [],
    pods: pods?.items ?? [],
    events: events?.items ?? [],
    nodes: nodes?.items ?? [],
  };
}
