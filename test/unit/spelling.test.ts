import { describe, expect, it } from "vitest";
import { editDistance, nearestWord } from "../../lib/spelling";

describe("editDistance", () => {
  it.each([
    { name: "the same word", a: "sign", b: "sign", distance: 0 },
    { name: "from nothing", a: "", b: "deploy", distance: 6 },
    { name: "to nothing", a: "deploy", b: "", distance: 6 },
    { name: "a letter left out", a: "rolloutTimout", b: "rolloutTimeout", distance: 1 },
    { name: "a letter too many", a: "registryy", b: "registry", distance: 1 },
    { name: "a letter changed case", a: "cosignkey", b: "cosignKey", distance: 1 },
    { name: "two letters swapped: two edits", a: "resgitry", b: "registry", distance: 2 },
    { name: "kitten to sitting", a: "kitten", b: "sitting", distance: 3 },
    { name: "nothing in common", a: "scan", b: "deploy", distance: 6 },
  ])("$name: $a to $b is $distance", ({ a, b, distance }) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });
});

describe("nearestWord: a suggestion only when it is likely what was meant", () => {
  const settings = [
    "registry",
    "replicas",
    "rolloutTimeout",
    "sign",
    "deploy",
    "version",
    "versions",
  ];
  it.each([
    { name: "a letter left out", word: "rolloutTimout", nearest: "rolloutTimeout" },
    { name: "a short word one edit away", word: "sigm", nearest: "sign" },
    { name: "a third of the length in edits", word: "rplcas", nearest: "replicas" },
    { name: "the nearer of two close ones", word: "versionss", nearest: "versions" },
    {
      name: "a tie: the one listed first",
      word: "sig",
      nearest: "sign",
      candidates: ["sign", "sigh"],
    },
    { name: "one edit nearer wins", word: "versio", nearest: "version" },
    { name: "a short word two edits away: none", word: "scan", nearest: undefined },
    { name: "more than a third in edits: none", word: "rplcs", nearest: undefined },
    { name: "nothing alike: none", word: "vulnerabilityDb", nearest: undefined },
    { name: "no candidates: none", word: "sign", nearest: undefined, candidates: [] },
  ])("$name: $word", ({ word, nearest, candidates }) => {
    expect(nearestWord(word, candidates ?? settings)).toBe(nearest);
  });
});
