/**
 * With Hub credentials (DOCKER_HUB_USERNAME, DOCKER_HUB_TOKEN) and a Hub URL: the Docker Hub short
 * and full descriptions are the ones `shortDescription` / `fullDescription` give.
 */

import { type DockerHubClient, DockerHubError } from "../../clients/dockerHub";
import { hubDescriptions, type ReadmeInput } from "../../lib/readme";
import { DEFAULT_HUB_URL, DOCKER_HUB_REGISTRY } from "../../lib/vocabulary";
import { type Env, hubClientFromEnv } from "../shared";
import type { CheckRow } from "./report";
import type { VerifyDeps, VerifyOptions } from "./types";

/** The Hub's short and full descriptions are the release's (with Hub credentials and a Hub URL). */
export async function descriptionRows(
  release: ReadmeInput,
  options: VerifyOptions,
  env: Env,
  deps: VerifyDeps,
): Promise<CheckRow[]> {
  const { service } = release;
  const subject = `${options.organization}/${service.name}`;
  const skip = (detail: string): CheckRow[] => [
    { check: "descriptions", subject, status: "skip", detail },
  ];
  const hubUrl =
    options.hubUrl ?? (options.registry === DOCKER_HUB_REGISTRY ? DEFAULT_HUB_URL : undefined);
  const hub = hubClientFromEnv(hubUrl ?? DEFAULT_HUB_URL, env, deps);
  if (hub === undefined) {
    return skip("set DOCKER_HUB_USERNAME and DOCKER_HUB_TOKEN to compare the Docker Hub texts");
  }
  if (hubUrl === undefined) {
    return skip(`no --hub-url: the descriptions of ${options.registry} images are not compared`);
  }
  let held: Awaited<ReturnType<DockerHubClient["getRepository"]>>;
  try {
    held = await hub.getRepository(options.organization, service.name);
  } catch (error) {
    if (!(error instanceof DockerHubError)) throw error;
    return [{ check: "descriptions", subject, status: "FAIL", detail: error.message, kind: "hub" }];
  }
  if (held === undefined) {
    return [
      {
        check: "descriptions",
        subject,
        status: "FAIL",
        detail: "the Hub has no such repository",
        kind: "description",
      },
    ];
  }
  const expected = hubDescriptions(release);
  return [
    compareText("short description", subject, held.description, expected.description),
    compareText("full description", subject, held.fullDescription, expected.fullDescription),
  ];
}

function compareText(check: string, subject: string, held: string, expected: string): CheckRow {
  if (held === expected) {
    return { check, subject, status: "ok", detail: `${Array.from(held).length} characters` };
  }
  if (held === "") {
    return { check, subject, status: "FAIL", detail: "empty on the Hub", kind: "description" };
  }
  const heldLines = held.split("\n");
  const expectedLines = expected.split("\n");
  let line = 0;
  while (line < heldLines.length && heldLines[line] === expectedLines[line]) line++;
  const quote = (text: string | undefined) =>
    text === undefined ? "(end of text)" : JSON.stringify(text.slice(0, 60));
  const where = expectedLines.length > 1 || heldLines.length > 1 ? `line ${line + 1}: ` : "";
  return {
    check,
    subject,
    status: "FAIL",
    detail: `${where}the Hub has ${quote(heldLines[line])}, expected ${quote(expectedLines[line])}`,
    kind: "description",
  };
}
