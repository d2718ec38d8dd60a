import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { descriptionProblems } from "../../clients/dockerHub";
import { checkDescriptionLengths } from "../../lib/readme";
import {
  FULL_DESCRIPTION_LIMIT,
  lengthMessage,
  lengthProblems,
  RESOURCE_TYPES,
  SHORT_DESCRIPTION_LIMIT,
  utf8Length,
} from "../../lib/vocabulary";
import { checkShortDescription } from "../../policy/rules";

/** Whether each of the three checks lets a short description through. */
function verdicts(description: string) {
  let cli = true;
  try {
    checkDescriptionLengths("battlescope/frontend", { description, fullDescription: "" });
  } catch {
    cli = false;
  }
  return {
    client: descriptionProblems("battlescope/frontend", { description }).length === 0,
    policy:
      checkShortDescription({
        type: RESOURCE_TYPES.hubRepository,
        name: "frontend",
        props: { namespace: "battlescope", repository: "frontend", description },
      }).length === 0,
    cli,
  };
}

describe("the client, the policy pack and the command line agree, counting UTF-8 bytes", () => {
  it.each([
    { name: "100 ASCII characters", text: "x".repeat(100), fits: true },
    { name: "101 ASCII characters", text: "x".repeat(101), fits: false },
    { name: "25 emoji (100 bytes, accepted by the Hub)", text: "🚀".repeat(25), fits: true },
    { name: "26 emoji (104 bytes, refused by the Hub)", text: "🚀".repeat(26), fits: false },
    { name: "100 emoji (400 bytes; 200 UTF-16 units)", text: "🚀".repeat(100), fits: false },
    { name: "50 two-byte letters (é)", text: "é".repeat(50), fits: true },
    { name: "51 two-byte letters (é)", text: "é".repeat(51), fits: false },
    { name: "33 three-byte characters (€) and one ASCII", text: `${"€".repeat(33)}x`, fits: true },
  ])("$name", ({ text, fits }) => {
    expect(verdicts(text)).toEqual({ client: fits, policy: fits, cli: fits });
  });
});

describe("utf8Length", () => {
  it.each([
    { text: "", bytes: 0 },
    { text: "a", bytes: 1 },
    { text: "é", bytes: 2 },
    { text: "€", bytes: 3 },
    { text: "🚀", bytes: 4 },
    { text: "\ud800", bytes: 3 },
  ])("$text is $bytes bytes", ({ text, bytes }) => {
    expect(utf8Length(text)).toBe(bytes);
  });

  it("equals Node's own UTF-8 byte count for any string, lone surrogates included", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        expect(utf8Length(text)).toBe(Buffer.byteLength(text, "utf8"));
      }),
    );
  });
});

describe("lengthProblems", () => {
  it.each([
    {
      name: "a short description of 26 emoji",
      texts: { description: "🚀".repeat(26) },
      messages: [
        "short description is 104 bytes, Docker Hub allows 100 (UTF-8 bytes, not characters)",
      ],
    },
    {
      name: "both too long, short first",
      texts: { description: "x".repeat(101), fullDescription: "€".repeat(8334) },
      messages: [
        "short description is 101 bytes, Docker Hub allows 100 (UTF-8 bytes, not characters)",
        "full description is 25,002 bytes, Docker Hub allows 25,000 (UTF-8 bytes, not characters)",
      ],
    },
    {
      name: "both at their limits",
      texts: {
        description: "x".repeat(SHORT_DESCRIPTION_LIMIT),
        fullDescription: "x".repeat(FULL_DESCRIPTION_LIMIT),
      },
      messages: [],
    },
  ])("$name", ({ texts, messages }) => {
    expect(lengthProblems(texts).map((problem) => problem.message)).toEqual(messages);
  });

  it("names the limit of the field", () => {
    expect(lengthMessage("fullDescription", 30_000)).toBe(
      "full description is 30,000 bytes, Docker Hub allows 25,000 (UTF-8 bytes, not characters)",
    );
  });
});
