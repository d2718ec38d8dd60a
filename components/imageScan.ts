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
import { scanSbom } from "../clients/scanner";
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
import { findingsFromGrype, grypeRun } from "../lib/grypeReport";
import { Refusal } from "../lib/refusal";
import { scanRefusal } from "../lib/scanReport";
import { type FailOn, judgeFindings, type VulnerabilityException } from "../lib/vulnerabilities";
import { COSIGN_VULN_TYPE, vulnPredicate } from "../lib/vulnPredicate";
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
  failOn: FailOn;
  /** The grype database folder, and how old it may be. */
  database: string;
  maxDatabaseAgeHours: number;
  /** The stack's exceptions that name this service or every service. */
  exceptions: VulnerabilityException[];
  /** How many exceptions the stack has (the refusal's example adds the next one). */
  exceptionCount: number;
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
  failOn: FailOn;
  database: string;
  maxDatabaseAgeHours: number;
  exceptions: VulnerabilityException[];
  exceptionCount: number;
  transparencyLog?: boolean;
  keyFingerprint?: string;
  /** The database the scan read, by its build time. */
  databaseBuilt: string;
  /** grype's version. */
  scanner: string;
  /** Per platform: findings an exception accepted, and findings below `failOn`. */
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

/** The image's SBOM: the attested one when there is one, else syft's (to attest once it passes). */
async function sbomOf(
  ref: string,
  auth: RegistryAuth,
  signer: Signer | undefined,
): Promise<{ sbom: SpdxDocument; attested: boolean }> {
  if (signer !== undefined) {
    const found = await verifiedAttestations(ref, COSIGN_SPDX_TYPE, signer.verify, auth);
    const attested = found.statements[0]?.predicate;
    if (attested !== undefined) return { sbom: attested as SpdxDocument, attested: true };
  }
  return { sbom: await imageSbom(ref, auth), attested: false };
}

/** Attaches the scan's result unless the same result of the same database is attached already. */
async function attachResult(
  ref: string,
  predicate: ReturnType<typeof vulnPredicate>,
  auth: RegistryAuth,
  signer: Signer,
): Promise<void> {
  const resultOf = (value: unknown) =>
    JSON.stringify((value as { scanner?: { result?: unknown } } | undefined)?.scanner?.result);
  const found = await verifiedAttestations(ref, COSIGN_VULN_TYPE, signer.verify, auth);
  if (found.statements.some((statement) => resultOf(statement.predicate) === resultOf(predicate))) {
    return;
  }
  await attestDigest(ref, COSIGN_VULN_TYPE, predicate, signer.settings, auth);
}

const rfc3339 = (instant: Date) => instant.toISOString().replace(/\.\d+Z$/, "Z");

async function scan(inputs: ImageScanInputs): Promise<ImageScanOutputs> {
  const auth: RegistryAuth = {
    registry: inputs.registry,
    username: inputs.username,
    password: inputs.password,
  };
  const database = { dir: inputs.database, maxAgeHours: inputs.maxDatabaseAgeHours };
  const signer = await signerOf(inputs);
  const today = new Date();
  const platforms = Object.entries(inputs.images).sort(([a], [b]) => a.localeCompare(b));
  const scans = await Promise.all(
    platforms.map(async ([platform, digest]) => {
      const ref = `${inputs.registry}/${inputs.repository}@${digest}`;
      const startedOn = new Date();
      const { sbom, attested } = await sbomOf(ref, auth, signer);
      const report = await scanSbom(sbom, database, `${inputs.service} ${platform} (${digest})`);
      const judgement = judgeFindings(findingsFromGrype(report), {
        service: inputs.service,
        failOn: inputs.failOn,
        exceptions: inputs.exceptions,
        today,
      });
      const run = grypeRun(report);
      return { service: inputs.service, platform, ref, sbom, attested, startedOn, judgement, run };
    }),
  );
  const refusal = scanRefusal(scans, {
    failOn: inputs.failOn,
    exceptionCount: inputs.exceptionCount,
    today,
  });
  // Nothing is attached to an image the gate refuses: a refused release leaves no trace.
  if (refusal !== undefined) throw new Refusal(refusal);
  if (signer !== undefined) {
    await Promise.all(
      scans.map(async (one) => {
        if (!one.attested) {
          await attestDigest(one.ref, COSIGN_SPDX_TYPE, one.sbom, signer.settings, auth);
        }
        const predicate = vulnPredicate({
          service: one.service,
          platform: one.platform,
          image: one.ref,
          failOn: inputs.failOn,
          judgement: one.judgement,
          scannerVersion: one.run.version,
          databaseBuilt: one.run.databaseBuilt ?? "",
          ...(one.run.databaseSchema === undefined
            ? {}
            : { databaseSchema: one.run.databaseSchema }),
          startedOn: rfc3339(one.startedOn),
          finishedOn: rfc3339(new Date()),
        });
        await attachResult(one.ref, predicate, auth, signer);
      }),
    );
  }
  const { privateKey, keyPassword: _keyPassword, password: _password, ...kept } = inputs;
  return {
    ...kept,
    ...(privateKey === undefined ? {} : { keyFingerprint: keyFingerprint(privateKey) }),
    databaseBuilt: scans[0]?.run.databaseBuilt ?? "",
    scanner: scans[0]?.run.version ?? "",
    findings: Object.fromEntries(
      scans.map((one) => [
        one.platform,
        { ignored: one.judgement.ignored.length, below: one.judgement.below.length },
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
