/**
 * `npm run bench:registry-race -- --registry <url> [--rounds 50] [--user name:password]`
 *
 * Reproduces the registry race a release runs into: the platforms of one service push the same
 * layer into one repository at once, and tags of one repository are written at once. Each round,
 * 8 clients push one new 4 MiB blob into one repository at the same moment (HEAD, POST, PATCH,
 * PUT, as BuildKit does), and as soon as the first of them is done, 6 clients PUT one new manifest
 * naming that blob under 6 tags at the same moment; afterwards every tag is read back. It counts what a client sees: every answer that is not the
 * protocol's success, and every tag that does not point at the round's manifest.
 *
 * Run it against a registry of its own (its data folder is written to), never a shared one.
 * An https registry with a private CA needs NODE_EXTRA_CA_CERTS.
 */
import { createHash, randomBytes } from "node:crypto";
import { Command } from "commander";
import { type RaceRound, raceSummary } from "./raceSummary";

const BLOB_CLIENTS = 8;
const TAG_CLIENTS = 6;
const BLOB_BYTES = 4 * 1024 * 1024;
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

interface Options {
  registry: string;
  rounds: string;
  user?: string;
  repository: string;
}

const digestOf = (data: Buffer | string) =>
  `sha256:${createHash("sha256").update(data).digest("hex")}`;

class Client {
  requests = 0;
  readonly errors: string[] = [];

  constructor(
    private readonly base: string,
    private readonly authorization: string | undefined,
  ) {}

  /** One request; any answer other than `expected` is recorded as the error a client sees. */
  async call(
    what: string,
    method: string,
    url: string,
    expected: readonly number[],
    body?: Buffer | string,
    headers: Record<string, string> = {},
  ): Promise<Response | undefined> {
    this.requests++;
    let response: Response;
    try {
      response = await fetch(url.startsWith("http") ? url : `${this.base}${url}`, {
        method,
        headers: {
          ...headers,
          ...(this.authorization === undefined ? {} : { authorization: this.authorization }),
        },
        ...(body === undefined ? {} : { body }),
      });
    } catch (error) {
      this.errors.push(`${what}: ${(error as Error).message}`);
      return undefined;
    }
    if (expected.includes(response.status)) return response;
    const text = await response.text().catch(() => "");
    let detail = text.trim().slice(0, 80);
    try {
      const parsed = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
      detail = (parsed.errors ?? []).map((e) => `${e.code} ${e.message}`).join(" + ");
    } catch {}
    this.errors.push(`${what} ${response.status} ${detail}`.trim());
    return undefined;
  }

  /** A monolithic-in-one-chunk upload as BuildKit sends it, after asking whether it is there. */
  async pushBlob(repository: string, blob: Buffer, digest: string): Promise<void> {
    const head = await this.call(
      "HEAD blob",
      "HEAD",
      `/v2/${repository}/blobs/${digest}`,
      [200, 404],
    );
    if (head?.status === 200) return;
    const started = await this.call(
      "POST upload",
      "POST",
      `/v2/${repository}/blobs/uploads/`,
      [202],
    );
    const location = started?.headers.get("location");
    if (location === undefined || location === null) return;
    const patched = await this.call("PATCH upload", "PATCH", this.absolute(location), [202], blob, {
      "content-type": "application/octet-stream",
    });
    const next = patched?.headers.get("location");
    if (next === undefined || next === null) return;
    const url = new URL(this.absolute(next));
    url.searchParams.set("digest", digest);
    await this.call("PUT upload", "PUT", url.toString(), [201], Buffer.alloc(0), {
      "content-type": "application/octet-stream",
    });
  }

  async tagDigest(repository: string, tag: string): Promise<string | undefined> {
    const response = await this.call(
      "HEAD tag",
      "HEAD",
      `/v2/${repository}/manifests/${tag}`,
      [200, 404],
      undefined,
      { accept: OCI_MANIFEST },
    );
    return response?.status === 200
      ? (response.headers.get("docker-content-digest") ?? undefined)
      : undefined;
  }

  private absolute(location: string): string {
    return location.startsWith("http") ? location : `${this.base}${location}`;
  }
}

async function round(client: Client, repository: string, index: number): Promise<RaceRound> {
  const errorsBefore = client.errors.length;
  const blob = randomBytes(BLOB_BYTES);
  const blobDigest = digestOf(blob);
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", round: index }));
  const configDigest = digestOf(config);
  await client.pushBlob(repository, config, configDigest);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: configDigest,
      size: config.length,
    },
    layers: [
      {
        mediaType: "application/vnd.oci.image.layer.v1.tar",
        digest: blobDigest,
        size: blob.length,
      },
    ],
  });
  const manifestDigest = digestOf(manifest);
  const tags = Array.from({ length: TAG_CLIENTS }, (_, i) => `t${i}`);
  // The tag writers start as soon as one upload is committed, while the others still commit the
  // same blob: one platform's manifest PUT beside the other platform's push of a shared layer.
  let firstCommitted: () => void = () => undefined;
  const committed = new Promise<void>((resolve) => {
    firstCommitted = resolve;
  });
  await Promise.all([
    ...Array.from({ length: BLOB_CLIENTS }, () =>
      client.pushBlob(repository, blob, blobDigest).finally(firstCommitted),
    ),
    ...tags.map((tag) =>
      committed.then(() =>
        client.call("PUT manifest", "PUT", `/v2/${repository}/manifests/${tag}`, [201], manifest, {
          "content-type": OCI_MANIFEST,
        }),
      ),
    ),
  ]);
  let wrongTags = 0;
  for (const tag of tags) {
    if ((await client.tagDigest(repository, tag)) !== manifestDigest) wrongTags++;
  }
  return { errors: client.errors.slice(errorsBefore), wrongTags };
}

async function main(): Promise<void> {
  const options = new Command("registry-race")
    .requiredOption(
      "--registry <url>",
      "base URL of a registry of its own, e.g. http://127.0.0.1:5101",
    )
    .option("--rounds <n>", "rounds", "50")
    .option("--user <name:password>", "basic auth")
    .option("--repository <name>", "repository to push into", `race/run-${Date.now()}`)
    .parse()
    .opts<Options>();
  const authorization =
    options.user === undefined
      ? undefined
      : `Basic ${Buffer.from(options.user).toString("base64")}`;
  const client = new Client(options.registry.replace(/\/$/, ""), authorization);
  const rounds: RaceRound[] = [];
  const started = performance.now();
  for (let i = 0; i < Number(options.rounds); i++) {
    rounds.push(await round(client, options.repository, i));
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${raceSummary(rounds, { requests: client.requests, seconds, registry: options.registry })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
