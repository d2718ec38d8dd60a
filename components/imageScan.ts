/**
 * The vulnerability gate of a release: each platform image, pushed by digest and not yet named by
 * any tag, is scanned by grype from its SPDX SBOM; a finding at or above `failOn` that no
 * unexpired exception covers fails the resource, and every tag, attachment, description and
 * rollout of the release waits for it (release/declare.ts passes every service's scan to every
 * service's tags), so a refused release writes nothing anywhere.
 *
 * The scan attaches nothing itself: its result per image (the `vuln` predicate) is an output the
 * release's attestations sign and attach once the version's tags exist, with the SBOM syft made
 * here (kept by digest for that: clients/signing.ts `imageSbom`). A reused image is scanned
 * again: the database moves even when the image does not.
 */
import * as pulumi from "@pulumi/pulumi";
import { scanSbom } from "../clients/scanner";
import { imageSbom } from "../clients/signing";
import type { RegistryAuth } from "../clients/tools";
import { findingsFromGrype, grypeRun } from "../lib/grypeReport";
import { Refusal } from "../lib/refusal";
import { scanRefusal } from "../lib/scanReport";
import { type FailOn, judgeFindings, type VulnerabilityException } from "../lib/vulnerabilities";
import { vulnPredicate } from "../lib/vulnPredicate";
import { BattlescopeDynamicResource, type DynamicProviderModule } from "./dynamicProvider";

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
}

export interface ImageScanOutputs extends Omit<ImageScanInputs, "password"> {
  /** The database the scan read, by its build time. */
  databaseBuilt: string;
  /** grype's version. */
  scanner: string;
  /** Per platform, the scan's result as the `vuln` attestation states it. */
  results: Record<string, Record<string, unknown>>;
}

const rfc3339 = (instant: Date) => instant.toISOString().replace(/\.\d+Z$/, "Z");

async function scan(inputs: ImageScanInputs): Promise<ImageScanOutputs> {
  const auth: RegistryAuth = {
    registry: inputs.registry,
    username: inputs.username,
    password: inputs.password,
  };
  const database = { dir: inputs.database, maxAgeHours: inputs.maxDatabaseAgeHours };
  const today = new Date();
  const platforms = Object.entries(inputs.images).sort(([a], [b]) => a.localeCompare(b));
  const scans = await Promise.all(
    platforms.map(async ([platform, digest]) => {
      const ref = `${inputs.registry}/${inputs.repository}@${digest}`;
      const startedOn = new Date();
      const sbom = await imageSbom(ref, auth);
      const report = await scanSbom(sbom, database, `${inputs.service} ${platform} (${digest})`);
      const judgement = judgeFindings(findingsFromGrype(report), {
        service: inputs.service,
        failOn: inputs.failOn,
        exceptions: inputs.exceptions,
        today,
      });
      const run = grypeRun(report);
      const result = vulnPredicate({
        service: inputs.service,
        platform,
        image: ref,
        failOn: inputs.failOn,
        judgement,
        scannerVersion: run.version,
        databaseBuilt: run.databaseBuilt ?? "",
        ...(run.databaseSchema === undefined ? {} : { databaseSchema: run.databaseSchema }),
        startedOn: rfc3339(startedOn),
        finishedOn: rfc3339(new Date()),
      });
      return { service: inputs.service, platform, judgement, run, result };
    }),
  );
  const refusal = scanRefusal(scans, {
    failOn: inputs.failOn,
    exceptionCount: inputs.exceptionCount,
    today,
  });
  if (refusal !== undefined) throw new Refusal(refusal);
  const { password: _password, ...kept } = inputs;
  return {
    ...kept,
    databaseBuilt: scans[0]?.run.databaseBuilt ?? "",
    scanner: scans[0]?.run.version ?? "",
    results: Object.fromEntries(scans.map((one) => [one.platform, one.result])),
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
      ] as const;
      const changes = replaces.length > 0 || compared.some((key) => !same(olds[key], news[key]));
      return { changes, replaces, deleteBeforeReplace: false };
    },
    async create(inputs: ImageScanInputs) {
      const outs = await scan(inputs);
      // Not named by the version: the next release updates it with its own.
      return { id: `${inputs.registry}/${inputs.repository}:scan`, outs };
    },
    async update(_id, _olds, news: ImageScanInputs) {
      return { outs: await scan(news) };
    },
    async delete() {
      // A scan leaves nothing behind: its result is attached by the release's attestations.
    },
  };
}

const imageScanProvider: DynamicProviderModule = {
  modulePath: __filename,
  factoryExport: "createImageScanProvider",
};

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

export type ImageScanArgs = Inputs<ImageScanInputs>;

/** The vulnerability scan of one version's platform images (type `pulumi-nodejs:dynamic/battlescope:ImageScan`). */
export class ImageScan extends BattlescopeDynamicResource {
  declare readonly databaseBuilt: pulumi.Output<string>;
  declare readonly results: pulumi.Output<Record<string, Record<string, unknown>>>;

  constructor(name: string, args: ImageScanArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      imageScanProvider,
      "ImageScan",
      name,
      {
        ...args,
        ...(args.password === undefined ? {} : { password: pulumi.secret(args.password) }),
        databaseBuilt: undefined,
        scanner: undefined,
        results: undefined,
      },
      opts,
    );
  }
}
