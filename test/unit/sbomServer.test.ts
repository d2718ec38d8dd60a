import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { sbomServerAvailable, sbomServerBinary } from "../../clients/sbomServer";
import { makeTempDir } from "../support/tempDirs";

const saved = { binary: process.env.BATTLESCOPE_SBOM_BINARY, path: process.env.PATH };

afterEach(() => {
  if (saved.binary === undefined) delete process.env.BATTLESCOPE_SBOM_BINARY;
  else process.env.BATTLESCOPE_SBOM_BINARY = saved.binary;
  process.env.PATH = saved.path;
});

describe("whether the SBOM server is used", () => {
  it("is the binary BATTLESCOPE_SBOM_BINARY names, when it is there", () => {
    const dir = makeTempDir("sbom-binary");
    const binary = path.join(dir, "battlescope-sbom");
    process.env.BATTLESCOPE_SBOM_BINARY = binary;
    expect(sbomServerBinary()).toBe(binary);
    expect(sbomServerAvailable()).toBe(false);
    fs.writeFileSync(binary, "#!/bin/sh\n", { mode: 0o755 });
    expect(sbomServerAvailable()).toBe(true);
  });

  it("is battlescope-sbom on PATH otherwise, and syft scan per image without it", () => {
    delete process.env.BATTLESCOPE_SBOM_BINARY;
    const empty = makeTempDir("sbom-path-empty");
    const holder = makeTempDir("sbom-path");
    fs.writeFileSync(path.join(holder, "battlescope-sbom"), "#!/bin/sh\n", { mode: 0o755 });
    process.env.PATH = empty;
    expect(sbomServerAvailable()).toBe(false);
    process.env.PATH = [empty, holder].join(path.delimiter);
    expect(sbomServerAvailable()).toBe(true);
  });
});
