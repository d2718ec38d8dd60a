/**
 * The supply-chain tools a release runs as child processes (cosign signs and attests, syft writes
 * SBOMs, grype scans them): how each is found, run and reported. Secrets never reach a command
 * line or a file in the project: a registry login lives in a private DOCKER_CONFIG folder that is
 * removed when the command ends.
 */
import { execFile } from "node:child_process";
import { mentionsPullLimit, pullLimitRefusal, refusedManifest } from "../lib/pullLimit";
import { writeDockerLogin } from "./dockerConfig";
import { OciRegistryClient, PullLimitError } from "./ociRegistry";
import { withScratchDir } from "./scratch";

export type Tool = "cosign" | "syft" | "grype";

export interface RegistryAuth {
  readonly registry: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

/** A tool that could not start, or ended with an error; `exitCode` is absent when it never ran. */
export class SigningToolError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | undefined,
  ) {
    super(message);
    this.name = "SigningToolError";
  }
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The tool's binary: `$COSIGN_BINARY`, `$SYFT_BINARY`, `$GRYPE_BINARY`, else the name on PATH. */
export function toolBinary(tool: Tool): string {
  return process.env[`${tool.toUpperCase()}_BINARY`] ?? tool;
}

/** Runs the tool to its end; rejects only when it cannot start (a missing binary is named). */
export function runTool(
  tool: Tool,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  input?: string,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      toolBinary(tool),
      args,
      { env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code === "string") {
          reject(
            new SigningToolError(
              error.code === "ENOENT"
                ? `${tool} is not installed: ${toolBinary(tool)} was not found on PATH (bash scripts/toolchain.sh builds it)`
                : `${tool} could not start: ${error.message}`,
              undefined,
            ),
          );
          return;
        }
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** `<tool> <what> failed (exit N): <its last lines>`. */
export function toolFailure(tool: Tool, what: string, result: RunResult): SigningToolError {
  const detail = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-5).join("\n");
  return new SigningToolError(
    `${tool} ${what} failed (exit ${result.code}): ${detail}`,
    result.code,
  );
}

/** A private DOCKER_CONFIG holding only this registry's login, for the length of `work`. */
export async function withRegistryLogin<T>(
  auth: RegistryAuth | undefined,
  work: (env: Record<string, string>) => Promise<T>,
): Promise<T> {
  if (auth?.username === undefined || auth.password === undefined) return work({});
  const { username, password } = auth;
  return withScratchDir("login", async (dir) => {
    writeDockerLogin(dir, auth.registry, { username, password });
    return work({ DOCKER_CONFIG: dir });
  });
}

/**
 * Runs a tool with the registry's login. A run the registry refused for its pull limit (429
 * TOOMANYREQUESTS in the tool's output) is the registry's refusal, with the limit and the reset
 * read by a HEAD of the manifest it named (a HEAD is not a pull), whatever the tool's exit code
 * would otherwise mean ("not verified" included).
 */
export async function runToolWithLogin(
  tool: Tool,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  auth: RegistryAuth | undefined,
): Promise<RunResult> {
  const result = await withRegistryLogin(auth, (login) =>
    runTool(tool, args, { ...env, ...login }),
  );
  if (result.code === 0) return result;
  const refusal = await pullLimitRefusalIn(tool, `${result.stderr}\n${result.stdout}`, auth);
  if (refusal !== undefined) throw refusal;
  return result;
}

/**
 * The registry's pull-limit refusal a tool's output reports (429 TOOMANYREQUESTS), with the
 * limit and the reset read by a HEAD of the manifest it named; undefined when it reports none.
 */
export async function pullLimitRefusalIn(
  tool: Tool,
  output: string,
  auth: RegistryAuth | undefined,
): Promise<PullLimitError | undefined> {
  if (!mentionsPullLimit(output)) return undefined;
  const refused = refusedManifest(output);
  const registry = refused?.registry ?? auth?.registry ?? "the registry";
  let allowance: PullLimitError["allowance"];
  if (refused !== undefined) {
    const client = new OciRegistryClient({
      registry: refused.registry,
      ...(auth?.username === undefined ? {} : { username: auth.username }),
      ...(auth?.password === undefined ? {} : { password: auth.password }),
    });
    await client.headManifest(refused.repository, refused.reference).catch(() => undefined);
    allowance = client.allowance;
  }
  const separator = refused?.reference.startsWith("sha256:") ? "@" : ":";
  const what =
    refused === undefined
      ? `let ${tool} read`
      : `let ${tool} read ${refused.repository}${separator}${refused.reference}`;
  return new PullLimitError(pullLimitRefusal(registry, what, allowance, new Date()), allowance);
}
