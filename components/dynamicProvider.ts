import * as pulumi from "@pulumi/pulumi";

/** A dynamic provider by where it lives: the module and the factory it exports. */
export interface DynamicProviderModule {
  /** Absolute path of the module, as `__filename` gives it. */
  readonly modulePath: string;
  /** Name of the exported function that returns the provider. */
  readonly factoryExport: string;
}

/**
 * The provider's loader, as the dynamic provider host (`pulumi-resource-pulumi-nodejs`, plain Node,
 * no TypeScript) runs it: it loads the module once per process (through tsx when it is
 * TypeScript) and returns the provider its factory makes. A state written in another checkout
 * names a path that may be gone: the module is then looked for next to the program.
 *
 * Written out by hand rather than serialized from a closure: Pulumi stores this text twice per
 * resource (inputs and outputs) and rewrites the whole state after every step, and its closure
 * serializer wraps each method in a function of its own (2.8 KB against 0.7 KB here). Pulumi's
 * serializer also loads a TypeScript parser into the program, which nothing else needs.
 */
const LOADER = `(file, factory) => {
  const key = "battlescope:" + factory + ":" + file;
  if (globalThis[key] === undefined) {
    const fs = require("node:fs");
    const path = require("node:path");
    let found = file;
    if (!fs.existsSync(found)) {
      found = path.join(process.cwd(), "components", path.basename(file));
      if (!fs.existsSync(found)) {
        throw new Error("the dynamic provider " + factory + " cannot find its implementation at " + file + " nor at " + found + "; run Pulumi from the project directory");
      }
    }
    const loaded = /\\.[cm]?ts$/.test(found)
      ? require(require.resolve("tsx/cjs/api", { paths: [path.dirname(found), process.cwd()] })).require(found, found)
      : require(found);
    if (typeof loaded[factory] !== "function") throw new Error(found + " does not export " + factory);
    globalThis[key] = loaded[factory]();
  }
  return globalThis[key];
}`.replace(/\n\s*/g, "");

/** The text Pulumi stores as a dynamic resource's `__provider`: a module whose `handler()` gives the provider. */
export function providerStub({ modulePath, factoryExport }: DynamicProviderModule): string {
  return `exports.handler = () => (${LOADER})(${JSON.stringify(modulePath)}, ${JSON.stringify(factoryExport)});\n`;
}

/**
 * A resource of one of the project's dynamic providers (type
 * `pulumi-nodejs:dynamic/battlescope:<type>`), as `pulumi.dynamic.Resource` declares one but with
 * {@link providerStub} as its provider: the real implementation is never serialized, so it is
 * free to use classes, imports and clients.
 */
export class BattlescopeDynamicResource extends pulumi.CustomResource {
  constructor(
    provider: DynamicProviderModule,
    type: string,
    name: string,
    props: pulumi.Inputs,
    opts?: pulumi.CustomResourceOptions,
  ) {
    if ("__provider" in props) throw new Error("a dynamic resource must not define __provider");
    super(
      `pulumi-nodejs:dynamic/battlescope:${type}`,
      name,
      { ...props, __provider: providerStub(provider) },
      opts,
    );
  }
}
