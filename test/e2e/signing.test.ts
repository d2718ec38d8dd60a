/**
 * Signed releases on the real engine, registry, cosign and syft: the local stack's key pair
 * (keys/local.pub, its private half in Pulumi.local.yaml), offline (no transparency log here).
 */
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type RegistryAuth,
  type Statement,
  verifiedAttestations,
  verifySignature,
} from "../../clients/signing";
import { provenanceCommit, type SpdxDocument, sbomNames } from "../../lib/attestation";
import { LOCAL_PUBLIC_KEY_FILE, localSigningKey } from "../../scripts/e2eStack";
import { REPO_ROOT } from "../../scripts/stack";
import { SERVICE_NAMES } from "../../services/catalog";
import { makeTempDir } from "../support/tempDirs";
import {
  clientName,
  expiredTokenRefusals,
  tokenLogMarks,
  tokensSince,
  useTokenSettings,
} from "../support/tokenServer";
import { BUSYBOX_AWK_USE_AFTER_FREE } from "../support/vulnerabilityDatabase";
import { writeVulnerabilityDb } from "../support/vulnerabilityDbWriter";
import {
  accessLogMark,
  accessLogSince,
  backendText,
  createE2eStack,
  type E2eStack,
  failureOf,
  gitFixtures,
  pushes,
  REGISTRY,
  REGISTRY_PASSWORD,
  REGISTRY_USERNAME,
  registryClient,
  setVersion,
} from "./harness";

const run = promisify(execFile);
const LOCAL_PUBLIC_KEY = fs.readFileSync(LOCAL_PUBLIC_KEY_FILE, "utf8");
const AUTH: RegistryAuth = {
  registry: REGISTRY,
  username: REGISTRY_USERNAME,
  password: REGISTRY_PASSWORD,
};
const OFFLINE = { publicKey: LOCAL_PUBLIC_KEY, transparencyLog: false };
const registry = registryClient();

/** Every attachment of an organization's repositories: referrers tags and what they list. */
async function attachments(organization: string): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {};
  for (const service of SERVICE_NAMES) {
    const repository = `${organization}/${service}`;
    for (const tag of (await registry.listTags(repository)).filter((t) =>
      t.startsWith("sha256-"),
    )) {
      const index = await registry.getManifest(repository, tag);
      found[`${repository}:${tag}`] = (index?.manifests ?? []).map((entry) => entry.digest).sort();
    }
  }
  return found;
}

const ref = (e2e: E2eStack, service: string, tag: string) =>
  `${REGISTRY}/${e2e.organization}/${service}:${tag}`;

async function predicate(reference: string, type: string): Promise<Statement["predicate"]> {
  const { statements, detail } = await verifiedAttestations(reference, type, OFFLINE, AUTH);
  if (statements.length === 0) throw new Error(`no ${type} attestation on ${reference}: ${detail}`);
  return statements[0]?.predicate;
}

describe.sequential("signed releases", () => {
  let e2e: E2eStack;
  let sources: { dir: string; commit: string };
  let signingKey: { key: string; password: string };
  let restoreTokenSettings: (() => void) | undefined;
  let tokenMarks: { tokens: number; registry: number };

  beforeAll(async () => {
    // Every release, cleanup and verify of this file runs on 5-second tokens, dated back by the
    // registry's 60 s leeway: a token is refused 5 s after it was issued, mid-release.
    restoreTokenSettings = useTokenSettings({ expiresIn: 5, backdateSeconds: 60 });
    tokenMarks = tokenLogMarks();
    signingKey = await localSigningKey();
    sources = gitFixtures();
    e2e = await createE2eStack("sig", {
      sourceRoot: sources.dir,
      sign: "true",
      cosignPublicKey: LOCAL_PUBLIC_KEY_FILE,
      transparencyLog: "false",
      publishDescriptions: "false",
    });
    await e2e.stack.setAllConfig({
      "battlescope:cosignKey": { value: signingKey.key, secret: true },
      "battlescope:cosignPassword": { value: signingKey.password, secret: true },
    });
  });

  afterAll(async () => {
    restoreTokenSettings?.();
    await e2e?.close();
  });

  it("refuses a signing stack without its key at preview, naming the key; nothing is pushed", async () => {
    await e2e.stack.removeConfig("battlescope:cosignKey");
    const mark = accessLogMark();
    const failure = await failureOf(e2e.stack.preview());
    expect(failure).toContain(
      'missing secret config "battlescope:cosignKey": required because sign is true; set it with `pulumi config set --secret battlescope:cosignKey < cosign.key`',
    );
    expect(pushes(accessLogSince(mark, e2e.organization))).toEqual([]);
    await e2e.stack.setConfig("battlescope:cosignKey", { value: signingKey.key, secret: true });
  });

  it("refuses a key its password does not open at preview, naming both keys; nothing is pushed", async () => {
    await e2e.stack.setConfig("battlescope:cosignPassword", {
      value: "not-the-password",
      secret: true,
    });
    const mark = accessLogMark();
    const failure = await failureOf(e2e.stack.preview());
    expect(failure).toContain(
      'invalid secret config "battlescope:cosignKey": cosign cannot open it with battlescope:cosignPassword',
    );
    expect(pushes(accessLogSince(mark, e2e.organization))).toEqual([]);
    await e2e.stack.setConfig("battlescope:cosignPassword", {
      value: signingKey.password,
      secret: true,
    });
  });

  it("refuses a key that is not the public key's private half at preview; nothing is pushed", async () => {
    const other = makeTempDir("otherkey");
    await run("cosign", ["generate-key-pair"], {
      cwd: other,
      env: { ...process.env, COSIGN_PASSWORD: "other" },
    });
    await e2e.stack.setAllConfig({
      "battlescope:cosignKey": {
        value: fs.readFileSync(path.join(other, "cosign.key"), "utf8"),
        secret: true,
      },
      "battlescope:cosignPassword": { value: "other", secret: true },
    });
    const mark = accessLogMark();
    const failure = await failureOf(e2e.stack.preview());
    expect(failure).toContain(
      `invalid secret config "battlescope:cosignKey": it is not the private half of ${LOCAL_PUBLIC_KEY_FILE} (battlescope:cosignPublicKey)`,
    );
    expect(pushes(accessLogSince(mark, e2e.organization))).toEqual([]);
    await e2e.stack.setAllConfig({
      "battlescope:cosignKey": { value: signingKey.key, secret: true },
      "battlescope:cosignPassword": { value: signingKey.password, secret: true },
    });
  });

  it("signs every version list: cosign verify passes with the repository's public key", async () => {
    await e2e.stack.up();
    for (const service of SERVICE_NAMES) {
      const result = await run("cosign", [
        "verify",
        "--key",
        LOCAL_PUBLIC_KEY_FILE,
        "--insecure-ignore-tlog=true",
        ref(e2e, service, "v3.0.0"),
      ]);
      expect(result.stdout).toContain("https://sigstore.dev/cosign/sign/v1");
      expect((await verifySignature(ref(e2e, service, "v3.0.0"), OFFLINE, AUTH)).verified).toBe(
        true,
      );
    }
  });

  it("the SBOM of each platform image lists the fixture's files; the list's holds both", async () => {
    for (const service of ["frontend", "db-migrator"]) {
      for (const arch of ["amd64", "arm64"]) {
        const sbom = (await predicate(
          ref(e2e, service, `v3.0.0-${arch}`),
          "spdxjson",
        )) as SpdxDocument;
        expect(sbom.spdxVersion).toBe("SPDX-2.3");
        const names = sbomNames(sbom);
        expect(names.files).toContain("app/ARCH");
        expect(names.files).toContain(service === "frontend" ? "app/server.sh" : "app/migrate.sh");
        expect(names.packages).toContain("busybox");
      }
      const list = (await predicate(ref(e2e, service, "v3.0.0"), "spdxjson")) as SpdxDocument;
      expect(list.name).toBe(`${REGISTRY}/${e2e.organization}/${service}:v3.0.0`);
      expect(sbomNames(list).files.filter((file) => file === "app/ARCH")).toHaveLength(2);
    }
  });

  it("the provenance of each platform image and list names the source root's commit", async () => {
    for (const tag of ["v3.0.0", "v3.0.0-amd64", "v3.0.0-arm64"]) {
      const provenance = await predicate(ref(e2e, "search-service", tag), "slsaprovenance1");
      expect(provenanceCommit(provenance)).toBe(sources.commit);
      expect(JSON.stringify(provenance)).toContain('"context":"search-service"');
    }
  });

  it("verify with another key fails", async () => {
    const other = makeTempDir("otherkey");
    await run("cosign", ["generate-key-pair"], {
      cwd: other,
      env: { ...process.env, COSIGN_PASSWORD: "x" },
    });
    const otherKey = {
      publicKey: fs.readFileSync(path.join(other, "cosign.pub"), "utf8"),
      transparencyLog: false,
    };
    const result = await verifySignature(ref(e2e, "frontend", "v3.0.0"), otherKey, AUTH);
    expect(result.verified).toBe(false);
    await expect(
      run("cosign", [
        "verify",
        "--key",
        path.join(other, "cosign.pub"),
        "--insecure-ignore-tlog=true",
        ref(e2e, "frontend", "v3.0.0"),
      ]),
    ).rejects.toMatchObject({ code: 1 });
  });

  it("battlescope-images verify checks the signature, and the SBOM and provenance of the list and both platforms", async () => {
    const { cli } = await import("../support/runCli");
    const verify = (...more: string[]) =>
      cli(
        "verify",
        "frontend",
        "v3.0.0",
        "--registry",
        REGISTRY,
        "--organization",
        e2e.organization,
        ...more,
      );
    const passed = await verify(
      "--key",
      LOCAL_PUBLIC_KEY_FILE,
      "--offline",
      "--commit",
      sources.commit,
    );
    expect(passed.code, passed.stdout + passed.stderr).toBe(0);
    const repository = `${e2e.organization}/frontend`;
    for (const line of [
      new RegExp(`signature +${repository}:v3\\.0\\.0 +ok +verifies with ${LOCAL_PUBLIC_KEY_FILE}`),
      ...["v3.0.0", "v3.0.0-amd64", "v3.0.0-arm64"].flatMap((tag) => [
        new RegExp(
          `sbom +${repository}:${tag.replaceAll(".", "\\.")} +ok +SPDX-2\\.3, \\d+ packages, \\d+ files`,
        ),
        new RegExp(
          `provenance +${repository}:${tag.replaceAll(".", "\\.")} +ok +source commit ${sources.commit}`,
        ),
      ]),
    ]) {
      expect(passed.stdout).toMatch(line);
    }

    const other = makeTempDir("otherkey");
    await run("cosign", ["generate-key-pair"], {
      cwd: other,
      env: { ...process.env, COSIGN_PASSWORD: "x" },
    });
    const wrongKey = await verify("--key", path.join(other, "cosign.pub"), "--offline");
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stdout).toMatch(
      new RegExp(
        `signature +${repository}:v3\\.0\\.0 +FAIL +no signature that verifies with ${path.join(other, "cosign.pub")}`,
      ),
    );
    expect(wrongKey.stdout).toContain(
      "Not signed by this key: v3.0.0's manifest list carries no signature the key verifies.",
    );

    const wrongCommit = await verify(
      "--key",
      LOCAL_PUBLIC_KEY_FILE,
      "--offline",
      "--commit",
      "0000000",
    );
    expect(wrongCommit.code).toBe(1);
    expect(wrongCommit.stdout).toContain(`names commit ${sources.commit}, expected 0000000`);
  });

  it("verify fails an image pushed out of band without a signature, with the hint", async () => {
    const outOfBand = `${e2e.organization}x`;
    for (const tag of ["v3.0.0", "v3.0", "v3", "latest"].flatMap((t) => [
      t,
      `${t}-amd64`,
      `${t}-arm64`,
    ])) {
      await run("skopeo", [
        "copy",
        "--all",
        "--quiet",
        `docker://${REGISTRY}/${e2e.organization}/init:${tag}`,
        `docker://${REGISTRY}/${outOfBand}/init:${tag}`,
      ]);
    }
    const { cli } = await import("../support/runCli");
    const result = await cli(
      "verify",
      "init",
      "v3.0.0",
      "--registry",
      REGISTRY,
      "--organization",
      outOfBand,
      "--key",
      LOCAL_PUBLIC_KEY_FILE,
      "--offline",
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`signature +${outOfBand}/init:v3\\.0\\.0 +FAIL`));
    expect(result.stdout).toMatch(
      new RegExp(`sbom +${outOfBand}/init:v3\\.0\\.0-amd64 +FAIL +no SPDX SBOM attestation`),
    );
    expect(result.stdout).toContain("SBOM or provenance missing");
    // The tags themselves are all there: only what proves them is missing.
    expect(result.stdout).not.toMatch(/tag exists .* FAIL/);
  });

  it("verify refuses a --key that is not a public key file, reading nothing", async () => {
    const { cli } = await import("../support/runCli");
    const mark = accessLogMark();
    const verifyWithKey = (key: string) =>
      cli(
        ...["verify", "init", "v3.0.0", "--registry", REGISTRY],
        ...["--organization", e2e.organization, "--key", key],
      );
    const missing = await verifyWithKey("/nowhere/cosign.pub");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('invalid --key "/nowhere/cosign.pub": no such file');
    const notPem = await verifyWithKey(path.join(REPO_ROOT, "package.json"));
    expect(notPem.code).toBe(2);
    expect(notPem.stderr).toContain("not a PEM public key");
    expect(accessLogSince(mark, e2e.organization)).toEqual([]);
  });

  it("a rerun of the same release, even from a lost state, adds no signature or attestation", async () => {
    const before = await attachments(e2e.organization);
    // Every subject: 9 lists and 18 platform images, each with its own referrers tag.
    expect(Object.keys(before)).toHaveLength(27);
    for (const [tag, entries] of Object.entries(before)) {
      const isList =
        SERVICE_NAMES.some((service) => tag.includes(`/${service}:`)) && entries.length === 3;
      expect(entries.length === 2 || isList, `${tag}: ${entries.length}`).toBe(true);
    }
    const rerun = await e2e.stack.up();
    expect(rerun.summary.resourceChanges).not.toHaveProperty("create");
    expect(rerun.summary.resourceChanges).not.toHaveProperty("update");
    // A second stack releasing the same version from the same sources: nothing attached twice.
    const again = await createE2eStack("sig2", {
      sourceRoot: sources.dir,
      sign: "true",
      cosignPublicKey: LOCAL_PUBLIC_KEY_FILE,
      transparencyLog: "false",
      publishDescriptions: "false",
      organization: e2e.organization,
    });
    try {
      await again.stack.setAllConfig({
        "battlescope:cosignKey": { value: signingKey.key, secret: true },
        "battlescope:cosignPassword": { value: signingKey.password, secret: true },
      });
      await again.stack.up();
    } finally {
      await again.close();
    }
    expect(await attachments(e2e.organization)).toEqual(before);
  });

  it("keeps the signing key out of the state and the engine's output in plain text", async () => {
    const { stdout } = await e2e.stack.preview({ diff: true });
    const body = signingKey.key.split("\n")[1] as string;
    expect(stdout).not.toContain(body);
    // Every file the backend holds: the state, its backups and history.
    const state = backendText(e2e.backendDir);
    expect(state).toContain("ReleaseAttestations");
    expect(state).not.toContain(body);
    expect(state).not.toContain(signingKey.password);
  });

  it("retention deletes a deleted release's signatures and SBOMs with it and keeps a kept one's", async () => {
    // v3.0.1 with changed frontend sources: new platform images, so v3.0.0's are deletable.
    fs.appendFileSync(path.join(sources.dir, "frontend/server.sh"), "\n# v3.0.1\n");
    execFileSync("git", ["-C", sources.dir, "commit", "--quiet", "-am", "v3.0.1"], {
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "e2e",
        GIT_AUTHOR_EMAIL: "e2e@x",
        GIT_COMMITTER_NAME: "e2e",
        GIT_COMMITTER_EMAIL: "e2e@x",
      },
    });
    await setVersion(e2e, "v3.0.1");
    await e2e.stack.up();
    const repository = `${e2e.organization}/frontend`;
    const digestOf = async (tag: string) =>
      (await registry.headManifest(repository, tag))?.digest as string;
    const oldList = await digestOf("v3.0.0");
    const oldImages = [await digestOf("v3.0.0-amd64"), await digestOf("v3.0.0-arm64")];
    const keptTags = ["v3.0.1", "v3.0.1-amd64", "v3.0.1-arm64"];
    const keptSubjects = await Promise.all(keptTags.map(digestOf));
    const referrers = (digest: string) => `sha256-${digest.slice("sha256:".length)}`;
    const before = await attachments(e2e.organization);
    const keptBefore = Object.fromEntries(
      keptSubjects.map((digest) => [digest, before[`${repository}:${referrers(digest)}`]]),
    );
    for (const entries of Object.values(keptBefore))
      expect(entries?.length).toBeGreaterThanOrEqual(2);

    const { cli } = await import("../support/runCli");
    const cleanup = (mode: string) =>
      cli(
        "cleanup",
        ...["--registry", REGISTRY, "--organization", e2e.organization, "--service", "frontend"],
        ...["--keep-patches", "1", mode],
      );
    const dryRun = await cleanup("--json");
    expect(dryRun.code, dryRun.stderr).toBe(0);
    const plan = JSON.parse(dryRun.stdout) as { delete: Array<{ tag: string; reason: string }> };
    expect(plan.delete.map(({ tag }) => tag).sort()).toEqual(
      [
        "v3.0.0",
        "v3.0.0-amd64",
        "v3.0.0-arm64",
        referrers(oldList),
        ...oldImages.map(referrers),
      ].sort(),
    );
    expect(plan.delete.find(({ tag }) => tag === referrers(oldList))?.reason).toBe(
      `attached to ${oldList}, deleted with it`,
    );
    const applied = await cleanup("--apply");
    expect(applied.code, applied.stderr).toBe(0);
    const after = await attachments(e2e.organization);
    for (const digest of [oldList, ...oldImages]) {
      expect(after[`${repository}:${referrers(digest)}`]).toBeUndefined();
      for (const entry of before[`${repository}:${referrers(digest)}`] ?? []) {
        expect(await registry.headManifest(repository, entry)).toBeUndefined();
      }
    }
    for (const digest of keptSubjects) {
      expect(after[`${repository}:${referrers(digest)}`]).toEqual(keptBefore[digest]);
      for (const entry of keptBefore[digest] ?? []) {
        expect((await registry.headManifest(repository, entry))?.digest).toBe(entry);
      }
    }
    expect((await verifySignature(ref(e2e, "frontend", "v3.0.1"), OFFLINE, AUTH)).verified).toBe(
      true,
    );
  });

  it("ran on 5-second tokens: each client fetched new ones as they ran out", () => {
    const issued = tokensSince(tokenMarks.tokens).filter((entry) => entry.event === "issued");
    const byClient: Record<string, number> = {};
    for (const entry of issued) {
      const client = clientName(entry.client);
      byClient[client] = (byClient[client] ?? 0) + 1;
    }
    console.log(
      `tokens issued on 5-second lifetimes, by client: ${JSON.stringify(byClient)}; expired tokens the registry refused: ${expiredTokenRefusals(tokenMarks.registry)}`,
    );
    expect(issued.every((entry) => entry.expiresIn === 5)).toBe(true);
    // BuildKit's pushes (containerd's resolver), cosign, and the program and the CLI (node).
    for (const client of ["containerd", "cosign", "node"]) {
      expect(byClient[client] ?? 0, client).toBeGreaterThan(1);
    }
  });
});

describe.sequential("the policy pack on a prod stack", () => {
  let prod: E2eStack;
  const POLICY_PACK = path.join(REPO_ROOT, "policy");
  beforeAll(async () => {
    prod = await createE2eStack("sigpol", { publishDescriptions: "false", sign: "false" }, "prod");
  });
  afterAll(async () => prod?.close());

  it("fails preview of an unsigned release with releases-signed for every image; nothing is pushed", async () => {
    const mark = accessLogMark();
    const failure = await failureOf(
      prod.stack.preview({ color: "never", policyPacks: [POLICY_PACK] }),
    );
    for (const service of SERVICE_NAMES) {
      expect(failure).toContain(
        `stack prod releases ${REGISTRY}/${prod.organization}/${service} unsigned ("${service}-version-tags")`,
      );
    }
    expect(failure).toContain("[mandatory]  releases-signed  (");
    expect(pushes(accessLogSince(mark, prod.organization))).toEqual([]);
  });

  it("fails preview of an unscanned release, or one scanned below high, with releases-scanned", async () => {
    const mark = accessLogMark();
    const unscanned = await failureOf(
      prod.stack.preview({ color: "never", policyPacks: [POLICY_PACK] }),
    );
    for (const service of SERVICE_NAMES) {
      expect(unscanned).toContain(
        `stack prod releases ${REGISTRY}/${prod.organization}/${service} unscanned ("${service}-version-tags")`,
      );
    }
    expect(unscanned).toContain("[mandatory]  releases-scanned  (");
    await prod.stack.setAllConfig({
      "battlescope:scan": { value: "true" },
      "battlescope:vulnerabilityDb": {
        value: writeVulnerabilityDb(new Date(Date.now() - 60 * 60 * 1000), [
          BUSYBOX_AWK_USE_AFTER_FREE,
        ]),
      },
      "battlescope:failOn": { value: "medium" },
    });
    const medium = await failureOf(
      prod.stack.preview({ color: "never", policyPacks: [POLICY_PACK] }),
    );
    for (const service of SERVICE_NAMES) {
      expect(medium).toContain(
        `stack prod scans ${REGISTRY}/${prod.organization}/${service} with failOn "medium" ("${service}-scan")`,
      );
    }
    expect(pushes(accessLogSince(mark, prod.organization))).toEqual([]);
    await prod.stack.setConfig("battlescope:failOn", { value: "high" });
  });

  it("passes it once the stack signs and scans at high", async () => {
    const { key, password } = await localSigningKey();
    await prod.stack.setAllConfig({
      "battlescope:sign": { value: "true" },
      "battlescope:cosignPublicKey": { value: LOCAL_PUBLIC_KEY_FILE },
      "battlescope:transparencyLog": { value: "false" },
      "battlescope:cosignKey": { value: key, secret: true },
      "battlescope:cosignPassword": { value: password, secret: true },
    });
    const result = await prod.stack.preview({ color: "never", policyPacks: [POLICY_PACK] });
    expect(result.stdout).not.toContain("releases-signed");
    expect(result.stdout).not.toContain("releases-scanned");
  });
});
