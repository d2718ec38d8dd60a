import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fullDescription, shortDescription } from "../../lib/readme";
import { SERVICES } from "../../services/catalog";
import {
  accessLogMark,
  accessLogSince,
  backendText,
  createE2eStack,
  type E2eStack,
  ELF_MACHINES,
  elfMachine,
  HUB_TOKEN,
  imageContents,
  indexPlatforms,
  pushes,
  REGISTRY,
  REGISTRY_PASSWORD,
  REGISTRY_USERNAME,
  renderedObjects,
  setVersion,
  tagDigests,
} from "./harness";

const FLOATING = ["v3.0", "v3", "latest"];
const ARCHES = ["amd64", "arm64"] as const;
/**
 * The fixtures written as real services are (the spec's section 8): their final stage, on the
 * seeded debian:12.15-slim, runs steps of its own; the others are cross-compiled on the build
 * platform onto busybox.
 */
const BUILT_IN_THE_IMAGE = ["battle-service", "notification-service"];
/** What `uname -m` prints on each platform: the kernel (or QEMU) the RUN step ran on. */
const UNAME_MACHINE = { amd64: "x86_64", arm64: "aarch64" };

describe.sequential("releasing all nine images on the real engine, BuildKit and registry", () => {
  let e2e: E2eStack;
  let firstRelease: Record<string, string>;

  beforeAll(async () => {
    e2e = await createE2eStack("e2erel");
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it("up at v3.0.0 publishes the version, minor, major and latest manifest lists with both platforms", async () => {
    const result = await e2e.stack.up({ color: "never" });
    expect(result.summary.result).toBe("succeeded");

    for (const service of SERVICES) {
      const repository = `${e2e.organization}/${service.name}`;
      const version = await e2e.registry.getManifest(repository, "v3.0.0");
      expect(version, `${repository}:v3.0.0`).toBeDefined();
      if (version === undefined) continue;
      expect(indexPlatforms(version)).toEqual(["linux/amd64", "linux/arm64"]);
      expect(version.manifests).toHaveLength(2);
      // The version lives in the list's annotations, not in the images.
      const annotations = (JSON.parse(version.raw) as { annotations?: Record<string, string> })
        .annotations;
      expect(annotations?.["org.opencontainers.image.version"]).toBe("v3.0.0");

      for (const tag of FLOATING) {
        const floating = await e2e.registry.headManifest(repository, tag);
        expect(floating?.digest, `${repository}:${tag}`).toBe(version.digest);
      }
      for (const arch of ARCHES) {
        const child = version.manifests.find((entry) => entry.platform?.architecture === arch);
        for (const tag of ["v3.0.0", ...FLOATING]) {
          const archTag = await e2e.registry.headManifest(repository, `${tag}-${arch}`);
          expect(archTag?.digest, `${repository}:${tag}-${arch}`).toBe(child?.digest);
        }
        // Each child really is its architecture's image: a mixed-up list would show here.
        const image = await e2e.registry.getManifest(repository, child?.digest ?? "");
        const config = JSON.parse(
          (await e2e.registry.getBlob(repository, image?.blobs[0]?.digest ?? "")).toString("utf8"),
        ) as { architecture: string; config: { Labels: Record<string, string> } };
        expect(config.architecture).toBe(arch);
        // The image does not carry the release version (the base image's own labels aside):
        // one image can serve several versions.
        expect(JSON.stringify(config)).not.toContain("v3.0.0");
      }
    }
    firstRelease = await tagDigests(e2e);
  });

  it("each platform image of a service built in the image carries what its RUN steps made on that platform", async () => {
    for (const service of BUILT_IN_THE_IMAGE) {
      const repository = `${e2e.organization}/${service}`;
      for (const arch of ARCHES) {
        const what = `${service} linux/${arch}`;
        const image = await imageContents(e2e.registry, repository, `v3.0.0-${arch}`);
        const text = (file: string) => image.readFile(file)?.toString("utf8");
        expect(image.config.architecture, what).toBe(arch);
        // The user made by groupadd/useradd, which the image runs as.
        expect(text("etc/group"), what).toMatch(/^app:x:10001:$/m);
        expect(text("etc/passwd"), what).toMatch(
          /^app:x:10001:10001::\/app:\/usr\/sbin\/nologin$/m,
        );
        expect(image.config.config.User, what).toBe("10001:10001");
        // The package apt installed, for this architecture, and the image's entrypoint.
        const installed = (text("var/lib/dpkg/status") ?? "")
          .split("\n\n")
          .find((stanza) => stanza.startsWith("Package: tini\n"));
        expect(installed, what).toContain("Status: install ok installed");
        expect(installed, what).toContain(`Architecture: ${arch}`);
        expect(image.config.config.Entrypoint, what).toEqual(["/usr/bin/tini", "--"]);
        const tini = image.readFile("usr/bin/tini");
        expect(tini && elfMachine(tini), `${what} usr/bin/tini`).toBe(ELF_MACHINES[arch]);
        // Written by a command run in the final stage, and by one in the build stage on the
        // target platform: each ran on (or emulated) the image's own architecture.
        expect(text("app/RUNTIME_ARCH"), what).toBe(`${UNAME_MACHINE[arch]}\n`);
        expect(text("app/ARCH"), what).toBe(`${arch}\n`);
        const busybox = image.readFile("usr/local/bin/busybox");
        expect(busybox && elfMachine(busybox), `${what} busybox`).toBe(ELF_MACHINES[arch]);
      }
    }
    // A service cross-compiled on the build platform: its arm64 image still runs arm64 programs.
    for (const arch of ARCHES) {
      const image = await imageContents(
        e2e.registry,
        `${e2e.organization}/frontend`,
        `v3.0.0-${arch}`,
      );
      const busybox = image.readFile("bin/busybox");
      expect(busybox && elfMachine(busybox), `frontend linux/${arch} busybox`).toBe(
        ELF_MACHINES[arch],
      );
      expect(image.readFile("app/ARCH")?.toString("utf8")).toBe(`${arch}\n`);
    }
  });

  it("the Hub emulator holds each repository's descriptions", () => {
    for (const service of SERVICES) {
      const repository = e2e.hub.state.repositories[`${e2e.organization}/${service.name}`];
      expect(repository, service.name).toBeDefined();
      expect(repository?.description).toBe(shortDescription(service));
      expect(repository?.full_description).toBe(
        fullDescription({
          service,
          registry: REGISTRY,
          organization: e2e.organization,
          version: "v3.0.0",
        }),
      );
    }
  });

  it("the seven rendered Deployments pin the version and the digest the registry serves", async () => {
    const objects = renderedObjects(e2e.manifestsDir);
    const deployments = objects.filter((object) => object.kind === "Deployment");
    expect(deployments.map((d) => (d.metadata as { name: string }).name).sort()).toEqual(
      SERVICES.filter((s) => s.deploy)
        .map((s) => s.name)
        .sort(),
    );
    for (const deployment of deployments) {
      const name = (deployment.metadata as { name: string }).name;
      const served = await e2e.registry.headManifest(`${e2e.organization}/${name}`, "v3.0.0");
      const pod = (deployment.spec as { template: { spec: Record<string, unknown> } }).template
        .spec;
      const container = (pod.containers as Array<Record<string, unknown>>)[0];
      expect(container?.image).toBe(
        `${REGISTRY}/${e2e.organization}/${name}:v3.0.0@${served?.digest}`,
      );
      expect(container?.imagePullPolicy).toBe("IfNotPresent");
      expect(pod.imagePullSecrets).toEqual([{ name: "docker-hub-creds" }]);
    }
    const secret = objects.find((object) => object.kind === "Secret");
    expect(secret?.type).toBe("kubernetes.io/dockerconfigjson");
  });

  it("a second up with nothing changed reports no changes and pushes nothing", async () => {
    const mark = accessLogMark();
    const result = await e2e.stack.up({ color: "never" });
    expect(Object.keys(result.summary.resourceChanges ?? {})).toEqual(["same"]);
    expect(pushes(accessLogSince(mark, e2e.organization))).toEqual([]);
    expect(await tagDigests(e2e)).toEqual(firstRelease);
  });

  it("a preview after that reports no changes", async () => {
    const mark = accessLogMark();
    const result = await e2e.stack.preview({ color: "never" });
    expect(Object.keys(result.changeSummary)).toEqual(["same"]);
    expect(pushes(accessLogSince(mark, e2e.organization))).toEqual([]);
  });

  it("a patch bump publishes v3.0.1, moves v3.0, v3 and latest to it and leaves v3.0.0 untouched", async () => {
    await setVersion(e2e, "v3.0.1");
    const result = await e2e.stack.up({ color: "never" });
    expect(result.summary.result).toBe("succeeded");
    const after = await tagDigests(e2e);

    for (const service of SERVICES) {
      const name = service.name;
      const bumped = after[`${name}:v3.0.1`];
      expect(bumped, `${name}:v3.0.1`).toMatch(/^sha256:/);
      expect(bumped).not.toBe(firstRelease[`${name}:v3.0.0`]);
      for (const tag of FLOATING) expect(after[`${name}:${tag}`], `${name}:${tag}`).toBe(bumped);
      for (const arch of ARCHES) {
        expect(after[`${name}:v3.0.1-${arch}`]).toBeDefined();
        for (const tag of FLOATING)
          expect(after[`${name}:${tag}-${arch}`]).toBe(after[`${name}:v3.0.1-${arch}`]);
      }
      for (const tag of ["v3.0.0", "v3.0.0-amd64", "v3.0.0-arm64"]) {
        expect(after[`${name}:${tag}`], `${name}:${tag}`).toBe(firstRelease[`${name}:${tag}`]);
      }
    }
  });

  it("pulumi destroy leaves every published tag in the registry", async () => {
    const before = await tagDigests(e2e);
    const result = await e2e.stack.destroy({ color: "never" });
    expect(result.summary.result).toBe("succeeded");
    expect(await tagDigests(e2e)).toEqual(before);
    expect(Object.keys(before).length).toBeGreaterThanOrEqual(SERVICES.length * 14);
  });

  it("the stack's state holds neither the Docker Hub token nor the registry password in plain text", async () => {
    const text = backendText(e2e.backendDir);
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain(HUB_TOKEN);
    expect(text).not.toContain(REGISTRY_PASSWORD);
    expect(text).not.toContain(
      Buffer.from(`${REGISTRY_USERNAME}:${REGISTRY_PASSWORD}`).toString("base64"),
    );
  });
});
