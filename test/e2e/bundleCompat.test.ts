/**
 * The program's own signing (clients/attachers.ts, no cosign process) and the real cosign v3
 * agree: what the program attaches, `cosign verify` and `verify-attestation` verify with the
 * public key; what cosign attached (a release made before, or with a transparency log), the
 * program finds and does not write again; neither counts what another key signed.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Attacher, inProcessAttacher } from "../../clients/attachers";
import { OciRegistryClient } from "../../clients/ociRegistry";
import {
  attestDigest,
  type SigningSettings,
  signDigest,
  verifiedAttestations,
  verifySignature,
} from "../../clients/signing";
import { localSigningKey, REGISTRY, REGISTRY_LOGIN } from "../../scripts/e2eStack";
import { createE2eStack, type E2eStack } from "./harness";

const FIXTURES = path.join(__dirname, "../fixtures/cosign");
const KEY = {
  privateKey: fs.readFileSync(path.join(FIXTURES, "fixture.key"), "utf8"),
  password: "fixture-only",
};
const PUBLIC_KEY = fs.readFileSync(path.join(FIXTURES, "fixture.pub"), "utf8");
const SETTINGS: SigningSettings = { key: KEY, transparencyLog: false };
const VERIFY = { publicKey: PUBLIC_KEY, transparencyLog: false };
const AUTH = { registry: REGISTRY, ...REGISTRY_LOGIN };
const SBOM = { spdxVersion: "SPDX-2.3", name: "frontend", packages: [{ name: "busybox" }] };
const PROVENANCE = {
  buildDefinition: { buildType: "https://battlescope.dev/images/buildkit-release/v1" },
};

describe.sequential("signing in the program and with the real cosign agree", () => {
  let e2e: E2eStack;
  let repository: string;
  let client: OciRegistryClient;

  /** A small image of its own (config and one layer), as a subject to attach to. */
  async function pushImage(content: string): Promise<string> {
    const layer = Buffer.from(content);
    const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", content }));
    const raw = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: await client.pushBlob(repository, config),
        size: config.length,
      },
      layers: [
        {
          mediaType: "application/vnd.oci.image.layer.v1.tar",
          digest: await client.pushBlob(repository, layer),
          size: layer.length,
        },
      ],
    });
    const digest = `sha256:${createHash("sha256").update(raw).digest("hex")}`;
    await client.putManifest(repository, digest, raw, "application/vnd.oci.image.manifest.v1+json");
    return digest;
  }

  function attacher(key = KEY): Promise<Attacher> {
    return inProcessAttacher(
      { registry: REGISTRY, repository, auth: AUTH, settings: { key, transparencyLog: false } },
      new Set(),
    );
  }

  const ref = (digest: string) => `${REGISTRY}/${repository}@${digest}`;

  beforeAll(async () => {
    e2e = await createE2eStack("bundles", { publishDescriptions: "false" });
    repository = `${e2e.organization}/frontend`;
    client = new OciRegistryClient({ registry: REGISTRY, ...REGISTRY_LOGIN });
  });

  afterAll(async () => {
    await e2e?.close();
  });

  it("what the program attaches, cosign verifies with the public key", async () => {
    const digest = await pushImage("signed in the program");
    const program = await attacher();
    await program.attest(digest, "spdxjson", SBOM);
    await program.attest(digest, "slsaprovenance1", PROVENANCE);
    await program.sign(digest);

    const sboms = await verifiedAttestations(ref(digest), "spdxjson", VERIFY, AUTH);
    expect(sboms.detail).toBe("");
    expect(sboms.statements.map((statement) => statement.predicate)).toEqual([SBOM]);
    expect(sboms.statements[0]?.subject).toEqual([
      { name: `${REGISTRY}/${repository}`, digest: { sha256: digest.slice("sha256:".length) } },
    ]);
    const provenances = await verifiedAttestations(ref(digest), "slsaprovenance1", VERIFY, AUTH);
    expect(provenances.statements.map((statement) => statement.predicate)).toEqual([PROVENANCE]);
    expect(await verifySignature(ref(digest), VERIFY, AUTH)).toEqual({
      verified: true,
      detail: "",
    });
  });

  it("what cosign attached, the program finds (the index keeps only cosign's two entries)", async () => {
    const digest = await pushImage("signed by cosign");
    await attestDigest(ref(digest), "spdxjson", SBOM, SETTINGS, AUTH);
    await signDigest(ref(digest), SETTINGS, AUTH);

    const program = await attacher();
    const found = await program.statements(digest, "spdxjson");
    // cosign writes the predicate's keys in its own order: the same document by value.
    expect(found.map((statement) => statement.predicate)).toEqual([SBOM]);
    expect(await program.statements(digest, "slsaprovenance1")).toEqual([]);
    expect(await program.signed(digest)).toBe(true);
    const index = await client.getManifest(repository, digest.replace(":", "-"));
    expect(index?.manifests).toHaveLength(2);
  });

  it("neither counts what another key signed", async () => {
    const digest = await pushImage("signed by another key");
    const other = await localSigningKey();
    const elsewhere = await attacher({ privateKey: other.key, password: other.password });
    await elsewhere.attest(digest, "spdxjson", SBOM);
    await elsewhere.sign(digest);

    const program = await attacher();
    expect(await program.statements(digest, "spdxjson")).toEqual([]);
    expect(await program.signed(digest)).toBe(false);
    const byCosign = await verifiedAttestations(ref(digest), "spdxjson", VERIFY, AUTH);
    expect(byCosign.statements).toEqual([]);
    expect((await verifySignature(ref(digest), VERIFY, AUTH)).verified).toBe(false);
  });
});
