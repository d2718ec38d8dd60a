/**
 * The input of `verify`, shared by the parse step (index.ts) and the checks: the options as
 * commander gives them, and the command line once checked.
 */

import type { KubeTarget } from "../../clients/kubernetes";
import type { Architecture, Version } from "../../lib/versions";
import type { Platform } from "../../lib/vocabulary";
import type { ServiceImage } from "../../services/catalog";
import type { HttpDeps } from "../shared";

/** What the command reads from outside; tests replace parts of it. */
export type VerifyDeps = HttpDeps;

export interface VerifyOptions {
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

/** The command line, checked: what is verified, and where. Nothing has been read yet. */
export interface VerifyInput {
  readonly service: ServiceImage;
  readonly version: Version;
  readonly platforms: readonly Platform[];
  readonly architectures: Architecture[];
  readonly cluster: KubeTarget | undefined;
  /** With --key: the public key the release's signature and attestations must verify with. */
  readonly signing: SignatureCheck | undefined;
}

export interface SignatureCheck {
  readonly keyFile: string;
  readonly publicKey: string;
  readonly transparencyLog: boolean;
  /** With --commit: the source commit the provenance must name. */
  readonly commit: string | undefined;
}
