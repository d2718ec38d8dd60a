/**
 * `battlescope-images readme <service>`: a service's Docker Hub full description, or with
 * `--short` its short description; texts over Docker Hub's limits are bad input.
 */
import { type Command, Option } from "commander";
import { checkDescriptionLengths, hubDescriptions } from "../lib/readme";
import {
  DEFAULT_ORGANIZATION,
  DOCKER_HUB_REGISTRY,
  PLATFORMS,
  platformArchitecture,
  SHORT_DESCRIPTION_LIMIT,
} from "../lib/vocabulary";
import { SERVICE_NAMES } from "../services/catalog";
import { type CliIo, list, parsePlatforms, requireService } from "./shared";

interface ReadmeOptions {
  version: string;
  existing?: string;
  platforms?: string;
  registry: string;
  organization: string;
  short?: boolean;
}

export function registerReadme(program: Command, io: CliIo): Command {
  return program
    .command("readme")
    .description(
      "Print a service's Docker Hub full description, or with --short its short description",
    )
    .argument("<service>", `one of ${SERVICE_NAMES.join(", ")}`)
    .option("--version <version>", "the release being published", "v3.0.0")
    .option("--existing <tags>", "comma-separated tags the repository already holds")
    .option("--platforms <platforms>", `comma-separated platforms (${PLATFORMS.join(",")})`)
    .option("--registry <host>", "registry host", DOCKER_HUB_REGISTRY)
    .option("--organization <org>", "registry organization", DEFAULT_ORGANIZATION)
    .addOption(
      new Option(
        "--short",
        `print the short description (at most ${SHORT_DESCRIPTION_LIMIT} UTF-8 bytes)`,
      ),
    )
    .action((name: string, options: ReadmeOptions) => {
      const service = requireService(name);
      const texts = hubDescriptions({
        service,
        registry: options.registry,
        organization: options.organization,
        version: options.version,
        existingTags: list(options.existing ?? ""),
        architectures: parsePlatforms(options.platforms).map(platformArchitecture),
      });
      checkDescriptionLengths(`${options.organization}/${service.name}`, texts);
      io.stdout(options.short ? `${texts.description}\n` : texts.fullDescription);
    });
}
