import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { OciRegistryClient } from "./clients/ociRegistry";
import { declareRelease } from "./program";

const config = new pulumi.Config();
const registryUsername = config.getSecret("registryUsername");
const registryPassword = config.getSecret("registryPassword");
const dockerHubUsername = config.getSecret("dockerHubUsername");
const dockerHubToken = config.getSecret("dockerHubToken");

// Reads are plain values resolved at startup so validation fails before any resource exists;
// the secrets above stay Outputs and are only ever handed to providers.
const readConfig = (key: string): string | undefined => config.get(key);

async function listTagsWithCredentials(repository: string): Promise<string[]> {
  const registry = config.get("registry") ?? "docker.io";
  const [username, password] = await Promise.all([
    unwrapSecret(registryUsername ?? dockerHubUsername),
    unwrapSecret(registryPassword ?? dockerHubToken),
  ]);
  return new OciRegistryClient({ registry, username, password }).listTags(repository);
}

/** Credentials are needed as plain text to call the registry; they never leave this process. */
function unwrapSecret(value: pulumi.Output<string> | undefined): Promise<string | undefined> {
  if (value === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    pulumi.unsecret(value).apply((plain) => {
      resolve(plain);
      return plain;
    });
  });
}

export = declareRelease({
  readConfig,
  secrets: {
    ...(dockerHubUsername === undefined ? {} : { dockerHubUsername }),
    ...(dockerHubToken === undefined ? {} : { dockerHubToken }),
    ...(registryUsername === undefined ? {} : { registryUsername }),
    ...(registryPassword === undefined ? {} : { registryPassword }),
  },
  listTags: listTagsWithCredentials,
  projectDir: __dirname,
  buildContextExists: (context) => fs.existsSync(path.join(context, "Dockerfile")),
});
