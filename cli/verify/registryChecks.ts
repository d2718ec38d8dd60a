/**
 * The registry's checks: every tag of the release's tag plan exists; each manifest list holds
 * exactly the expected platforms (attestation entries, listed as `unknown/unknown`, are left
 * out); a floating manifest tag points at the version's own manifest list; each arch tag is the
 * image its manifest list lists for that platform.
 */

import {
  type Manifest,
  type ManifestDescriptor,
  type OciRegistryClient,
  PullLimitError,
  RegistryError,
} from "../../clients/ociRegistry";
import { registryClientFromEnv } from "../../clients/registryTags";
import { archTag, type TagPlan } from "../../lib/tagPlan";
import type { Architecture } from "../../lib/versions";
import type { Platform } from "../../lib/vocabulary";
import { type Env, UsageError } from "../shared";
import { isImageEntry, isIndex, platformOf, short } from "./manifests";
import type { CheckRow, CheckStatus } from "./report";
import type { VerifyDeps, VerifyInput, VerifyOptions } from "./types";

/** The registry, reachable, and the tags the release's repository holds. */
export interface RegistryRead {
  readonly client: OciRegistryClient;
  readonly repository: string;
  readonly existingTags: string[];
}

/** The registry's tags of the repository (unreachable is bad input: nothing was checked). */
export async function readRegistry(
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
    // A pull limit is not bad input: verify stops with the limit and its reset (exit 1).
    if (error instanceof RegistryError && !(error instanceof PullLimitError))
      throw new UsageError(error.message);
    throw error;
  }
}

/** Every planned tag: it exists, lists the platforms, is the version's list, has its arch twins. */
export async function registryRows(
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
