/**
 * The stub Pulumi stores as a dynamic resource's `__provider`, run the way the dynamic provider
 * host runs it: plain Node, require-from-string, then `handler()`.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { type DynamicProviderModule, providerStub } from "../../../components/dynamicProvider";
import { REPO_ROOT } from "../../../scripts/stack";
import { makeTempDir } from "../../support/tempDirs";

const REQUIRE_FROM_STRING = require.resolve("require-from-string", {
  paths: [path.dirname(require.resolve("@pulumi/pulumi"))],
});

/** Loads the stub in a fresh Node process from `cwd`; prints the provider's methods, or the error. */
async function loadStub(stub: string, cwd: string): Promise<string> {
  const script = `
    const load = require(${JSON.stringify(REQUIRE_FROM_STRING)});
    try {
      const first = load(process.argv[1]).handler();
      const second = load(process.argv[1]).handler();
      const methods = Object.keys(first).filter((key) => typeof first[key] === "function").sort();
      process.stdout.write("LOADED " + methods.join(",") + (first === second ? " once" : " twice"));
    } catch (error) {
      process.stdout.write("ERROR " + error.message);
    }
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ["-e", script, stub], {
    cwd,
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  return stdout;
}

const TAG_SET: DynamicProviderModule = {
  modulePath: path.join(REPO_ROOT, "components/registryTagSet.ts"),
  factoryExport: "createRegistryTagSetProvider",
};

describe("providerStub", () => {
  let elsewhere: string;

  beforeAll(() => {
    elsewhere = makeTempDir("provider-stub");
  });

  it("is small, names only the module and the factory, and holds no secret", () => {
    const stub = providerStub(TAG_SET);
    expect(stub.length).toBeLessThan(1000);
    expect(stub).toContain(JSON.stringify(TAG_SET.modulePath));
    expect(stub).toContain('"createRegistryTagSetProvider"');
  });

  it("loads the TypeScript module in plain Node from any folder, once per process", async () => {
    expect(await loadStub(providerStub(TAG_SET), elsewhere)).toBe(
      "LOADED check,create,delete,diff,update once",
    );
  });

  it("finds the module next to the program when the checkout that wrote the state is gone", async () => {
    const moved = { ...TAG_SET, modulePath: "/gone/checkout/components/registryTagSet.ts" };
    expect(await loadStub(providerStub(moved), REPO_ROOT)).toBe(
      "LOADED check,create,delete,diff,update once",
    );
  });

  it("says where it looked when the module is in neither place", async () => {
    const moved = { ...TAG_SET, modulePath: "/gone/checkout/components/registryTagSet.ts" };
    expect(await loadStub(providerStub(moved), elsewhere)).toBe(
      `ERROR the dynamic provider createRegistryTagSetProvider cannot find its implementation at /gone/checkout/components/registryTagSet.ts nor at ${path.join(fs.realpathSync(elsewhere), "components/registryTagSet.ts")}; run Pulumi from the project directory`,
    );
  });

  it("says when the module does not export the factory", async () => {
    const wrong = { ...TAG_SET, factoryExport: "createNothing" };
    expect(await loadStub(providerStub(wrong), elsewhere)).toBe(
      `ERROR ${TAG_SET.modulePath} does not export createNothing`,
    );
  });
});
