import { type OciRegistryClient, RegistryError } from "./ociRegistry";

/** What a release or a cleanup is about to do to a repository, and what it needs for it. */
const NEEDED = {
  push: {
    verb: "push to",
    fix: "set battlescope:registryUsername and registryPassword to an account that may push (a pull-only account belongs in battlescope:pullSecretUsername and pullSecretPassword, for the pull secret)",
  },
  delete: {
    verb: "delete from",
    fix: "run cleanup --apply with an account that may delete (BATTLESCOPE_REGISTRY_USERNAME and BATTLESCOPE_REGISTRY_PASSWORD, or the Docker login for the registry)",
  },
} as const;

/** The refusal of an account its token server does not grant an action: who, what, and the fix. */
export function permissionRefusal(
  registry: string,
  account: string,
  repository: string,
  action: keyof typeof NEEDED,
  granted: readonly string[],
): string {
  const has = granted.length === 0 ? "no action" : `${granted.join(", ")} only`;
  return `registry ${registry} does not let account "${account}" ${NEEDED[action].verb} ${repository}: the "${action}" permission is missing (its token grants ${has}); ${NEEDED[action].fix}`;
}

/**
 * Refuses before anything is written when the registry's token server would not grant the
 * account the action: a pull-only account otherwise fails halfway through a push, after the
 * first blobs went up. Registries without bearer tokens are not asked (they answer at the write).
 */
export async function assertPermission(
  client: OciRegistryClient,
  account: string | undefined,
  repository: string,
  action: keyof typeof NEEDED,
): Promise<void> {
  const wanted = action === "push" ? ["pull", "push"] : [action];
  const granted = await client.grantedActions(repository, wanted);
  if (granted === undefined || granted.includes(action)) return;
  throw new RegistryError(
    permissionRefusal(client.registry, account ?? "anonymous", repository, action, granted),
  );
}
