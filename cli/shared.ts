/**
 * What every command of `battlescope-images` shares: the output streams, bad input and its exit
 * code, the list, service and platform arguments, the Docker Hub client built from the
 * environment, and the mapping of errors to exit codes. Commands import this module and never
 * each other; cli/main.ts only puts them together.
 */
import * as fs from "node:fs";
import { type Command, CommanderError } from "commander";
import { DockerHubClient } from "../clients/dockerHub";
import { PLATFORMS, type Platform } from "../lib/vocabulary";
import { findService, SERVICE_NAMES, type ServiceImage } from "../services/catalog";

/** Exit code for bad input: nothing was read, written or deleted. */
export const EXIT_USAGE = 2;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** The environment a command reads (credentials); tests pass their own. */
export type Env = Readonly<Record<string, string | undefined>>;

/** What a command reaching a registry or the Hub reads from outside; tests replace parts of it. */
export interface HttpDeps {
  readonly env?: Env;
  /** HTTP for the registry and the Hub, default the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** How rate-limit waits are made, default `setTimeout`. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** A comma-separated list, items trimmed, empty items dropped. */
export function list(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** `--platforms`: a comma-separated subset of the two platforms, in their usual order; all when absent. */
export function parsePlatforms(value: string | undefined): Platform[] {
  if (value === undefined) return [...PLATFORMS];
  const requested = list(value);
  const bad = requested.find((platform) => !(PLATFORMS as readonly string[]).includes(platform));
  if (bad !== undefined || requested.length === 0) {
    throw new UsageError(
      `invalid platform ${JSON.stringify(bad ?? value)}: expected a comma-separated list of ${PLATFORMS.join(", ")}`,
    );
  }
  return PLATFORMS.filter((platform) => requested.includes(platform));
}

/** The catalog entry of a service named on the command line; bad input otherwise. */
export function requireService(name: string): ServiceImage {
  const service = findService(name);
  if (service === undefined) {
    throw new UsageError(
      `unknown service ${JSON.stringify(name)}: expected one of ${SERVICE_NAMES.join(", ")}`,
    );
  }
  return service;
}

/** The Hub API client for DOCKER_HUB_USERNAME and DOCKER_HUB_TOKEN, or undefined without them. */
export function hubClientFromEnv(
  baseUrl: string,
  env: Env,
  deps: HttpDeps,
): DockerHubClient | undefined {
  const username = env.DOCKER_HUB_USERNAME;
  const token = env.DOCKER_HUB_TOKEN;
  if (!username || !token) return undefined;
  return new DockerHubClient({
    baseUrl,
    username,
    token,
    ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    ...(deps.sleep === undefined ? {} : { sleep: deps.sleep }),
  });
}

/** The PEM public key a `--key <file>` names; bad input when there is none. */
export function readPublicKeyOption(file: string): string {
  if (!fs.existsSync(file)) {
    throw new UsageError(`invalid --key ${JSON.stringify(file)}: no such file`);
  }
  const publicKey = fs.readFileSync(file, "utf8");
  if (!publicKey.includes("-----BEGIN PUBLIC KEY-----")) {
    throw new UsageError(
      `invalid --key ${JSON.stringify(file)}: not a PEM public key (cosign.pub, keys/release.pub)`,
    );
  }
  return publicKey;
}

/** "1 tag", "2 tags". */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** Parses and runs a program, mapping its errors to exit codes the way the command line does. */
export async function runProgram(
  program: Command,
  argv: readonly string[],
  io: CliIo,
): Promise<number> {
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with code 0; commander has already printed its message.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`battlescope-images: ${message}\n`);
    return error instanceof UsageError || isInputError(error) ? EXIT_USAGE : 1;
  }
}

function isInputError(error: unknown): boolean {
  return (
    error instanceof Error &&
    ["InvalidVersionError", "DescriptionTooLongError"].includes(error.name)
  );
}
