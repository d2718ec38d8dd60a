/**
 * A release's signature and attestations: each platform image gets an SBOM (syft, SPDX JSON), a
 * SLSA provenance and, when the stack scans, its vulnerability scan result (`vuln`), all as signed
 * in-toto attestations; the version's manifest list gets its own (the platforms' SBOMs in one
 * document, and a provenance naming the version and its images) and, last, the signature. All are
 * attached to the digests in the registry: signed in this process with the key (clients/attachers.ts),
 * by cosign where a transparency log is written.
 *
 * Create-only, like the version tags: each attachment is written only when none that verifies
 * with the key is there, so a re-run, a reused image or a lost state adds nothing. Delete does
 * nothing: attachments go with their subject, by the retention command
 * (docs/rules.md#signed-releases).
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { type Attacher, cosignAttacher, inProcessAttacher } from "../clients/attachers";
import { OciRegistryClient, sharedRegistrySession } from "../clients/ociRegistry";
import { imageSbom, type RegistryAuth, type SigningSettings } from "../clients/signing";
import {
  COSIGN_PROVENANCE_TYPE,
  COSIGN_SPDX_TYPE,
  imageProvenance,
  listProvenance,
  listSbom,
  type SourceFacts,
  type SpdxDocument,
} from "../lib/attestation";
import { COSIGN_VULN_TYPE, sameScanResult } from "../lib/vulnPredicate";
import { BattlescopeDynamicResource, type DynamicProviderModule } from "./dynamicProvider";

export interface ReleaseAttestationsInputs {
  /** Registry host, e.g. `docker.io` or `127.0.0.1:5000`. */
  registry: string;
  /** Repository path inside the registry, e.g. `battlescope/frontend`. */
  repository: string;
  username?: string;
  password?: string;
  /** The encrypted cosign private key and its password (secrets). */
  privateKey: string;
  keyPassword: string;
  transparencyLog: boolean;
  version: string;
  /** The version's manifest list. */
  listDigest: string;
  /** Its platform images, by platform (`linux/amd64`). */
  images: Record<string, string>;
  /** What the provenance says of the build. */
  source: SourceFacts;
  context: string;
  buildArgs: Record<string, string>;
  builder: string;
  sourceHash: string;
  /** Per platform, the scan's `vuln` predicate (components/imageScan.ts); absent when unscanned. */
  scans?: Record<string, Record<string, unknown>>;
}

/** What the state keeps: no secret, and a fingerprint of the key to notice a new one. */
export interface ReleaseAttestationsOutputs {
  registry: string;
  repository: string;
  transparencyLog: boolean;
  version: string;
  listDigest: string;
  images: Record<string, string>;
  keyFingerprint: string;
  /** A fingerprint of the scan results attached (the results themselves are the scan's outputs). */
  scansFingerprint?: string;
  /** Per digest, the attachments this resource wrote (others were there already). */
  written: Record<string, string[]>;
}

export function keyFingerprint(privateKey: string): string {
  return `sha256:${createHash("sha256").update(privateKey).digest("hex")}`;
}

/** The scan results' fingerprint; undefined when there are none. */
function scansFingerprint(scans: ReleaseAttestationsInputs["scans"]): string | undefined {
  if (scans === undefined) return undefined;
  const ordered = Object.keys(scans)
    .sort()
    .map((platform) => [platform, scans[platform]]);
  return `sha256:${createHash("sha256").update(JSON.stringify(ordered)).digest("hex")}`;
}

function sameImages(a: Record<string, string>, b: Record<string, string>): boolean {
  return (
    JSON.stringify(Object.entries(a ?? {}).sort()) ===
    JSON.stringify(Object.entries(b ?? {}).sort())
  );
}

/** One release's attaching: who signs, where, and what this run wrote. */
interface Attaching {
  readonly inputs: ReleaseAttestationsInputs;
  readonly auth: RegistryAuth;
  readonly attacher: Attacher;
  readonly written: Record<string, string[]>;
  /**
   * The digests nothing referred to when this run began (images just built): what this run has
   * not written there is not there, so no lookup is needed to know it.
   */
  readonly bare: ReadonlySet<string>;
}

/** Attached already to a digest: nothing on a bare one, else what verifies with the key. */
async function attachedStatements(run: Attaching, digest: string, type: string) {
  if (run.bare.has(digest)) return [];
  return run.attacher.statements(digest, type);
}

/**
 * The digests with no referrer yet. A registry that cannot say (an error) leaves the digest to
 * cosign's own lookups: the attachments stay create-only either way.
 */
async function bareDigests(inputs: ReleaseAttestationsInputs): Promise<Set<string>> {
  const client = new OciRegistryClient({
    registry: inputs.registry,
    session: sharedRegistrySession(inputs.registry, inputs.username),
    ...(inputs.username === undefined ? {} : { username: inputs.username }),
    ...(inputs.password === undefined ? {} : { password: inputs.password }),
  });
  const digests = [...new Set([...Object.values(inputs.images), inputs.listDigest])];
  const referred = await Promise.all(
    digests.map((digest) => client.hasReferrers(inputs.repository, digest).catch(() => true)),
  );
  return new Set(digests.filter((_, i) => !referred[i]));
}

const refOf = ({ inputs }: Attaching, digest: string) =>
  `${inputs.registry}/${inputs.repository}@${digest}`;

function noteWritten({ written }: Attaching, digest: string, kind: string): void {
  written[digest] = [...(written[digest] ?? []), kind];
}

/** The verified predicate of `type` on the digest, else what `make` returns, attested. */
async function ensure<T>(
  run: Attaching,
  digest: string,
  type: string,
  make: () => Promise<T>,
): Promise<T> {
  const existing = (await attachedStatements(run, digest, type))[0]?.predicate;
  if (existing !== undefined) return existing as T;
  const predicate = await make();
  await run.attacher.attest(digest, type, predicate);
  noteWritten(run, digest, type);
  return predicate;
}

/** A platform image's SBOM and provenance; its SBOM, for the list's. */
async function attachImage(run: Attaching, platform: string, digest: string) {
  const { inputs } = run;
  const sbom = await ensure(run, digest, COSIGN_SPDX_TYPE, () =>
    imageSbom(refOf(run, digest), run.auth),
  );
  await ensure(run, digest, COSIGN_PROVENANCE_TYPE, async () =>
    imageProvenance({
      source: inputs.source,
      context: inputs.context,
      platform,
      buildArgs: inputs.buildArgs,
      builder: inputs.builder,
      sourceHash: inputs.sourceHash,
    }),
  );
  const scan = inputs.scans?.[platform];
  if (scan !== undefined) await attachScan(run, digest, scan);
  return [platform, { digest, sbom: sbom as SpdxDocument }] as const;
}

/**
 * The scan's result, unless the same result is attached already: a scan of a reused image with a
 * newer database adds its own, create-only, beside the earlier release's.
 */
async function attachScan(run: Attaching, digest: string, predicate: unknown): Promise<void> {
  const found = await attachedStatements(run, digest, COSIGN_VULN_TYPE);
  if (found.some((statement) => sameScanResult(statement.predicate, predicate))) return;
  await run.attacher.attest(digest, COSIGN_VULN_TYPE, predicate);
  noteWritten(run, digest, COSIGN_VULN_TYPE);
}

/** The list's SBOM and provenance, then, last, its signature: a signed list has them all. */
async function attachList(
  run: Attaching,
  platforms: Record<string, { digest: string; sbom: SpdxDocument }>,
): Promise<void> {
  const { inputs } = run;
  const list = inputs.listDigest;
  const repository = `${inputs.registry}/${inputs.repository}`;
  await ensure(run, list, COSIGN_SPDX_TYPE, async () =>
    listSbom({
      repository,
      version: inputs.version,
      listDigest: list,
      created: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      platforms,
    }),
  );
  await ensure(run, list, COSIGN_PROVENANCE_TYPE, async () =>
    listProvenance({ ...inputs, repository, images: inputs.images }),
  );
  const signed = !run.bare.has(list) && (await run.attacher.signed(list));
  if (!signed) {
    await run.attacher.sign(list);
    noteWritten(run, list, "signature");
  }
}

async function attach(inputs: ReleaseAttestationsInputs): Promise<ReleaseAttestationsOutputs> {
  const settings: SigningSettings = {
    key: { privateKey: inputs.privateKey, password: inputs.keyPassword },
    transparencyLog: inputs.transparencyLog,
  };
  const auth = { registry: inputs.registry, username: inputs.username, password: inputs.password };
  const target = { registry: inputs.registry, repository: inputs.repository, auth, settings };
  const bare = await bareDigests(inputs);
  const run: Attaching = {
    inputs,
    auth,
    // A transparency log entry is cosign's to make; without a log the key signs in this process.
    attacher: await (inputs.transparencyLog
      ? cosignAttacher(target)
      : inProcessAttacher(target, bare)),
    written: {},
    bare,
  };
  // Each subject's attachments are written one after another (they share its referrers tag);
  // the platform images go at the same time.
  const platforms = await Promise.all(
    Object.entries(inputs.images).map(([platform, digest]) => attachImage(run, platform, digest)),
  );
  await attachList(run, Object.fromEntries(platforms));
  return {
    registry: inputs.registry,
    repository: inputs.repository,
    transparencyLog: inputs.transparencyLog,
    version: inputs.version,
    listDigest: inputs.listDigest,
    images: inputs.images,
    keyFingerprint: keyFingerprint(inputs.privateKey),
    ...(inputs.scans === undefined ? {} : { scansFingerprint: scansFingerprint(inputs.scans) }),
    written: run.written,
  };
}

export function createReleaseAttestationsProvider(): pulumi.dynamic.ResourceProvider {
  return {
    async diff(_id, olds: ReleaseAttestationsOutputs, news: ReleaseAttestationsInputs) {
      const replaces = (["registry", "repository"] as const).filter(
        (key) => olds[key] !== news[key],
      );
      // The provenance's facts (commit, build args) are the first attestation's: a new commit
      // over the same images attaches nothing new.
      const changes =
        replaces.length > 0 ||
        olds.listDigest !== news.listDigest ||
        !sameImages(olds.images, news.images) ||
        olds.transparencyLog !== news.transparencyLog ||
        olds.scansFingerprint !== scansFingerprint(news.scans) ||
        (typeof news.privateKey === "string" &&
          olds.keyFingerprint !== keyFingerprint(news.privateKey));
      return { changes, replaces, deleteBeforeReplace: false };
    },
    async create(inputs: ReleaseAttestationsInputs) {
      const outs = await attach(inputs);
      // Not named by the version: the next release updates it with its own.
      return { id: `${inputs.registry}/${inputs.repository}:attestations`, outs };
    },
    async update(_id, _olds, news: ReleaseAttestationsInputs) {
      return { outs: await attach(news) };
    },
    async delete() {
      // Attachments stay with their subject: the retention command deletes them together.
    },
  };
}

const releaseAttestationsProvider: DynamicProviderModule = {
  modulePath: __filename,
  factoryExport: "createReleaseAttestationsProvider",
};

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

export type ReleaseAttestationsArgs = Inputs<ReleaseAttestationsInputs>;

/**
 * The signature and attestations of one version (type
 * `pulumi-nodejs:dynamic/battlescope:ReleaseAttestations`).
 */
export class ReleaseAttestations extends BattlescopeDynamicResource {
  declare readonly listDigest: pulumi.Output<string>;
  declare readonly written: pulumi.Output<Record<string, string[]>>;

  constructor(name: string, args: ReleaseAttestationsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      releaseAttestationsProvider,
      "ReleaseAttestations",
      name,
      {
        ...args,
        privateKey: pulumi.secret(args.privateKey),
        keyPassword: pulumi.secret(args.keyPassword),
        ...(args.password === undefined ? {} : { password: pulumi.secret(args.password) }),
        keyFingerprint: undefined,
        scansFingerprint: undefined,
        written: undefined,
      },
      opts,
    );
  }
}
