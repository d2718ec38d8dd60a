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
  /** Token fetches under way by scope: requests started together share one. */
  readonly fetchingTokens: Map<string, Promise<string>>;
  /**
   * The first request's answer while it is awaited (true once the registry answered): the
   * requests that start meanwhile wait for it to learn whether, and where, the registry wants
   * tokens, rather than each being refused.
   */
  firstAnswer?: Promise<boolean>;
  /** Whether the registry has the referrers API, once it has answered a lookup. */
  referrersApi?: boolean;
  /** The first referrers lookup while it is awaited: the ones started meanwhile wait for it. */
  referrersProbe?: Promise<void>;
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
    session = newRegistrySession();
    sessions.set(key, session);
  }
  return session;
}

/** A session of one client: no challenge known yet, no tokens. */
export function newRegistrySession(): RegistrySession {
  return { challenge: undefined, tokens: new Map(), fetchingTokens: new Map() };
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

/** Where a client's token requests go, and how their refusals are reported. */
export interface TokenSource {
  readonly registry: string;
  readonly fetch: typeof fetch;
  readonly timeoutMs: number;
  readonly now: () => number;
  /** The account's basic authorization, when there is an account: sent where no token is known. */
  readonly basic: string | undefined;
  readonly expectOk: (response: Response, what: string) => Promise<void>;
}

/** A client's way to the registry's tokens, through the session it shares. */
export class RegistryTokens {
  constructor(
    private readonly session: RegistrySession,
    private readonly source: TokenSource,
  ) {}

  /**
   * The answer to `send` with the scope's token. Once the registry has named its token server, a
   * new scope asks it for a token before the request rather than after a refused one; an
   * expired or revoked token is answered with 401 and a fresh token is fetched once. `onAnswer`
   * sees each answer of the registry.
   */
  async authorized(
    scope: string | undefined,
    send: (authorization?: string) => Promise<Response>,
    onAnswer: (response: Response) => void = () => undefined,
  ): Promise<Response> {
    const session = this.session;
    const basic = this.source.basic;
    // Until the registry has answered once, this session does not know whether it wants tokens:
    // the first request goes alone, and the others wait for its answer. When it gets none (the
    // registry was not reached), the next one goes alone in its place.
    let settle: ((registryAnswered: boolean) => void) | undefined;
    while (session.challenge === undefined && settle === undefined) {
      const first = session.firstAnswer;
      if (first === undefined) {
        session.firstAnswer = new Promise((resolve) => {
          settle = resolve;
        });
      } else if (await first) {
        break;
      }
    }
    const answered = () => {
      settle?.(true);
      settle = undefined;
    };
    try {
      const stored = scope === undefined ? undefined : session.tokens.get(scope);
      // A token near its end is replaced before it is refused (as containerd does), not after.
      let authorization =
        stored !== undefined && this.source.now() < stored.renewAt
          ? stored.authorization
          : undefined;
      if (authorization === undefined && session.challenge !== undefined && scope !== undefined) {
        authorization = await this.tokenFor(session.challenge, scope, stored?.authorization);
      }
      let response = await send(authorization ?? basic);
      onAnswer(response);
      if (response.status === 401) {
        const challenge = response.headers.get("www-authenticate") ?? "";
        if (/^bearer /i.test(challenge)) {
          await response.arrayBuffer().catch(() => undefined);
          session.challenge = challenge;
          answered();
          response = await send(await this.tokenFor(challenge, scope, authorization));
          onAnswer(response);
        }
      }
      answered();
      return response;
    } finally {
      if (settle !== undefined) {
        session.firstAnswer = undefined;
        settle(false);
      }
    }
  }

  /** A token for the scope from the challenge's realm, not stored. */
  async fetchToken(challenge: string, scope: string): Promise<string> {
    return (await this.bearerToken(challenge, scope)).token;
  }

  /**
   * A token for the scope: the one being fetched when another request already asked, else a new
   * one unless another request has replaced `refused` (the token this request found wanting).
   */
  private tokenFor(
    challenge: string,
    scope: string | undefined,
    refused: string | undefined,
  ): Promise<string> {
    if (scope === undefined) return this.storeToken(challenge, scope);
    const fetching = this.session.fetchingTokens.get(scope);
    if (fetching !== undefined) return fetching;
    const stored = this.session.tokens.get(scope);
    if (
      stored !== undefined &&
      stored.authorization !== refused &&
      this.source.now() < stored.renewAt
    ) {
      return Promise.resolve(stored.authorization);
    }
    const fetched = this.storeToken(challenge, scope).finally(() => {
      this.session.fetchingTokens.delete(scope);
    });
    this.session.fetchingTokens.set(scope, fetched);
    return fetched;
  }

  private async storeToken(challenge: string, scope: string | undefined): Promise<string> {
    const fetchedAt = this.source.now();
    const { token, expiresIn } = await this.bearerToken(challenge, scope);
    const authorization = `Bearer ${token}`;
    const renewAt = renewalTime(fetchedAt, expiresIn);
    if (scope !== undefined) this.session.tokens.set(scope, { authorization, renewAt });
    return authorization;
  }

  private bearerToken(challenge: string, scope: string | undefined) {
    const { registry, fetch, timeoutMs, basic, expectOk } = this.source;
    return fetchBearerToken({ registry, challenge, scope, basic, fetch, timeoutMs }, expectOk);
  }
}
