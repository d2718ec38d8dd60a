/**
 * A proxy in front of the local registry that counts pulls as Docker Hub does
 * (docs.docker.com/docker-hub/usage/pulls): each GET of a manifest is one pull of the account
 * whose token it carries (the JWT's `sub`; the client's address when anonymous); a HEAD is free.
 * Every manifest answer carries Docker Hub's headers, `ratelimit-limit: <n>;w=<seconds>` and
 * `ratelimit-remaining: <n>;w=<seconds>`, plus `docker-ratelimit-source`; a GET past the limit is
 * answered `429` with errcode `TOOMANYREQUESTS` and a `retry-after` (seconds to the window's end)
 * and never reaches the registry. The window is fixed: it starts at an account's first pull.
 * Without a limit (the default) it only forwards. Limits come from the token server's settings file.
 */
import type * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";

export interface PullLimit {
  /** Manifest GETs per account per window. */
  readonly limit: number;
  readonly windowSeconds: number;
}

export interface PullLimitProxyOptions {
  readonly host?: string;
  readonly port?: number;
  readonly tlsCert: string;
  readonly tlsKey: string;
  /** `https://127.0.0.1:5000`: the registry the requests go on to. */
  readonly upstream: string;
  /** The CA the upstream's certificate is signed by. */
  readonly upstreamCa: string;
  /** The limit in force now (read per request: the settings file may change it). */
  readonly currentLimit: () => PullLimit | undefined;
  readonly log?: (line: string) => void;
  readonly now?: () => number;
}

export interface PullLimitProxy {
  readonly url: string;
  close(): Promise<void>;
}

const MANIFEST_PATH = /^\/v2\/.+\/manifests\/[^/]+$/;

/** Who a request counts against: the token's subject, else the client's address. */
export function pullAccount(authorization: string | undefined, address: string): string {
  const token = /^bearer\s+(\S+)/i.exec(authorization ?? "")?.[1];
  const payload = token?.split(".")[1];
  if (payload !== undefined) {
    try {
      const sub = (
        JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { sub?: unknown }
      ).sub;
      if (typeof sub === "string" && sub !== "") return sub;
    } catch {
      // not a JWT: counted by address, as Docker Hub counts anonymous pulls
    }
  }
  return address;
}

export async function startPullLimitProxy(options: PullLimitProxyOptions): Promise<PullLimitProxy> {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => undefined);
  const windows = new Map<string, { start: number; used: number; limit: PullLimit }>();
  const upstream = new URL(options.upstream);
  const agent = new https.Agent({ ca: options.upstreamCa, keepAlive: true });

  /** The account's window now, a new one once the last ended or the limit changed. */
  const windowOf = (account: string, limit: PullLimit) => {
    const current = windows.get(account);
    const at = now();
    if (
      current === undefined ||
      at >= current.start + current.limit.windowSeconds * 1000 ||
      current.limit.limit !== limit.limit ||
      current.limit.windowSeconds !== limit.windowSeconds
    ) {
      const fresh = { start: at, used: 0, limit };
      windows.set(account, fresh);
      return fresh;
    }
    return current;
  };

  const handle = (request: http.IncomingMessage, response: http.ServerResponse) => {
    const url = request.url ?? "/";
    const isManifest = MANIFEST_PATH.test(url.split("?")[0] ?? "");
    const limit = isManifest ? options.currentLimit() : undefined;
    const extra: Record<string, string> = {};
    if (limit !== undefined) {
      const account = pullAccount(
        request.headers.authorization,
        request.socket.remoteAddress ?? "",
      );
      // A request the registry will refuse for want of a token is not a pull.
      const counted = request.method === "GET" && request.headers.authorization !== undefined;
      const window = windowOf(account, limit);
      const w = `;w=${limit.windowSeconds}`;
      extra["ratelimit-limit"] = `${limit.limit}${w}`;
      extra["docker-ratelimit-source"] = account;
      if (counted && window.used >= limit.limit) {
        const retryAfter = Math.max(
          1,
          Math.ceil((window.start + limit.windowSeconds * 1000 - now()) / 1000),
        );
        log(JSON.stringify({ event: "pull refused", account, path: url, used: window.used }));
        response.writeHead(429, {
          ...extra,
          "ratelimit-remaining": `0${w}`,
          "retry-after": String(retryAfter),
          "content-type": "application/json",
        });
        response.end(
          JSON.stringify({
            errors: [
              {
                code: "TOOMANYREQUESTS",
                message:
                  "You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit",
              },
            ],
          }),
        );
        request.resume();
        return;
      }
      if (counted) {
        window.used += 1;
        log(JSON.stringify({ event: "pull", account, path: url, used: window.used }));
      }
      extra["ratelimit-remaining"] = `${Math.max(0, limit.limit - window.used)}${w}`;
    }
    const forwarded = https.request(
      {
        agent,
        host: upstream.hostname,
        port: upstream.port,
        method: request.method,
        path: url,
        // The client's Host stays: the registry writes it into the upload URLs it answers with,
        // so the blob PATCH and PUT come back through the proxy.
        headers: request.headers,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...extra });
        answer.pipe(response);
      },
    );
    forwarded.on("error", (error) => {
      if (!response.headersSent) response.writeHead(502, { "content-type": "text/plain" });
      response.end(`registry unreachable: ${error.message}`);
    });
    request.pipe(forwarded);
  };

  const server = https.createServer({ cert: options.tlsCert, key: options.tlsKey }, handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `https://${options.host ?? "127.0.0.1"}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
