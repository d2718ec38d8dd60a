import {
  type Dockerfile,
  DockerfileParser,
  type From,
  type Instruction,
  JSONInstruction,
} from "dockerfile-ast";

/**
 * The image rules every build context's Dockerfile must follow (docs/rules.md#image-rules),
 * checked at preview before anything is built. The structure (instructions, stages, flags, ARGs)
 * comes from the `dockerfile-ast` parser; only image references and `$VAR` substitutions are read
 * as text.
 */
export const DOCKERFILE_RULES = [
  "multi-stage",
  "non-root-user",
  "pinned-base-image",
  "no-remote-add",
] as const;
export type DockerfileRule = (typeof DOCKERFILE_RULES)[number];

export interface DockerfileViolation {
  readonly file: string;
  /** 1-based line of the instruction at fault. */
  readonly line: number;
  readonly rule: DockerfileRule;
  /** What is wrong and how to fix it. */
  readonly message: string;
}

/** `<file>:<line>: <rule>: <what is wrong and how to fix it>` */
export function formatViolation(violation: DockerfileViolation): string {
  return `${violation.file}:${violation.line}: ${violation.rule}: ${violation.message}`;
}

/** Checks one Dockerfile's text; `file` is only used to name it in the violations. */
export function checkDockerfile(file: string, text: string): DockerfileViolation[] {
  const dockerfile = DockerfileParser.parse(text);
  const violations: DockerfileViolation[] = [];
  const report: Report = (instruction, rule, message) => {
    violations.push({ file, line: lineOf(instruction), rule, message });
  };

  const froms = dockerfile.getFROMs();
  const last = froms.at(-1);
  if (last === undefined) {
    report(
      undefined,
      "multi-stage",
      "no FROM instruction; a Dockerfile needs a build stage and a final stage, each starting with FROM <image>:<version>",
    );
    return violations;
  }
  if (froms.length === 1) {
    report(
      last,
      "multi-stage",
      "only one stage (one FROM); build in a first stage (FROM <image>:<version> AS build) and COPY --from=build only what the image runs into a final stage",
    );
  }

  checkBaseImages(dockerfile, froms, report);
  checkFinalUser(dockerfile, froms, report);
  checkRemoteAdds(dockerfile, report);

  return violations.sort((a, b) => a.line - b.line);
}

type Report = (instruction: Instruction | undefined, rule: DockerfileRule, message: string) => void;

function lineOf(instruction: Instruction | undefined): number {
  return instruction === undefined ? 1 : instruction.getRange().start.line + 1;
}

/** Every FROM names `scratch`, an earlier stage, or an image pinned to a version tag. */
function checkBaseImages(dockerfile: Dockerfile, froms: readonly From[], report: Report): void {
  const globalArgs = globalArgValues(dockerfile);
  const stages: string[] = [];
  for (const from of froms) {
    const raw = from.getImage();
    const stage = from.getBuildStage();
    if (raw === null) {
      report(from, "pinned-base-image", "FROM names no image; write FROM <image>:<version>");
    } else {
      const expanded = expand(raw, (name) => globalArgs.get(name));
      if (expanded.unresolved !== undefined) {
        const { name, declared } = expanded.unresolved;
        report(
          from,
          "pinned-base-image",
          declared
            ? `${raw} cannot be checked: ARG ${name} has no default before the first FROM; give it a pinned default (ARG ${name}=<version>) or write the image literally`
            : `${raw} cannot be checked: ARG ${name} is not declared before the first FROM; declare it there with a pinned default (ARG ${name}=<version>) or write the image literally`,
        );
      } else {
        const problem = unpinned(expanded.value, stages);
        if (problem !== undefined) {
          const subject = raw === expanded.value ? expanded.value : `${raw} (${expanded.value})`;
          report(from, "pinned-base-image", `${subject} ${problem}`);
        }
      }
    }
    if (stage !== null) stages.push(stage.toLowerCase());
  }
}

/** Why an image reference is not pinned to a version, or undefined when it is fine. */
function unpinned(image: string, earlierStages: readonly string[]): string | undefined {
  if (image === "scratch" || earlierStages.includes(image.toLowerCase())) return undefined;
  const at = image.indexOf("@");
  const digest = at === -1 ? undefined : image.slice(at + 1);
  const nameAndTag = at === -1 ? image : image.slice(0, at);
  const colon = nameAndTag.lastIndexOf(":");
  const hasTag = colon > nameAndTag.lastIndexOf("/");
  const name = hasTag ? nameAndTag.slice(0, colon) : nameAndTag;
  const tag = hasTag ? nameAndTag.slice(colon + 1) : undefined;
  if (tag === undefined && digest !== undefined) {
    return `has a digest but no version tag; name the version the digest belongs to, e.g. ${name}:<version>@${digest}`;
  }
  if (tag === undefined) {
    return `has no tag, so it pulls ${name}:latest; pin a version tag, e.g. ${name}:<version>`;
  }
  if (tag === "latest") {
    return `is not pinned to a version ("latest" moves); use a version tag, e.g. ${name}:<version>`;
  }
  if (![...tag].some((char) => char >= "0" && char <= "9")) {
    return `is not pinned to a version (tag "${tag}" has no version number and moves); use a version tag, e.g. ${name}:<version>`;
  }
  return undefined;
}

/** The final stage's effective USER (its own, else the one of the stage it is built on) is not root. */
function checkFinalUser(dockerfile: Dockerfile, froms: readonly From[], report: Report): void {
  const instructions = dockerfile.getInstructions();
  const stageStarts = froms.map((from) => instructions.indexOf(from));
  const stageOf = (index: number) => {
    const start = stageStarts[index] ?? 0;
    const end = stageStarts[index + 1] ?? instructions.length;
    return instructions.slice(start + 1, end);
  };

  const finalIndex = froms.length - 1;
  const final = froms[finalIndex] as From;
  let user: Instruction | undefined;
  const seen = new Set<number>();
  for (let index: number | undefined = finalIndex; index !== undefined && !seen.has(index); ) {
    seen.add(index);
    user = stageOf(index)
      .filter((instruction) => instruction.getKeyword() === "USER")
      .at(-1);
    if (user !== undefined) break;
    const base = froms[index]?.getImage()?.toLowerCase();
    const parent = froms.findIndex(
      (from, i) => i < (index as number) && from.getBuildStage()?.toLowerCase() === base,
    );
    index = parent === -1 ? undefined : parent;
  }

  if (user === undefined) {
    report(
      final,
      "non-root-user",
      "the final stage sets no USER, so the container runs as root; add a non-root USER (e.g. USER 10001:10001) after its last step that needs root",
    );
    return;
  }
  const raw = (user.getArgumentsContent() ?? "").trim();
  if (raw === "") {
    report(
      user,
      "non-root-user",
      "USER names no user; write a non-root user, e.g. USER 10001:10001",
    );
    return;
  }
  const line = user.getRange().start.line;
  const expanded = expand(raw, (name) => dockerfile.resolveVariable(name, line));
  if (expanded.unresolved !== undefined) {
    const { name } = expanded.unresolved;
    report(
      user,
      "non-root-user",
      `USER ${raw} cannot be checked: ${name} has no value here; give ARG ${name} a non-root default (ARG ${name}=10001) or write the user literally, e.g. USER 10001:10001`,
    );
    return;
  }
  const name = expanded.value.split(":")[0] ?? "";
  const isRoot = name === "root" || (name !== "" && [...name].every((char) => char === "0"));
  if (isRoot) {
    const subject =
      raw === expanded.value ? `USER ${raw}` : `USER ${raw}, which is ${expanded.value}`;
    const inherited = stageOf(finalIndex).includes(user)
      ? ""
      : ", inherited from the stage it is built on";
    report(
      user,
      "non-root-user",
      `the final stage runs as root (${subject}${inherited}); end it with a non-root user, e.g. USER 10001:10001`,
    );
  }
}

const REMOTE_PREFIXES = ["http://", "https://", "git://", "git@", "ssh://"];

/** ADD only copies from the build context: remote sources are fetched unverified at build time. */
function checkRemoteAdds(dockerfile: Dockerfile, report: Report): void {
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() !== "ADD") continue;
    const json =
      instruction instanceof JSONInstruction
        ? instruction.getJSONStrings().map((arg) => arg.getJSONValue())
        : [];
    const args = json.length > 0 ? json : instruction.getArguments().map((arg) => arg.getValue());
    for (const source of args.slice(0, -1)) {
      const lower = source.toLowerCase();
      if (REMOTE_PREFIXES.some((prefix) => lower.startsWith(prefix))) {
        report(
          instruction,
          "no-remote-add",
          `ADD ${source} fetches a remote source at build time, unverified; put it in the build context and COPY it, or fetch and verify it (checksum or pinned commit) in a build stage and COPY --from that stage`,
        );
      }
    }
  }
}

/** Global ARGs (before the first FROM) with their defaults, each expanded with the earlier ones. */
function globalArgValues(dockerfile: Dockerfile): Map<string, string | null> {
  const values = new Map<string, string | null>();
  for (const arg of dockerfile.getInitialARGs()) {
    const property = arg.getProperty();
    if (property === null) continue;
    const value = property.getValue();
    if (value === null) {
      values.set(property.getName(), null);
      continue;
    }
    const expanded = expand(value, (name) => values.get(name));
    values.set(property.getName(), expanded.unresolved === undefined ? expanded.value : null);
  }
  return values;
}

interface Expanded {
  readonly value: string;
  /** The first variable without a value; `declared` when it exists but has no default. */
  readonly unresolved?: { readonly name: string; readonly declared: boolean };
}

/**
 * Substitutes `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}` and
 * `${NAME+word}` as BuildKit does; `lookup` gives undefined for an undeclared name and null for
 * one declared without a value. Values are substituted once, as Docker does.
 */
function expand(text: string, lookup: (name: string) => string | null | undefined): Expanded {
  let value = "";
  let unresolved: Expanded["unresolved"];
  let i = 0;
  const isNameChar = (char: string | undefined) =>
    char !== undefined &&
    ((char >= "a" && char <= "z") ||
      (char >= "A" && char <= "Z") ||
      (char >= "0" && char <= "9") ||
      char === "_");
  while (i < text.length) {
    const char = text[i] as string;
    if (char === "\\" && text[i + 1] === "$") {
      value += "$";
      i += 2;
      continue;
    }
    if (char !== "$") {
      value += char;
      i += 1;
      continue;
    }
    let name = "";
    let modifier = "";
    let word = "";
    if (text[i + 1] === "{") {
      const close = text.indexOf("}", i + 2);
      const body = close === -1 ? text.slice(i + 2) : text.slice(i + 2, close);
      let n = 0;
      while (isNameChar(body[n])) n += 1;
      name = body.slice(0, n);
      const rest = body.slice(n);
      for (const candidate of [":-", ":+", "-", "+"]) {
        if (rest.startsWith(candidate)) {
          modifier = candidate;
          word = rest.slice(candidate.length);
          break;
        }
      }
      if (modifier === "" && rest !== "") modifier = rest;
      i = close === -1 ? text.length : close + 1;
    } else {
      let n = i + 1;
      while (isNameChar(text[n])) n += 1;
      name = text.slice(i + 1, n);
      i = n;
      if (name === "") {
        value += "$";
        continue;
      }
    }
    const found = lookup(name);
    const set = found !== undefined && found !== null;
    const nonEmpty = set && found !== "";
    if (modifier === ":-") value += nonEmpty ? found : word;
    else if (modifier === "-") value += set ? found : word;
    else if (modifier === ":+") value += nonEmpty ? word : "";
    else if (modifier === "+") value += set ? word : "";
    else if (modifier === "" && set) value += found;
    else {
      unresolved ??= { name, declared: found === null };
      value += modifier === "" ? `\${${name}}` : `\${${name}${modifier}}`;
    }
  }
  return unresolved === undefined ? { value } : { value, unresolved };
}
