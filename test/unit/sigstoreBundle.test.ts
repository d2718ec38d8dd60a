import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  attestationStatement,
  BUNDLE_MEDIA_TYPE,
  bundleManifest,
  dsseBundle,
  EMPTY_CONFIG,
  preAuthEncoding,
  predicateTypeOf,
  readDsseBundle,
  signatureStatement,
  statementAbout,
  subjectName,
  withReferrer,
} from "../../lib/sigstoreBundle";

const DIGEST = `sha256:${"ab".repeat(32)}`;
const OTHER = `sha256:${"cd".repeat(32)}`;

describe("predicateTypeOf", () => {
  const cases: Array<[string, string]> = [
    ["slsaprovenance1", "https://slsa.dev/provenance/v1"],
    ["spdxjson", "https://spdx.dev/Document"],
    ["vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"],
    ["https://example.com/custom/v1", "https://example.com/custom/v1"],
  ];
  it.each(cases)("%s is %s, as cosign attest --type writes it", (type, expected) => {
    expect(predicateTypeOf(type)).toBe(expected);
  });
  it("refuses a type cosign does not name", () => {
    expect(() => predicateTypeOf("cyclonedx-ish")).toThrow(
      'unknown attestation type "cyclonedx-ish"',
    );
  });
});

describe("statements", () => {
  it("an attestation is a v0.1 statement naming the repository and the digest, as cosign attest", () => {
    expect(
      attestationStatement("127.0.0.1:5000/bs/frontend", DIGEST, "https://slsa.dev/provenance/v1", {
        a: 1,
      }),
    ).toEqual({
      _type: "https://in-toto.io/Statement/v0.1",
      subject: [{ name: "127.0.0.1:5000/bs/frontend", digest: { sha256: "ab".repeat(32) } }],
      predicateType: "https://slsa.dev/provenance/v1",
      predicate: { a: 1 },
    });
  });
  it("a signature is a v1 statement of the digest with an empty predicate, as cosign sign", () => {
    expect(signatureStatement(DIGEST)).toEqual({
      _type: "https://in-toto.io/Statement/v1",
      subject: [{ digest: { sha256: "ab".repeat(32) } }],
      predicateType: "https://sigstore.dev/cosign/sign/v1",
      predicate: {},
    });
  });
  it("refuses a digest that is not sha256", () => {
    expect(() => signatureStatement("sha512:00")).toThrow("not a sha256 digest: sha512:00");
  });
  const names: Array<[string, string, string]> = [
    [
      "Docker Hub by go-containerregistry's name",
      "docker.io",
      "index.docker.io/battlescope/frontend",
    ],
    ["another registry as it is", "127.0.0.1:5000", "127.0.0.1:5000/battlescope/frontend"],
    ["GHCR", "ghcr.io", "ghcr.io/battlescope/frontend"],
  ];
  it.each(names)("subject name on %s", (_name, registry, expected) => {
    expect(subjectName(registry, "battlescope/frontend")).toBe(expected);
  });
});

describe("preAuthEncoding", () => {
  it("is DSSE's PAE: DSSEv1, then each part's byte length and bytes", () => {
    expect(preAuthEncoding("application/vnd.in-toto+json", Buffer.from("hello")).toString()).toBe(
      "DSSEv1 28 application/vnd.in-toto+json 5 hello",
    );
  });
  it("counts bytes, not characters", () => {
    expect(preAuthEncoding("t", Buffer.from("é")).toString()).toBe("DSSEv1 1 t 2 é");
  });
  it("ends with the payload, after its length, for any payload", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const payload = Buffer.from(bytes);
        const encoded = preAuthEncoding("x", payload);
        const prefix = Buffer.from(`DSSEv1 1 x ${payload.length} `);
        expect(encoded.subarray(0, prefix.length).equals(prefix)).toBe(true);
        expect(encoded.subarray(prefix.length).equals(payload)).toBe(true);
      }),
    );
  });
});

describe("bundles", () => {
  const payload = Buffer.from(JSON.stringify(signatureStatement(DIGEST)));
  it("round-trips the envelope", () => {
    const bundle = dsseBundle(payload, Buffer.from("sig"), "hint=");
    expect(bundle.mediaType).toBe(BUNDLE_MEDIA_TYPE);
    expect(bundle.verificationMaterial).toEqual({ publicKey: { hint: "hint=" } });
    expect(readDsseBundle(Buffer.from(JSON.stringify(bundle)))).toEqual({
      payload: payload.toString("base64"),
      payloadType: "application/vnd.in-toto+json",
      signatures: [{ sig: Buffer.from("sig").toString("base64") }],
    });
  });
  const unreadable: Array<[string, string]> = [
    ["not JSON", "{"],
    ["a message-signature bundle", JSON.stringify({ messageSignature: {} })],
    [
      "another payload type",
      JSON.stringify({ dsseEnvelope: { payload: "", payloadType: "text/plain", signatures: [] } }),
    ],
    [
      "no signatures",
      JSON.stringify({
        dsseEnvelope: { payload: "", payloadType: "application/vnd.in-toto+json" },
      }),
    ],
  ];
  it.each(unreadable)("reads nothing from %s", (_name, text) => {
    expect(readDsseBundle(Buffer.from(text))).toBeUndefined();
  });
  it("finds the statement about its digest only", () => {
    expect(statementAbout(payload, DIGEST)?.predicateType).toBe(
      "https://sigstore.dev/cosign/sign/v1",
    );
    expect(statementAbout(payload, OTHER)).toBeUndefined();
    expect(statementAbout(Buffer.from("[]"), DIGEST)).toBeUndefined();
    expect(statementAbout(Buffer.from("not json"), DIGEST)).toBeUndefined();
  });
});

describe("bundleManifest", () => {
  it("is cosign's artifact manifest: empty config, the bundle layer, the subject, its annotations", () => {
    const raw = bundleManifest(
      { mediaType: BUNDLE_MEDIA_TYPE, digest: OTHER, size: 683 },
      { mediaType: "application/vnd.oci.image.index.v1+json", digest: DIGEST, size: 645 },
      "https://slsa.dev/provenance/v1",
      new Date("2026-12-07T17:09:03.123Z"),
    );
    expect(JSON.parse(raw)).toEqual({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { ...EMPTY_CONFIG, artifactType: BUNDLE_MEDIA_TYPE },
      layers: [{ mediaType: BUNDLE_MEDIA_TYPE, size: 683, digest: OTHER }],
      annotations: {
        "dev.sigstore.bundle.content": "dsse-envelope",
        "dev.sigstore.bundle.predicateType": "https://slsa.dev/provenance/v1",
        "org.opencontainers.image.created": "2026-12-07T17:09:03Z",
      },
      subject: { mediaType: "application/vnd.oci.image.index.v1+json", size: 645, digest: DIGEST },
      artifactType: BUNDLE_MEDIA_TYPE,
    });
  });
  it("names the empty config by its content's digest", () => {
    expect(`sha256:${createHash("sha256").update("{}").digest("hex")}`).toBe(EMPTY_CONFIG.digest);
  });
});

describe("withReferrer", () => {
  const entry = (digest: string) => ({
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest,
    size: 869,
    artifactType: BUNDLE_MEDIA_TYPE,
  });
  it("starts the referrers tag's index with the first entry", () => {
    expect(JSON.parse(withReferrer(undefined, entry(DIGEST)))).toEqual({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [entry(DIGEST)],
    });
  });
  it("appends to an index, keeping what others wrote there", () => {
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{ ...entry(OTHER), annotations: { by: "cosign" } }],
    });
    expect(JSON.parse(withReferrer(index, entry(DIGEST))).manifests).toEqual([
      { ...entry(OTHER), annotations: { by: "cosign" } },
      entry(DIGEST),
    ]);
  });
  it("leaves an index that lists the entry as it is", () => {
    const index = withReferrer(undefined, entry(DIGEST));
    expect(withReferrer(index, entry(DIGEST))).toBe(index);
  });
});
