/**
 * Docker Hub's description limits, counted the way the Hub counts them: in UTF-8 bytes. The Hub's
 * API description says `maxLength` 100 and 25,000, but the Hub is observed to accept 25 emoji
 * (100 bytes) as a short description and refuse 26 (peter-evans/dockerhub-description #142), and
 * to cut full descriptions at 25,000 bytes (docker-library/docs #2465). Counting characters or
 * UTF-16 units lets through texts the Hub refuses.
 *
 * The client, the README builder and the command line use this module; the policy pack is a
 * separate package and holds a verbatim copy (policy/hubLimits.ts), which a unit test keeps equal.
 * It therefore uses nothing beyond ES2022: no Buffer, no TextEncoder.
 */

export const SHORT_DESCRIPTION_LIMIT = 100;
export const FULL_DESCRIPTION_LIMIT = 25_000;

export type DescriptionField = "description" | "fullDescription";

export const DESCRIPTION_LIMITS: Readonly<Record<DescriptionField, number>> = {
  description: SHORT_DESCRIPTION_LIMIT,
  fullDescription: FULL_DESCRIPTION_LIMIT,
};

const LABELS: Readonly<Record<DescriptionField, string>> = {
  description: "short description",
  fullDescription: "full description",
};

/** The length of a text in UTF-8 bytes; a lone surrogate counts 3, as its U+FFFD replacement. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (const character of text) {
    const point = character.codePointAt(0) ?? 0;
    bytes += point < 0x80 ? 1 : point < 0x800 ? 2 : point < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** 25000 -> "25,000", without relying on the runtime's locale data. */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** "short description is 104 bytes, Docker Hub allows 100 (UTF-8 bytes, not characters)". */
export function lengthMessage(field: DescriptionField, bytes: number): string {
  return `${LABELS[field]} is ${formatCount(bytes)} bytes, Docker Hub allows ${formatCount(DESCRIPTION_LIMITS[field])} (UTF-8 bytes, not characters)`;
}

export interface LengthProblem {
  readonly field: DescriptionField;
  readonly bytes: number;
  readonly limit: number;
  /** {@link lengthMessage}, without the repository's name. */
  readonly message: string;
}

/** Every text over its limit, short description first; empty when both fit. */
export function lengthProblems(texts: {
  readonly description?: string | undefined;
  readonly fullDescription?: string | undefined;
}): LengthProblem[] {
  const problems: LengthProblem[] = [];
  for (const field of ["description", "fullDescription"] as const) {
    const text = texts[field];
    if (text === undefined) continue;
    const bytes = utf8Length(text);
    const limit = DESCRIPTION_LIMITS[field];
    if (bytes > limit) problems.push({ field, bytes, limit, message: lengthMessage(field, bytes) });
  }
  return problems;
}
