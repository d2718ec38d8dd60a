/**
 * The local token server (scripts/token-server, started by scripts/local-services.sh) as the
 * tests see it: its log of issued and refused tokens, read from a byte mark, and its settings
 * file, changed for a test and put back afterwards.
 */
import * as fs from "node:fs";
import * as path from "node:path";

const TOKEN_LOG = process.env.BATTLESCOPE_TOKEN_LOG ?? "";
const TOKEN_SETTINGS = process.env.BATTLESCOPE_TOKEN_SETTINGS ?? "";
const REGISTRY_LOG = path.join(process.env.BATTLESCOPE_STATE ?? "", "registry", "registry.log");

export interface TokenLogEntry {
  readonly event: "issued" | "refused" | "pull" | "pull refused";
  readonly account: string | null;
  readonly client: string;
  readonly grant?: string;
  readonly access?: readonly string[];
  readonly expiresIn?: number;
  readonly details?: string;
}

function requireFile(file: string, what: string): string {
  if (file === "" || !fs.existsSync(file))
    throw new Error(
      `no ${what} (${file || "unset"}): start the local services with token auth (bash scripts/local-services.sh start)`,
    );
  return file;
}

/** Byte marks of the token server's and the registry's logs, to read what came after. */
export function tokenLogMarks(): { tokens: number; registry: number } {
  return {
    tokens: fs.statSync(requireFile(TOKEN_LOG, "token server log")).size,
    registry: fs.statSync(requireFile(REGISTRY_LOG, "registry log")).size,
  };
}

function since(file: string, mark: number): string[] {
  return fs.readFileSync(file).subarray(mark).toString("utf8").split("\n").filter(Boolean);
}

/** The tokens issued and refused, and the pulls the proxy counted or refused, since the mark. */
export function tokensSince(mark: number): TokenLogEntry[] {
  return since(TOKEN_LOG, mark)
    .map((line) => JSON.parse(line) as TokenLogEntry & { event: string })
    .filter((entry): entry is TokenLogEntry =>
      ["issued", "refused", "pull", "pull refused"].includes(entry.event),
    );
}

/** The client's name as its user agent starts: `cosign`, `containerd`, `node`, `buildkit`. */
export function clientName(userAgent: string): string {
  return (userAgent.split(/[/ ]/)[0] ?? userAgent).toLowerCase();
}

/** How many times the registry refused a token for being past its `exp`, since the mark. */
export function expiredTokenRefusals(mark: number): number {
  return since(REGISTRY_LOG, mark).filter((line) => line.includes("token not to be used after"))
    .length;
}

/** Sets the token server's settings until the returned function puts the earlier ones back. */
export function useTokenSettings(settings: {
  expiresIn?: number;
  backdateSeconds?: number;
  pullLimit?: { limit: number; windowSeconds: number };
}): () => void {
  const file = requireFile(path.dirname(TOKEN_SETTINGS), "token server folder")
    ? TOKEN_SETTINGS
    : "";
  const before = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
  fs.writeFileSync(file, `${JSON.stringify(settings)}\n`);
  return () => {
    if (before === undefined) fs.rmSync(file, { force: true });
    else fs.writeFileSync(file, before);
  };
}
