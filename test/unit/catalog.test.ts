import { describe, expect, it } from "vitest";
import { loadStackConfig, releasedServices } from "../../lib/config";
import { SERVICE_NAMES, SERVICES, withSyntheticCopies } from "../../services/catalog";

describe("withSyntheticCopies", () => {
  it.each([
    { total: 9, added: [] },
    {
      total: 11,
      added: [
        ["ingestion-service-s2", "ingestion-service-s2", "Ingestion Service S2"],
        ["enrichment-service-s2", "enrichment-service-s2", "Enrichment Service S2"],
      ],
    },
    {
      total: 19,
      added: [
        ...SERVICES.map((s) => [`${s.name}-s2`, `${s.buildContext}-s2`, `${s.displayName} S2`]),
        ["ingestion-service-s3", "ingestion-service-s3", "Ingestion Service S3"],
      ],
    },
  ])("$total services: the catalog, then copies in catalog order", ({ total, added }) => {
    const grown = withSyntheticCopies(SERVICES, total);
    expect(grown).toHaveLength(total);
    expect(grown.slice(0, SERVICES.length)).toEqual(SERVICES);
    expect(
      grown.slice(SERVICES.length).map((s) => [s.name, s.buildContext, s.displayName]),
    ).toEqual(added);
  });

  it("copies keep everything but the names", () => {
    const grown = withSyntheticCopies(SERVICES, 36);
    expect(new Set(grown.map((s) => s.name)).size).toBe(36);
    expect(grown.filter((s) => s.deploy)).toHaveLength(28);
    const copy = grown.find((s) => s.name === "db-migrator-s4");
    const { name, displayName, buildContext, ...rest } = SERVICES.find(
      (s) => s.name === "db-migrator",
    ) as (typeof SERVICES)[number];
    expect(copy).toEqual({
      ...rest,
      name: "db-migrator-s4",
      displayName: "Database Migrator S4",
      buildContext: "db-migrator-s4",
    });
    expect([name, displayName, buildContext]).toEqual([
      "db-migrator",
      "Database Migrator",
      "db-migrator",
    ]);
  });

  it.each([8, 9.5, 100, Number.NaN])("refuses %s services", (total) => {
    expect(() => withSyntheticCopies(SERVICES, total)).toThrow(RangeError);
  });
});

describe("releasedServices", () => {
  const base = { version: "v3.0.0", sourceRoot: "src" };
  const load = (values: Record<string, string>) =>
    loadStackConfig(
      (key) => values[key],
      Object.keys(values).map((key) => `battlescope:${key}`),
    );

  it("is the catalog itself on a stack without benchServiceCount", () => {
    expect(releasedServices(load(base))).toBe(SERVICES);
    expect(SERVICE_NAMES).toHaveLength(9);
  });

  it.each([9, 18, 36])("releases %s services on a bench stack", (count) => {
    const config = load({ ...base, benchServiceCount: String(count) });
    expect(config.benchServiceCount).toBe(count);
    expect(releasedServices(config)).toHaveLength(count);
  });
});
