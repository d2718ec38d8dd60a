/**
 * What cosign v3 attaches to a digest, as pure data: an in-toto statement in a DSSE envelope,
 * inside a Sigstore bundle (v0.3), inside an OCI artifact manifest whose `subject` is the digest.
 * Written here in-process so a release signs without a cosign process per attachment; the real
 * cosign verifies what this writes (test/e2e/signing.test.ts). With a transparency log, cosign
 * itself signs (a Rekor entry is not made here).
 */
import { PROVENANCE_PREDICATE_TYPE, SPDX_PREDICATE_TYPE } from "./attestation";

export const BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";
export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";
/** The OCI empty descriptor's content (`{}`), the config of every attachment manifest. */
export const EMPTY_CONFIG = {
  mediaType: "application/vnd.oci.empty.v1+json",
  digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
  size: 2,
} as const;
export const OCI_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json";

/** The predicate type of a `cosign sign` signature in a bundle. */
export const SIGNATURE_PREDICATE_TYPE = "https://sigstore.dev/cosign/sign/v1";

/** `cosign attest --type` names and the predicate types cosign writes for them. */
const PREDICATE_TYPES: Readonly<Record<string, string>> = {
  slsaprovenance1: PROVENANCE_PREDICATE_TYPE,
  spdxjson: SPDX_PREDICATE_TYPE,
  vuln: "https://cosign.sigstore.dev/attestation/vuln/v1",
};

/** The predicate type of a `cosign attest --type` name (a URL passes as it is). */
export function predicateTypeOf(cosignType: string): string {
  const known = PREDICATE_TYPES[cosignType];
  if (known !== undefined) return known;
  if (/^https?:\/\//.test(cosignType)) return cosignType;
  throw new Error(`unknown attestation type "${cosignType}"`);
}

export interface InTotoStatement {
  readonly _type: string;
  readonly subject: readonly { name?: string; digest: Record<string, string> }[];
  readonly predicateType: string;
  readonly predicate: unknown;
}

/** `sha256:<hex>` as in-toto's digest set. */
function digestSet(digest: string): Record<string, string> {
  const match = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (match === null) throw new Error(`not a sha256 digest: ${digest}`);
  return { sha256: match[1] as string };
}

/** The repository as cosign names a subject: go-containerregistry's name (Docker Hub's host). */
export function subjectName(registry: string, repository: string): string {
  return `${registry === "docker.io" ? "index.docker.io" : registry}/${repository}`;
}

/** What `cosign attest` signs: a v0.1 statement naming the repository and the digest. */
export function attestationStatement(
  name: string,
  digest: string,
  predicateType: string,
  predicate: unknown,
): InTotoStatement {
  return {
    _type: "https://in-toto.io/Statement/v0.1",
    subject: [{ name, digest: digestSet(digest) }],
    predicateType,
    predicate,
  };
}

/** What `cosign sign` signs with a bundle: a v1 statement of the digest, empty predicate. */
export function signatureStatement(digest: string): InTotoStatement {
  return {
    _type: "https://in-toto.io/Statement/v1",
    subject: [{ digest: digestSet(digest) }],
    predicateType: SIGNATURE_PREDICATE_TYPE,
    predicate: {},
  };
}

/** DSSE's pre-authentication encoding: the bytes a DSSE signature is made over. */
export function preAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, "utf8");
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, "utf8"),
    type,
    Buffer.from(` ${payload.length} `, "utf8"),
    payload,
  ]);
}

export interface SigstoreBundle {
  readonly mediaType: string;
  readonly verificationMaterial: { readonly publicKey: { readonly hint: string } };
  readonly dsseEnvelope: {
    readonly payload: string;
    readonly payloadType: string;
    readonly signatures: readonly { readonly sig: string }[];
  };
}

/** A key-signed bundle of one DSSE envelope, without log entries (cosign's form offline). */
export function dsseBundle(payload: Buffer, signature: Buffer, keyHint: string): SigstoreBundle {
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: keyHint } },
    dsseEnvelope: {
      payload: payload.toString("base64"),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: signature.toString("base64") }],
    },
  };
}

/** A bundle's envelope, or undefined when the bytes are not a DSSE bundle. */
export function readDsseBundle(bytes: Buffer): SigstoreBundle["dsseEnvelope"] | undefined {
  try {
    const bundle = JSON.parse(bytes.toString("utf8")) as Partial<SigstoreBundle>;
    const envelope = bundle.dsseEnvelope;
    if (
      typeof envelope?.payload !== "string" ||
      envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE ||
      !Array.isArray(envelope.signatures)
    ) {
      return undefined;
    }
    return envelope;
  } catch {
    return undefined;
  }
}

/** The statement an envelope carries when it is about `digest`. */
export function statementAbout(payload: Buffer, digest: string): InTotoStatement | undefined {
  try {
    const statement = JSON.parse(payload.toString("utf8")) as InTotoStatement;
    const hex = digestSet(digest).sha256;
    if (typeof statement.predicateType !== "string") return undefined;
    if (!statement.subject?.some((subject) => subject.digest?.sha256 === hex)) return undefined;
    return statement;
  } catch {
    return undefined;
  }
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The artifact manifest cosign writes for a bundle: empty config, one layer, the subject. */
export function bundleManifest(
  bundle: Descriptor,
  subject: Descriptor,
  predicateType: string,
  created: Date,
): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    config: { ...EMPTY_CONFIG, artifactType: BUNDLE_MEDIA_TYPE },
    layers: [{ mediaType: BUNDLE_MEDIA_TYPE, size: bundle.size, digest: bundle.digest }],
    annotations: {
      "dev.sigstore.bundle.content": "dsse-envelope",
      "dev.sigstore.bundle.predicateType": predicateType,
      "org.opencontainers.image.created": created.toISOString().replace(/\.\d+Z$/, "Z"),
    },
    subject: { mediaType: subject.mediaType, size: subject.size, digest: subject.digest },
    artifactType: BUNDLE_MEDIA_TYPE,
  });
}

/**
 * The referrers tag schema's index (`<alg>-<hex>`) with one more entry; the same index when the
 * entry is there already.
 */
export function withReferrer(index: string | undefined, entry: Descriptor): string {
  const body =
    index === undefined
      ? { schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: [] as Descriptor[] }
      : (JSON.parse(index) as { manifests?: Descriptor[] });
  const manifests = body.manifests ?? [];
  if (manifests.some((existing) => existing.digest === entry.digest)) {
    return index ?? JSON.stringify(body);
  }
  return JSON.stringify({ ...body, manifests: [...manifests, entry] });
}
