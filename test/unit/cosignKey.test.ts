import { createHash, createPublicKey } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { keyHint, openCosignKey, signBytes, verifyBytes } from "../../clients/cosignKey";
import { samePublicKey } from "../../clients/signing";

const FIXTURES = path.join(__dirname, "../fixtures/cosign");
const PRIVATE = fs.readFileSync(path.join(FIXTURES, "fixture.key"), "utf8");
const PUBLIC = fs.readFileSync(path.join(FIXTURES, "fixture.pub"), "utf8");

describe("openCosignKey", () => {
  it("opens a key cosign generate-key-pair wrote, as the private half of its public key", async () => {
    const key = await openCosignKey(PRIVATE, "fixture-only");
    const pem = key.publicKey.export({ type: "spki", format: "pem" }).toString();
    expect(samePublicKey(pem, PUBLIC)).toBe(true);
  });

  it("names the key as cosign's bundles do: base64 SHA-256 of the public key's DER", async () => {
    const key = await openCosignKey(PRIVATE, "fixture-only");
    const der = createPublicKey(PUBLIC).export({ type: "spki", format: "der" });
    expect(key.hint).toBe(createHash("sha256").update(der).digest("base64"));
    expect(keyHint(createPublicKey(PUBLIC))).toBe(key.hint);
  });

  it("signs so that the public key verifies, and nothing else does", async () => {
    const key = await openCosignKey(PRIVATE, "fixture-only");
    const bytes = Buffer.from("DSSEv1 1 t 2 hi");
    const signature = signBytes(key, bytes);
    expect(verifyBytes(createPublicKey(PUBLIC), bytes, signature)).toBe(true);
    expect(verifyBytes(createPublicKey(PUBLIC), Buffer.from("DSSEv1 1 t 2 ho"), signature)).toBe(
      false,
    );
    expect(verifyBytes(createPublicKey(PUBLIC), bytes, Buffer.from("not a signature"))).toBe(false);
  });

  it("refuses a wrong password, and opens the key with the right one afterwards", async () => {
    await expect(openCosignKey(PRIVATE, "wrong")).rejects.toThrow(
      "the password does not open the cosign key",
    );
    await expect(openCosignKey(PRIVATE, "fixture-only")).resolves.toBeDefined();
  });

  const malformed: Array<[string, string, string]> = [
    ["a public key", PUBLIC, "not an encrypted cosign private key (PEM)"],
    ["an empty value", "", "not an encrypted cosign private key (PEM)"],
    [
      "another cipher",
      `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${Buffer.from(JSON.stringify({ kdf: { name: "pbkdf2" }, cipher: { name: "aes" }, ciphertext: "" })).toString("base64")}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----`,
      "an encrypted cosign key of a form other than scrypt and nacl/secretbox",
    ],
  ];
  it.each(malformed)("refuses %s", async (_name, pem, message) => {
    await expect(openCosignKey(pem, "fixture-only")).rejects.toThrow(message);
  });
});
