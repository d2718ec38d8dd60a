/** ReleaseAttestations alone under mocks: its outputs, awaited, and its secrets kept secret. */
import { describe, expect, it } from "vitest";
import { ReleaseAttestations } from "../../../components/releaseAttestations";
import { RESOURCE_TYPES } from "../../../lib/vocabulary";
import { mockRuntime, outputValue, secretValue } from "../../support/pulumiMocks";

const LIST = `sha256:${"c".repeat(64)}`;
const AMD64 = `sha256:${"d".repeat(64)}`;
const KEY = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----";
const runtime = mockRuntime((args) =>
  args.type === RESOURCE_TYPES.releaseAttestations
    ? { written: { [String(args.inputs.listDigest)]: ["signature"] } }
    : {},
);

describe("ReleaseAttestations under mocks", () => {
  it("attests the version's list, with the key, its password and the registry password secret", async () => {
    const attestations = new ReleaseAttestations("frontend-attestations", {
      registry: "127.0.0.1:5000",
      repository: "battlescope/frontend",
      username: "bot",
      password: "registry-pw",
      privateKey: KEY,
      keyPassword: "key-pw",
      transparencyLog: false,
      version: "v3.1.0",
      listDigest: LIST,
      images: { "linux/amd64": AMD64 },
      source: { uri: "git+file:///src", commit: "a".repeat(40), dirty: false },
      context: "frontend",
      buildArgs: { SOURCE_DATE_EPOCH: "0" },
      builder: "buildx://default",
      sourceHash: `sha256:${"e".repeat(64)}`,
    });
    expect(await outputValue(attestations.listDigest)).toBe(LIST);
    expect(await outputValue(attestations.written)).toEqual({ [LIST]: ["signature"] });
    const [recorded] = runtime.recorded;
    expect(recorded?.type).toBe(RESOURCE_TYPES.releaseAttestations);
    expect(secretValue(recorded?.inputs.privateKey)).toBe(KEY);
    expect(secretValue(recorded?.inputs.keyPassword)).toBe("key-pw");
    expect(secretValue(recorded?.inputs.password)).toBe("registry-pw");
    expect(String(recorded?.inputs.__provider)).not.toContain("key-pw");
  });
});
