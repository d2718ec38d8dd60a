/**
 * The world the read step reads (release/read.ts), as the stack's program has it: `pulumi.Config`
 * and its secrets, the files and git of this checkout, the registry's and the Hub's clients, the
 * cluster's API server, the signing key and the scanner's database. Tests give their own
 * `ProgramInputs` instead.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { readBuildContext } from "../clients/buildContext";
import { prepareNodesBuilder } from "../clients/buildxBuilder";
import { sharedContentCache } from "../clients/contentCache";
import { assertTokenCanWrite, DockerHubClient } from "../clients/dockerHub";
import { checkReachable } from "../clients/kubernetes";
import { OciRegistryClient, sharedRegistrySession } from "../clients/ociRegistry";
import { readPublishedRelease } from "../clients/publishedRelease";
import { assertMayPush } from "../clients/registryPermissions";
import { databaseStatus } from "../clients/scanner";
import { checkSigningKey, readSourceFacts } from "../clients/signing";
import { DEFAULT_COSIGN_PUBLIC_KEY } from "../lib/config";
import { sourceHash } from "../lib/releaseGuard";
import { DEFAULT_HUB_URL, DOCKER_HUB_REGISTRY } from "../lib/vocabulary";
import { registryLogin, type StackSecrets } from "./plan";
import { type ProgramInputs, plainSecret, readSecrets } from "./read";

/** The stack's program inputs: its config and secrets, the files, git, and the registries. */
export function programInputs(projectDir: string, engineDir?: string): ProgramInputs {
  const config = new pulumi.Config();
  const registry = config.get("registry") ?? DOCKER_HUB_REGISTRY;
  // Secrets stay Outputs and are handed to providers as such; read once for push and pull.
  const secrets = readSecrets<pulumi.Output<string>>(
    registry,
    (key) => config.getSecret(key),
    (value) => pulumi.secret(value),
  );
  const clients = registryClients(registry, config.get("dockerHubUrl") ?? DEFAULT_HUB_URL, secrets);
  return {
    readConfig: (key) => config.get(key),
    configKeys: Object.keys(pulumi.runtime.allConfig()),
    secrets,
    listTags: clients.listTags,
    readPublished: async (repository, version, architectures) =>
      readPublishedRelease(await clients.registry(), repository, version, architectures),
    hashSources: (contextDir, extra) => sourceHash(readBuildContext(contextDir), extra),
    gitShortSha,
    projectDir,
    ...(engineDir === undefined ? {} : { engineDir }),
    buildContextExists: (context) => fs.existsSync(path.join(context, "Dockerfile")),
    readFile: (file) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined),
    checkKubernetesApi: checkReachable,
    checkSigningKey: (key, publicKey) =>
      checkSigningKey(key, publicKey, config.get("cosignPublicKey") ?? DEFAULT_COSIGN_PUBLIC_KEY),
    readSourceFacts,
    readDatabaseStatus: databaseStatus,
    prepareBuilder: prepareNodesBuilder,
    today: new Date(),
    checkHubToken: async () => {
      await assertTokenCanWrite(await clients.hub());
    },
  };
}

/**
 * The registry's client, made on first use with the credentials of `registryLogin` (the rule the
 * push and the pull secret follow), and on Docker Hub the Hub's, whose tags API lists tags
 * without touching the registry's rate limits.
 */
function registryClients(
  registry: string,
  hubUrl: string,
  secrets: StackSecrets<pulumi.Output<string>>,
) {
  let registryClient: Promise<OciRegistryClient> | undefined;
  /** The first repository read is also asked whether the account may push to it. */
  const client = (firstRepository?: string) => {
    const login = registryLogin(registry, secrets);
    registryClient ??= Promise.all([
      plainSecret(login?.username),
      plainSecret(login?.password),
    ]).then(async ([username, password]) => {
      const created = new OciRegistryClient({
        registry,
        username,
        password,
        contentCache: sharedContentCache(),
        session: sharedRegistrySession(registry, username),
      });
      // One clear error up front when the registry is down, before any tag is listed.
      await created.ping();
      if (firstRepository !== undefined && username !== undefined)
        await assertMayPush(created, username, firstRepository);
      return created;
    });
    return registryClient;
  };
  let hubClient: Promise<DockerHubClient> | undefined;
  const hub = () => {
    hubClient ??= Promise.all([
      plainSecret(secrets.dockerHubUsername),
      plainSecret(secrets.dockerHubToken),
    ]).then(
      ([username, token]) =>
        new DockerHubClient({ baseUrl: hubUrl, username: username ?? "", token: token ?? "" }),
    );
    return hubClient;
  };
  return {
    registry: client,
    hub,
    listTags: async (repository: string): Promise<string[]> => {
      if (registry !== DOCKER_HUB_REGISTRY || secrets.dockerHubToken === undefined) {
        return (await client(repository)).listTags(repository);
      }
      await client(repository);
      return hubTagNames(await hub(), repository);
    },
  };
}

/** Tags of `<namespace>/<name>` through the Hub API; none while the repository does not exist. */
export async function hubTagNames(
  hub: Pick<DockerHubClient, "getRepository" | "listTags">,
  repository: string,
): Promise<string[]> {
  const [namespace, name] = repository.split("/") as [string, string];
  if ((await hub.getRepository(namespace, name)) === undefined) return [];
  return (await hub.listTags(namespace, name)).map((tag) => tag.name);
}

function gitShortSha(dir: string): string | undefined {
  try {
    return execFileSync("git", ["-C", dir, "rev-parse", "--short=7", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return undefined;
  }
}
