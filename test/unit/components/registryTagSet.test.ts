/** RegistryTagSet alone under mocks: its outputs, awaited, and what the state would keep. */
import { describe, expect, it } from "vitest";
import { RegistryTagSet } from "../../../components/registryTagSet";
import { RESOURCE_TYPES } from "../../../lib/vocabulary";
import { mockRuntime, outputValue, secretValue } from "../../support/pulumiMocks";

const DIGEST = `sha256:${"b".repeat(64)}`;
const runtime = mockRuntime((args) =>
  args.type === RESOURCE_TYPES.registryTagSet
    ? {
        digests: Object.fromEntries(
          (args.inputs.tags as Array<{ tag: string; digest: string }>).map(({ tag, digest }) => [
            tag,
            digest,
          ]),
        ),
        previousDigests: {},
      }
    : {},
);

describe("RegistryTagSet under mocks", () => {
  it("gives each tag's digest, with the password a secret and no credential in the provider", async () => {
    const tags = new RegistryTagSet("frontend-floating-tags", {
      registry: "127.0.0.1:5000",
      repository: "battlescope/frontend",
      tags: [
        { tag: "v3.1", digest: DIGEST },
        { tag: "v3.1-amd64", digest: DIGEST },
      ],
      createOnly: false,
      username: "bot",
      password: "registry-pw",
    });
    expect(await outputValue(tags.digests)).toEqual({ "v3.1": DIGEST, "v3.1-amd64": DIGEST });
    expect(await outputValue(tags.previousDigests)).toEqual({});
    const [recorded] = runtime.recorded;
    expect(recorded?.type).toBe(RESOURCE_TYPES.registryTagSet);
    expect(secretValue(recorded?.inputs.password)).toBe("registry-pw");
    expect(String(recorded?.inputs.__provider)).toContain("createRegistryTagSetProvider");
    expect(String(recorded?.inputs.__provider)).not.toContain("registry-pw");
  });
});
