/**
 * How long the retention planner takes for 1,000, 10,000 and 100,000 tags (goal: 100,000 in
 * under a second). Run: `npm run bench:retention`.
 *
 * The tags look like a busy repository: stable releases over 5 majors with their arch twins,
 * dev builds and prereleases of every age, floating tags, `latest`, cache tags; listed in a
 * shuffled order, as a registry would not sort them by semver.
 */
import { performance } from "node:perf_hooks";
import { planRetention, type TagRecord } from "../lib/retention";

const NOW = Date.parse("2026-05-10T00:00:00Z");
const DAY = 24 * 60 * 60 * 1000;

/** A deterministic pseudo-random generator (mulberry32), so every run plans the same tags. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function syntheticTags(count: number, seed = 1): TagRecord[] {
  const next = random(seed);
  const tags: TagRecord[] = [
    { name: "latest" },
    { name: "latest-amd64" },
    { name: "latest-arm64" },
    { name: "buildcache-amd64" },
    { name: "buildcache-arm64" },
  ];
  const seen = new Set(tags.map((tag) => tag.name));
  const add = (name: string, lastUpdated: string) => {
    for (const tag of [name, `${name}-amd64`, `${name}-arm64`]) {
      if (tags.length >= count || seen.has(tag)) continue;
      seen.add(tag);
      tags.push({
        name: tag,
        lastUpdated,
        digest: `sha256:${tags.length.toString(16).padStart(64, "0")}`,
      });
    }
  };
  for (let i = 0; tags.length < count; i++) {
    const major = Math.floor(next() * 5);
    const minor = Math.floor(next() * 60);
    const patch = Math.floor(next() * 400);
    const when = new Date(NOW - Math.floor(next() * 400) * DAY).toISOString();
    const kind = next();
    if (kind < 0.6) add(`v${major}.${minor}.${patch}`, when);
    else if (kind < 0.9)
      add(
        `v${major}.${minor}.${patch}-dev-${(i * 2654435761).toString(16).slice(-7).padStart(7, "0")}`,
        when,
      );
    else if (kind < 0.98) add(`v${major}.${minor}.${patch}-rc.${Math.floor(next() * 9)}`, when);
    else add(next() < 0.5 ? `v${major}` : `v${major}.${minor}`, when);
  }
  return tags.slice(0, count);
}

function main(): void {
  // One warm-up so the figures measure the planner, not the JIT's first pass.
  planRetention({ tags: syntheticTags(10_000, 7), now: NOW });
  for (const count of [1_000, 10_000, 100_000]) {
    const tags = syntheticTags(count);
    const runs: number[] = [];
    let plan = planRetention({ tags, now: NOW });
    for (let run = 0; run < 5; run++) {
      const start = performance.now();
      plan = planRetention({ tags, now: NOW });
      runs.push(performance.now() - start);
    }
    runs.sort((a, b) => a - b);
    const median = runs[Math.floor(runs.length / 2)] ?? 0;
    const worst = runs.at(-1) ?? 0;
    process.stdout.write(
      `${count.toLocaleString("en-US").padStart(7)} tags: plan ${median.toFixed(1)} ms (median of 5, slowest ${worst.toFixed(1)} ms); keep ${plan.keep.length}, delete ${plan.delete.length}\n`,
    );
  }
}

if (require.main === module) main();
