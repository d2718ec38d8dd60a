/**
 * How a client's requests meet a registry's bearer challenge when they start together: the first
 * learns where tokens come from, the others wait for it, and each scope's token is fetched once.
 * The registry here follows the token specification's flow; tests/e2e/tokenAuth.test.ts runs the
 * same against the real registry and token server.
 */
import { describe, expect, it } from "vitest";
import { OciRegistryClient } from "../../clients/ociRegistry";
import { newRegistrySession } from "../../clients/registryToken";

const REALM = "https://auth.test/token";

interface Counts {
  readonly challenged: string[];
  readonly tokens: string[];
  readonly answered: string[];
}

/** A registry wanting a token of the repository's scope, or none when `open`; tokens never end. */
function tokenRegistry(options: { open?: boolean; revoked?: Set<string> } = {}) {
  const counts: Counts = { challenged: [], tokens: [], answered: [] };
  let issued = 0;
  const fetchImpl = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const url = new URL(String(input));
    // A round trip's worth of waiting, so that requests started together overlap.
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (url.origin === new URL(REALM).origin) {
      const scope = url.searchParams.get("scope") ?? "";
      counts.tokens.push(scope);
      issued += 1;
      return Response.json({ token: `t${issued}:${scope}`, expires_in: 300 });
    }
    const repository = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname)?.[1] ?? "";
    const authorization = new Headers(init?.headers).get("authorization") ?? "";
    const wanted = `repository:${repository}:pull`;
    const granted =
      options.open === true ||
      (authorization.startsWith("Bearer ") &&
        authorization.endsWith(`:${wanted}`) &&
        !options.revoked?.has(authorization));
    if (!granted) {
      counts.challenged.push(url.pathname);
      return new Response("", {
        status: 401,
        headers: {
          "www-authenticate": `Bearer realm="${REALM}",service="registry.test",scope="${wanted}"`,
        },
      });
    }
    counts.answered.push(url.pathname);
    return Response.json({ name: repository, tags: [] });
  }) as typeof fetch;
  return { counts, fetch: fetchImpl };
}

const REPOSITORIES = ["battlescope/frontend", "battlescope/search-service", "battlescope/init"];

/** Four reads of each repository, all started together. */
function readTogether(client: OciRegistryClient): Promise<PromiseSettledResult<string[]>[]> {
  return Promise.allSettled(
    REPOSITORIES.flatMap((repository) =>
      Array.from({ length: 4 }, () => client.listTags(repository)),
    ),
  );
}

function statuses(results: PromiseSettledResult<unknown>[]): string[] {
  return results.map((result) => result.status);
}

describe("a session's first requests, started together", () => {
  it("meet the challenge once, and fetch each scope's token once", async () => {
    const registry = tokenRegistry();
    const client = new OciRegistryClient({ registry: "registry.test", fetch: registry.fetch });
    expect(statuses(await readTogether(client))).toEqual(Array(12).fill("fulfilled"));
    expect(registry.counts.challenged).toHaveLength(1);
    expect([...registry.counts.tokens].sort()).toEqual(
      REPOSITORIES.map((repository) => `repository:${repository}:pull`).sort(),
    );
    expect(registry.counts.answered).toHaveLength(12);
  });

  it("all go, after the first answer, to a registry that wants no token", async () => {
    const registry = tokenRegistry({ open: true });
    const client = new OciRegistryClient({ registry: "registry.test", fetch: registry.fetch });
    expect(statuses(await readTogether(client))).toEqual(Array(12).fill("fulfilled"));
    expect(registry.counts).toMatchObject({ challenged: [], tokens: [] });
    expect(registry.counts.answered).toHaveLength(12);
  });

  it("are not held up by a first request that failed to reach the registry", async () => {
    const registry = tokenRegistry();
    let first = true;
    const flaky = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
      if (first) {
        first = false;
        throw new TypeError("fetch failed");
      }
      return registry.fetch(input, init);
    }) as typeof fetch;
    const client = new OciRegistryClient({ registry: "registry.test", fetch: flaky });
    const reads = statuses(await readTogether(client));
    expect(reads).toEqual(["rejected", ...Array(11).fill("fulfilled")]);
    expect(registry.counts.challenged).toHaveLength(1);
  });

  it("replace a token the registry refuses once, however many met the refusal", async () => {
    const revoked = new Set<string>();
    const registry = tokenRegistry({ revoked });
    const session = newRegistrySession();
    const client = new OciRegistryClient({
      registry: "registry.test",
      fetch: registry.fetch,
      session,
    });
    await client.listTags(REPOSITORIES[0] as string);
    const held = session.tokens.get(`repository:${REPOSITORIES[0]}:pull`)?.authorization;
    revoked.add(held as string);
    registry.counts.tokens.length = 0;
    await Promise.all(Array.from({ length: 5 }, () => client.listTags(REPOSITORIES[0] as string)));
    expect(registry.counts.challenged).toHaveLength(1 + 5);
    expect(registry.counts.tokens).toEqual([`repository:${REPOSITORIES[0]}:pull`]);
  });
});
