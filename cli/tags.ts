/** `battlescope-images tags <version>`: the tags a release claims, as one JSON object. */
import type { Command } from "commander";
import { planTags } from "../lib/tagPlan";
import { PLATFORMS, platformArchitecture } from "../lib/vocabulary";
import { type CliIo, list, parsePlatforms } from "./shared";

interface TagsOptions {
  existing?: string;
  platforms?: string;
}

export function registerTags(program: Command, io: CliIo): Command {
  return program
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
    .action((version: string, options: TagsOptions) => {
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
}
