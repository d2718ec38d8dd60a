/**
 * Tags written from manifests the registry already holds. A copy is a `PUT` of a manifest's exact
 * bytes under the tag, so the tag gets the same digest and no blob is uploaded: floating tags move
 * this way (never pull, retag and push, which drops the other architecture). A version's manifest
 * list is an OCI index of its platform images, written here with the version in its annotations
 * (docker-build's `Index` cannot annotate, and re-reads every child for each tag it writes).
 * Delete does nothing: a published tag is the retention command's to remove.
 *
 * One resource holds every tag of one step of a release (the version's tags, or all floating tags
 * of a repository): the engine checkpoints its whole state after every resource step, so one
 * resource per tag costs more in checkpoints than the registry requests.
 */
import * as pulumi from "@pulumi/pulumi";
import { sharedContentCache } from "../clients/contentCache";
import { type Manifest, OciRegistryClient, sharedRegistrySession } from "../clients/ociRegistry";
import { indexManifest } from "../lib/ociIndex";
import { DOCKER_TAG_PATTERN } from "../lib/versions";
import { BattlescopeDynamicResource, type DynamicProviderModule } from "./dynamicProvider";

/** A platform image of a manifest list, by digest, already in the repository. */
export interface IndexChild {
  digest: string;
  os: string;
  architecture: string;
}

export interface TagTarget {
  tag: string;
  /** Digest of the manifest the tag must point at; it must already be in the repository. */
  digest?: string;
  /** Instead of a digest: an OCI index of these images, with these annotations, written under the tag. */
  index?: { children: IndexChild[]; annotations: Record<string, string> };
}

export interface RegistryTagSetInputs {
  /** Registry host, e.g. `docker.io` or `127.0.0.1:5000`. */
  registry: string;
  /** Repository path inside the registry, e.g. `battlescope/frontend`. */
  repository: string;
  /** Written together, once every source is read and every create-only tag checked. */
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
  /** What each tag points at now. */
  digests: Record<string, string>;
}

const REPLACING = ["registry", "repository"] as const;

function sameTargets(a: readonly TagTarget[], b: readonly TagTarget[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (target, i) =>
        target.tag === b[i]?.tag &&
        target.digest === b[i]?.digest &&
        JSON.stringify(target.index) === JSON.stringify(b[i]?.index),
    )
  );
}

/** What one write puts under one tag: a source's exact bytes, or the index built from them. */
interface TagWrite {
  readonly tag: string;
  readonly digest: string;
  readonly raw: string;
  readonly mediaType: string;
  readonly isIndex: boolean;
}

/**
 * What the tags point at now and every source manifest, each read once before anything is
 * written. Reads and writes of one repository go at the same time: the registry writes links to a
 * temporary file and renames it (distribution v3.1.1 or later; bench/RESULTS.md "Registry race").
 */
async function readTargets(client: OciRegistryClient, inputs: RegistryTagSetInputs) {
  const wanted = [
    ...new Set(
      inputs.tags.flatMap(({ digest, index }) =>
        digest !== undefined ? [digest] : (index?.children ?? []).map((child) => child.digest),
      ),
    ),
  ];
  const [current, read] = await Promise.all([
    Promise.all(inputs.tags.map(({ tag }) => client.headManifest(inputs.repository, tag))),
    Promise.all(wanted.map((digest) => client.getManifest(inputs.repository, digest))),
  ]);
  const sources = new Map<string, Manifest>();
  read.forEach((manifest, i) => {
    if (manifest !== undefined) sources.set(wanted[i] as string, manifest);
  });
  const previousDigests: Record<string, string> = {};
  inputs.tags.forEach(({ tag }, i) => {
    const found = current[i];
    if (found !== undefined) previousDigests[tag] = found.digest;
  });
  return { sources, previousDigests };
}

/** The write for one target, from sources already read; a missing source fails it. */
function tagWrite(
  target: TagTarget,
  sources: ReadonlyMap<string, Manifest>,
  where: (tag: string) => string,
  repository: string,
): TagWrite {
  const needed =
    target.digest !== undefined
      ? [target.digest]
      : (target.index?.children ?? []).map((child) => child.digest);
  const absent = needed.filter((digest) => !sources.has(digest));
  if (absent.length > 0) {
    throw new Error(
      `cannot tag ${where(target.tag)}: ${absent.join(", ")} ${absent.length === 1 ? "is" : "are"} not in ${repository}`,
    );
  }
  if (target.digest !== undefined) {
    const { raw, mediaType } = sources.get(target.digest) as Manifest;
    return { tag: target.tag, digest: target.digest, raw, mediaType, isIndex: false };
  }
  const built = indexManifest(
    (target.index?.children ?? []).map((child) => ({
      ...child,
      manifest: sources.get(child.digest) as Manifest,
    })),
    target.index?.annotations ?? {},
  );
  return { tag: target.tag, ...built, isIndex: true };
}

/** Create-only tag sets refuse, all at once, every tag that would move. */
function refuseOverwrites(
  pending: readonly TagWrite[],
  previousDigests: Readonly<Record<string, string>>,
  where: (tag: string) => string,
): void {
  const taken = pending.filter(({ tag }) => previousDigests[tag] !== undefined);
  if (taken.length === 0) return;
  throw new Error(
    taken
      .map(
        ({ tag, digest }) =>
          `refusing to overwrite ${where(tag)}: it already holds ${previousDigests[tag]}, not ${digest}; version tags are create-only`,
      )
      .join("\n"),
  );
}

export function createRegistryTagSetProvider(
  clientFor: (inputs: RegistryTagSetInputs) => OciRegistryClient = (inputs) =>
    new OciRegistryClient({
      registry: inputs.registry,
      contentCache: sharedContentCache(),
      session: sharedRegistrySession(inputs.registry, inputs.username),
      ...(inputs.username === undefined ? {} : { username: inputs.username }),
      ...(inputs.password === undefined ? {} : { password: inputs.password }),
    }),
): pulumi.dynamic.ResourceProvider {
  async function write(inputs: RegistryTagSetInputs): Promise<RegistryTagSetOutputs> {
    const client = clientFor(inputs);
    const where = (tag: string) => `${inputs.registry}/${inputs.repository}:${tag}`;
    const { sources, previousDigests } = await readTargets(client, inputs);
    const repository = `${inputs.registry}/${inputs.repository}`;
    const writes = inputs.tags.map((target) => tagWrite(target, sources, where, repository));
    const pending = writes.filter(({ tag, digest }) => previousDigests[tag] !== digest);
    if (inputs.createOnly) refuseOverwrites(pending, previousDigests, where);
    const put = async ({ tag, digest, raw, mediaType }: TagWrite) => {
      const written = await client.putManifest(inputs.repository, tag, raw, mediaType);
      if (written !== "" && written !== digest) {
        throw new Error(`the registry stored ${where(tag)} as ${written}, expected ${digest}`);
      }
    };
    // The copies (the version's arch tags) first, the manifest list after them: a list is never
    // published before the tags it is checked against, so an interrupted release resumes.
    await Promise.all(pending.filter((write) => !write.isIndex).map(put));
    await Promise.all(pending.filter((write) => write.isIndex).map(put));
    return {
      registry: inputs.registry,
      repository: inputs.repository,
      tags: inputs.tags,
      createOnly: inputs.createOnly,
      previousDigests,
      digests: Object.fromEntries(writes.map(({ tag, digest }) => [tag, digest])),
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
      // Not named by its tags: a version's set is updated to the next version's tags.
      const kind = inputs.createOnly ? "version-tags" : "floating-tags";
      return { id: `${inputs.registry}/${inputs.repository}:${kind}`, outs };
    },
    async update(_id, _olds: RegistryTagSetOutputs, news: RegistryTagSetInputs) {
      return { outs: await write(news) };
    },
    async delete() {
      // Published tags stay: deleting them is the retention command's job alone.
    },
  };
}

const registryTagSetProvider: DynamicProviderModule = {
  modulePath: __filename,
  factoryExport: "createRegistryTagSetProvider",
};

export interface RegistryTagSetArgs {
  registry: pulumi.Input<string>;
  repository: pulumi.Input<string>;
  /** Each tag and the digest of a manifest already in the repository, or the index to write. */
  tags: pulumi.Input<
    pulumi.Input<{
      tag: pulumi.Input<string>;
      digest?: pulumi.Input<string>;
      index?: pulumi.Input<{
        children: pulumi.Input<
          pulumi.Input<{ [K in keyof IndexChild]: pulumi.Input<IndexChild[K]> }>[]
        >;
        annotations: pulumi.Input<Record<string, pulumi.Input<string>>>;
      }>;
    }>[]
  >;
  createOnly: pulumi.Input<boolean>;
  username?: pulumi.Input<string>;
  /** Kept encrypted in the state; never part of the outputs. */
  password?: pulumi.Input<string>;
}

/** Registry tags pointing at existing manifests (type `pulumi-nodejs:dynamic/battlescope:RegistryTagSet`). */
export class RegistryTagSet extends BattlescopeDynamicResource {
  declare readonly tags: pulumi.Output<TagTarget[]>;
  declare readonly previousDigests: pulumi.Output<Record<string, string>>;
  declare readonly digests: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: RegistryTagSetArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      registryTagSetProvider,
      "RegistryTagSet",
      name,
      {
        ...args,
        ...(args.password === undefined ? {} : { password: pulumi.secret(args.password) }),
        previousDigests: undefined,
        digests: undefined,
      },
      opts,
    );
  }
}
