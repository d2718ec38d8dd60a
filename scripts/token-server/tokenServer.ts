/**
 * A registry token server after the Docker token authentication specification (distribution's
 * docs/spec/auth/token.md, jwt.md and oauth.md): what auth.docker.io, GHCR, Harbor and ECR serve
 * in front of their registries. The local registry (distribution v3, `auth: token`) trusts the
 * certificate of the key these tokens are signed with and checks every token itself; this server
 * only decides who gets which actions on which repository.
 *
 * - `GET /token?service=&scope=&scope=&account=` with HTTP Basic (or none: anonymous, no access)
 *   -> `{token, access_token, expires_in, issued_at}`.
 * - `POST /token` (OAuth2 form: `grant_type=password` with `username`/`password`, or
 *   `grant_type=refresh_token`; `access_type=offline` also returns a `refresh_token`)
 *   -> `{access_token, scope, expires_in, issued_at[, refresh_token]}`.
 * - Wrong password: 401 `{"details":"incorrect username or password"}`, as auth.docker.io says.
 * - A scope asks for actions; the token grants those the account may do (possibly none): the
 *   registry, not this server, refuses what the token does not grant.
 * - Tokens are ES256 JWTs with `kid` = the key's RFC 7638 thumbprint, computed as distribution
 *   computes it, so the registry finds the key in its `rootcertbundle`.
 * - `expires_in` (default 300 s, Docker Hub's) may be changed while running through the
 *   settings file, which is read again when it changes: the tests shorten it to a few seconds.
 * - Every answer is one JSON line on `log` (issued or refused, account, client, scopes).
 */
import { createHash, createPrivateKey, type KeyObject, randomUUID, sign } from "node:crypto";
import * as fs from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";

export const REGISTRY_ACTIONS = ["pull", "push", "delete"] as const;
export type RegistryAction = (typeof REGISTRY_ACTIONS)[number];

export interface TokenAccount {
  readonly password: string;
  /** What the account may do on every repository. */
  readonly actions: readonly RegistryAction[];
  /** Whether it may list the catalog (`registry:catalog:*`). */
  readonly catalog?: boolean;
}

export interface TokenServerSettings {
  /** Lifetime of an issued token in seconds (`expires_in` and the `exp` claim). */
  readonly expiresIn: number;
  /**
   * Seconds the JWT's `iat`, `nbf` and `exp` are dated back. distribution accepts a token up to
   * 60 s past its `exp` (a fixed leeway for clock skew); dated back by those 60 s, a 5 s token is
   * refused 5 s after it was issued, as a registry without the leeway would. The answer's
   * `issued_at` and `expires_in` stay true to the client.
   */
  readonly backdateSeconds: number;
  /** The pull limit the proxy in front of the registry enforces (pullLimitProxy.ts); none when unset. */
  readonly pullLimit?: { readonly limit: number; readonly windowSeconds: number };
}

export interface TokenServerOptions {
  readonly host?: string;
  readonly port?: number;
  /** PEM certificate and key the server answers HTTPS with. */
  readonly tlsCert: string;
  readonly tlsKey: string;
  /** PEM EC P-256 private key the tokens are signed with. */
  readonly signingKey: string;
  readonly issuer: string;
  /** The registry's `service` name; a token is asked for and issued to this audience. */
  readonly service: string;
  readonly accounts: Readonly<Record<string, TokenAccount>>;
  readonly expiresIn?: number;
  /**
   * JSON `{ "expiresIn": <seconds>, "backdateSeconds": <seconds>, "pullLimit": { "limit": <n>,
   * "windowSeconds": <seconds> } }`, read again whenever it changes; wins over expiresIn.
   */
  readonly settingsFile?: string;
  readonly log?: (line: string) => void;
  readonly now?: () => number;
}

export interface TokenServer {
  readonly url: string;
  readonly keyId: string;
  /** The settings in force now (the settings file read again when it changed). */
  settings(): TokenServerSettings;
  close(): Promise<void>;
}

export const DEFAULT_TOKEN_LIFETIME_SECONDS = 300;

interface ResourceAccess {
  type: string;
  name: string;
  actions: string[];
}

/** `repository:org/name:pull,push` -> type, name, actions; names may hold a colon (a port). */
export function parseScope(scope: string): ResourceAccess | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first <= 0 || last === first) return undefined;
  const actions = scope
    .slice(last + 1)
    .split(",")
    .map((action) => action.trim())
    .filter((action) => action !== "");
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions };
}

/** What the account gets of what it asked for; `*` asks for everything it may do. */
export function grantedActions(
  account: TokenAccount | undefined,
  requested: ResourceAccess,
): string[] {
  if (account === undefined) return [];
  if (requested.type === "registry")
    return requested.name === "catalog" &&
      account.catalog === true &&
      requested.actions.includes("*")
      ? ["*"]
      : [];
  if (requested.type !== "repository") return [];
  const allowed = new Set<string>(account.actions);
  const wanted = requested.actions.includes("*") ? [...REGISTRY_ACTIONS] : requested.actions;
  return [...new Set(wanted.filter((action) => allowed.has(action)))];
}

/** distribution's GetJWKThumbprint: RFC 7638 over the coordinates without leading zero bytes. */
export function jwkThumbprint(key: KeyObject): string {
  const jwk = key.export({ format: "jwk" }) as { crv?: string; x?: string; y?: string };
  const coordinate = (value: string | undefined) => {
    const bytes = Buffer.from(value ?? "", "base64url");
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    return bytes.subarray(start).toString("base64url");
  };
  const curve = { "P-256": "P-256", "P-384": "P-384" }[jwk.crv ?? ""] ?? jwk.crv;
  const canonical = `{"crv":"${curve}","kty":"EC","x":"${coordinate(jwk.x)}","y":"${coordinate(jwk.y)}"}`;
  return createHash("sha256").update(canonical).digest("base64url");
}

function signJwt(key: KeyObject, keyId: string, claims: object): string {
  const header = { typ: "JWT", alg: "ES256", kid: keyId };
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const input = `${encode(header)}.${encode(claims)}`;
  const signature = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${signature.toString("base64url")}`;
}

function basicCredentials(header: string | undefined): { user: string; password: string } | null {
  if (header === undefined || !/^basic /i.test(header)) return null;
  const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const key = createPrivateKey(options.signingKey);
  const keyId = jwkThumbprint(key);
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => undefined);
  const refreshTokens = new Map<string, string>();
  let settingsStamp = "";
  const base: TokenServerSettings = {
    expiresIn: options.expiresIn ?? DEFAULT_TOKEN_LIFETIME_SECONDS,
    backdateSeconds: 0,
  };
  let settings = base;

  const currentSettings = (): TokenServerSettings => {
    const file = options.settingsFile;
    if (file === undefined) return settings;
    let stamp = "absent";
    try {
      const stat = fs.statSync(file);
      stamp = `${stat.mtimeMs}:${stat.size}`;
    } catch {
      // no file: the start options hold
    }
    if (stamp === settingsStamp) return settings;
    settingsStamp = stamp;
    if (stamp === "absent") {
      settings = base;
      return settings;
    }
    try {
      const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<TokenServerSettings>;
      const whole = (value: unknown, min: number) =>
        typeof value === "number" && Number.isInteger(value) && value >= min ? value : undefined;
      const limit = whole(parsed.pullLimit?.limit, 0);
      const windowSeconds = whole(parsed.pullLimit?.windowSeconds, 1);
      settings = {
        expiresIn: whole(parsed.expiresIn, 1) ?? base.expiresIn,
        backdateSeconds: whole(parsed.backdateSeconds, 0) ?? base.backdateSeconds,
        ...(limit === undefined || windowSeconds === undefined
          ? {}
          : { pullLimit: { limit, windowSeconds } }),
      };
    } catch {
      settings = base;
    }
    return settings;
  };

  const issue = (
    account: string | undefined,
    scopes: readonly string[],
    client: string,
    grant: string,
  ) => {
    const { expiresIn: lifetime, backdateSeconds } = currentSettings();
    const issuedAt = Math.floor(now() / 1000);
    const dated = issuedAt - backdateSeconds;
    const known = account === undefined ? undefined : options.accounts[account];
    const access: ResourceAccess[] = [];
    for (const scope of scopes) {
      const requested = parseScope(scope);
      if (requested === undefined) continue;
      access.push({ ...requested, actions: grantedActions(known, requested) });
    }
    const token = signJwt(key, keyId, {
      iss: options.issuer,
      sub: account ?? "",
      aud: options.service,
      exp: dated + lifetime,
      nbf: dated,
      iat: dated,
      jti: randomUUID(),
      access,
    });
    log(
      JSON.stringify({
        time: new Date(issuedAt * 1000).toISOString(),
        event: "issued",
        grant,
        account: account ?? null,
        client,
        scopes,
        access: access.map((entry) => `${entry.type}:${entry.name}:${entry.actions.join(",")}`),
        expiresIn: lifetime,
      }),
    );
    return { token, lifetime, issuedAt: new Date(issuedAt * 1000).toISOString() };
  };

  const refuse = (
    response: ServerResponse,
    status: number,
    details: string,
    fields: Record<string, unknown>,
  ) => {
    log(
      JSON.stringify({ time: new Date(now()).toISOString(), event: "refused", ...fields, details }),
    );
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify({ details }));
  };

  const authenticate = (user: string, password: string): boolean =>
    options.accounts[user]?.password === password;

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "https://token.invalid");
    const client = request.headers["user-agent"] ?? "";
    if (url.pathname !== "/token") {
      response.writeHead(404, { "content-type": "application/json" });
      response.end(JSON.stringify({ details: "not found" }));
      return;
    }
    if (request.method === "GET") {
      const service = url.searchParams.get("service");
      if (service !== null && service !== options.service) {
        refuse(response, 400, `unknown service "${service}"`, { client });
        return;
      }
      const scopes = url.searchParams.getAll("scope").flatMap((scope) => scope.split(" "));
      const credentials = basicCredentials(request.headers.authorization);
      if (credentials !== null && !authenticate(credentials.user, credentials.password)) {
        refuse(response, 401, "incorrect username or password", {
          account: credentials.user,
          client,
        });
        return;
      }
      const issued = issue(credentials?.user, scopes, client, "basic");
      response.writeHead(200, { "content-type": "application/json" });
      response.end(
        JSON.stringify({
          token: issued.token,
          access_token: issued.token,
          expires_in: issued.lifetime,
          issued_at: issued.issuedAt,
        }),
      );
      return;
    }
    if (request.method === "POST") {
      const form = new URLSearchParams(await readBody(request));
      const service = form.get("service");
      if (service !== null && service !== options.service) {
        refuse(response, 400, `unknown service "${service}"`, { client });
        return;
      }
      const scopes = (form.get("scope") ?? "").split(" ").filter((scope) => scope !== "");
      let account: string | undefined;
      const grant = form.get("grant_type");
      if (grant === "password") {
        const user = form.get("username") ?? "";
        if (!authenticate(user, form.get("password") ?? "")) {
          refuse(response, 401, "incorrect username or password", { account: user, client });
          return;
        }
        account = user;
      } else if (grant === "refresh_token") {
        account = refreshTokens.get(form.get("refresh_token") ?? "");
        if (account === undefined) {
          refuse(response, 401, "invalid refresh token", { client });
          return;
        }
      } else {
        refuse(response, 400, `unsupported grant_type "${grant ?? ""}"`, { client });
        return;
      }
      const issued = issue(account, scopes, client, `oauth-${grant}`);
      let refreshToken: string | undefined;
      if (form.get("access_type") === "offline") {
        refreshToken = randomUUID();
        refreshTokens.set(refreshToken, account);
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end(
        JSON.stringify({
          access_token: issued.token,
          scope: scopes.join(" "),
          expires_in: issued.lifetime,
          issued_at: issued.issuedAt,
          ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
        }),
      );
      return;
    }
    response.writeHead(405, { allow: "GET, POST" });
    response.end();
  };

  const server = https.createServer({ cert: options.tlsCert, key: options.tlsKey }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ details: (error as Error).message }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `https://${options.host ?? "127.0.0.1"}:${address.port}/token`,
    keyId,
    settings: currentSettings,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
