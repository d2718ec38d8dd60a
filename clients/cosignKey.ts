/**
 * A cosign private key opened in this process: `cosign generate-key-pair` writes it encrypted
 * (scrypt for the key, NaCl secretbox for the cipher, as go-securesystemslib's `encrypted`), and
 * each cosign process opens it again (about 0.15 s of scrypt); here it is opened once per process
 * and key, and signs with Node's crypto.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  scrypt,
  sign,
  verify,
} from "node:crypto";
import nacl from "tweetnacl";

export interface OpenedKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Base64 SHA-256 of the public key's DER (SPKI): how cosign's bundles name the key. */
  readonly hint: string;
}

interface EncryptedKey {
  kdf?: { name?: string; params?: { N?: number; r?: number; p?: number }; salt?: string };
  cipher?: { name?: string; nonce?: string };
  ciphertext?: string;
}

const PEM = /-----BEGIN (ENCRYPTED (?:SIGSTORE|COSIGN) PRIVATE KEY)-----([\s\S]*?)-----END \1-----/;

function scryptKey(
  password: string,
  salt: Buffer,
  params: { N: number; r: number; p: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      32,
      { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 },
      (error, key) => (error === null ? resolve(key) : reject(error)),
    );
  });
}

/** The key's public half's hint, as cosign writes it in a bundle. */
export function keyHint(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("base64");
}

async function open(pem: string, password: string): Promise<OpenedKey> {
  const block = PEM.exec(pem);
  if (block === null) throw new Error("not an encrypted cosign private key (PEM)");
  const encrypted = JSON.parse(
    Buffer.from((block[2] as string).replace(/\s+/g, ""), "base64").toString("utf8"),
  ) as EncryptedKey;
  const { kdf, cipher, ciphertext } = encrypted;
  const { N, r, p } = kdf?.params ?? {};
  if (
    kdf?.name !== "scrypt" ||
    cipher?.name !== "nacl/secretbox" ||
    N === undefined ||
    r === undefined ||
    p === undefined ||
    kdf.salt === undefined ||
    cipher.nonce === undefined ||
    ciphertext === undefined
  ) {
    throw new Error("an encrypted cosign key of a form other than scrypt and nacl/secretbox");
  }
  const secret = await scryptKey(password, Buffer.from(kdf.salt, "base64"), { N, r, p });
  const plain = nacl.secretbox.open(
    Buffer.from(ciphertext, "base64"),
    Buffer.from(cipher.nonce, "base64"),
    secret,
  );
  if (plain === null) throw new Error("the password does not open the cosign key");
  const privateKey = createPrivateKey({ key: Buffer.from(plain), format: "der", type: "pkcs8" });
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, hint: keyHint(publicKey) };
}

const opened = new Map<string, Promise<OpenedKey>>();

/** The key opened with its password, once per process (a failure is not kept). */
export function openCosignKey(pem: string, password: string): Promise<OpenedKey> {
  const id = createHash("sha256").update(pem).update("\0").update(password).digest("hex");
  let found = opened.get(id);
  if (found === undefined) {
    found = open(pem, password);
    found.catch(() => opened.delete(id));
    opened.set(id, found);
  }
  return found;
}

/** ECDSA P-256 over SHA-256 (cosign's keys), DER-encoded as cosign writes it. */
export function signBytes(key: OpenedKey, bytes: Buffer): Buffer {
  return sign("sha256", bytes, key.privateKey);
}

/** Whether `signature` (DER) is the key's over `bytes`. */
export function verifyBytes(publicKey: KeyObject, bytes: Buffer, signature: Buffer): boolean {
  try {
    return verify("sha256", bytes, publicKey, signature);
  } catch {
    return false;
  }
}
