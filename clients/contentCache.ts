/**
 * Registry content kept on disk by digest: manifests and small blobs (image configs) are
 * immutable under their digest, so a copy read once never has to be read again. Docker Hub counts
 * every GET of a manifest as a pull against the account's limit (a HEAD is free); with this cache
 * a release that changes nothing resolves its tags with HEADs alone.
 *
 * Best effort: a file that is missing, unreadable or does not hash to its name is a miss, and a
 * write that fails is skipped; the registry stays the source of truth.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface ContentCache {
  /** The bytes stored under `digest`, verified; undefined when absent. */
  read(digest: string): Buffer | undefined;
  /** Keeps `bytes` under `digest` when they hash to it. */
  write(digest: string, bytes: Buffer): void;
}

/** The largest blob worth keeping: image configs are a few KiB, layers are never read here. */
export const CACHED_BLOB_LIMIT = 1024 * 1024;

const SHA256 = /^sha256:([0-9a-f]{64})$/;

/** `$BATTLESCOPE_REGISTRY_CACHE`, else `~/.cache/battlescope/registry-content`. */
export function defaultContentCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env.BATTLESCOPE_REGISTRY_CACHE;
  if (chosen !== undefined && chosen !== "") return chosen;
  return path.join(os.homedir(), ".cache", "battlescope", "registry-content");
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** Entries not used for this long are removed when a process first opens the cache. */
export const UNUSED_ENTRY_DAYS = 30;

/** Removes the entries of `dir` not read or written since `before` (file times are touched on use). */
export function pruneContentCache(dir: string, before: Date): number {
  const folder = path.join(dir, "sha256");
  let removed = 0;
  let names: string[];
  try {
    names = fs.readdirSync(folder);
  } catch {
    return 0;
  }
  for (const name of names) {
    const file = path.join(folder, name);
    try {
      if (fs.statSync(file).mtime < before) {
        fs.rmSync(file, { force: true });
        removed++;
      }
    } catch {
      // removed by another process meanwhile
    }
  }
  return removed;
}

const opened = new Map<string, ContentCache>();

/** The cache in `dir`, opened once per process (and pruned then). */
export function sharedContentCache(dir = defaultContentCacheDir()): ContentCache {
  let cache = opened.get(dir);
  if (cache === undefined) {
    pruneContentCache(dir, new Date(Date.now() - UNUSED_ENTRY_DAYS * 24 * 60 * 60 * 1000));
    cache = fileContentCache(dir);
    opened.set(dir, cache);
  }
  return cache;
}

/** A content cache in `dir`, one file per digest (`sha256/<hex>`). */
export function fileContentCache(dir: string): ContentCache {
  const fileOf = (digest: string): string | undefined => {
    const hex = SHA256.exec(digest)?.[1];
    return hex === undefined ? undefined : path.join(dir, "sha256", hex);
  };
  return {
    read(digest) {
      const file = fileOf(digest);
      if (file === undefined) return undefined;
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(file);
      } catch {
        return undefined;
      }
      if (`sha256:${sha256(bytes)}` !== digest) {
        fs.rmSync(file, { force: true });
        return undefined;
      }
      const now = new Date();
      fs.utimes(file, now, now, () => undefined);
      return bytes;
    },
    write(digest, bytes) {
      const file = fileOf(digest);
      if (file === undefined || `sha256:${sha256(bytes)}` !== digest) return;
      // Another process may write the same digest at once: each writes its own file, then
      // renames it into place, so a reader never sees half a file.
      const partial = `${file}.${randomBytes(6).toString("hex")}.partial`;
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(partial, bytes);
        fs.renameSync(partial, file);
      } catch {
        fs.rmSync(partial, { force: true });
      }
    },
  };
}
