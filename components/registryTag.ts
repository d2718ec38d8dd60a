/**
 * A tag written by copying a manifest the registry already holds: `PUT` of the exact bytes under
 * the tag, so the tag gets the same digest and no blob is uploaded. Floating arch tags move this
 * way (never pull, retag and push, which drops the other architecture). Delete does nothing: a
 * published tag is the retention command's to remove.
 */
import * as pulumi from "@pulumi/pulumi";
import { OciRegistryClient } from "../clients/ociRegistry";
import { DOCKER_TAG_PATTERN } from "../lib/versions";
import { serializableProvider } from "./dynamicProvider";

export interface RegistryTagInputs {
  /** Registry host, e.g. `docker.io` or `127.0.0.1:5000`. */
  registry: string;
  /** Repository path inside the registry, e.g. `battlescope/frontend`. */
  repository: string;
  tag: string;
  /** Digest of the manifest the tag must point at; it must already be in the repository. */
  digest: string;
  /** Refuse to move the tag when it already points elsewhere (version tags). */
  createOnly: boolean;
  username?: string;
  password?: string;
}

export interface RegistryTagOutputs {
  registry: string;
  repository: string;
  tag: string;
  digest: string;
  createOnly: boolean;
  /** The digest the tag pointed at before this stack wrote it, when it existed. */
  previousDigest?: string;
}

const REPLACING = ["registry", "repository", "tag"] as const;

export function createRegistryTagProvider(
  clientFor: (inputs: RegistryTagInputs) => OciRegistryClient = (inputs) =>
    new OciRegistryClient({
      registry: inputs.registry,
      ...(inputs.username === undefined ? {} : { username: inputs.username }),
      ...(inputs.password === undefined ? {} : { password: inputs.password }),
    }),
): pulumi.dynamic.ResourceProvider {
  async function write(inputs: RegistryTagInputs): Promise<RegistryTagOutputs> {
    const client = clientFor(inputs);
    const where = `${inputs.registry}/${inputs.repository}:${inputs.tag}`;
    const current = await client.headManifest(inputs.repository, inputs.tag);
    const outputs: RegistryTagOutputs = {
      registry: inputs.registry,
      repository: inputs.repository,
      tag: inputs.tag,
      digest: inputs.digest,
      createOnly: inputs.createOnly,
      ...(current === undefined ? {} : { previousDigest: current.digest }),
    };
    if (current?.digest === inputs.digest) return outputs;
    if (current !== undefined && inputs.createOnly) {
      throw new Error(
        `refusing to overwrite ${where}: it already holds ${current.digest}, not ${inputs.digest}; version tags are create-only`,
      );
    }
    const source = await client.getManifest(inputs.repository, inputs.digest);
    if (source === undefined) {
      throw new Error(
        `cannot tag ${where}: ${inputs.digest} is not in ${inputs.registry}/${inputs.repository}`,
      );
    }
    const written = await client.putManifest(
      inputs.repository,
      inputs.tag,
      source.raw,
      source.mediaType,
    );
    if (written !== "" && written !== inputs.digest) {
      throw new Error(`the registry stored ${where} as ${written}, expected ${inputs.digest}`);
    }
    return outputs;
  }

  return {
    async check(_olds, news: RegistryTagInputs) {
      const failures: pulumi.dynamic.CheckFailure[] = [];
      if (typeof news.tag === "string" && !DOCKER_TAG_PATTERN.test(news.tag)) {
        failures.push({
          property: "tag",
          reason: `${JSON.stringify(news.tag)} is not a valid Docker tag`,
        });
      }
      return { inputs: news, failures };
    },
    async diff(_id, olds: RegistryTagOutputs, news: RegistryTagInputs) {
      const replaces = REPLACING.filter((key) => olds[key] !== news[key]);
      const changes =
        replaces.length > 0 || olds.digest !== news.digest || olds.createOnly !== news.createOnly;
      return { changes, replaces, deleteBeforeReplace: false };
    },
    async create(inputs: RegistryTagInputs) {
      const outs = await write(inputs);
      return { id: `${inputs.registry}/${inputs.repository}:${inputs.tag}`, outs };
    },
    async update(_id, _olds: RegistryTagOutputs, news: RegistryTagInputs) {
      return { outs: await write(news) };
    },
    async delete() {
      // Published tags stay: deleting them is the retention command's job alone.
    },
  };
}

const registryTagProvider = serializableProvider(__filename, "createRegistryTagProvider");

export interface RegistryTagArgs {
  registry: pulumi.Input<string>;
  repository: pulumi.Input<string>;
  tag: pulumi.Input<string>;
  /** Digest of a manifest already in the repository. */
  digest: pulumi.Input<string>;
  createOnly: pulumi.Input<boolean>;
  username?: pulumi.Input<string>;
  /** Kept encrypted in the state; never part of the outputs. */
  password?: pulumi.Input<string>;
}

/** A registry tag pointing at an existing manifest (type `pulumi-nodejs:dynamic/battlescope:RegistryTag`). */
export class RegistryTag extends pulumi.dynamic.Resource {
  declare readonly digest: pulumi.Output<string>;
  declare readonly previousDigest: pulumi.Output<string | undefined>;

  constructor(name: string, args: RegistryTagArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      registryTagProvider,
      name,
      {
        ...args,
        ...(args.password === undefined ? {} : { password: pulumi.secret(args.password) }),
        previousDigest: undefined,
      },
      opts,
      "battlescope",
      "RegistryTag",
    );
  }
}
