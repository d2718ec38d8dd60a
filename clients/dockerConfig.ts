import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DOCKER_HUB_REGISTRY } from "../lib/vocabulary";

export interface RegistryCredential {
  readonly username: string;
  readonly password: string;
}

/** The key the Docker client files Docker Hub's login under. */
const DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/";

/** The key of a registry's login in a Docker client config (`auths`): Docker Hub's is a URL. */
export function dockerAuthKey(registry: string): string {
  return registry === DOCKER_HUB_REGISTRY ? DOCKER_HUB_AUTH_KEY : registry;
}

/** Writes `dir/config.json` holding only this registry's login (owner-readable), as a DOCKER_CONFIG. */
export function writeDockerLogin(
  dir: string,
  registry: string,
  { username, password }: RegistryCredential,
): void {
  const encoded = Buffer.from(`${username}:${password}`).toString("base64");
  fs.writeFileSync(
    path.join(dir, "config.json"),
    JSON.stringify({ auths: { [dockerAuthKey(registry)]: { auth: encoded } } }),
    { mode: 0o600 },
  );
}

/** `${DOCKER_CONFIG:-~/.docker}/config.json`, the file `docker login` writes. */
export function dockerConfigFile(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  return path.join(env.DOCKER_CONFIG ?? path.join(os.homedir(), ".docker"), "config.json");
}

/**
 * The login `docker login <registry>` stored in plain form (an `auth` of base64 `user:password`,
 * or `username` and `password`); undefined when there is none. Credential helpers (`credsStore`,
 * `credHelpers`) keep secrets out of the file and are not read: set the stack's secrets instead.
 */
export function credentialsFromDockerConfig(
  configText: string,
  registry: string,
): RegistryCredential | undefined {
  let parsed: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    parsed = JSON.parse(configText);
  } catch {
    return undefined;
  }
  const entry = parsed.auths?.[dockerAuthKey(registry)] ?? parsed.auths?.[`https://${registry}`];
  if (entry === undefined) return undefined;
  if (entry.username !== undefined && entry.password !== undefined) {
    return { username: entry.username, password: entry.password };
  }
  if (entry.auth === undefined) return undefined;
  const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function dockerConfigCredentials(
  registry: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): RegistryCredential | undefined {
  const file = dockerConfigFile(env);
  if (!fs.existsSync(file)) return undefined;
  return credentialsFromDockerConfig(fs.readFileSync(file, "utf8"), registry);
}
