import { describe, expect, it } from "vitest";
import {
  advertisedPlan,
  checkDescriptionLengths,
  fullDescription,
  shortDescription,
} from "../../lib/readme";
import { FULL_DESCRIPTION_LIMIT, SHORT_DESCRIPTION_LIMIT, utf8Length } from "../../lib/vocabulary";
import { findService, SERVICES, type ServiceImage } from "../../services/catalog";
import { exactly } from "../support/exactly";

const frontend = findService("frontend") as ServiceImage;
const ingestion = findService("ingestion-service") as ServiceImage;
const init = findService("init") as ServiceImage;
const defaults = { registry: "docker.io", organization: "battlescope" };

describe("short description", () => {
  it.each(SERVICES.map((service) => ({ name: service.name, service })))(
    "$name fits Docker Hub's 100 bytes",
    ({ service }) => {
      expect(shortDescription(service)).toMatch(/^BattleScope V3 - .+ - .+$/);
      expect(utf8Length(shortDescription(service))).toBeLessThanOrEqual(SHORT_DESCRIPTION_LIMIT);
    },
  );

  it("follows the pattern of docs/rules.md#docker-hub-descriptions", () => {
    expect(shortDescription(ingestion)).toBe(
      "BattleScope V3 - Ingestion Service - Raw killmail acquisition",
    );
  });
});

describe("full description", () => {
  it("matches the snapshot for a first release", () => {
    expect(
      fullDescription({ ...defaults, service: ingestion, version: "v3.0.0" }),
    ).toMatchSnapshot();
  });

  it("lists the tags the newest release claims, per architecture", () => {
    const text = fullDescription({
      ...defaults,
      service: frontend,
      version: "v3.1.0",
      existingTags: ["v3.0.0"],
    });
    expect(text).toContain("- `v3.1.0`, `v3.1`, `v3`, `latest` - Multi-arch manifest\n");
    expect(text).toContain(
      "- `v3.1.0-amd64`, `v3.1-amd64`, `v3-amd64`, `latest-amd64` - AMD64/x86_64\n",
    );
    expect(text).toContain("- `v3.1.0-arm64`, `v3.1-arm64`, `v3-arm64`, `latest-arm64` - ARM64\n");
    expect(text).toContain(
      "docker pull battlescope/frontend:v3\ndocker run -p 8080:8080 battlescope/frontend:v3\n",
    );
    expect(text).toContain("**Version**: v3.1.0\n");
  });

  it("keeps advertising the newest release when a hotfix lands on an older line", () => {
    const plan = advertisedPlan({
      ...defaults,
      service: frontend,
      version: "v3.0.1",
      existingTags: ["v3.0.0", "v3.1.0"],
    });
    expect(plan.version).toBe("v3.1.0");
    expect(plan.manifestTags).toEqual(["v3.1.0", "v3.1", "v3", "latest"]);
  });

  it("advertises a dev build's own tag while no stable release exists", () => {
    const text = fullDescription({ ...defaults, service: frontend, version: "v3.0.1-dev-abcdef1" });
    expect(text).toContain("- `v3.0.1-dev-abcdef1` - Multi-arch manifest\n");
    expect(text).toContain("docker pull battlescope/frontend:v3.0.1-dev-abcdef1\n");
  });

  it("names the registry when it is not Docker Hub and lists only the built architectures", () => {
    const text = fullDescription({
      registry: "127.0.0.1:5000",
      organization: "battlescope",
      service: frontend,
      version: "v3.0.0",
      architectures: ["arm64"],
    });
    expect(text).toContain("docker pull 127.0.0.1:5000/battlescope/frontend:v3\n");
    expect(text).not.toContain("AMD64");
  });

  it("leaves out ports and health checks for images that serve nothing", () => {
    const text = fullDescription({ ...defaults, service: init, version: "v3.0.0" });
    expect(text).toContain("docker run battlescope/init:v3\n");
    expect(text).not.toContain("## Health Check");
  });

  it("marks required variables and quotes defaults", () => {
    const text = fullDescription({ ...defaults, service: ingestion, version: "v3.0.0" });
    expect(text).toContain("| `DATABASE_URL` | PostgreSQL connection string | Required |\n");
    expect(text).toContain("| `KAFKA_BROKERS` | Kafka connection string | `localhost:9092` |\n");
    expect(text).toContain("| `PORT` | Service port | `3001` |\n");
  });
});

describe("checkDescriptionLengths", () => {
  it.each([
    {
      name: "short description over 100",
      texts: { description: "x".repeat(101), fullDescription: "ok" },
      message:
        "Docker Hub repository battlescope/frontend: short description is 101 bytes, Docker Hub allows 100 (UTF-8 bytes, not characters)",
    },
    {
      name: "full description over 25,000",
      texts: { description: "ok", fullDescription: "x".repeat(FULL_DESCRIPTION_LIMIT + 1) },
      message:
        "Docker Hub repository battlescope/frontend: full description is 25,001 bytes, Docker Hub allows 25,000 (UTF-8 bytes, not characters)",
    },
  ])("refuses a $name, never cuts it", ({ texts, message }) => {
    expect(() => checkDescriptionLengths("battlescope/frontend", texts)).toThrow(exactly(message));
  });

  it("accepts texts at the limits", () => {
    expect(() =>
      checkDescriptionLengths("battlescope/frontend", {
        description: "x".repeat(SHORT_DESCRIPTION_LIMIT),
        fullDescription: "x".repeat(FULL_DESCRIPTION_LIMIT),
      }),
    ).not.toThrow();
  });
});
