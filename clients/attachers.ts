/**
 * The two ways a release's signature and attestations are attached: in this process with the
 * key (clients/bundleAttachments.ts), or by the real cosign where a transparency log is written
 * (a Rekor entry is cosign's to make). Both write the same bundles and are create-only; the
 * caller decides what is missing.
 */
import { predicateTypeOf, SIGNATURE_PREDICATE_TYPE } from "../lib/sigstoreBundle";
import {
  attachmentTarget,
  attestInProcess,
  signInProcess,
  verifiedStatementsInProcess,
} from "./bundleAttachments";
import { sharedContentCache } from "./contentCache";
import { openCosignKey } from "./cosignKey";
import { OciRegistryClient, sharedRegistrySession } from "./ociRegistry";
import {
  attestDigest,
  publicKeyOf,
  type RegistryAuth,
  type SigningSettings,
  type Statement,
  signDigest,
  verifiedAttestations,
  verifySignature,
} from "./signing";

export interface Attacher {
  /** The verified statements of a `cosign attest --type` type on the digest. */
  statements(digest: string, type: string): Promise<readonly Pick<Statement, "predicate">[]>;
  attest(digest: string, type: string, predicate: unknown): Promise<void>;
  /** Whether a signature by the key is attached to the digest. */
  signed(digest: string): Promise<boolean>;
  sign(digest: string): Promise<void>;
}

export interface AttacherTarget {
  readonly registry: string;
  readonly repository: string;
  readonly auth: RegistryAuth;
  readonly settings: SigningSettings;
}

/**
 * In this process: no cosign run, one registry session, manifests from the content cache. The
 * `bare` digests had nothing attached when the release began.
 */
export async function inProcessAttacher(
  target: AttacherTarget,
  bare: ReadonlySet<string>,
): Promise<Attacher> {
  const { registry, repository, auth, settings } = target;
  const key = await openCosignKey(settings.key.privateKey, settings.key.password);
  const client = new OciRegistryClient({
    registry,
    session: sharedRegistrySession(registry, auth.username),
    contentCache: sharedContentCache(),
    ...(auth.username === undefined ? {} : { username: auth.username }),
    ...(auth.password === undefined ? {} : { password: auth.password }),
  });
  const where = attachmentTarget(client, repository, bare);
  return {
    statements: (digest, type) =>
      verifiedStatementsInProcess(where, digest, predicateTypeOf(type), key),
    attest: (digest, type, predicate) =>
      attestInProcess(where, digest, predicateTypeOf(type), predicate, key),
    signed: async (digest) =>
      (await verifiedStatementsInProcess(where, digest, SIGNATURE_PREDICATE_TYPE, key)).length > 0,
    sign: (digest) => signInProcess(where, digest, key),
  };
}

/** By the real cosign, a process per lookup and per attachment (with a transparency log). */
export async function cosignAttacher(target: AttacherTarget): Promise<Attacher> {
  const { registry, repository, auth, settings } = target;
  const verify = {
    publicKey: await publicKeyOf(settings.key),
    transparencyLog: settings.transparencyLog,
  };
  const ref = (digest: string) => `${registry}/${repository}@${digest}`;
  return {
    statements: async (digest, type) =>
      (await verifiedAttestations(ref(digest), type, verify, auth)).statements,
    attest: (digest, type, predicate) => attestDigest(ref(digest), type, predicate, settings, auth),
    signed: async (digest) => (await verifySignature(ref(digest), verify, auth)).verified,
    sign: (digest) => signDigest(ref(digest), settings, auth),
  };
}
