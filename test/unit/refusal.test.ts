import { describe, expect, it } from "vitest";
import { foldServiceProblems, type ServiceProblem } from "../../lib/refusal";

const missing = (service: string): ServiceProblem => ({
  service,
  text: `invalid config "battlescope:sourceRoot": "src" has no build context for ${service} (looked for /project/src/${service}/Dockerfile)`,
});
const rootUser = (service: string, line = 3): ServiceProblem => ({
  service,
  text: `/project/src/${service}/Dockerfile:${line}: non-root-user: the final stage runs as root (USER root)`,
});

describe("foldServiceProblems: a problem of several services told once, naming them", () => {
  it.each<{ name: string; problems: ServiceProblem[]; folded: string[] }>([
    { name: "no problems", problems: [], folded: [] },
    {
      name: "one service's problem, as it was",
      problems: [missing("init")],
      folded: [
        'invalid config "battlescope:sourceRoot": "src" has no build context for init (looked for /project/src/init/Dockerfile)',
      ],
    },
    {
      name: "two services: the names where the name stood as a word, <service> in the path",
      problems: [missing("frontend"), missing("init")],
      folded: [
        'invalid config "battlescope:sourceRoot": "src" has no build context for frontend and init (looked for /project/src/<service>/Dockerfile)',
      ],
    },
    {
      name: "nine services, in the order they came",
      problems: [
        "ingestion-service",
        "enrichment-service",
        "battle-service",
        "search-service",
        "notification-service",
        "frontend-bff",
        "frontend",
        "db-migrator",
        "init",
      ].map(missing),
      folded: [
        'invalid config "battlescope:sourceRoot": "src" has no build context for ingestion-service, enrichment-service, battle-service, search-service, notification-service, frontend-bff, frontend, db-migrator and init (looked for /project/src/<service>/Dockerfile)',
      ],
    },
    {
      name: "the name only inside a path: the names follow the line",
      problems: [rootUser("frontend"), rootUser("init")],
      folded: [
        "/project/src/<service>/Dockerfile:3: non-root-user: the final stage runs as root (USER root) (<service>: frontend and init)",
      ],
    },
    {
      name: "the same text without the name: told once, for the services",
      problems: [
        { service: "frontend", text: "the registry answered 500" },
        { service: "init", text: "the registry answered 500" },
      ],
      folded: ["the registry answered 500 (for frontend and init)"],
    },
    {
      name: "texts that differ beyond the name stay apart, each group where it first came",
      problems: [
        rootUser("frontend", 3),
        missing("db-migrator"),
        rootUser("init", 7),
        rootUser("frontend-bff", 3),
        missing("battle-service"),
      ],
      folded: [
        "/project/src/<service>/Dockerfile:3: non-root-user: the final stage runs as root (USER root) (<service>: frontend and frontend-bff)",
        'invalid config "battlescope:sourceRoot": "src" has no build context for db-migrator and battle-service (looked for /project/src/<service>/Dockerfile)',
        "/project/src/init/Dockerfile:7: non-root-user: the final stage runs as root (USER root)",
      ],
    },
    {
      name: "a name that is part of another's is not mistaken for it",
      problems: [
        { service: "frontend", text: "frontend reads frontend-bff's port" },
        { service: "frontend-bff", text: "frontend-bff reads frontend-bff's port" },
      ],
      folded: ["frontend reads frontend-bff's port", "frontend-bff reads frontend-bff's port"],
    },
  ])("$name", ({ problems, folded }) => {
    expect(foldServiceProblems(problems)).toEqual(folded);
  });
});
