import { Command, CommanderError, Option } from "commander";
import { PLATFORMS, type Platform, platformArchitecture } from "../lib/config";
import { checkDescriptionLengths, fullDescription, shortDescription } from "../lib/readme";
import { planTags } from "../lib/tagPlan";
import { findService, SERVICE_NAMES, type ServiceImage } from "../services/catalog";
import { registerCleanup } from "./cleanup";
import { registerVerify } from "./verify";

/** Exit code for bad input: nothing was read, written or deleted. */
export const EXIT_USAGE = 2;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

function list(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** `--platforms`: a comma-separated subset of the two platforms, in their usual order; all when absent. */
export function parsePlatforms(value: string | undefined): Platform[] {
  if (value === undefined) return [...PLATFORMS];
  const requested = list(value);
  const bad = requested.find((platform) => !(PLATFORMS as readonly string[]).includes(platform));
  if (bad !== undefined || requested.length === 0) {
    throw new UsageError(
      `invalid platform ${JSON.stringify(bad ?? value)}: expected a comma-separated list of ${PLATFORMS.join(", ")}`,
    );
  }
  return PLATFORMS.filter((platform) => requested.includes(platform));
}

/** The catalog entry of a service named on the command line; bad input otherwise. */
export function requireService(name: string): ServiceImage {
  const service = findService(name);
  if (service === undefined) {
    throw new UsageError(
      `unknown service ${JSON.stringify(name)}: expected one of ${SERVICE_NAMES.join(", ")}`,
    );
  }
  return service;
}

export function buildProgram(io: CliIo): Command {
  const program = new Command("battlescope-images")
    .description("Tag plans, Docker Hub READMEs and registry checks for the BattleScope images")
    .showHelpAfterError(false)
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();

  program
    .command("tags")
    .description(
      "Print the tags a release claims as one JSON object: the version always, vX.Y, vX and latest only when it is the highest stable release of each",
    )
    .argument("<version>", "release version: vX.Y.Z, vX.Y.Z-<prerelease> or vX.Y.Z-dev-<sha>")
    .option(
      "--existing <tags>",
      "comma-separated tags the repository already holds, as the registry lists them",
    )
    .option("--platforms <platforms>", `comma-separated platforms (${PLATFORMS.join(",")})`)
    .action((version: string, options: { existing?: string; platforms?: string }) => {
      const architectures = parsePlatforms(options.platforms).map(platformArchitecture);
      const plan = planTags({ version, existingTags: list(options.existing ?? ""), architectures });
      io.stdout(
        `${JSON.stringify({
          version: plan.version,
          kind: plan.kind,
          manifestTags: plan.manifestTags,
          platformTags: plan.platformTags,
        })}\n`,
      );
    });

  program
    .command("readme")
    .description(
      "Print a service's Docker Hub full description, or with --short its short description",
    )
    .argument("<service>", `one of ${SERVICE_NAMES.join(", ")}`)
    .option("--version <version>", "the release being published", "v3.0.0")
    .option("--existing <tags>", "comma-separated tags the repository already holds")
    .option("--platforms <platforms>", `comma-separated platforms (${PLATFORMS.join(",")})`)
    .option("--registry <host>", "registry host", "docker.io")
    .option("--organization <org>", "registry organization", "battlescope")
    .addOption(new Option("--short", "print the short description (at most 100 UTF-8 bytes)"))
    .action(
      (
        name: string,
        options: {
          version: string;
          existing?: string;
          platforms?: string;
          registry: string;
          organization: string;
          short?: boolean;
        },
      ) => {
        const service = requireService(name);
        const description = shortDescription(service);
        const full = fullDescription({
          service,
          registry: options.registry,
          organization: options.organization,
          version: options.version,
          existingTags: list(options.existing ?? ""),
          architectures: parsePlatforms(options.platforms).map(platformArchitecture),
        });
        checkDescriptionLengths(`${options.organization}/${service.name}`, {
          description,
          fullDescription: full,
        });
        io.stdout(options.short ? `${description}\n` : full);
      },
    );

  registerCleanup(program, io);
  registerVerify(program, io);
  return program;
}

/** Runs the command line and returns its exit code; bad input is one line on stderr and code 2. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  return runProgram(buildProgram(io), argv, io);
}

/** Parses and runs a program, mapping its errors to exit codes the way the command line does. */
export async function runProgram(
  program: Command,
  argv: readonly string[],
  io: CliIo,
): Promise<number> {
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with code 0; commander has already printed its message.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`battlescope-images: ${message}\n`);
    return error instanceof UsageError || isInputError(error) ? EXIT_USAGE : 1;
  }
}

function isInputError(error: unknown): boolean {
  return (
    error instanceof Error &&
    ["InvalidVersionError", "DescriptionTooLongError"].includes(error.name)
  );
}

/** The process entry point, used by `bin/battlescope-images.js` and `npm run images`. */
export function main(): void {
  runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  }).then((code) => {
    process.exitCode = code;
  });
}

if (require.main === module) main();
