import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  linearity,
  parseScenario,
  points,
  prepareScalingSources,
  scenarioName,
} from "../../bench/scaling";
import { checkDockerfile } from "../../lib/dockerfileRules";
import { SERVICES } from "../../services/catalog";
import { makeTempDir } from "../support/tempDirs";

const FIXTURES = path.join(__dirname, "../../fixtures/battlescope");

describe("prepareScalingSources", () => {
  it("copies every fixture context under its copy's name, each its own image", () => {
    const dir = makeTempDir("scaling-test");
    const services = prepareScalingSources(FIXTURES, dir, 18);
    expect(services).toHaveLength(18);
    expect(fs.existsSync(path.join(dir, "CHANGELOG.md"))).toBe(true);
    for (const [i, service] of services.entries()) {
      const base = SERVICES[i % SERVICES.length]?.buildContext as string;
      const dockerfile = path.join(dir, service.buildContext, "Dockerfile");
      const text = fs.readFileSync(dockerfile, "utf8");
      // The image rules pass on the copies as on the originals.
      expect(checkDockerfile(dockerfile, text)).toEqual([]);
      expect(text).toMatch(new RegExp(`SERVICE_NAME=${service.name}\\s`));
      if (i < SERVICES.length) continue;
      const scripts = fs.readdirSync(path.join(dir, base)).filter((f) => f.endsWith(".sh"));
      expect(scripts.length).toBeGreaterThan(0);
      for (const script of scripts) {
        const copy = fs.readFileSync(path.join(dir, service.buildContext, script), "utf8");
        expect(copy).not.toBe(fs.readFileSync(path.join(dir, base, script), "utf8"));
        expect(copy).toContain(`# synthetic copy ${service.name} of `);
      }
    }
  });
});

describe("scaling figures", () => {
  const sample = (scenario: string, wallS: number, requests: number) => ({
    scenario,
    wallMs: wallS * 1000,
    totalRequests: requests,
  });

  it.each([
    ["stack", "cold", 9],
    ["baseline", "no-op", 36],
    ["stack[nockpt]", "cold", 18],
  ] as const)("names and reads back %s %s N=%s", (side, phase, n) => {
    expect(parseScenario(scenarioName(side, phase, n))).toEqual({ side, phase, n });
  });

  it("ignores the other scenarios", () => {
    expect(
      points([sample("stack cold", 10, 100), sample("scaling stack cold N=9", 9, 90)]),
    ).toEqual([{ side: "stack", phase: "cold", n: 9, wall_s: 9, requests: 90 }]);
  });

  it.each([
    { name: "linear", walls: [9, 18, 36], ratio: 1, marginal: 1 },
    { name: "fixed cost amortised", walls: [18, 27, 45], ratio: 0.625, marginal: 1 },
    { name: "quadratic", walls: [9, 36, 144], ratio: 4, marginal: 5 },
  ])("per-service ratio at N=36 over N=9: $name", ({ walls, ratio, marginal }) => {
    const all = points(
      [9, 18, 36].map((n, i) => sample(scenarioName("stack", "cold", n), walls[i] as number, n)),
    );
    const fit = linearity(all, "stack", "cold");
    expect(fit?.perServiceRatio).toBeCloseTo(ratio);
    expect(fit?.marginalS).toBeCloseTo(marginal);
    expect(linearity(all, "baseline", "cold")).toBeUndefined();
  });
});
