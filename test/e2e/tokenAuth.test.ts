/**
 * The local registry as Docker Hub's behaves: bearer tokens from a token server (scripts/token-server),
 * scoped per repository and action, checked by the real registry (distribution v3, auth: token).
 * A pull-only account (the pull secret's) is refused a push by the registry itself, and a stack
 * that names it as the pushing account is refused before anything is pushed.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OciRegistryClient, RegistryError } from "../../clients/ociRegistry";
import { runToolWithLogin } from "../../clients/tools";
import { PULL_LOGIN, REGISTRY, REGISTRY_LOGIN } from "../../scripts/e2eStack";
import {
  clientName,
  expiredTokenRefusals,
  tokenLogMarks,
  tokensSince,
  useTokenSettings,
} from "../support/tokenServer";
import {
  accessLogMark,
  accessLogSince,
  createE2eStack,
  type E2eStack,
  failureOf,
  pushes,
} from "./harness";

function pullLogin() {
  if (PULL_LOGIN === undefined)
    throw new Error("no pull-only account: start the local services (token or htpasswd auth)");
  return PULL_LOGIN;
}

describe.sequential("the registry behind its token server", () => {
  let e2e: E2eStack;

  beforeAll(async () => {
    e2e = await createE2eStack("pullonly", { publishDescriptions: "false" });
  });

  afterAll(async () => {
    await e2e?.close();
  });

  it("refuses the pull-only account a manifest write: the registry checks the token's scope", async () => {
    const { username, password } = pullLogin();
    const puller = new OciRegistryClient({ registry: REGISTRY, username, password });
    const repository = `${e2e.organization}/frontend`;
    const marks = tokenLogMarks();
    const mark = accessLogMark();
    const error = await puller
      .putManifest(
        repository,
        "v0.0.1",
        '{"schemaVersion":2}',
        "application/vnd.oci.image.manifest.v1+json",
      )
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).status).toBe(401);
    expect((error as RegistryError).message).toMatch(
      /^registry 127\.0\.0\.1:5000 refused to write [a-z0-9]+\/frontend:v0\.0\.1: HTTP 401: .*"code":"UNAUTHORIZED"/,
    );
    // The token server granted the pull it may do, not the push it asked for.
    const issued = tokensSince(marks.tokens).filter((entry) => entry.account === username);
    expect(issued.map((entry) => entry.access)).toContainEqual([`repository:${repository}:pull`]);
    // The challenge, then the write with the pull-only token: both refused, nothing written.
    expect(accessLogSince(mark, e2e.organization).map((entry) => entry.status)).toEqual([401, 401]);
  });

  it("refuses a stack whose pushing account may only pull before anything is pushed, naming the account and the permission", async () => {
    const { username, password } = pullLogin();
    // The user name in plain config: the engine masks a secret's value wherever it appears,
    // the refusal's account name included.
    await e2e.stack.setAllConfig({
      "battlescope:registryUsername": { value: username },
      "battlescope:pullSecretUsername": { value: username },
      "battlescope:registryPassword": { value: password, secret: true },
    });
    const mark = accessLogMark();
    const failure = await failureOf(e2e.stack.up({ color: "never" }));
    expect(failure).toContain(
      `registry 127.0.0.1:5000 does not let account "release-puller" push to ${e2e.organization}/`,
    );
    expect(failure).toMatch(
      /: the "push" permission is missing \(its token grants pull only\); set battlescope:registryUsername and registryPassword to an account that may push \(a pull-only account belongs in battlescope:pullSecretUsername and pullSecretPassword, for the pull secret\)/,
    );
    expect(pushes(accessLogSince(mark, e2e.organization))).toEqual([]);
  });

  it("syft reads an image with the pushing account's token (its SBOMs are otherwise cached by digest)", async () => {
    const marks = tokenLogMarks();
    const result = await runToolWithLogin(
      "syft",
      ["scan", `registry:${REGISTRY}/library/busybox:1.35.0`, "--output", "spdx-json", "--quiet"],
      { SYFT_CHECK_FOR_APP_UPDATE: "false" },
      { registry: REGISTRY, ...REGISTRY_LOGIN },
    );
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as { spdxVersion?: string }).spdxVersion).toBe("SPDX-2.3");
    const syft = tokensSince(marks.tokens).filter(
      (entry) => entry.event === "issued" && clientName(entry.client) === "syft",
    );
    expect(syft.map((entry) => entry.access)).toContainEqual(["repository:library/busybox:pull"]);
  });

  it("a fresh client's concurrent first requests meet one challenge, and each scope's token is fetched once", async () => {
    // A release's providers start in a process of their own, and its first requests go out
    // together: before, each went without a token and was refused, and each fetched its own.
    const registry = new OciRegistryClient({ registry: REGISTRY, ...REGISTRY_LOGIN });
    const repositories = ["frontend", "search-service", "init"].map(
      (name) => `${e2e.organization}/${name}`,
    );
    const marks = tokenLogMarks();
    const mark = accessLogMark();
    const reads = repositories.flatMap((repository) =>
      Array.from({ length: 4 }, () => registry.listTags(repository)),
    );
    expect(await Promise.all(reads)).toEqual(reads.map(() => []));
    const statuses = accessLogSince(mark, e2e.organization).map((entry) => entry.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(1);
    expect(statuses.filter((status) => status === 404)).toHaveLength(12);
    const issued = tokensSince(marks.tokens)
      .filter((entry) => entry.event === "issued")
      .map((entry) => entry.access?.join(" "));
    expect(issued.sort()).toEqual(
      repositories.map((repository) => `repository:${repository}:pull`).sort(),
    );
  });

  describe.sequential("5-second tokens, dated back by the registry's 60 s leeway", () => {
    let restore: (() => void) | undefined;
    beforeAll(() => {
      restore = useTokenSettings({ expiresIn: 5, backdateSeconds: 60 });
    });
    afterAll(() => restore?.());

    /** The pushing account's client, reading one repository twice, 6 s apart. */
    async function readTwice(now?: () => number) {
      const registry = new OciRegistryClient({
        registry: REGISTRY,
        ...REGISTRY_LOGIN,
        ...(now === undefined ? {} : { now }),
      });
      const repository = `${e2e.organization}/frontend`;
      const marks = tokenLogMarks();
      expect(await registry.listTags(repository)).toEqual([]);
      await sleep(6_000);
      const mark = accessLogMark();
      expect(await registry.listTags(repository)).toEqual([]);
      const tokens = tokensSince(marks.tokens).filter((entry) =>
        entry.access?.includes(`repository:${repository}:pull`),
      );
      return {
        tokens: tokens.length,
        statuses: accessLogSince(mark, e2e.organization).map((entry) => entry.status),
        expiredRefusals: expiredTokenRefusals(marks.registry),
      };
    }

    it("a token near its end is replaced before the registry would refuse it", async () => {
      const read = await readTwice();
      expect(read).toEqual({ tokens: 2, statuses: [404], expiredRefusals: 0 });
    });

    it("a token the registry refuses as expired is replaced once, and the request succeeds", async () => {
      // A client whose clock stands still believes its token is fresh: the registry decides.
      const frozen = Date.now();
      const read = await readTwice(() => frozen);
      expect(read.tokens).toBe(2);
      expect(read.statuses).toEqual([401, 404]);
      expect(read.expiredRefusals).toBe(1);
    });
  });
});
