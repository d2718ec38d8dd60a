/**
 * Bearer tokens of the token specification (distribution's token.md): where a registry's tokens
 * come from (its challenge), a token fetched for a scope, the session a process shares per
 * registry and account, and the actions a token's JWT grants.
 */
import { RegistryError } from "./registryErrors";

/**
 * A registry's bearer challenge (its token server), the tokens of one account by scope, and what
 * the registry was found to lack.
 */
export interface RegistrySession {
  challenge: string | undefined;
  readonly tokens: Map<string, { authorization: string; renewAt: number }>;
  /** False once the registry answered that it has no referrers API. */
  referrersApi?: boolean;
}

const sessions = new Map<string, RegistrySession>();

/**
 * The process's session with a registry as one account: a release makes a client per resource,
 * and without it each would be refused once (401) before asking for its first token, and would
 * ask again for tokens the others hold.
 */
export function sharedRegistrySession(
  registry: string,
  username: string | undefined,
): RegistrySession {
  const key = `${registry}\n${username ?? ""}`;
  let session = sessions.get(key);
  if (session === undefined) {
    session = { challenge: undefined, tokens: new Map() };
    sessions.set(key, session);
  }
  return session;
}

/** The lifetime the token specification gives a token whose answer names none. */
const DEFAULT_TOKEN_SECONDS = 60;

/** When a token fetched at `fetchedAt` is replaced: with a fifth of its life (at most 10 s) left. */
export function renewalTime(fetchedAt: number, expiresIn: number): number {
  const lifetimeMs = expiresIn * 1000;
  return fetchedAt + lifetimeMs - Math.min(10_000, lifetimeMs / 5);
}

export interface TokenRequest {
  readonly registry: string;
  readonly challenge: string;
  readonly scope: string | undefined;
  /** The account's basic authorization, when there is an account. */
  readonly basic: string | undefined;
  readonly fetch: typeof fetch;
  readonly timeoutMs: number;
}

/** A token from the challenge's realm for the scope, and its lifetime in seconds. */
export async function fetchBearerToken(
  request: TokenRequest,
  expectOk: (response: Response, what: string) => Promise<void>,
): Promise<{ token: string; expiresIn: number }> {
  const params = Object.fromEntries(
    [...request.challenge.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1], match[2]]),
  ) as Record<string, string | undefined>;
  if (params.realm === undefined)
    throw new RegistryError(`registry ${request.registry} sent a bearer challenge without a realm`);
  const url = new URL(params.realm);
  if (params.service !== undefined) url.searchParams.set("service", params.service);
  const wanted = request.scope ?? params.scope;
  if (wanted !== undefined) url.searchParams.set("scope", wanted);
  const response = await request.fetch(url, {
    headers: request.basic === undefined ? {} : { authorization: request.basic },
    signal: AbortSignal.timeout(request.timeoutMs),
  });
  await expectOk(response, `get a token for ${wanted ?? "the registry"}`);
  const body = (await response.json()) as {
    token?: string;
    access_token?: string;
    expires_in?: number;
  };
  const token = body.token ?? body.access_token;
  if (token === undefined)
    throw new RegistryError(`registry ${request.registry} returned no token`);
  const expiresIn =
    typeof body.expires_in === "number" && body.expires_in > 0
      ? body.expires_in
      : DEFAULT_TOKEN_SECONDS;
  return { token, expiresIn };
}

/** A JWT's `access` claim entry for the repository: its actions, or undefined when unreadable. */
export function tokenAccess(token: string, repository: string): string[] | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as {
      access?: { type?: string; name?: string; actions?: string[] }[];
    };
    if (!Array.isArray(claims.access)) return undefined;
    const entry = claims.access.find(
      (item) => item.type === "repository" && item.name === repository,
    );
    return entry?.actions ?? [];
  } catch {
    return undefined;
  }
}
