/**
 * Tags written by copying manifests the registry already holds: `PUT` of the exact bytes under
 * each tag, so the tag gets the same digest and no blob is uploaded. Floating arch tags move this
 * way (never pull, retag and push, which drops the other architecture). Delete does nothing: a
 * published tag is the retention command's to remove.
 *
 * One resource holds every such tag of one step of a release (the version's arch tags, or all
 * floating arch tags of a repository): the engine checkpoints its whole state after every
 * resource step, so 72 one-tag resources cost more in checkpoints than their registry requests.
 */
import * as pulumi from "@pulumi/pulumi";
import { type Manifest, OciRegistryClient } from "../clients/ociRegistry";
import { DOCKER_TAG_PATTERN } from "../lib/versions";
import { serializableProvider } from "./dynamicProvider";

export interface TagTarget {
  tag: string;
  /** Digest of the manifest the tag must point at; it must already be in the repository. */
  digest: string;
}

export interface RegistryTagSetInputs {
  /** Registry host, e.g. `docker.io` or `127.0.0.1:5000`. */
  registry: string;
  /** Repository path inside the registry, e.g. `battlescope/frontend`. */
  repository: string;
  /** Written in this order, one after the other. */
  tags: TagTarget[];
  /** Refuse to move any tag that already points elsewhere (version tags); nothing is written then. */
  createOnly: boolean;
  username?: string;
  password?: string;
}

export interface RegistryTagSetOutputs {
  registry: string;
  repository: string;
  tags: TagTarget[];
  createOnly: boolean;
  /** What each tag pointed at before this stack wrote it, for the tags that existed. */
  previousDigests: Record<string, string>;
}

const REPLACING = ["registry", "repository"] as const;

function sameTargets(a: readonly TagTarget[], b: readonly TagTarget[]): boolean {
  return (
    a.length === b.length &&
    a.every((target, i) => target.tag === b[i]?.tag && target.digest === b[i]?.digest)
  );
}

export function createRegistryTagSetProvider(
  clientFor: (inputs: RegistryTagSetInputs) => OciRegistryClient = (inputs) =>
    new OciRegistryClient({
      registry: inputs.registry,
      ...(inputs.username === undefined ? {} : { username: inputs.username }),
      ...(inputs.password === undefined ? {} : { password: inputs.password }),
    }),
): pulumi.dynamic.ResourceProvider {
  async function write(inputs: RegistryTagSetInputs): Promise<RegistryTagSetOutputs> {
    const client = clientFor(inputs);
    const where = (tag: string) => `${inputs.registry}/${inputs.repository}:${tag}`;
    // Reads and writes go one at a time: registries that rewrite link files in place
    // (distribution 2.8) can serve a half-written link to a read running beside a write.
    const previousDigests: Record<string, string> = {};
    for (const { tag } of inputs.tags) {
      const current = await client.headManifest(inputs.repository, tag);
      if (current !== undefined) previousDigests[tag] = current.digest;
    }
    const pending = inputs.tags.filter(({ tag, digest }) => previousDigests[tag] !== digest);
    if (inputs.createOnly) {
      const taken = pending.filter(({ tag }) => previousDigests[tag] !== undefined);
      if (taken.length > 0) {
        throw new Error(
          taken
            .map(
              ({ tag, digest }) =>
                `refusing to overwrite ${where(tag)}: it already holds ${previousDigests[tag]}, not ${digest}; version tags are create-only`,
            )
            .join("\n"),
        );
      }
    }
    const sources = new Map<string, Manifest>();
    for (const { tag, digest } of pending) {
      let source = sources.get(digest);
      if (source === undefined) {
        source = await client.getManifest(inputs.repository, digest);
        if (source === undefined) {
          throw new Error(
            `cannot tag ${where(tag)}: ${digest} is not in ${inputs.registry}/${inputs.repository}`,
          );
        }
        sources.set(digest, source);
      }
      const written = await client.putManifest(
        inputs.repository,
        tag,
        source.raw,
        source.mediaType,
      );
      if (written !== "" && written !== digest) {
        throw new Error(`the registry stored ${where(tag)} as ${written}, expected ${digest}`);
      }
    }
    return {
      registry: inputs.registry,
      repository: inputs.repository,
      tags: inputs.tags,
      createOnly: inputs.createOnly,
      previousDigests,
    };
  }

  return {
    async check(_olds, news: RegistryTagSetInputs) {
      const failures: pulumi.dynamic.CheckFailure[] = [];
      // During a preview the whole list can still be unknown: nothing to check yet.
      const tags = Array.isArray(news.tags) ? news.tags : undefined;
      if (tags?.length === 0) failures.push({ property: "tags", reason: "no tag to write" });
      for (const { tag } of tags ?? []) {
        if (typeof tag === "string" && !DOCKER_TAG_PATTERN.test(tag)) {
          failures.push({
            property: "tags",
            reason: `${JSON.stringify(tag)} is not a valid Docker tag`,
          });
        }
      }
      return { inputs: news, failures };
    },
    async diff(_id, olds: RegistryTagSetOutputs, news: RegistryTagSetInputs) {
      const replaces = REPLACING.filter((key) => olds[key] !== news[key]);
      const changes =
        replaces.length > 0 ||
        !sameTargets(olds.tags ?? [], news.tags ?? []) ||
        olds.createOnly !== news.createOnly;
      return { changes, replaces, deleteBeforeReplace: false };
    },
    async create(inputs: RegistryTagSetInputs) {
      const outs = await write(inputs);
      const names = inputs.tags.map(({ tag }) => tag).join(",");
      return { id: `${inputs.registry}/${inputs.repository}:${names}`, outs };
    },
    async update(_id, _olds: RegistryTagSetOutputs, news: RegistryTagSetInputs) {
      return { outs: await write(news) };
    },
    async delete() {
      // Published tags stay: deleting them is the retention command's job alone.
    },
  };
}

const registryTagSetProvider = serializableProvider(__filename, "createRegistryTagSetProvider");

export interface RegistryTagSetArgs {
  registry: pulumi.Input<string>;
  repository: pulumi.Input<string>;
  /** Each tag and the digest of a manifest already in the repository, in write order. */
  tags: pulumi.Input<pulumi.Input<{ tag: pulumi.Input<string>; digest: pulumi.Input<string> }>[]>;
  createOnly: pulumi.Input<boolean>;
  username?: pulumi.Input<string>;
  /** Kept encrypted in the state; never part of the outputs. */
  password?: pulumi.Input<string>;
}

/** Registry tags pointing at existing manifests (type `pulumi-nodejs:dynamic/battlescope:RegistryTagSet`). */
export class RegistryTagSet extends pulumi.dynamic.Resource {
  declare readonly tags: pulumi.Output<TagTarget[]>;
  declare readonly previousDigests: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: RegistryTagSetArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      registryTagSetProvider,
      name,
      {
        ...args,
        ...(args.password === undefined ? {} : { password: pulumi.secret(args.password) }),
        previousDigests: undefined,
      },
      opts,
      "battlescope",
      "RegistryTagSet",
    );
  }
}
