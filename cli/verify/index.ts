/**
 * `battlescope-images verify <service> <version>`: reads what a registry (and Docker Hub) serve
 * for one release and checks it against what the release claims. This file parses the command
 * line and runs the checks, one file per thing checked:
 *
 * - registryChecks.ts: every tag of the release's tag plan (`planTags` with the tags the registry
 *   holds) exists, each manifest list holds exactly the expected platforms, a floating manifest
 *   tag points at the version's own manifest list, each arch tag is the image its list lists;
 * - clusterChecks.ts: with --kubeconfig, the service's Deployment runs the version;
 * - signatureChecks.ts: with --key, the signature of the version's manifest list, and the SBOM and
 *   provenance of it and of each platform image;
 * - descriptionChecks.ts: with Hub credentials and a Hub URL, the Docker Hub descriptions.
 *
 * report.ts prints a table (check, subject, status, detail). Exit code 0 when every check passes,
 * 1 when one fails (the troubleshooting hints for the failures follow the table:
 * docs/reference.md#troubleshooting-hints), 2 for bad input (one line on stderr, nothing read).
 * The checks share types.ts, report.ts's row types and manifests.ts, never each other.
 */

import type { Command } from "commander";
import { registryLoginFromEnv } from "../../clients/registryTags";
import type { ReadmeInput } from "../../lib/readme";
import { planTags } from "../../lib/tagPlan";
import { ACCEPTED_VERSION_FORMS, tryParseVersion } from "../../lib/versions";
import {
  DEFAULT_HUB_URL,
  DEFAULT_KUBERNETES_NAMESPACE,
  DEFAULT_ORGANIZATION,
  DOCKER_HUB_REGISTRY,
  PATH_COMPONENT,
  PATH_COMPONENT_FORM,
  PLATFORMS,
  platformArchitecture,
  REGISTRY_HOST,
  REGISTRY_HOST_FORM,
} from "../../lib/vocabulary";
import { SERVICE_NAMES } from "../../services/catalog";
import {
  type CliIo,
  parsePlatforms,
  readPublicKeyOption,
  requireService,
  UsageError,
} from "../shared";
import { clusterRows, clusterTarget } from "./clusterChecks";
import { descriptionRows } from "./descriptionChecks";
import { readRegistry, registryRows } from "./registryChecks";
import { report } from "./report";
import { signatureRows } from "./signatureChecks";
import type { SignatureCheck, VerifyDeps, VerifyInput, VerifyOptions } from "./types";

export type { CheckRow, CheckStatus, FailureKind } from "./report";
export { hints } from "./report";
export type { VerifyDeps } from "./types";

export function registerVerify(program: Command, io: CliIo, deps: VerifyDeps = {}): Command {
  return program
    .command("verify")
    .description(
      "Check a published release: every planned tag exists, manifest lists hold exactly the expected platforms, arch tags match their lists, and (with Hub credentials) the Docker Hub descriptions; exit 1 with troubleshooting hints when something is wrong",
    )
    .argument("<service>", `one of ${SERVICE_NAMES.join(", ")}`)
    .argument("<version>", "the release: vX.Y.Z, vX.Y.Z-<prerelease> or vX.Y.Z-dev-<sha>")
    .option("--registry <host>", "registry host", DOCKER_HUB_REGISTRY)
    .option("--organization <org>", "registry organization", DEFAULT_ORGANIZATION)
    .option(
      "--hub-url <url>",
      `Docker Hub API base URL for the description checks (default ${DEFAULT_HUB_URL} with --registry ${DOCKER_HUB_REGISTRY}); credentials from DOCKER_HUB_USERNAME and DOCKER_HUB_TOKEN`,
    )
    .option("--platforms <platforms>", `comma-separated platforms (${PLATFORMS.join(",")})`)
    .option(
      "--kubeconfig <file>",
      "also check the cluster: the service's Deployment runs the digest the registry serves under the version",
    )
    .option("--context <name>", "kubeconfig context (default: its current-context)")
    .option("--namespace <namespace>", "namespace of the Deployments", DEFAULT_KUBERNETES_NAMESPACE)
    .option(
      "--key <file>",
      "also check the signature of the version's manifest list, and the SBOM and provenance of it and of each platform image, against this cosign public key (keys/release.pub)",
    )
    .option(
      "--offline",
      "verify with the key alone, without the transparency log (for stacks with transparencyLog false, like local)",
    )
    .option("--commit <sha>", "with --key: the source commit the provenance must name")
    .action(async (service: string, version: string, options: VerifyOptions) => {
      await runVerify(service, version, options, io, deps);
    });
}

/** Parse, read the registry, check the release against its plan, report. */
async function runVerify(
  name: string,
  version: string,
  options: VerifyOptions,
  io: CliIo,
  deps: VerifyDeps,
): Promise<void> {
  const env = deps.env ?? process.env;
  const input = await parseVerify(name, version, options);
  const registry = await readRegistry(input, options, env, deps);
  const plan = planTags({
    version: input.version,
    existingTags: registry.existingTags,
    architectures: input.architectures,
  });
  const { rows, versionList } = await registryRows(registry, plan, input);
  if (input.cluster !== undefined && input.service.deploy) {
    rows.push(
      ...(await clusterRows(
        input.cluster,
        options.namespace,
        input.service,
        plan.version,
        versionList,
        (digest) => registry.client.getManifest(registry.repository, digest),
      )),
    );
  }
  if (input.signing !== undefined) {
    const auth = { registry: options.registry, ...registryLoginFromEnv(options.registry, env) };
    const signed = { ...options, repository: registry.repository, version: plan.version, auth };
    rows.push(...(await signatureRows(input.signing, { ...signed, versionList })));
  }
  const release: ReadmeInput = {
    service: input.service,
    registry: options.registry,
    organization: options.organization,
    version: plan.version,
    existingTags: registry.existingTags,
    architectures: input.architectures,
  };
  rows.push(...(await descriptionRows(release, options, env, deps)));
  report(io, rows, {
    ...release,
    hubUrl: options.hubUrl,
    pullAllowance: registry.client.allowance,
  });
}

// ------------------------------------------------------------------ parse

/** Every input checked before anything is read; the cluster reachable when one is named. */
async function parseVerify(
  name: string,
  version: string,
  options: VerifyOptions,
): Promise<VerifyInput> {
  const service = requireService(name);
  const parsed = tryParseVersion(version);
  if (parsed instanceof Error) {
    throw new UsageError(
      `invalid version ${JSON.stringify(version)}: expected ${ACCEPTED_VERSION_FORMS}`,
    );
  }
  if (!REGISTRY_HOST.test(options.registry)) {
    throw new UsageError(
      `invalid --registry ${JSON.stringify(options.registry)}: expected ${REGISTRY_HOST_FORM}`,
    );
  }
  if (!PATH_COMPONENT.test(options.organization)) {
    throw new UsageError(
      `invalid --organization ${JSON.stringify(options.organization)}: expected ${PATH_COMPONENT_FORM}`,
    );
  }
  if (options.hubUrl !== undefined && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(options.hubUrl)) {
    throw new UsageError(
      `invalid --hub-url ${JSON.stringify(options.hubUrl)}: expected an http(s) URL`,
    );
  }
  const platforms = parsePlatforms(options.platforms);
  const architectures = platforms.map(platformArchitecture);
  const cluster = options.kubeconfig === undefined ? undefined : await clusterTarget(options);
  const signing = parseSigning(options);
  return { service, version: parsed, platforms, architectures, cluster, signing };
}

function parseSigning(options: VerifyOptions): SignatureCheck | undefined {
  if (options.key === undefined) {
    if (options.commit !== undefined) throw new UsageError("--commit needs --key");
    return undefined;
  }
  const publicKey = readPublicKeyOption(options.key);
  if (options.commit !== undefined && !/^[0-9a-f]{7,40}$/.test(options.commit)) {
    throw new UsageError(
      `invalid --commit ${JSON.stringify(options.commit)}: expected a git commit sha (7 to 40 hex digits)`,
    );
  }
  return {
    keyFile: options.key,
    publicKey,
    transparencyLog: options.offline !== true,
    commit: options.commit,
  };
}
