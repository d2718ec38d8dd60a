import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseVerifiedStatements, samePublicKey, signatureTypes } from "../../clients/signing";
import {
  attachmentSubject,
  BUILD_TYPE,
  imageProvenance,
  listProvenance,
  listSbom,
  provenanceCommit,
  referrersTag,
  type SpdxDocument,
  sbomNames,
} from "../../lib/attestation";

const HEX = "ab".repeat(32);
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const source = {
  uri: "git+https://github.com/battlescope/battle-monitor",
  commit: COMMIT,
  dirty: false,
};

describe("attachmentSubject", () => {
  const cases: Array<[string, string, string | undefined]> = [
    ["referrers tag", `sha256-${HEX}`, `sha256:${HEX}`],
    ["cosign signature tag", `sha256-${HEX}.sig`, `sha256:${HEX}`],
    ["cosign attestation tag", `sha256-${HEX}.att`, `sha256:${HEX}`],
    ["cosign SBOM tag", `sha256-${HEX}.sbom`, `sha256:${HEX}`],
    ["a release tag", "v3.1.2", undefined],
    ["an arch tag", "v3.1.2-amd64", undefined],
    ["too short", `sha256-${HEX.slice(2)}`, undefined],
    ["upper-case hex", `sha256-${HEX.toUpperCase()}`, undefined],
    ["another suffix", `sha256-${HEX}.foo`, undefined],
    ["another algorithm", `sha512-${HEX}`, undefined],
  ];
  it.each(cases)("%s", (_name, tag, subject) => {
    expect(attachmentSubject(tag)).toBe(subject);
  });

  it("reads back the referrers tag of any digest", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-f]{64}$/), (hex) => {
        expect(attachmentSubject(referrersTag(`sha256:${hex}`))).toBe(`sha256:${hex}`);
      }),
    );
  });
});

describe("provenance", () => {
  it("names the source commit, the build args, the platform and the builder of an image", () => {
    const predicate = imageProvenance({
      source,
      context: "frontend",
      platform: "linux/arm64",
      buildArgs: { SOURCE_DATE_EPOCH: "0" },
      builder: "buildx://battlescope",
      sourceHash: "sha256:1",
    });
    expect(predicate).toEqual({
      buildDefinition: {
        buildType: BUILD_TYPE,
        externalParameters: {
          source: source.uri,
          context: "frontend",
          dockerfile: "Dockerfile",
          platform: "linux/arm64",
          buildArgs: { SOURCE_DATE_EPOCH: "0" },
        },
        internalParameters: { sourceHash: "sha256:1" },
        resolvedDependencies: [
          { uri: source.uri, digest: { gitCommit: COMMIT }, annotations: { dirty: false } },
        ],
      },
      runDetails: { builder: { id: "buildx://battlescope" } },
    });
    expect(provenanceCommit(predicate)).toBe(COMMIT);
  });

  it("a version list's names the version and each platform image by digest", () => {
    const predicate = listProvenance({
      source: { ...source, dirty: true },
      repository: "127.0.0.1:5000/battlescope/frontend",
      context: "frontend",
      version: "v3.1.0",
      builder: "buildx://battlescope",
      sourceHash: "sha256:1",
      images: { "linux/amd64": `sha256:${HEX}` },
    }) as { buildDefinition: { externalParameters: unknown; resolvedDependencies: unknown[] } };
    expect(predicate.buildDefinition.externalParameters).toMatchObject({
      version: "v3.1.0",
      platforms: ["linux/amd64"],
    });
    expect(predicate.buildDefinition.resolvedDependencies).toEqual([
      { uri: source.uri, digest: { gitCommit: COMMIT }, annotations: { dirty: true } },
      {
        name: "linux/amd64",
        uri: `oci://127.0.0.1:5000/battlescope/frontend@sha256:${HEX}`,
        digest: { sha256: HEX },
      },
    ]);
    expect(provenanceCommit(predicate)).toBe(COMMIT);
  });

  it("outside a git checkout there is no commit to name", () => {
    const predicate = imageProvenance({
      source: { uri: "file:///src", dirty: false },
      context: "init",
      platform: "linux/amd64",
      buildArgs: {},
      builder: "buildx://default",
      sourceHash: "sha256:2",
    });
    expect(provenanceCommit(predicate)).toBeUndefined();
    expect(provenanceCommit({})).toBeUndefined();
    expect(provenanceCommit(null)).toBeUndefined();
  });
});

describe("listSbom", () => {
  const platformSbom = (arch: string): SpdxDocument => ({
    spdxVersion: "SPDX-2.3",
    SPDXID: "SPDXRef-DOCUMENT",
    name: `frontend ${arch}`,
    documentNamespace: `https://anchore.com/syft/image/${arch}`,
    creationInfo: { created: "2026-11-30T00:00:00Z", creators: ["Tool: syft-1.57.1"] },
    packages: [{ SPDXID: "SPDXRef-Package-busybox", name: "busybox" }],
    files: [{ SPDXID: "SPDXRef-File-app-server.sh", fileName: "app/server.sh" }],
    relationships: [
      {
        spdxElementId: "SPDXRef-DOCUMENT",
        relatedSpdxElement: "SPDXRef-Package-busybox",
        relationshipType: "DESCRIBES",
      },
      {
        spdxElementId: "SPDXRef-Package-busybox",
        relatedSpdxElement: "SPDXRef-File-app-server.sh",
        relationshipType: "CONTAINS",
      },
    ],
  });
  const doc = listSbom({
    repository: "127.0.0.1:5000/battlescope/frontend",
    version: "v3.1.0",
    listDigest: `sha256:${HEX}`,
    created: "2026-11-30T00:00:00Z",
    platforms: {
      "linux/amd64": { digest: `sha256:${"1".repeat(64)}`, sbom: platformSbom("amd64") },
      "linux/arm64": { digest: `sha256:${"2".repeat(64)}`, sbom: platformSbom("arm64") },
    },
  });

  it("describes the list, contains each platform image, keeps every package and file", () => {
    expect(doc.spdxVersion).toBe("SPDX-2.3");
    expect(doc.name).toBe("127.0.0.1:5000/battlescope/frontend:v3.1.0");
    const names = sbomNames(doc);
    expect(names.files).toEqual(["app/server.sh", "app/server.sh"]);
    expect(names.packages.filter((name) => name === "busybox")).toHaveLength(2);
    expect(doc.relationships?.filter((r) => r.relationshipType === "DESCRIBES")).toEqual([
      {
        spdxElementId: "SPDXRef-DOCUMENT",
        relatedSpdxElement: "SPDXRef-ImageIndex",
        relationshipType: "DESCRIBES",
      },
    ]);
    expect(doc.relationships).toContainEqual({
      spdxElementId: "SPDXRef-ImageIndex",
      relatedSpdxElement: "SPDXRef-linux-arm64-Image",
      relationshipType: "CONTAINS",
    });
  });

  it("gives every element one id, and every relationship names elements of the document", () => {
    const ids = [...(doc.packages ?? []), ...(doc.files ?? [])].map((element) => element.SPDXID);
    expect(new Set(ids).size).toBe(ids.length);
    const known = new Set([...ids, "SPDXRef-DOCUMENT"]);
    for (const relation of doc.relationships ?? []) {
      expect(known.has(relation.spdxElementId)).toBe(true);
      expect(known.has(relation.relatedSpdxElement)).toBe(true);
    }
  });
});

describe("cosign output", () => {
  it("reads the in-toto statements of verify-attestation, one envelope per line", () => {
    const statement = {
      predicateType: "https://slsa.dev/provenance/v1",
      subject: [],
      predicate: { a: 1 },
    };
    const line = JSON.stringify({
      payloadType: "application/vnd.in-toto+json",
      payload: Buffer.from(JSON.stringify(statement)).toString("base64"),
      signatures: [{ sig: "x" }],
    });
    expect(parseVerifiedStatements(`${line}\n${line}\n`)).toEqual([statement, statement]);
    expect(parseVerifiedStatements("")).toEqual([]);
  });

  it("tells a signature from an attestation among what verify printed", () => {
    const printed = JSON.stringify([
      { critical: { type: "https://slsa.dev/provenance/v1" } },
      { critical: { type: "https://sigstore.dev/cosign/sign/v1" } },
    ]);
    expect(signatureTypes(`\n${printed}\n`)).toEqual([
      "https://slsa.dev/provenance/v1",
      "https://sigstore.dev/cosign/sign/v1",
    ]);
    expect(signatureTypes("not json")).toEqual([]);
  });

  it("compares public keys by their PEM text", () => {
    const pem = "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n";
    expect(samePublicKey(pem, pem.replace(/\n/g, "\r\n"))).toBe(true);
    expect(samePublicKey(pem, pem.replace("abc", "abd"))).toBe(false);
  });
});
