/**
 * With --key: the signature of the version's manifest list, the SBOM and provenance attestations
 * of the list and of each of its platform images, and each image's vulnerability scan attestation
 * (when the stack scans), verified with the public key.
 */

import type { Manifest } from "../../clients/ociRegistry";
import { type RegistryAuth, verifiedAttestations, verifySignature } from "../../clients/signing";
import {
  COSIGN_PROVENANCE_TYPE,
  COSIGN_SPDX_TYPE,
  provenanceCommit,
  type SpdxDocument,
  sbomNames,
} from "../../lib/attestation";
import { COSIGN_VULN_TYPE, type ScanResult, scanResultOf } from "../../lib/vulnPredicate";
import { isImageEntry } from "./manifests";
import type { CheckRow } from "./report";
import type { SignatureCheck } from "./types";

interface SignedRelease {
  readonly registry: string;
  readonly repository: string;
  readonly version: string;
  readonly versionList: Manifest | undefined;
  readonly auth: RegistryAuth;
}

/** What attestations are attached to: the version's manifest list, or one of its platform images. */
interface AttestedSubject {
  readonly kind: "list" | "image";
  /** `<repository>:<version>` for the list, `<repository>:<version>-<arch>` for an image. */
  readonly subject: string;
  readonly digest: string;
}

/** The list's signature; the SBOM and provenance of the list and of each platform image. */
export async function signatureRows(
  check: SignatureCheck,
  release: SignedRelease,
): Promise<CheckRow[]> {
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
  const subjects: AttestedSubject[] = [
    { kind: "list", subject: listSubject, digest: list.digest },
    ...list.manifests.filter(isImageEntry).map(
      (child): AttestedSubject => ({
        kind: "image",
        subject: `${release.repository}:${release.version}-${child.platform?.architecture}`,
        digest: child.digest,
      }),
    ),
  ];
  for (const { kind, subject, digest } of subjects) {
    const [sbom, provenance, scans] = await Promise.all([
      verifiedAttestations(ref(digest), COSIGN_SPDX_TYPE, options, release.auth),
      verifiedAttestations(ref(digest), COSIGN_PROVENANCE_TYPE, options, release.auth),
      kind === "image"
        ? verifiedAttestations(ref(digest), COSIGN_VULN_TYPE, options, release.auth)
        : undefined,
    ]);
    rows.push(sbomRow(subject, sbom.statements[0]?.predicate, check.keyFile));
    rows.push(provenanceRow(subject, provenance.statements[0]?.predicate, check));
    if (scans !== undefined) {
      rows.push(
        vulnerabilityRow(
          subject,
          scans.statements.map((s) => s.predicate),
          check,
        ),
      );
    }
  }
  return rows;
}

/**
 * The image's latest vulnerability scan attestation (a stack that scans writes one per database it
 * scanned with): it names no finding the gate let through unaccepted. A stack that does not scan
 * writes none: a skip, not a failure.
 */
function vulnerabilityRow(
  subject: string,
  predicates: readonly unknown[],
  check: SignatureCheck,
): CheckRow {
  const row = { check: "vulnerabilities", subject };
  if (predicates.length === 0) {
    return {
      ...row,
      status: "skip",
      detail: `no vulnerability scan attestation that verifies with ${check.keyFile} (the stack does not scan)`,
    };
  }
  let results: ScanResult[];
  try {
    results = predicates.map(scanResultOf);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { ...row, status: "FAIL", detail, kind: "attestation" };
  }
  const latest = results.reduce((a, b) => (b.finishedOn > a.finishedOn ? b : a));
  const { blocking, ignored } = latest.judgement;
  if (blocking.length > 0) {
    const ids = [...new Set(blocking.map((finding) => finding.id))].join(", ");
    return {
      ...row,
      status: "FAIL",
      detail: `scanned with a blocking finding at or above ${latest.failOn}: ${ids}`,
      kind: "attestation",
    };
  }
  const accepted = ignored.length === 0 ? "" : `; ${ignored.length} accepted by an exception`;
  return {
    ...row,
    status: "ok",
    detail: `no finding at or above ${latest.failOn}${accepted} (database built ${latest.databaseBuilt})`,
  };
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
