import { type OciRegistryClient, RegistryError } from "./ociRegistry";

/** The refusal of an account its token server does not grant a push: who, what, and the fix. */
export function pushRefusal(
  registry: string,
  account: string,
  repository: string,
  granted: readonly string[],
): string {
  const has = granted.length === 0 ? "no action" : `${granted.join(", ")} only`;
  return `registry ${registry} does not let account "${account}" push to ${repository}: the "push" permission is missing (its token grants ${has}); set battlescope:registryUsername and registryPassword to an account that may push (a pull-only account belongs in battlescope:pullSecretUsername and pullSecretPassword, for the pull secret)`;
}

/**
 * Refuses before anything is written when the registry's token server would not grant the
 * account a push: a pull-only account otherwise fails halfway through a push, after the first
 * blobs went up. Registries without bearer tokens are not asked (they answer at the write).
 */
export async function assertMayPush(
  client: OciRegistryClient,
  account: string,
  repository: string,
): Promise<void> {
  const granted = await client.grantedActions(repository, ["pull", "push"]);
  if (granted === undefined || granted.includes("push")) return;
  throw new RegistryError(pushRefusal(client.registry, account, repository, granted));
}
