/**
 * cosign's attachments written and read in this process (lib/sigstoreBundle.ts for their form):
 * a signed statement is pushed as a bundle artifact whose subject is the digest, and listed under
 * the digest's referrers tag where the registry has no referrers API, as cosign v3 does; what is
 * attached is read back through the referrers and verified with the public key. No process per
 * attachment, and manifests already read come from the content cache (a HEAD, not a pull).
 */

import { createHash } from "node:crypto";
import { referrersTag } from "../lib/attestation";
import {
  attestationStatement,
  BUNDLE_MEDIA_TYPE,
  bundleManifest,
  type Descriptor,
  dsseBundle,
  IN_TOTO_PAYLOAD_TYPE,
  type InTotoStatement,
  OCI_INDEX_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  preAuthEncoding,
  readDsseBundle,
  signatureStatement,
  statementAbout,
  subjectName,
  withReferrer,
} from "../lib/sigstoreBundle";
import { type OpenedKey, signBytes, verifyBytes } from "./cosignKey";
import { type OciRegistryClient, RegistryError } from "./ociRegistry";

/**
 * Where attachments go (one repository, through one client) and what this writer knows there
 * already, so that each subject is looked up, and its referrers tag read, once per release.
 */
export interface AttachmentTarget {
  readonly client: OciRegistryClient;
  readonly repository: string;
  /** The upload of the empty config blob, once per target. */
  configPushed: Promise<string> | undefined;
  readonly subjects: Map<string, Descriptor>;
  /** Each subject's referrers, as listed or as written here since. */
  readonly referrers: Map<string, Descriptor[]>;
  /** Each referrer's verified statement (undefined when it is none by the key), by digest. */
  readonly statements: Map<string, InTotoStatement | undefined>;
  /** The referrers tag indexes written here, by subject. */
  readonly indexes: Map<string, string>;
}

/**
 * A target whose `bare` digests had no referrers when the release began: their referrers are
 * what this writer adds, so none is listed.
 */
export function attachmentTarget(
  client: OciRegistryClient,
  repository: string,
  bare: Iterable<string> = [],
): AttachmentTarget {
  return {
    client,
    repository,
    configPushed: undefined,
    subjects: new Map(),
    referrers: new Map([...bare].map((digest) => [digest, []])),
    statements: new Map(),
    indexes: new Map(),
  };
}

async function subjectOf(target: AttachmentTarget, digest: string): Promise<Descriptor> {
  const known = target.subjects.get(digest);
  if (known !== undefined) return known;
  const { client, repository } = target;
  const head = await client.headManifest(repository, digest);
  if (head === undefined) {
    throw new RegistryError(
      `registry ${client.registry} has no ${repository}@${digest} to attach to`,
      404,
    );
  }
  const subject = { mediaType: head.mediaType, digest, size: head.size };
  target.subjects.set(digest, subject);
  return subject;
}

async function referrersOf(target: AttachmentTarget, digest: string): Promise<Descriptor[]> {
  let listed = target.referrers.get(digest);
  if (listed === undefined) {
    listed = await target.client.listReferrers(target.repository, digest);
    target.referrers.set(digest, listed);
  }
  return listed;
}

/**
 * Signs the statement with the key and attaches its bundle to the digest. Attachments to one
 * subject are written one after another (the referrers tag is read, then written).
 */
async function attachStatement(
  target: AttachmentTarget,
  digest: string,
  statement: InTotoStatement,
  key: OpenedKey,
): Promise<void> {
  const { client, repository } = target;
  const subject = await subjectOf(target, digest);
  const payload = Buffer.from(JSON.stringify(statement), "utf8");
  const signature = signBytes(key, preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, payload));
  const bundle = Buffer.from(JSON.stringify(dsseBundle(payload, signature, key.hint)), "utf8");
  target.configPushed ??= client.pushBlob(repository, Buffer.from("{}"));
  await target.configPushed;
  // A bundle carries its signature and time: no repository has it yet.
  const bundleDigest = await client.pushBlob(repository, bundle, { fresh: true });
  const raw = bundleManifest(
    { mediaType: BUNDLE_MEDIA_TYPE, digest: bundleDigest, size: bundle.length },
    subject,
    statement.predicateType,
    new Date(),
  );
  const manifestDigest = `sha256:${createHash("sha256").update(raw).digest("hex")}`;
  const listed = await referrersOf(target, digest);
  const written = await client.pushManifest(
    repository,
    manifestDigest,
    raw,
    OCI_MANIFEST_MEDIA_TYPE,
  );
  const entry: Descriptor = {
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    digest: manifestDigest,
    size: Buffer.byteLength(raw),
    artifactType: BUNDLE_MEDIA_TYPE,
  };
  target.referrers.set(digest, [...listed, entry]);
  target.statements.set(manifestDigest, statement);
  if (written.subjectKept) return;
  const tag = referrersTag(digest);
  const index =
    target.indexes.get(digest) ??
    (listed.length === 0 ? undefined : (await client.getManifest(repository, tag))?.raw);
  const updated = withReferrer(index, entry);
  await client.putManifest(repository, tag, updated, OCI_INDEX_MEDIA_TYPE);
  target.indexes.set(digest, updated);
}
/** `cosign attest --type <type>`: the predicate, signed, attached to the digest. */
export function attestInProcess(
  target: AttachmentTarget,
  digest: string,
  predicateType: string,
  predicate: unknown,
  key: OpenedKey,
): Promise<void> {
  const name = subjectName(target.client.registry, target.repository);
  return attachStatement(
    target,
    digest,
    attestationStatement(name, digest, predicateType, predicate),
    key,
  );
}

/** `cosign sign`: the digest's signature. */
export function signInProcess(target: AttachmentTarget, digest: string, key: OpenedKey) {
  return attachStatement(target, digest, signatureStatement(digest), key);
}

/**
 * The statements of `predicateType` attached to the digest whose signature the key verifies
 * (what `cosign verify-attestation --key` prints); others are not counted.
 */
export async function verifiedStatementsInProcess(
  target: AttachmentTarget,
  digest: string,
  predicateType: string,
  key: Pick<OpenedKey, "publicKey">,
): Promise<InTotoStatement[]> {
  const statements: InTotoStatement[] = [];
  for (const referrer of await referrersOf(target, digest)) {
    if (referrer.artifactType !== undefined && referrer.artifactType !== BUNDLE_MEDIA_TYPE)
      continue;
    if (!target.statements.has(referrer.digest)) {
      target.statements.set(
        referrer.digest,
        await readStatement(target, referrer.digest, digest, key),
      );
    }
    const statement = target.statements.get(referrer.digest);
    if (statement?.predicateType === predicateType) statements.push(statement);
  }
  return statements;
}

/** The statement a referrer carries about the digest, when the key's signature verifies. */
async function readStatement(
  { client, repository }: AttachmentTarget,
  referrer: string,
  digest: string,
  key: Pick<OpenedKey, "publicKey">,
): Promise<InTotoStatement | undefined> {
  const manifest = await client.getManifest(repository, referrer);
  const layer = manifest?.blobs.find((blob) => blob.mediaType === BUNDLE_MEDIA_TYPE);
  if (manifest === undefined || layer === undefined) return undefined;
  const envelope = readDsseBundle(await client.getBlob(repository, layer.digest));
  if (envelope === undefined) return undefined;
  const payload = Buffer.from(envelope.payload, "base64");
  const signed = envelope.signatures.some((entry) =>
    verifyBytes(
      key.publicKey,
      preAuthEncoding(envelope.payloadType, payload),
      Buffer.from(entry.sig, "base64"),
    ),
  );
  return signed ? statementAbout(payload, digest) : undefined;
}
