/** One environment variable a service reads, as its Docker Hub README documents it. */
export interface EnvVar {
  readonly name: string;
  readonly description: string;
  /** The value used when unset, or "required" when the service cannot start without it. */
  readonly default: string | "required";
}

export interface ServiceImage {
  /** Image and repository name, kebab-case: `<registry>/<org>/<name>`. */
  readonly name: string;
  /** Human name used in descriptions: "BattleScope V3 - <displayName> - ...". */
  readonly displayName: string;
  /** One line, the end of the Docker Hub short description (docs/reference.md#the-images). */
  readonly description: string;
  /** The longer overview for the Docker Hub README. */
  readonly overview: string;
  /** Container port; absent for images that serve nothing (migrator, init). */
  readonly port?: number;
  /** HTTP path answering readiness and liveness probes. */
  readonly healthPath?: string;
  readonly env: readonly EnvVar[];
  /** Build context, relative to the stack's source root. */
  readonly buildContext: string;
  /** The seven services run as Deployments; db-migrator and init are built and pushed only. */
  readonly deploy: boolean;
}

const KAFKA: EnvVar = {
  name: "KAFKA_BROKERS",
  description: "Kafka connection string",
  default: "localhost:9092",
};
const DATABASE: EnvVar = {
  name: "DATABASE_URL",
  description: "PostgreSQL connection string",
  default: "required",
};
const LOG_LEVEL: EnvVar = {
  name: "LOG_LEVEL",
  description: "Log verbosity: debug, info, warn or error",
  default: "info",
};

function portVar(port: number): EnvVar {
  return { name: "PORT", description: "Service port", default: String(port) };
}

function service(
  image: Omit<ServiceImage, "buildContext" | "deploy" | "healthPath" | "env"> & {
    port: number;
    env: readonly EnvVar[];
  },
): ServiceImage {
  return {
    ...image,
    healthPath: "/health",
    env: [portVar(image.port), ...image.env, LOG_LEVEL],
    buildContext: image.name,
    deploy: true,
  };
}

/** The nine BattleScope V3 images (docs/reference.md#the-images), in release order. */
export const SERVICES: readonly ServiceImage[] = [
  service({
    name: "ingestion-service",
    displayName: "Ingestion Service",
    description: "Raw killmail acquisition",
    overview:
      "Acquires raw killmails from upstream feeds, de-duplicates them and publishes them to Kafka for enrichment.",
    port: 3001,
    env: [
      KAFKA,
      DATABASE,
      {
        name: "REDISQ_URL",
        description: "Killmail feed endpoint",
        default: "https://zkillredisq.stream/listen.php",
      },
    ],
  }),
  service({
    name: "enrichment-service",
    displayName: "Enrichment Service",
    description: "Killmail augmentation",
    overview:
      "Augments raw killmails with character, corporation, ship and system data and republishes them.",
    port: 3002,
    env: [
      KAFKA,
      DATABASE,
      {
        name: "ESI_BASE_URL",
        description: "EVE Swagger Interface base URL",
        default: "https://esi.evetech.net",
      },
    ],
  }),
  service({
    name: "battle-service",
    displayName: "Battle Service",
    description: "Battle clustering",
    overview:
      "Clusters enriched killmails into battles by time, place and participants and stores the results.",
    port: 3003,
    env: [KAFKA, DATABASE],
  }),
  service({
    name: "search-service",
    displayName: "Search Service",
    description: "Full-text search",
    overview: "Indexes battles and killmails and serves full-text search over them.",
    port: 3004,
    env: [
      KAFKA,
      { name: "TYPESENSE_URL", description: "Search engine URL", default: "required" },
      { name: "TYPESENSE_API_KEY", description: "Search engine API key", default: "required" },
    ],
  }),
  service({
    name: "notification-service",
    displayName: "Notification Service",
    description: "Real-time notifications",
    overview:
      "Pushes real-time battle and killmail notifications to subscribed clients over WebSockets.",
    port: 3005,
    env: [
      KAFKA,
      {
        name: "REDIS_URL",
        description: "Redis connection string",
        default: "redis://localhost:6379",
      },
    ],
  }),
  service({
    name: "frontend-bff",
    displayName: "Frontend BFF",
    description: "Backend-for-Frontend",
    overview:
      "Aggregates the backend services into the API the web UI consumes, with sessions and caching.",
    port: 3006,
    env: [
      DATABASE,
      {
        name: "SESSION_SECRET",
        description: "Secret that signs session cookies",
        default: "required",
      },
      {
        name: "SEARCH_SERVICE_URL",
        description: "Search service base URL",
        default: "http://search-service:3004",
      },
    ],
  }),
  service({
    name: "frontend",
    displayName: "Frontend",
    description: "Web UI",
    overview: "The BattleScope web UI: battle reports, live killmail feed and search.",
    port: 8080,
    env: [
      {
        name: "BFF_URL",
        description: "Frontend BFF base URL",
        default: "http://frontend-bff:3006",
      },
    ],
  }),
  {
    name: "db-migrator",
    displayName: "Database Migrator",
    description: "Database migrations",
    overview:
      "Applies the BattleScope PostgreSQL schema migrations, run as a job before each release.",
    env: [DATABASE, LOG_LEVEL],
    buildContext: "db-migrator",
    deploy: false,
  },
  {
    name: "init",
    displayName: "Init Container",
    description: "Initialization tasks",
    overview:
      "Runs initialization tasks (waiting for dependencies, seeding configuration) before services start.",
    env: [LOG_LEVEL],
    buildContext: "init",
    deploy: false,
  },
];

export const SERVICE_NAMES: readonly string[] = SERVICES.map((image) => image.name);

export function findService(name: string): ServiceImage | undefined {
  return SERVICES.find((image) => image.name === name);
}

/** The most services a benchmark stack may release (`benchServiceCount`). */
export const MAX_BENCH_SERVICES = 99;

/**
 * The catalog grown to `total` images for the benchmarks' scaling series (stack config
 * `benchServiceCount`, never set on a real stack): the catalog's entries, then synthetic copies
 * of them in catalog order, copy k of `<name>` named `<name>-s<k>` (k from 2) with its build
 * context `<buildContext>-s<k>`. The bench prepares those contexts (bench/scaling.ts).
 */
export function withSyntheticCopies(
  catalog: readonly ServiceImage[],
  total: number,
): readonly ServiceImage[] {
  if (!Number.isInteger(total) || total < catalog.length || total > MAX_BENCH_SERVICES) {
    throw new RangeError(
      `synthetic catalog: ${total} services is not a whole number from ${catalog.length} to ${MAX_BENCH_SERVICES}`,
    );
  }
  const copies: ServiceImage[] = [];
  for (let i = catalog.length; i < total; i++) {
    const base = catalog[i % catalog.length] as ServiceImage;
    const copy = Math.floor(i / catalog.length) + 1;
    copies.push({
      ...base,
      name: `${base.name}-s${copy}`,
      displayName: `${base.displayName} S${copy}`,
      buildContext: `${base.buildContext}-s${copy}`,
    });
  }
  return [...catalog, ...copies];
}
