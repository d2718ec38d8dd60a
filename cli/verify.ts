/**
 * `battlescope-images verify <service> <version>`: reads what a registry (and Docker Hub) serve
 * for one release and checks it against what the release claims:
 *
 * - every tag of the release's tag plan (`planTags` with the tags the registry holds) exists;
 * - each manifest list holds exactly the expected platforms (attestation entries, listed as
 *   `unknown/unknown`, are left out);
 * - a floating manifest tag points at the version's own manifest list;
 * - each arch tag is the image its manifest list lists for that platform;
 * - with Hub credentials (DOCKER_HUB_USERNAME, DOCKER_HUB_TOKEN) and a Hub URL, the Docker Hub
 *   short and full descriptions are the ones `shortDescription` / `fullDescription` give;
 * - with --kubeconfig, the service's Deployment has pods, and each runs the version's manifest
 *   list or one of its platform images (the digest its container status reports).
 *
 * Prints a table (check, subject, status, detail). Exit code 0 when every check passes, 1 when one
 * fails (the troubleshooting hints for the failures follow the table:
 * docs/reference.md#troubleshooting-hints), 2 for bad input (one line on stderr, nothing read).
 */

import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { type DockerHubClient, DockerHubError } from "../clients/dockerHub";
import {
  checkReachable,
  KubeconfigError,
  type KubeTarget,
  kubeTargetFromFile,
  readWorkloads,
} from "../clients/kubernetes";
import {
  isAttestation,
  type Manifest,
  type ManifestDescriptor,
  type OciRegistryClient,
  RegistryError,
  registryApiHost,
} from "../clients/ociRegistry";
import { registryClientFromEnv, registryLoginFromEnv } from "../clients/registryTags";
import { type RegistryAuth, verifiedAttestations, verifySignature } from "../clients/signing";
import {
  COSIGN_PROVENANCE_TYPE,
  COSIGN_SPDX_TYPE,
  provenanceCommit,
  type SpdxDocument,
  sbomNames,
} from "../lib/attestation";
import { hubDescriptions, imageName, type ReadmeInput } from "../lib/readme";
import { imageIdDigest, livePodsOf, sameImageNames } from "../lib/rollout";
import { archTag, planTags, type TagPlan } from "../lib/tagPlan";
import {
  ACCEPTED_VERSION_FORMS,
  type Architecture,
  tryParseVersion,
  type Version,
} from "../lib/versions";
import {
  DEFAULT_HUB_URL,
  DEFAULT_KUBERNETES_NAMESPACE,
  DEFAULT_ORGANIZATION,
  DOCKER_HUB_REGISTRY,
  PATH_COMPONENT,
  PATH_COMPONENT_FORM,
  PLATFORMS,
  type Platform,
  platformArchitecture,
  REGISTRY_HOST,
  REGISTRY_HOST_FORM,
} from "../lib/vocabulary";
import { SERVICE_NAMES, type ServiceImage } from "../services/catalog";
import {
  type CliIo,
  type Env,
  type HttpDeps,
  hubClientFromEnv,
  parsePlatforms,
  requireService,
  UsageError,
} from "./shared";

/** What the command reads from outside; tests replace parts of it. */
export type VerifyDeps = HttpDeps;

interface VerifyOptions {
  registry: string;
  organization: string;
  hubUrl?: string;
  platforms?: string;
  kubeconfig?: string;
  context?: string;
  namespace: string;
  key?: string;
  offline?: boolean;
  commit?: string;
}

export type CheckStatus = "ok" | "FAIL" | "skip";

/** What a failed check means, to pick the troubleshooting hint. */
export type FailureKind =
  | "missing"
  | "architecture"
  | "stale"
  | "signature"
  | "attestation"
  | "description"
  | "hub"
  | "cluster";

export interface CheckRow {
  readonly check: string;
  readonly subject: string;
  readonly status: CheckStatus;
  readonly detail: string;
  readonly kind?: FailureKind;
}

/** The command line, checked: what is verified, and where. Nothing has been read yet. */
interface VerifyInput {
  readonly service: ServiceImage;
  readonly version: Version;
  readonly platforms: readonly Platform[];
  readonly architectures: Architecture[];
  readonly cluster: KubeTarget | undefined;
  /** With --key: the public key the release's signature and attestations must verify with. */
  readonly signing: SignatureCheck | undefined;
}

interface SignatureCheck {
  readonly keyFile: string;
  readonly publicKey: string;
  readonly transparencyLog: boolean;
  /** With --commit: the source commit the provenance must name. */
  readonly commit: string | undefined;
}

/** The registry, reachable, and the tags the release's repository holds. */
interface RegistryRead {
  readonly client: OciRegistryClient;
  readonly repository: string;
  readonly existingTags: string[];
}

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
  report(io, rows, { ...release, hubUrl: options.hubUrl });
}

// ------------------------------------------------------------------ 1. parse

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
  if (!fs.existsSync(options.key)) {
    throw new UsageError(`invalid --key ${JSON.stringify(options.key)}: no such file`);
  }
  const publicKey = fs.readFileSync(options.key, "utf8");
  if (!publicKey.includes("-----BEGIN PUBLIC KEY-----")) {
    throw new UsageError(
      `invalid --key ${JSON.stringify(options.key)}: not a PEM public key (cosign.pub, keys/release.pub)`,
    );
  }
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

// ------------------------------------------------------------------ 2. read

/** The registry's tags of the repository (unreachable is bad input: nothing was checked). */
async function readRegistry(
  input: VerifyInput,
  options: VerifyOptions,
  env: Env,
  deps: VerifyDeps,
): Promise<RegistryRead> {
  const repository = `${options.organization}/${input.service.name}`;
  const client = registryClientFromEnv(options.registry, env, deps);
  try {
    await client.ping();
    return { client, repository, existingTags: await client.listTags(repository) };
  } catch (error) {
    if (error instanceof RegistryError) throw new UsageError(error.message);
    throw error;
  }
}

// ------------------------------------------------------------------ 3. check

/** Every planned tag: it exists, lists the platforms, is the version's list, has its arch twins. */
async function registryRows(
  { client, repository }: RegistryRead,
  plan: TagPlan,
  input: VerifyInput,
): Promise<{ rows: CheckRow[]; versionList: Manifest | undefined }> {
  const read = new Map<string, Manifest | undefined>();
  const manifestOf = async (tag: string) => {
    if (!read.has(tag)) read.set(tag, await client.getManifest(repository, tag));
    return read.get(tag);
  };
  const rows: CheckRow[] = [];
  const versionList = await manifestOf(plan.version);
  for (const tag of plan.manifestTags) {
    const list = await manifestOf(tag);
    rows.push(...manifestListRows(repository, tag, list, input.platforms));
    if (tag !== plan.version && list !== undefined && versionList !== undefined) {
      rows.push(sameReleaseRow(repository, tag, list, plan.version, versionList));
    }
    for (const arch of input.architectures) {
      const twin = archTag(tag, arch);
      const image = await manifestOf(twin);
      rows.push(existsRow(repository, twin, image));
      if (image !== undefined) {
        rows.push(await archRow(client, repository, tag, list, arch, twin, image));
      }
    }
  }
  return { rows, versionList };
}

// ------------------------------------------------------------------ signature checks

interface SignedRelease {
  readonly registry: string;
  readonly repository: string;
  readonly version: string;
  readonly versionList: Manifest | undefined;
  readonly auth: RegistryAuth;
}

/** The list's signature; the SBOM and provenance of the list and of each platform image. */
async function signatureRows(check: SignatureCheck, release: SignedRelease): Promise<CheckRow[]> {
  const listSubject = `${release.repository}:${release.version}`;
  const list = release.versionList;
  if (list === undefined) {
    return [
      { check: "signature", subject: listSubject, status: "skip", detail: "no version list" },
    ];
  }
  const ref = (digest: string) => `${release.registry}/${release.repository}@${digest}`;
  const options = { publicKey: check.publicKey, transparencyLog: check.transparencyLog };
  const signed = await verifySignature(ref(list.digest), options, release.auth);
  const rows: CheckRow[] = [
    signed.verified
      ? {
          check: "signature",
          subject: listSubject,
          status: "ok",
          detail: `verifies with ${check.keyFile}`,
        }
      : {
          check: "signature",
          subject: listSubject,
          status: "FAIL",
          detail: `no signature that verifies with ${check.keyFile}: ${signed.detail}`,
          kind: "signature",
        },
  ];
  const subjects = [
    { subject: listSubject, digest: list.digest },
    ...list.manifests.filter(isImageEntry).map((child) => ({
      subject: `${release.repository}:${release.version}-${child.platform?.architecture}`,
      digest: child.digest,
    })),
  ];
  for (const { subject, digest } of subjects) {
    const [sbom, provenance] = await Promise.all([
      verifiedAttestations(ref(digest), COSIGN_SPDX_TYPE, options, release.auth),
      verifiedAttestations(ref(digest), COSIGN_PROVENANCE_TYPE, options, release.auth),
    ]);
    rows.push(sbomRow(subject, sbom.statements[0]?.predicate, check.keyFile));
    rows.push(provenanceRow(subject, provenance.statements[0]?.predicate, check));
  }
  return rows;
}

function sbomRow(subject: string, predicate: unknown, keyFile: string): CheckRow {
  if (predicate === undefined) {
    const detail = `no SPDX SBOM attestation that verifies with ${keyFile}`;
    return { check: "sbom", subject, status: "FAIL", detail, kind: "attestation" };
  }
  const doc = predicate as SpdxDocument;
  const { packages, files } = sbomNames(doc);
  const detail = `${doc.spdxVersion}, ${packages.length} packages, ${files.length} files`;
  return { check: "sbom", subject, status: "ok", detail };
}

function provenanceRow(subject: string, predicate: unknown, check: SignatureCheck): CheckRow {
  const fail = (detail: string): CheckRow => ({
    check: "provenance",
    subject,
    status: "FAIL",
    detail,
    kind: "attestation",
  });
  if (predicate === undefined) {
    return fail(`no SLSA provenance that verifies with ${check.keyFile}`);
  }
  const commit = provenanceCommit(predicate);
  if (commit === undefined) return fail("names no source commit");
  if (check.commit !== undefined && !commit.startsWith(check.commit)) {
    return fail(`names commit ${commit}, expected ${check.commit}`);
  }
  return { check: "provenance", subject, status: "ok", detail: `source commit ${commit}` };
}

// ------------------------------------------------------------------ cluster checks

/** The --kubeconfig's context, reachable; bad input otherwise (nothing was checked). */
async function clusterTarget(options: VerifyOptions): Promise<KubeTarget> {
  const file = path.resolve(options.kubeconfig as string);
  if (!fs.existsSync(file)) {
    throw new UsageError(
      `invalid --kubeconfig ${JSON.stringify(options.kubeconfig)}: no such file`,
    );
  }
  try {
    const target = kubeTargetFromFile(file, options.context);
    await checkReachable(target, "--kubeconfig");
    return target;
  } catch (error) {
    if (error instanceof KubeconfigError) throw new UsageError(error.message);
    throw error;
  }
}

/** The service's Deployment runs pods, and each runs the version's list or one of its images. */
async function clusterRows(
  target: KubeTarget,
  namespace: string,
  service: ServiceImage,
  version: string,
  versionList: Manifest | undefined,
  readManifest: (digest: string) => Promise<Manifest | undefined>,
): Promise<CheckRow[]> {
  const subject = `${target.context}/${namespace}/deployment/${service.name}`;
  const check = "cluster runs";
  const { deployments, pods, nodes } = await readWorkloads(target, namespace);
  if (!deployments.some((deployment) => deployment.metadata.name === service.name)) {
    return [{ check, subject, status: "FAIL", detail: "no such Deployment", kind: "cluster" }];
  }
  if (versionList === undefined) {
    return [{ check, subject, status: "skip", detail: `${version} is not published` }];
  }
  const released = new Set([
    versionList.digest,
    ...versionList.manifests.map((child) => child.digest),
  ]);
  const running = livePodsOf(pods, service.name);
  if (running.length === 0) {
    return [{ check, subject, status: "FAIL", detail: "no pod runs", kind: "cluster" }];
  }
  // A node that already held a release's image under an earlier version reports that version's
  // list: the pod runs the release if that list's images are the release's.
  const runsRelease = async (digest: string | undefined): Promise<boolean> => {
    if (digest === undefined) return false;
    if (released.has(digest)) return true;
    // The node knows the image under other names too (another repository, an earlier version).
    const aliases = sameImageNames(nodes, digest).map((name) =>
      name.slice(name.lastIndexOf("@") + 1),
    );
    if (aliases.some((alias) => released.has(alias))) return true;
    const other = await readManifest(digest);
    const images = (other?.manifests ?? []).filter(isImageEntry).map((child) => child.digest);
    return images.length > 0 && images.every((image) => released.has(image));
  };
  const statuses = running.flatMap((pod) =>
    (pod.status?.containerStatuses ?? []).map((status) => ({ pod, status })),
  );
  const verdicts = await Promise.all(
    statuses.map(({ status }) => runsRelease(imageIdDigest(status.imageID))),
  );
  return statuses.map(({ pod, status }, i): CheckRow => {
    const digest = imageIdDigest(status.imageID);
    const podSubject = `${target.context}/${namespace}/pod/${pod.metadata.name}`;
    return digest !== undefined && verdicts[i]
      ? { check, subject: podSubject, status: "ok", detail: `${version} (${short(digest)})` }
      : {
          check,
          subject: podSubject,
          status: "FAIL",
          detail: `runs ${digest === undefined ? "no pulled image yet" : short(digest)}, not ${version}'s manifest list ${short(versionList.digest)} or one of its images`,
          kind: "cluster",
        };
  });
}

// ------------------------------------------------------------------ registry checks

const short = (digest: string) => digest.replace(/^sha256:/, "").slice(0, 12);
const isIndex = (manifest: Manifest) =>
  manifest.mediaType.includes("index") || manifest.mediaType.includes("manifest.list");

/** An image entry of an index: a platform is named, and it is not an attestation. */
function isImageEntry(child: ManifestDescriptor): boolean {
  return (
    child.platform !== undefined &&
    child.platform.architecture !== "unknown" &&
    !isAttestation(child)
  );
}

function platformOf(child: ManifestDescriptor): string {
  const { os, architecture, variant } = child.platform ?? { os: "?", architecture: "?" };
  return variant === undefined ? `${os}/${architecture}` : `${os}/${architecture}/${variant}`;
}

function existsRow(repository: string, tag: string, manifest: Manifest | undefined): CheckRow {
  const subject = `${repository}:${tag}`;
  if (manifest === undefined) {
    return { check: "tag exists", subject, status: "FAIL", detail: "not found", kind: "missing" };
  }
  const what = isIndex(manifest) ? "manifest list" : "image manifest";
  return {
    check: "tag exists",
    subject,
    status: "ok",
    detail: `${what} ${short(manifest.digest)}`,
  };
}

function manifestListRows(
  repository: string,
  tag: string,
  list: Manifest | undefined,
  platforms: readonly Platform[],
): CheckRow[] {
  const rows = [existsRow(repository, tag, list)];
  if (list === undefined) return rows;
  const subject = `${repository}:${tag}`;
  if (!isIndex(list)) {
    rows.push({
      check: "platforms",
      subject,
      status: "FAIL",
      detail: `a single image manifest, not a multi-arch manifest list (expected ${platforms.join(", ")})`,
      kind: "architecture",
    });
    return rows;
  }
  const listed = list.manifests.filter(isImageEntry).map(platformOf);
  const expected = [...platforms] as string[];
  const missing = expected.filter((platform) => !listed.includes(platform));
  const extra = listed.filter((platform) => !expected.includes(platform));
  const repeated = listed.filter((platform, i) => listed.indexOf(platform) !== i);
  const problems = [
    ...(missing.length > 0 ? [`missing ${missing.join(", ")}`] : []),
    ...(extra.length > 0 ? [`unexpected ${extra.join(", ")}`] : []),
    ...(repeated.length > 0 ? [`listed twice ${[...new Set(repeated)].join(", ")}`] : []),
  ];
  const held = listed.length > 0 ? [...listed].sort().join(", ") : "no platform";
  rows.push(
    problems.length === 0
      ? { check: "platforms", subject, status: "ok", detail: held }
      : {
          check: "platforms",
          subject,
          status: "FAIL",
          detail: `holds ${held}; ${problems.join("; ")}`,
          kind: "architecture",
        },
  );
  return rows;
}

function sameReleaseRow(
  repository: string,
  tag: string,
  list: Manifest,
  version: string,
  versionList: Manifest,
): CheckRow {
  const subject = `${repository}:${tag}`;
  return list.digest === versionList.digest
    ? {
        check: "same release",
        subject,
        status: "ok",
        detail: `${version}'s manifest list ${short(list.digest)}`,
      }
    : {
        check: "same release",
        subject,
        status: "FAIL",
        detail: `points at ${short(list.digest)}, not ${version}'s manifest list ${short(versionList.digest)}`,
        kind: "stale",
      };
}

/** The arch tag is the image its manifest list lists for that platform. */
async function archRow(
  client: OciRegistryClient,
  repository: string,
  tag: string,
  list: Manifest | undefined,
  arch: Architecture,
  twin: string,
  image: Manifest,
): Promise<CheckRow> {
  const subject = `${repository}:${twin}`;
  const platform = `linux/${arch}`;
  const row = (status: CheckStatus, detail: string): CheckRow =>
    status === "FAIL"
      ? { check: "arch tag", subject, status, detail, kind: "architecture" }
      : { check: "arch tag", subject, status, detail };
  if (list === undefined) return row("skip", `${tag} not found: nothing to compare with`);
  if (!isIndex(list)) return row("skip", `${tag} is not a manifest list: nothing to compare with`);
  const entry = list.manifests.filter(isImageEntry).find((child) => platformOf(child) === platform);
  if (entry === undefined) return row("FAIL", `${tag} lists no ${platform} image`);

  // The arch tag is the image itself, or an index of that one image (and its attestation).
  let digest = image.digest;
  if (isIndex(image)) {
    const images = image.manifests.filter(isImageEntry);
    if (images.length !== 1) {
      return row(
        "FAIL",
        `a manifest list of ${images.map(platformOf).join(", ") || "no platform"}, not one ${platform} image`,
      );
    }
    const [only] = images as [ManifestDescriptor];
    if (platformOf(only) !== platform) {
      return row("FAIL", `holds a ${platformOf(only)} image, not ${platform}`);
    }
    digest = only.digest;
  } else if (digest !== entry.digest) {
    // An image manifest: say which platform it is when the registry can tell.
    const found = await imagePlatform(client, repository, image);
    const what = found === undefined ? "" : ` (a ${found} image)`;
    return row(
      "FAIL",
      `is ${short(digest)}${what}; ${tag} lists ${short(entry.digest)} for ${platform}`,
    );
  }
  return digest === entry.digest
    ? row("ok", `${short(digest)} = ${tag}'s ${platform} image`)
    : row("FAIL", `is ${short(digest)}; ${tag} lists ${short(entry.digest)} for ${platform}`);
}

/** `os/architecture` from an image's config blob, or undefined when it cannot be read. */
async function imagePlatform(
  client: OciRegistryClient,
  repository: string,
  image: Manifest,
): Promise<string | undefined> {
  const config = image.blobs[0]?.digest;
  if (config === undefined) return undefined;
  try {
    const body = JSON.parse((await client.getBlob(repository, config)).toString("utf8")) as {
      os?: unknown;
      architecture?: unknown;
    };
    return typeof body.os === "string" && typeof body.architecture === "string"
      ? `${body.os}/${body.architecture}`
      : undefined;
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ Docker Hub

/** The Hub's short and full descriptions are the release's (with Hub credentials and a Hub URL). */
async function descriptionRows(
  release: ReadmeInput,
  options: VerifyOptions,
  env: Env,
  deps: VerifyDeps,
): Promise<CheckRow[]> {
  const { service } = release;
  const subject = `${options.organization}/${service.name}`;
  const skip = (detail: string): CheckRow[] => [
    { check: "descriptions", subject, status: "skip", detail },
  ];
  const hubUrl =
    options.hubUrl ?? (options.registry === DOCKER_HUB_REGISTRY ? DEFAULT_HUB_URL : undefined);
  const hub = hubClientFromEnv(hubUrl ?? DEFAULT_HUB_URL, env, deps);
  if (hub === undefined) {
    return skip("set DOCKER_HUB_USERNAME and DOCKER_HUB_TOKEN to compare the Docker Hub texts");
  }
  if (hubUrl === undefined) {
    return skip(`no --hub-url: the descriptions of ${options.registry} images are not compared`);
  }
  let held: Awaited<ReturnType<DockerHubClient["getRepository"]>>;
  try {
    held = await hub.getRepository(options.organization, service.name);
  } catch (error) {
    if (!(error instanceof DockerHubError)) throw error;
    return [{ check: "descriptions", subject, status: "FAIL", detail: error.message, kind: "hub" }];
  }
  if (held === undefined) {
    return [
      {
        check: "descriptions",
        subject,
        status: "FAIL",
        detail: "the Hub has no such repository",
        kind: "description",
      },
    ];
  }
  const expected = hubDescriptions(release);
  return [
    compareText("short description", subject, held.description, expected.description),
    compareText("full description", subject, held.fullDescription, expected.fullDescription),
  ];
}

function compareText(check: string, subject: string, held: string, expected: string): CheckRow {
  if (held === expected) {
    return { check, subject, status: "ok", detail: `${Array.from(held).length} characters` };
  }
  if (held === "") {
    return { check, subject, status: "FAIL", detail: "empty on the Hub", kind: "description" };
  }
  const heldLines = held.split("\n");
  const expectedLines = expected.split("\n");
  let line = 0;
  while (line < heldLines.length && heldLines[line] === expectedLines[line]) line++;
  const quote = (text: string | undefined) =>
    text === undefined ? "(end of text)" : JSON.stringify(text.slice(0, 60));
  const where = expectedLines.length > 1 || heldLines.length > 1 ? `line ${line + 1}: ` : "";
  return {
    check,
    subject,
    status: "FAIL",
    detail: `${where}the Hub has ${quote(heldLines[line])}, expected ${quote(expectedLines[line])}`,
    kind: "description",
  };
}

// ------------------------------------------------------------------ output

/** The table, the counts and, when a check failed, the hints; a failure ends with exit code 1. */
function report(io: CliIo, rows: readonly CheckRow[], context: HintContext): void {
  printTable(io, rows);
  const failed = rows.filter((row) => row.status === "FAIL");
  const skipped = rows.filter((row) => row.status === "skip").length;
  io.stdout(
    `\n${context.service.name} ${context.version}: ${rows.length - failed.length - skipped} ok, ${failed.length} failed${skipped > 0 ? `, ${skipped} skipped` : ""}.\n`,
  );
  if (failed.length === 0) return;
  io.stdout(`\n${hints(failed, context)}`);
  const repository = `${context.organization}/${context.service.name}`;
  throw new Error(
    `verify: ${failed.length} ${failed.length === 1 ? "check" : "checks"} failed for ${repository} ${context.version} (hints above)`,
  );
}

function printTable(io: CliIo, rows: readonly CheckRow[]): void {
  const table = [
    ["CHECK", "SUBJECT", "STATUS", "DETAIL"],
    ...rows.map((row) => [row.check, row.subject, row.status, row.detail]),
  ];
  const widths = [0, 1, 2].map((column) =>
    Math.max(...table.map((row) => (row[column] ?? "").length)),
  );
  for (const row of table) {
    const cells = row.map((cell, column) => (column < 3 ? cell.padEnd(widths[column] ?? 0) : cell));
    io.stdout(`${cells.join("  ").trimEnd()}\n`);
  }
}

interface HintContext {
  readonly service: ServiceImage;
  readonly registry: string;
  readonly organization: string;
  readonly version: string;
  readonly hubUrl: string | undefined;
}

/** The hints (docs/reference.md#troubleshooting-hints) for the kinds of failure found. */
export function hints(failed: readonly CheckRow[], context: HintContext): string {
  return HINT_ORDER.flatMap((kind) => {
    const rows = failed.filter((row) => row.kind === kind);
    if (rows.length === 0) return [];
    const tags = rows.map((row) => row.subject.slice(row.subject.lastIndexOf(":") + 1));
    return [...HINTS[kind](tags as [string, ...string[]], context), ""];
  }).join("\n");
}

const HINT_ORDER: readonly FailureKind[] = [
  "missing",
  "architecture",
  "stale",
  "signature",
  "attestation",
  "description",
  "cluster",
  "hub",
];

/** Each kind's hint, given the tags (or subjects' last parts) that failed that way. */
const HINTS: Record<FailureKind, (tags: [string, ...string[]], context: HintContext) => string[]> =
  {
    missing: (missing, context) => {
      const image = imageName(context);
      const repository = `${context.organization}/${context.service.name}`;
      const listTags =
        context.registry === DOCKER_HUB_REGISTRY
          ? `curl ${(context.hubUrl ?? DEFAULT_HUB_URL).replace(/\/+$/, "")}/v2/repositories/${repository}/tags | jq '.results[].name'`
          : `curl https://${registryApiHost(context.registry)}/v2/${repository}/tags/list | jq '.tags[]'`;
      return [
        `Image not found: ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} missing.`,
        "  # Verify the image exists",
        `  docker pull ${image}:${missing[0]}`,
        `  # Check the tag exists in the registry`,
        `  ${listTags}`,
      ];
    },
    architecture: (architecture, context) => {
      const image = imageName(context);
      const base = architecture[0].replace(/-(amd64|arm64)$/, "");
      return [
        `Architecture mismatch: ${architecture.join(", ")} ${architecture.length === 1 ? "does" : "do"} not hold the expected platform images.`,
        "  # Pull the multi-arch manifest (not the architecture-specific tag)",
        `  docker pull ${image}:${context.version}  # multi-arch manifest`,
        `  # NOT: ${image}:${context.version}-amd64`,
        "  # See what the manifest list holds",
        `  docker buildx imagetools inspect ${image}:${base}`,
      ];
    },
    stale: (stale, context) => {
      const image = imageName(context);
      return [
        `Floating tag not moved: ${stale.join(", ")} ${stale.length === 1 ? "points" : "point"} at another manifest list than ${context.version}.`,
        "  # Move it to the release's manifest list (a manifest write, no blob upload)",
        `  docker buildx imagetools create -t ${image}:${stale[0]} ${image}:${context.version}`,
      ];
    },
    signature: (_, context) => [
      `Not signed by this key: ${context.version}'s manifest list carries no signature the key verifies. It was signed with another key (is --key the stack's cosignPublicKey?) or pushed without the stack.`,
      "  # What is attached to the list, and by which key",
      `  cosign verify --key <public key> ${imageName(context)}:${context.version}`,
      "  # The stack attaches what is missing, create-only (nothing published changes)",
      "  pulumi up --stack <stack>  # with battlescope:sign true and the matching cosignKey",
    ],
    attestation: (_, context) => [
      "SBOM or provenance missing: a platform image or the manifest list lacks an attestation the key verifies.",
      "  # What is attached",
      `  cosign verify-attestation --key <public key> --type spdxjson ${imageName(context)}:${context.version}`,
      `  cosign verify-attestation --key <public key> --type slsaprovenance1 ${imageName(context)}:${context.version}`,
      "  # The signing stack attaches what is missing, create-only",
      "  pulumi up --stack <stack>",
    ],
    description: (_, context) => [
      "Docker Hub description out of date:",
      "  # What the Hub should hold (the release stack writes it when publishDescriptions is true)",
      `  battlescope-images readme ${context.service.name} --version ${context.version} --registry ${context.registry} --organization ${context.organization}`,
    ],
    cluster: (_, context) => [
      `Cluster not on ${context.version}: the Deployment is missing or its pods run another image.`,
      "  # Roll it out: the stack's Deployment pins <version>@<manifest list digest>",
      "  pulumi up --stack <stack>",
      `  kubectl rollout status deployment/${context.service.name} --namespace <namespace>`,
    ],
    hub: () => [
      "Docker Hub not readable: check DOCKER_HUB_USERNAME, DOCKER_HUB_TOKEN and --hub-url.",
    ],
  };
