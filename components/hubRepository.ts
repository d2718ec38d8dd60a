/**
 * The Docker Hub repository of one image, as a Pulumi dynamic provider wrapped in a component.
 *
 * Behaviour (docs/rules.md#docker-hub-descriptions): create the repository (public) when
 * missing, otherwise adopt it; write the descriptions only when the text on the Hub really
 * differs; never delete the repository. Over-long texts are an error at preview, never cut.
 * The access token is a secret: it is stored only as an encrypted input, never in the outputs, a
 * log line or an error message.
 *
 * Serialization: Pulumi stores a dynamic provider as the source text of a closure and runs it in
 * a separate Node process (`pulumi-resource-pulumi-nodejs`), where local TypeScript modules are
 * not loaded. The serialized provider is therefore a small stub that captures nothing but the
 * absolute path of this file; at call time it `require`s this file (through tsx when the file is
 * TypeScript) and delegates to {@link createHubRepositoryProvider}. The real implementation is
 * never serialized, so classes, imports and the Hub client are free to change.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  assertDescriptionsFit,
  DEFAULT_HUB_URL,
  DockerHubClient,
  type DockerHubClientOptions,
  descriptionProblems,
} from "../clients/dockerHub";
import { BattlescopeDynamicResource, type DynamicProviderModule } from "./dynamicProvider";

export interface DockerHubRepositoryArgs {
  /** Docker Hub organization (or user) that owns the repository, e.g. `battlescope`. */
  organization: pulumi.Input<string>;
  /** Repository name inside the organization, e.g. `frontend`. Changing it adopts another repository. */
  repository: pulumi.Input<string>;
  /** Short description, at most 100 UTF-8 bytes: `BattleScope V3 - <Service Name> - <one line>`. */
  description: pulumi.Input<string>;
  /** Full description (the repository's README, Markdown), at most 25,000 UTF-8 bytes. */
  fullDescription: pulumi.Input<string>;
  /** Base URL of the Docker Hub API; default `https://hub.docker.com` (the emulator locally). */
  hubUrl?: pulumi.Input<string>;
  /** Docker Hub username (or organization name for an organization access token). */
  username: pulumi.Input<string>;
  /** Docker Hub access token; always stored as a secret, never written to outputs or logs. */
  token: pulumi.Input<string>;
}

/** Inputs of the dynamic resource as its provider receives them (plain values). */
export interface HubRepositoryInputs {
  namespace: string;
  repository: string;
  description: string;
  fullDescription: string;
  hubUrl: string;
  username: string;
  token: string;
}

/** Outputs of the dynamic resource: everything but the credentials. */
export interface HubRepositoryOutputs {
  namespace: string;
  repository: string;
  /** `namespace/repository`, also the resource id. */
  fullName: string;
  description: string;
  fullDescription: string;
  hubUrl: string;
  /** True when this stack created the repository, false when it adopted an existing one. */
  created: boolean;
}

/** The part of the Hub client the provider uses. */
export type HubRepositoryClient = Pick<DockerHubClient, "ensureRepository">;

export interface HubProviderDependencies {
  /** Builds the Hub client; tests inject options such as `sleep`. */
  createClient?: (options: DockerHubClientOptions) => HubRepositoryClient;
  /** Where the provider reports what it did; default `console.log` (shown by the engine). */
  log?: (message: string) => void;
}

/** The provider's operations, typed. Compatible with `pulumi.dynamic.ResourceProvider`. */
export interface HubRepositoryProvider {
  check(
    olds: Partial<HubRepositoryInputs>,
    news: Partial<HubRepositoryInputs>,
  ): Promise<pulumi.dynamic.CheckResult<Partial<HubRepositoryInputs>>>;
  diff(
    id: string,
    olds: Partial<HubRepositoryOutputs>,
    news: Partial<HubRepositoryInputs>,
  ): Promise<pulumi.dynamic.DiffResult>;
  create(inputs: HubRepositoryInputs): Promise<pulumi.dynamic.CreateResult<HubRepositoryOutputs>>;
  update(
    id: string,
    olds: Partial<HubRepositoryOutputs>,
    news: HubRepositoryInputs,
  ): Promise<pulumi.dynamic.UpdateResult<HubRepositoryOutputs>>;
  delete(id: string, props: Partial<HubRepositoryOutputs>): Promise<void>;
}

/** Pulumi's marker for a value not known during preview. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const REPOSITORY_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
/** Inputs whose change means the Hub must be written (a token or username change alone does not). */
const WATCHED = ["namespace", "repository", "description", "fullDescription", "hubUrl"] as const;
const REPLACING: readonly string[] = ["namespace", "repository"];

function normalizeHubUrl(url: string | undefined): string {
  if (url === undefined || url === "") {
    return DEFAULT_HUB_URL;
  }
  return url === UNKNOWN ? url : url.replace(/\/+$/, "");
}

function redact(message: string, token: string | undefined): string {
  return token && token.length >= 4 ? message.split(token).join("[redacted]") : message;
}

/** The real provider. Tests call it directly; the serialized stub loads it at call time. */
export function createHubRepositoryProvider(
  dependencies: HubProviderDependencies = {},
): HubRepositoryProvider {
  const createClient =
    dependencies.createClient ??
    ((options: DockerHubClientOptions) => new DockerHubClient(options));
  const log = dependencies.log ?? ((message: string) => console.log(message));

  /** Makes the Hub hold the inputs' texts; returns true when the repository had to be created. */
  const reconcile = async (inputs: HubRepositoryInputs): Promise<boolean> => {
    const fullName = `${inputs.namespace}/${inputs.repository}`;
    assertDescriptionsFit(fullName, inputs);
    const client = createClient({
      baseUrl: normalizeHubUrl(inputs.hubUrl),
      username: inputs.username,
      token: inputs.token,
    });
    try {
      const result = await client.ensureRepository(inputs.namespace, inputs.repository, {
        description: inputs.description,
        fullDescription: inputs.fullDescription,
      });
      if (result.action === "created") {
        log(`Docker Hub repository ${fullName} created (public, with its descriptions)`);
      } else if (result.action === "updated") {
        log(`Docker Hub repository ${fullName}: wrote ${result.written.join(" and ")}`);
      }
      if (result.isPrivate) {
        log(
          `Docker Hub repository ${fullName} is private; BattleScope images are meant to be public (change it on the Hub)`,
        );
      }
      return result.action === "created";
    } catch (error) {
      throw new Error(redact((error as Error).message, inputs.token));
    }
  };

  const outputsOf = (inputs: HubRepositoryInputs, created: boolean): HubRepositoryOutputs => ({
    namespace: inputs.namespace,
    repository: inputs.repository,
    fullName: `${inputs.namespace}/${inputs.repository}`,
    description: inputs.description,
    fullDescription: inputs.fullDescription,
    hubUrl: normalizeHubUrl(inputs.hubUrl),
    created,
  });

  return {
    async check(_olds, news) {
      const failures: pulumi.dynamic.CheckFailure[] = [];
      const known = (value: unknown): value is string =>
        typeof value === "string" && value !== UNKNOWN;
      for (const property of [
        "namespace",
        "repository",
        "description",
        "fullDescription",
        "username",
        "token",
      ] as const) {
        const value = news[property];
        if (value === UNKNOWN) {
          continue;
        }
        if (typeof value !== "string") {
          failures.push({ property, reason: `${property} must be a string` });
        } else if (value === "" && property !== "description" && property !== "fullDescription") {
          failures.push({ property, reason: `${property} is required` });
        }
      }
      const repository = news.repository;
      if (known(repository) && repository !== "") {
        if (repository.length < 2 || repository.length > 255 || !REPOSITORY_NAME.test(repository)) {
          failures.push({
            property: "repository",
            reason: `Docker Hub repository name "${repository}" is invalid: use 2 to 255 lowercase letters and digits, separated by single ".", "_" or "-"`,
          });
        }
      }
      const fullName = `${news.namespace}/${news.repository}`;
      for (const problem of descriptionProblems(fullName, {
        description: known(news.description) ? news.description : undefined,
        fullDescription: known(news.fullDescription) ? news.fullDescription : undefined,
      })) {
        failures.push({ property: problem.field, reason: problem.message });
      }
      return { inputs: { ...news, hubUrl: normalizeHubUrl(news.hubUrl) }, failures };
    },

    async diff(_id, olds, news) {
      const changed = WATCHED.filter((property) =>
        property === "hubUrl"
          ? normalizeHubUrl(olds.hubUrl) !== normalizeHubUrl(news.hubUrl)
          : olds[property] !== news[property],
      );
      const replaces = changed.filter((property) => REPLACING.includes(property));
      return {
        changes: changed.length > 0,
        replaces,
        deleteBeforeReplace: false,
        ...(replaces.length === 0 ? { stables: ["namespace", "repository", "fullName"] } : {}),
      };
    },

    async create(inputs) {
      const created = await reconcile(inputs);
      return { id: `${inputs.namespace}/${inputs.repository}`, outs: outputsOf(inputs, created) };
    },

    async update(_id, olds, news) {
      const created = await reconcile(news);
      return { outs: outputsOf(news, created || olds.created === true) };
    },

    async delete(id) {
      log(
        `Docker Hub repository ${id} is left in place: this stack never deletes a Hub repository (its tags are the retention command's job)`,
      );
    },
  };
}

/**
 * The provider object handed to Pulumi (one instance, so Pulumi serializes it once). Exported for
 * the test that runs its serialized text in a plain Node process.
 */
export const dockerHubRepositoryProvider: DynamicProviderModule = {
  modulePath: __filename,
  factoryExport: "createHubRepositoryProvider",
};

interface HubRepositoryResourceProps {
  namespace: pulumi.Input<string>;
  repository: pulumi.Input<string>;
  description: pulumi.Input<string>;
  fullDescription: pulumi.Input<string>;
  hubUrl: pulumi.Input<string>;
  username: pulumi.Input<string>;
  token: pulumi.Input<string>;
}

/** The dynamic resource (type `pulumi-nodejs:dynamic/battlescope:DockerHubRepository`). */
class HubRepositoryResource extends BattlescopeDynamicResource {
  declare readonly namespace: pulumi.Output<string>;
  declare readonly repository: pulumi.Output<string>;
  declare readonly fullName: pulumi.Output<string>;
  declare readonly description: pulumi.Output<string>;
  declare readonly fullDescription: pulumi.Output<string>;
  declare readonly hubUrl: pulumi.Output<string>;
  declare readonly created: pulumi.Output<boolean>;

  constructor(name: string, props: HubRepositoryResourceProps, opts: pulumi.CustomResourceOptions) {
    super(
      dockerHubRepositoryProvider,
      "DockerHubRepository",
      name,
      { ...props, fullName: undefined, created: undefined },
      opts,
    );
  }
}

/** Throws the exact length message when both names and the text are plain strings. */
function failFastOnLength(args: DockerHubRepositoryArgs): void {
  const { organization, repository, description, fullDescription } = args;
  if (typeof organization === "string" && typeof repository === "string") {
    assertDescriptionsFit(`${organization}/${repository}`, {
      description: typeof description === "string" ? description : undefined,
      fullDescription: typeof fullDescription === "string" ? fullDescription : undefined,
    });
  }
}

/**
 * A Docker Hub repository with its short and full descriptions. Creates it (public) when missing,
 * writes the descriptions only when they changed, and never deletes it.
 */
export class DockerHubRepository extends pulumi.ComponentResource {
  /** `namespace/repository`. */
  readonly fullName: pulumi.Output<string>;
  /** The short description the Hub holds. */
  readonly description: pulumi.Output<string>;
  /** The full description the Hub holds. */
  readonly fullDescription: pulumi.Output<string>;
  /** True when this stack created the repository, false when it adopted an existing one. */
  readonly created: pulumi.Output<boolean>;

  constructor(name: string, args: DockerHubRepositoryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("battlescope:hub:DockerHubRepository", name, {}, opts);
    failFastOnLength(args);
    // Texts that are only known later are checked as soon as they are known, and again by the
    // provider's check at preview.
    const texts = pulumi
      .all([args.organization, args.repository, args.description, args.fullDescription])
      .apply(([organization, repository, description, fullDescription]) => {
        assertDescriptionsFit(`${organization}/${repository}`, { description, fullDescription });
        return { description, fullDescription };
      });
    const repository = new HubRepositoryResource(
      name,
      {
        // The Hub API calls the organization the repository's namespace.
        namespace: args.organization,
        repository: args.repository,
        description: texts.description,
        fullDescription: texts.fullDescription,
        hubUrl: pulumi.output(args.hubUrl ?? DEFAULT_HUB_URL).apply(normalizeHubUrl),
        username: args.username,
        token: pulumi.secret(args.token),
      },
      { parent: this },
    );
    this.fullName = repository.fullName;
    this.description = repository.description;
    this.fullDescription = repository.fullDescription;
    this.created = repository.created;
    // Results are read from the properties: the engine rewrites the whole state per changed output.
    this.registerOutputs({});
  }
}
