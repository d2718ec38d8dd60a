import { createHash } from "node:crypto";

export const digestOf = (text: string) =>
  `sha256:${createHash("sha256").update(text).digest("hex")}`;

export interface FakeManifest {
  readonly mediaType: string;
  readonly body: string;
}

export const INDEX = "application/vnd.oci.image.index.v1+json";
export const IMAGE = "application/vnd.oci.image.manifest.v1+json";

/** An in-memory OCI distribution API with deletes, answering the client's `fetch`. */
export class FakeRegistry {
  readonly manifests = new Map<string, Map<string, FakeManifest>>();
  readonly tags = new Map<string, Map<string, string>>();
  readonly blobs = new Map<string, string>();
  readonly requests: string[] = [];
  readonly failDeletes = new Set<string>();
  /** DELETEs answered 429 once, with this Retry-After, before they go through. */
  readonly rateLimitOnce = new Map<string, string>();
  /**
   * How many manifest DELETEs go through before the registry refuses every other one as
   * distribution does with `storage.delete.enabled: false` (405 UNSUPPORTED); undefined: none.
   */
  refuseDeletesAfter: number | undefined;
  #deletesAnswered = 0;

  put(repository: string, manifest: object, mediaType: string): string {
    const body = JSON.stringify({ schemaVersion: 2, mediaType, ...manifest });
    const digest = digestOf(body);
    if (!this.manifests.has(repository)) this.manifests.set(repository, new Map());
    this.manifests.get(repository)?.set(digest, { mediaType, body });
    return digest;
  }

  tag(repository: string, tag: string, digest: string): void {
    if (!this.tags.has(repository)) this.tags.set(repository, new Map());
    this.tags.get(repository)?.set(tag, digest);
  }

  image(repository: string, arch: string, version: string, created: string) {
    const config = JSON.stringify({ architecture: arch, os: "linux", created, version });
    const configDigest = digestOf(config);
    this.blobs.set(configDigest, config);
    const layer = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", size: 1000 };
    const digest = this.put(
      repository,
      {
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: configDigest,
          size: config.length,
        },
        layers: [
          { ...layer, digest: digestOf(`base-${arch}`), size: 500_000 },
          { ...layer, digest: digestOf(`${version}-${arch}`) },
        ],
      },
      IMAGE,
    );
    const attestation = this.put(
      repository,
      {
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: digestOf("{}"),
          size: 2,
        },
        layers: [
          {
            mediaType: "application/vnd.in-toto+json",
            digest: digestOf(`att-${version}-${arch}`),
            size: 300,
          },
        ],
      },
      IMAGE,
    );
    const entries = [
      { mediaType: IMAGE, digest, size: 400, platform: { architecture: arch, os: "linux" } },
      {
        mediaType: IMAGE,
        digest: attestation,
        size: 300,
        platform: { architecture: "unknown", os: "unknown" },
        annotations: {
          "vnd.docker.reference.digest": digest,
          "vnd.docker.reference.type": "attestation-manifest",
        },
      },
    ];
    return { digest, attestation, entries };
  }

  /** A release as the stack pushes it: per-arch indexes tagged `<v>-<arch>`, the version index. */
  release(repository: string, version: string, created: string, tags: string[] = [version]) {
    const amd64 = this.image(repository, "amd64", version, created);
    const arm64 = this.image(repository, "arm64", version, created);
    const perArch = {
      amd64: this.put(repository, { manifests: amd64.entries }, INDEX),
      arm64: this.put(repository, { manifests: arm64.entries }, INDEX),
    };
    const index = this.put(repository, { manifests: [...amd64.entries, ...arm64.entries] }, INDEX);
    for (const tag of tags) {
      this.tag(repository, tag, index);
      this.tag(repository, `${tag}-amd64`, perArch.amd64);
      this.tag(repository, `${tag}-arm64`, perArch.arm64);
    }
    return {
      index,
      perArch,
      children: [amd64.digest, amd64.attestation, arm64.digest, arm64.attestation],
    };
  }

  has(repository: string, digest: string): boolean {
    return this.manifests.get(repository)?.has(digest) ?? false;
  }

  deletes(): string[] {
    return this.requests.filter((request) => request.startsWith("DELETE"));
  }

  readonly fetch = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const url = new URL(String(input));
    const method = init?.method ?? "GET";
    this.requests.push(`${method} ${url.pathname}`);
    if (url.pathname === "/v2/") return new Response("{}", { status: 200 });
    const match = /^\/v2\/(.+)\/(tags\/list|manifests\/([^/]+)|blobs\/([^/]+))$/.exec(url.pathname);
    if (match === null) return new Response("not found", { status: 404 });
    const [, repository = "", what = "", reference, blob] = match;
    const manifests = this.manifests.get(repository);
    if (what === "tags/list") {
      if (manifests === undefined) return new Response("{}", { status: 404 });
      return Response.json({
        name: repository,
        tags: [...(this.tags.get(repository)?.keys() ?? [])],
      });
    }
    if (blob !== undefined) {
      const text = this.blobs.get(blob);
      return text === undefined ? new Response("", { status: 404 }) : new Response(text);
    }
    const ref = reference as string;
    if (method === "PUT") {
      const body = String(init?.body ?? "");
      const mediaType = new Headers(init?.headers).get("content-type") ?? "";
      const digest = digestOf(body);
      if (!this.manifests.has(repository)) this.manifests.set(repository, new Map());
      this.manifests.get(repository)?.set(digest, { mediaType, body });
      if (!ref.startsWith("sha256:")) this.tag(repository, ref, digest);
      return new Response(null, { status: 201, headers: { "docker-content-digest": digest } });
    }
    if (method === "DELETE") {
      if (
        this.refuseDeletesAfter !== undefined &&
        this.#deletesAnswered++ >= this.refuseDeletesAfter
      )
        return Response.json(
          { errors: [{ code: "UNSUPPORTED", message: "The operation is unsupported." }] },
          { status: 405 },
        );
      const wait = this.rateLimitOnce.get(ref);
      if (wait !== undefined) {
        this.rateLimitOnce.delete(ref);
        return new Response("slow down", { status: 429, headers: { "retry-after": wait } });
      }
      if (this.failDeletes.has(ref)) return new Response("storage on fire", { status: 500 });
      if (!manifests?.delete(ref)) return new Response("", { status: 404 });
      const tags = this.tags.get(repository);
      for (const [tag, digest] of tags ?? []) if (digest === ref) tags?.delete(tag);
      return new Response(null, { status: 202 });
    }
    const digest = ref.startsWith("sha256:") ? ref : this.tags.get(repository)?.get(ref);
    const manifest = digest === undefined ? undefined : manifests?.get(digest);
    if (digest === undefined || manifest === undefined) return new Response("", { status: 404 });
    return new Response(method === "HEAD" ? null : manifest.body, {
      headers: { "content-type": manifest.mediaType, "docker-content-digest": digest },
    });
  }) as typeof fetch;
}
