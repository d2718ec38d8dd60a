/**
 * SBOMs from one long-lived `battlescope-sbom serve` (scripts/toolchain/sbom: syft's library)
 * per process and registry login, instead of a `syft scan` process per image: each syft process
 * builds its license scanner (about 0.7 s of CPU), which the server builds once. The login goes
 * in the server's environment, never in a file; the server ends when this process does (its
 * stdin closes) or after a minute without work.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import type { SpdxDocument } from "../lib/attestation";
import { type RegistryAuth, SigningToolError } from "./tools";
import { which } from "./which";

/** `$BATTLESCOPE_SBOM_BINARY`, else `battlescope-sbom` on PATH. */
export function sbomServerBinary(): string {
  return process.env.BATTLESCOPE_SBOM_BINARY ?? "battlescope-sbom";
}

/** Whether the server can be used here: its binary is on PATH (or named), else syft per image. */
export function sbomServerAvailable(): boolean {
  const binary = sbomServerBinary();
  if (binary.includes("/")) return which(path.basename(binary), path.dirname(binary)) !== undefined;
  return which(binary, process.env.PATH ?? "") !== undefined;
}

const IDLE_MS = 60_000;

interface Pending {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

class SbomServer {
  private readonly child: ChildProcess;
  private readonly pending = new Map<string, Pending>();
  private nextId = 0;
  private idle: NodeJS.Timeout | undefined;
  private ended: Error | undefined;

  constructor(
    login: Readonly<Record<string, string>>,
    private readonly onEnd: () => void,
  ) {
    this.child = spawn(sbomServerBinary(), ["serve"], {
      env: { ...process.env, ...login },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    this.child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-4000);
    });
    readline
      .createInterface({ input: this.child.stdout as NodeJS.ReadableStream })
      .on("line", (line) => this.answer(line));
    this.child.on("error", (error: NodeJS.ErrnoException) =>
      this.end(
        new SigningToolError(
          error.code === "ENOENT"
            ? `battlescope-sbom is not installed: ${sbomServerBinary()} was not found on PATH (bash scripts/toolchain.sh builds it)`
            : `battlescope-sbom could not start: ${error.message}`,
          undefined,
        ),
      ),
    );
    this.child.on("exit", (code, signal) => {
      const detail = stderr.trim().split("\n").slice(-3).join("\n");
      this.end(
        new SigningToolError(
          `battlescope-sbom serve exited (${signal ?? `exit ${code}`}) with ${this.pending.size} SBOM(s) unwritten${detail === "" ? "" : `: ${detail}`}`,
          code ?? undefined,
        ),
      );
    });
    this.hold(false);
  }

  /**
   * Keeps this process alive while an SBOM is pending, and not when the server is idle: a
   * process that is done ends, and the server with it (its stdin closes).
   */
  private hold(busy: boolean): void {
    const method = busy ? "ref" : "unref";
    this.child[method]();
    for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr]) {
      (stream as unknown as Record<string, (() => void) | undefined> | null)?.[method]?.();
    }
  }

  /** Writes the image's SBOM into `file`. */
  write(ref: string, file: string): Promise<void> {
    if (this.ended !== undefined) return Promise.reject(this.ended);
    if (this.idle !== undefined) clearTimeout(this.idle);
    const id = String(++this.nextId);
    if (this.pending.size === 0) this.hold(true);
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin?.write(`${JSON.stringify({ id, ref, out: file })}\n`);
    });
  }

  private answer(line: string): void {
    let parsed: { id?: string; error?: string };
    try {
      parsed = JSON.parse(line) as { id?: string; error?: string };
    } catch {
      return;
    }
    const waiting = parsed.id === undefined ? undefined : this.pending.get(parsed.id);
    if (waiting === undefined || parsed.id === undefined) return;
    this.pending.delete(parsed.id);
    if (parsed.error === undefined) waiting.resolve();
    else waiting.reject(new SigningToolError(`battlescope-sbom failed: ${parsed.error}`, 1));
    if (this.pending.size === 0) {
      this.hold(false);
      this.idle = setTimeout(() => this.child.stdin?.end(), IDLE_MS);
      this.idle.unref();
    }
  }

  private end(error: Error): void {
    if (this.ended !== undefined) return;
    this.ended = error;
    if (this.idle !== undefined) clearTimeout(this.idle);
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
    this.hold(false);
    this.onEnd();
  }
}

const servers = new Map<string, SbomServer>();

/** The running server for this login, started on first use. */
function serverFor(auth: RegistryAuth | undefined): SbomServer {
  const key = `${auth?.registry ?? ""}\n${auth?.username ?? ""}\n${auth?.password ?? ""}`;
  let server = servers.get(key);
  if (server === undefined) {
    const login: Record<string, string> =
      auth?.username === undefined || auth.password === undefined
        ? {}
        : {
            BATTLESCOPE_SBOM_REGISTRY: auth.registry,
            BATTLESCOPE_SBOM_USERNAME: auth.username,
            BATTLESCOPE_SBOM_PASSWORD: auth.password,
          };
    const started: SbomServer = new SbomServer(login, () => {
      if (servers.get(key) === started) servers.delete(key);
    });
    server = started;
    servers.set(key, server);
  }
  return server;
}

/** The SPDX 2.3 SBOM of one image by digest, written by the server into a scratch file. */
export async function serverSbom(
  ref: string,
  auth: RegistryAuth | undefined,
  scratchDir: string,
): Promise<SpdxDocument> {
  const file = path.join(scratchDir, "sbom.spdx.json");
  await serverFor(auth).write(ref, file);
  return JSON.parse(fs.readFileSync(file, "utf8")) as SpdxDocument;
}
