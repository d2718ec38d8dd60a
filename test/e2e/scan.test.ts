/**
 * The vulnerability gate on the real engine, BuildKit, registry, cosign, syft and grype, offline:
 * grype databases written here with grype's own database code (test/support/vulnerabilityDbWriter.ts)
 * from a real advisory's facts against the fixtures' base (busybox 1.35.0, CVE-2022-30065, high).
 */
import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RegistryAuth, verifiedAttestations } from "../../clients/signing";
import { COSIGN_VULN_TYPE, scanResultOf } from "../../lib/vulnPredicate";
import { LOCAL_PUBLIC_KEY_FILE, localSigningConfig } from "../../scripts/e2eStack";
import { SERVICE_NAMES } from "../../services/catalog";
import { cli } from "../support/runCli";
import {
  BUSYBOX_AWK_USE_AFTER_FREE,
  BUSYBOX_UNLZMA_OUT_OF_BOUNDS,
} from "../support/vulnerabilityDatabase";
import { writeVulnerabilityDb } from "../support/vulnerabilityDbWriter";
import {
  accessLogMark,
  accessLogSince,
  createE2eStack,
  type E2eStack,
  failureOf,
  gitFixtures,
  type LogEntry,
  pushes,
  REGISTRY,
  REGISTRY_PASSWORD,
  REGISTRY_USERNAME,
  registryClient,
} from "./harness";

const OFFLINE = {
  publicKey: fs.readFileSync(LOCAL_PUBLIC_KEY_FILE, "utf8"),
  transparencyLog: false,
};
const AUTH: RegistryAuth = {
  registry: REGISTRY,
  username: REGISTRY_USERNAME,
  password: REGISTRY_PASSWORD,
};
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const registry = registryClient();

const day = (offsetDays: number) =>
  new Date(Date.now() + offsetDays * DAY).toISOString().slice(0, 10);

/**
 * Manifest PUTs by tag in the images' repositories (a PUT by digest names nothing): version,
 * arch, floating and referrers tags. The build cache's own repositories are no release.
 */
function tagWrites(entries: readonly LogEntry[]): LogEntry[] {
  return pushes(entries).filter(
    (entry) =>
      /\/manifests\/(?!sha256:)[^/?]+/.test(entry.path) &&
      !/-buildcache\/manifests\//.test(entry.path),
  );
}

/** The refusal's lines for one service whose two images carry the advisory. */
function serviceRefusal(service: string): string {
  return [
    `${service} linux/amd64:`,
    "- CVE-2022-30065 high in busybox 1.35.0: fixed in 1.36.0",
    `${service} linux/arm64:`,
    "- CVE-2022-30065 high in busybox 1.35.0: fixed in 1.36.0",
  ].join("\n");
}

/** The engine's output with each line's indentation dropped (its diagnostics indent messages). */
const unindented = (text: string) =>
  text
    .split("\n")
    .map((line) => line.trim())
    .join("\n");

async function tagsOf(organization: string): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {};
  for (const service of SERVICE_NAMES) {
    const tags = await registry.listTags(`${organization}/${service}`);
    if (tags.length > 0) found[service] = tags.sort();
  }
  return found;
}

describe.sequential("the vulnerability gate", () => {
  let e2e: E2eStack;
  let advisoryDb: string;
  let cleanDb: string;
  let staleDb: string;

  /** The command line's options naming this stack's releases and their signing key. */
  const publishedHere = () => [
    "--registry",
    REGISTRY,
    "--organization",
    e2e.organization,
    "--key",
    LOCAL_PUBLIC_KEY_FILE,
    "--offline",
  ];

  const exceptions = (list: unknown[]) =>
    e2e.stack.setConfig("battlescope:vulnerabilityExceptions", { value: JSON.stringify(list) });

  beforeAll(async () => {
    advisoryDb = writeVulnerabilityDb(new Date(Date.now() - HOUR), [BUSYBOX_AWK_USE_AFTER_FREE]);
    cleanDb = writeVulnerabilityDb(new Date(Date.now() - HOUR), [BUSYBOX_UNLZMA_OUT_OF_BOUNDS]);
    staleDb = writeVulnerabilityDb(new Date(Date.now() - 10 * DAY), [BUSYBOX_AWK_USE_AFTER_FREE]);
    e2e = await createE2eStack("scan", {
      sourceRoot: gitFixtures().dir,
      publishDescriptions: "false",
      scan: "true",
      vulnerabilityDb: advisoryDb,
    });
    await e2e.stack.setAllConfig(await localSigningConfig());
  });

  afterAll(async () => {
    await e2e?.close();
  });

  it("refuses an exception without a reason at preview, naming it; nothing is pushed", async () => {
    await exceptions([{ id: "CVE-2022-30065", expires: day(30) }]);
    const mark = accessLogMark();
    const failure = await failureOf(e2e.stack.preview());
    expect(failure).toContain(
      'missing config "battlescope:vulnerabilityExceptions[0].reason" (the exception for CVE-2022-30065): expected',
    );
    expect(pushes(accessLogSince(mark, e2e.organization))).toEqual([]);
    await exceptions([]);
  });

  it("refuses a database older than the maximum age before anything is built", async () => {
    await e2e.stack.setConfig("battlescope:vulnerabilityDb", { value: staleDb });
    const mark = accessLogMark();
    const failure = await failureOf(e2e.stack.up());
    expect(failure).toMatch(
      new RegExp(
        `vulnerability database ${staleDb} was built \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ, 10 days( and 1 hour)? ago; battlescope:vulnerabilityDbMaxAge allows 5d: update it \\(grype db update with GRYPE_DB_CACHE_DIR=${staleDb}\\)`,
      ),
    );
    expect(pushes(accessLogSince(mark, e2e.organization))).toEqual([]);
    await e2e.stack.setConfig("battlescope:vulnerabilityDb", { value: advisoryDb });
  });

  it("refuses a release when one service's finding is covered only by an expired exception: its finding named, no service tagged or attested", async () => {
    const others = SERVICE_NAMES.filter((service) => service !== "frontend");
    await exceptions([
      {
        id: "CVE-2022-30065",
        services: others,
        reason: "awk is never run by these services",
        expires: day(30),
      },
      {
        id: "CVE-2022-30065",
        services: ["frontend"],
        reason: "awk is never run by the frontend",
        expires: day(-1),
      },
    ]);
    const mark = accessLogMark();
    const failure = await failureOf(e2e.stack.up());
    expect(failure).toContain(
      `vulnerability exception for CVE-2022-30065 (frontend) expired on ${day(-1)} and no longer applies: remove battlescope:vulnerabilityExceptions[1], or renew it with a new expiry if its reason still holds`,
    );
    expect(unindented(failure)).toContain(
      [
        "vulnerability scan refused the release: 2 findings at or above high (battlescope:failOn) in 2 images",
        serviceRefusal("frontend"),
        "To release: upgrade the base image or the package to the fixed version; or, where a finding does not apply to these images, accept it with an exception in battlescope:vulnerabilityExceptions that says why and expires at most 180 days ahead (" +
          `${day(180)} at the latest), such as:`,
        "pulumi config set --path 'battlescope:vulnerabilityExceptions[2].id' CVE-2022-30065",
        "pulumi config set --path 'battlescope:vulnerabilityExceptions[2].services[0]' frontend",
        "pulumi config set --path 'battlescope:vulnerabilityExceptions[2].reason' '<why it does not apply>'",
        `pulumi config set --path 'battlescope:vulnerabilityExceptions[2].expires' ${day(30)}`,
        "Nothing was tagged or deployed; the published tags of earlier releases are untouched.",
      ].join("\n"),
    );
    for (const service of others) {
      expect(unindented(failure)).not.toContain(`${service} linux/amd64:`);
    }
    // The other services' scans passed, and still nothing of theirs is tagged or attached: every
    // version's tags wait for every scan.
    expect(tagWrites(accessLogSince(mark, e2e.organization))).toEqual([]);
    expect(await tagsOf(e2e.organization)).toEqual({});
  });

  it("an exception with a reason and an expiry lets the release through; the attestation lists the finding as ignored; verify --key passes", async () => {
    const exception = {
      id: "CVE-2022-30065",
      reason: "awk is never run by the services",
      expires: day(30),
    };
    await exceptions([exception]);
    await e2e.stack.up();
    const image = await registry.getManifest(`${e2e.organization}/frontend`, "v3.0.0-arm64");
    expect(image).toBeDefined();
    const ref = `${REGISTRY}/${e2e.organization}/frontend@${image?.digest}`;
    const { statements, detail } = await verifiedAttestations(ref, COSIGN_VULN_TYPE, OFFLINE, AUTH);
    expect(statements.length, detail).toBe(1);
    const result = scanResultOf(statements[0]?.predicate);
    expect(result.judgement.blocking).toEqual([]);
    expect(
      result.judgement.ignored.map(({ finding, exception: applied }) => ({
        id: finding.id,
        package: `${finding.package.name} ${finding.package.version}`,
        applied,
      })),
    ).toEqual([{ id: "CVE-2022-30065", package: "busybox 1.35.0", applied: exception }]);
    const verified = await cli("verify", "frontend", "v3.0.0", ...publishedHere());
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(
      new RegExp(
        `vulnerabilities +${e2e.organization}/frontend:v3\\.0\\.0-arm64 +ok +no finding at or above high; 1 accepted by an exception`,
      ),
    );
  });

  it("a patch release that reuses the images scans them again: refused, nothing of it tagged", async () => {
    await exceptions([]);
    await e2e.stack.setConfig("battlescope:version", { value: "v3.0.1" });
    const before = await tagsOf(e2e.organization);
    const mark = accessLogMark();
    const failure = await failureOf(e2e.stack.up());
    expect(failure).toContain(
      "vulnerability scan refused the release: 2 findings at or above high (battlescope:failOn) in 2 images",
    );
    expect(tagWrites(accessLogSince(mark, e2e.organization))).toEqual([]);
    expect(await tagsOf(e2e.organization)).toEqual(before);
  });

  it("a database without the advisory lets it through; scan of the published release with the advisory's database finds it and fails", async () => {
    await e2e.stack.setConfig("battlescope:vulnerabilityDb", { value: cleanDb });
    await e2e.stack.up();
    const scan = (...more: string[]) =>
      cli("scan", "frontend", "v3.0.1", ...publishedHere(), ...more);
    const clean = await scan("--db", cleanDb);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    expect(clean.stdout).toContain("no vulnerabilities found");

    const found = await scan("--db", advisoryDb);
    expect(found.code, found.stdout + found.stderr).toBe(1);
    expect(found.stdout).toMatch(
      /frontend +linux\/amd64 +CVE-2022-30065 +high +busybox +1\.35\.0 +1\.36\.0 +blocking/,
    );
    expect(found.stdout).toMatch(
      /frontend +linux\/arm64 +CVE-2022-30065 +high +busybox +1\.35\.0 +1\.36\.0 +blocking/,
    );
    expect(found.stderr).toBe(
      "battlescope-images: 2 finding(s) at or above high not covered by an unexpired exception\n",
    );

    const json = await scan("--db", advisoryDb, "--json");
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { findings: { id: string; status: string }[] };
    expect(report.findings.map((finding) => [finding.id, finding.status])).toEqual([
      ["CVE-2022-30065", "blocking"],
      ["CVE-2022-30065", "blocking"],
    ]);
  });

  it("scan --stack re-scans every release the stack's outputs name, with its config", async () => {
    const saved = {
      PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL,
      PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE,
    };
    process.env.PULUMI_BACKEND_URL = `file://${e2e.backendDir}`;
    process.env.PULUMI_CONFIG_PASSPHRASE = "e2e-passphrase";
    try {
      const stackScan = (...more: string[]) =>
        cli("scan", "--stack", "e2e", "--project-dir", e2e.workDir, ...more);
      const found = await stackScan("--db", advisoryDb, "--json");
      expect(found.code, found.stderr).toBe(1);
      const report = JSON.parse(found.stdout) as {
        findings: { service: string; platform: string; id: string; status: string }[];
      };
      expect(
        report.findings.map(
          (finding) => `${finding.service} ${finding.platform} ${finding.status}`,
        ),
      ).toEqual(
        SERVICE_NAMES.flatMap((service) => [
          `${service} linux/amd64 blocking`,
          `${service} linux/arm64 blocking`,
        ]),
      );
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});
