import type * as pulumi from "@pulumi/pulumi";

/**
 * The serializable face of a dynamic provider.
 *
 * Pulumi stores a dynamic provider as the source text of a closure and runs it in a separate
 * Node process (`pulumi-resource-pulumi-nodejs`) where local TypeScript modules are not loaded.
 * This stub captures nothing but two strings, the absolute path of the module holding the real
 * provider and the name of its factory, and uses only `require`, which closure serialization
 * leaves alone. At call time it loads the module once per provider process (through tsx when it
 * is TypeScript) and delegates to the provider the factory returns, so the real implementation
 * is never serialized and is free to use classes, imports and clients.
 */
export function serializableProvider(
  modulePath: string,
  factoryExport: string,
): pulumi.dynamic.ResourceProvider {
  const load = (): pulumi.dynamic.ResourceProvider => {
    const registry = globalThis as unknown as Record<string, pulumi.dynamic.ResourceProvider>;
    const key = `battlescope:${factoryExport}:${modulePath}`;
    const cached = registry[key];
    if (cached !== undefined) {
      return cached;
    }
    const fs = require("node:fs") as typeof import("node:fs");
    const path = require("node:path") as typeof import("node:path");
    let file = modulePath;
    if (!fs.existsSync(file)) {
      // The project moved since the state was written: look next to the program instead.
      const moved = path.join(process.cwd(), "components", path.basename(modulePath));
      if (!fs.existsSync(moved)) {
        throw new Error(
          `the dynamic provider ${factoryExport} cannot find its implementation at ${modulePath} nor at ${moved}; run Pulumi from the project directory`,
        );
      }
      file = moved;
    }
    let loaded: Record<string, () => pulumi.dynamic.ResourceProvider>;
    if (/\.[cm]?ts$/.test(file)) {
      // Plain Node (the dynamic provider host) cannot load TypeScript: load it through tsx,
      // always, since a `.ts` hook another provider's tsx load left behind is scoped to it.
      const tsxApi = require.resolve("tsx/cjs/api", { paths: [path.dirname(file), process.cwd()] });
      loaded = require(tsxApi).require(file, file);
    } else {
      loaded = require(file);
    }
    const factory = loaded[factoryExport];
    if (factory === undefined) throw new Error(`${file} does not export ${factoryExport}`);
    const provider = factory();
    registry[key] = provider;
    return provider;
  };
  return {
    check: (olds, news) => load().check?.(olds, news) ?? Promise.resolve({ inputs: news }),
    diff: (id, olds, news) => load().diff?.(id, olds, news) ?? Promise.resolve({}),
    create: (inputs) => load().create(inputs),
    update: (id, olds, news) => load().update?.(id, olds, news) ?? Promise.resolve({}),
    delete: (id, props) => load().delete?.(id, props) ?? Promise.resolve(),
  };
}
