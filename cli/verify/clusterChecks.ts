/**
 * With --kubeconfig: the service's Deployment has pods, and each runs the version's manifest list
 * or one of its platform images (the digest its container status reports).
 */

import * as fs from "node:fs";
import * as path from "node:path";
import {
  checkReachable,
  KubeconfigError,
  type KubeTarget,
  kubeTargetFromFile,
  readWorkloads,
} from "../../clients/kubernetes";
import type { Manifest } from "../../clients/ociRegistry";
import { imageIdDigest, livePodsOf, sameImageNames } from "../../lib/rollout";
import type { ServiceImage } from "../../services/catalog";
import { UsageError } from "../shared";
import { isImageEntry, short } from "./manifests";
import type { CheckRow } from "./report";
import type { VerifyOptions } from "./types";

/** The --kubeconfig's context, reachable; bad input otherwise (nothing was checked). */
export async function clusterTarget(options: VerifyOptions): Promise<KubeTarget> {
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
export async function clusterRows(
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
