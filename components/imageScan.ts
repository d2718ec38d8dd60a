/**
 * The vulnerability gate of a release: each platform image, pushed by digest and not yet named by
 * any tag, is scanned by grype from its SPDX SBOM; a finding at or above `failOn` that no
 * unexpired exception covers fails the resource, and every tag, description and rollout of the
 * release waits for it (release/declare.ts passes every service's scan to every service's tags).
 *
 * On a signing stack the SBOM is attached here, create-only, where the release attestations find
 * it (so syft runs once per image), and the scan's result follows as a signed `vuln` attestation.
 * A reused image is scanned again: the database moves even when the image does not.
 */
import * as pulumi from "@pulumi/pulumi";
import { databaseStatus, grypeVersion, scanSbom } from "../clients/scanner";
import {
  attestDigest,
  imageSbom,
  publicKeyOf,
  type SigningSettings,
  type VerifyOptions,
  verifiedAttestations,
} from "../clients/signing";
import type { RegistryAuth } from "../clients/tools";
import { COSIGN_SPDX_TYPE, type SpdxDocument } from "../lib/attestation";
import { Refusal } from "../lib/refusal";
import {
  COSIGN_VULN_TYPE,
  findingsFromGrype,
  judgeFindings,
  type PlatformScan,
  scanRefusal,
  type Severity,
  type VulnerabilityException,
  vulnPredicate,
} from "../lib/vulnerabilities";
import { serializableProvider } from "./dynamicProvider";
import { keyFingerprint } from "./releaseAttestations";

export interface ImageScanInputs {
  /** Registry host, e.g. `docker.io` or `127.0.0.1:5000`. */
  registry: string;
  /** Repository path inside the registry, e.g. `battlescope/frontend`. */
  repository: string;
  username?: string;
  password?: string;
  service: string;
  version: string;
  /** The platform images, by platform (`linux/amd64`). */
  images: Record<string, string>;
  failOn: Severity;
  /** The grype database folder, and how old it may be. */
  database: string;
  maxDatabaseAgeHours: number;
  /** The stack's exceptions that name this service or every service. */
  exceptions: VulnerabilityException[];
  /** On a signing stack: the key (secrets) the SBOM and the scan's attestation are signed with. */
  privateKey?: string;
  keyPassword?: string;
  transparencyLog?: boolean;
}

export interface ImageScanOutputs {
  registry: string;
  repository: string;
  service: string;
  version: string;
  images: Record<string, string>;
  failOn: Severity;
  database: string;
  maxDatabaseAgeHours: number;
  exceptions: VulnerabilityException[];
  transparencyLog?: boolean;
  keyFingerprint?: string;
  /** The database the scan read, by its build time. */
  databaseBuilt: string;
  scanner: string;
  /** Per platform: how many findings blocked nothing because an exception covers them, and how many were below `failOn`. */
  findings: Record<string, { ignored: number; below: number }>;
}

interface Signer {
  readonly settings: SigningSettings;
  readonly verify: VerifyOptions;
}

async function signerOf(inputs: ImageScanInputs): Promise<Signer | undefined> {
  if (inputs.privateKey === undefined || inputs.keyPassword === undefined) return undefined;
  const transparencyLog = inputs.transparencyLog ?? true;
  const settings: SigningSettings = {
    key: { privateKey: inputs.privateKey, password: inputs.keyPassword },
    transparencyLog,
  };
  return { settings, verify: { publicKey: await publicKeyOf(settings.key), transparencyLog } };
}

/** The image's SBOM: the attested one when there is one, else syft's, attested when signing. */
async function sbomOf(
  ref: string,
  auth: RegistryAuth,
  signer: Signer | undefined,
): Promise<SpdxDocument> {
  if (signer === undefined) return imageSbom(ref, auth);
  const found = await verifiedAttestations(ref, COSIGN_SPDX_TYPE, signer.verify, auth);
  const attested = found.statements[0]?.predicate;
  if (attested !== undefined) return attested as SpdxDocument;
  const sbom = await imageSbom(ref, auth);
  await attestDigest(ref, COSIGN_SPDX_TYPE, sbom, signer.settings, auth);
  return sbom;
}

/** Attaches the scan's result unless the same result of the same database is attached already. */
async function attachResult(
  ref: string,
  predicate: ReturnType<typeof vulnPredicate>,
  auth: RegistryAuth,
  signer: Signer,
): Promise<void> {
  const found = await verifiedAttestations(ref, COSIGN_VULN_TYPE, signer.verify, auth);
  const same = found.statements.some(
    (statement) =>
      JSON.stringify((statement.predicate as typeof predicate | undefined)?.scanner?.result) ===
      JSON.stringify(predicate.scanner.result),
  );
  if (!same) await attestDigest(ref, COSIGN_VULN_TYPE, predicate, signer.settings, auth);
}

async function scan(inputs: ImageScanInputs): Promise<ImageScanOutputs> {
  const auth: RegistryAuth = {
    registry: inputs.registry,
    username: inputs.username,
    password: inputs.password,
  };
  const database = { dir: inputs.database, maxAgeHours: inputs.maxDatabaseAgeHours };
  const [status, scanner, signer] = await Promise.all([
    databaseStatus(database),
    grypeVersion(),
    signerOf(inputs),
  ]);
  const today = new Date();
  const platforms = Object.entries(inputs.images).sort(([a], [b]) => a.localeCompare(b));
  const scans: PlatformScan[] = await Promise.all(
    platforms.map(async ([platform, digest]) => {
      const ref = `${inputs.registry}/${inputs.repository}@${digest}`;
      const startedOn = new Date();
      const sbom = await sbomOf(ref, auth, signer);
      const report = await scanSbom(sbom, database, `${inputs.service} ${platform} (${digest})`);
      const verdict = judgeFindings(findingsFromGrype(report), {
        service: inputs.service,
        failOn: inputs.failOn,
        exceptions: inputs.exceptions,
        today,
      });
      return { service: inputs.service, platform, digest, verdict, startedOn, ref };
    }),
  );
  if (scans.some((one) => one.verdict.blocking.length > 0)) {
    throw new Refusal(scanRefusal(scans, inputs.failOn));
  }
  if (signer !== undefined) {
    await Promise.all(
      scans.map((one) =>
        attachResult(
          one.ref,
          vulnPredicate({
            verdict: one.verdict,
            failOn: inputs.failOn,
            scanner,
            databaseBuilt: status.built ?? "",
            startedOn: one.startedOn,
            finishedOn: new Date(),
          }),
          auth,
          signer,
        ),
      ),
    );
  }
  const { privateKey, keyPassword, password, ...kept } = inputs;
  return {
    ...kept,
    ...(privateKey === undefined ? {} : { keyFingerprint: keyFingerprint(privateKey) }),
    databaseBuilt: status.built ?? "",
    scanner: `grype ${scanner}`,
    findings: Object.fromEntries(
      scans.map((one) => [
        one.platform,
        { ignored: one.verdict.ignored.length, below: one.verdict.below.length },
      ]),
    ),
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function createImageScanProvider(): pulumi.dynamic.ResourceProvider {
  return {
    async diff(_id, olds: ImageScanOutputs, news: ImageScanInputs) {
      const replaces = (["registry", "repository"] as const).filter(
        (key) => olds[key] !== news[key],
      );
      const compared = [
        "service",
        "version",
        "images",
        "failOn",
        "database",
        "maxDatabaseAgeHours",
        "exceptions",
        "transparencyLog",
      ] as const;
      const changes =
        replaces.length > 0 ||
        compared.some((key) => !same(olds[key], news[key])) ||
        (typeof news.privateKey === "string") !== (olds.keyFingerprint !== undefined) ||
        (typeof news.privateKey === "string" &&
          olds.keyFingerprint !== keyFingerprint(news.privateKey));
      return { changes, replaces, deleteBeforeReplace: false };
    },
    async create(inputs: ImageScanInputs) {
      const outs = await scan(inputs);
      return { id: `${inputs.registry}/${inputs.repository}:${inputs.version}`, outs };
    },
    async update(_id, _olds, news: ImageScanInputs) {
      return { outs: await scan(news) };
    },
    async delete() {
      // The scan's attestations stay with their subject: the retention command deletes them together.
    },
  };
}

const imageScanProvider = serializableProvider(__filename, "createImageScanProvider");

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

export type ImageScanArgs = Inputs<ImageScanInputs>;

/** The vulnerability scan of one version's platform images (type `pulumi-nodejs:dynamic/battlescope:ImageScan`). */
export class ImageScan extends pulumi.dynamic.Resource {
  declare readonly databaseBuilt: pulumi.Output<string>;

  constructor(name: string, args: ImageScanArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      imageScanProvider,
      name,
      {
        ...args,
        ...(args.privateKey === undefined ? {} : { privateKey: pulumi.secret(args.privateKey) }),
        ...(args.keyPassword === undefined ? {} : { keyPassword: pulumi.secret(args.keyPassword) }),
        ...(args.password === undefined ? {} : { password: pulumi.secret(args.password) }),
        keyFingerprint: undefined,
        databaseBuilt: undefined,
        scanner: undefined,
        findings: undefined,
      },
      opts,
      "battlescope",
      "ImageScan",
    );
  }
}
