import { describe, expect, it } from "vitest";
import { raceSummary } from "../../bench/raceSummary";

const RUN = { requests: 96, seconds: 2.04, registry: "http://127.0.0.1:5101" };
const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;

describe("raceSummary", () => {
  it.each([
    {
      name: "a clean run",
      rounds: [
        { errors: [], wrongTags: 0 },
        { errors: [], wrongTags: 0 },
      ],
      expected: [
        "http://127.0.0.1:5101: 2 rounds, 96 requests in 2.0 s: 0 client-visible errors, 0 tags left wrong, 0 rounds with a problem",
      ],
    },
    {
      name: "the same failure with other digests and upload ids adds up, most frequent first",
      rounds: [
        {
          errors: [
            `PUT manifest 400 MANIFEST_BLOB_UNKNOWN blob unknown ${D1}`,
            "PUT upload 500 UNKNOWN 3f2a1c4e-0b6d-4e8f-9a1b-2c3d4e5f6a7b",
          ],
          wrongTags: 1,
        },
        { errors: [`PUT manifest 400 MANIFEST_BLOB_UNKNOWN blob unknown ${D2}`], wrongTags: 1 },
        { errors: [], wrongTags: 0 },
      ],
      expected: [
        "http://127.0.0.1:5101: 3 rounds, 96 requests in 2.0 s: 3 client-visible errors, 2 tags left wrong, 2 rounds with a problem",
        "  2 x PUT manifest 400 MANIFEST_BLOB_UNKNOWN blob unknown <digest>",
        "  1 x PUT upload 500 UNKNOWN <id>",
      ],
    },
    {
      name: "a tag left wrong without an error still counts the round",
      rounds: [{ errors: [], wrongTags: 2 }],
      expected: [
        "http://127.0.0.1:5101: 1 rounds, 96 requests in 2.0 s: 0 client-visible errors, 2 tags left wrong, 1 rounds with a problem",
      ],
    },
  ])("$name", ({ rounds, expected }) => {
    expect(raceSummary(rounds, RUN).split("\n")).toEqual(expected);
  });
});
