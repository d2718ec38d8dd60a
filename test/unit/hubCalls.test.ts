/**
 * Every Docker Hub API call the client makes, with the fields it relies on and the public source
 * that says how the Hub answers it. A call the client makes that is missing here fails the test:
 * a new call needs its source found first.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DockerHubClient } from "../../clients/dockerHub";
import { type HubEmulator, startHubEmulator } from "../../scripts/hub-emulator/hubEmulator";

interface HubCall {
  readonly method: "GET" | "POST" | "PATCH" | "DELETE";
  readonly path: string;
  readonly fields: string;
  readonly source: string;
}

const API = "docker/docs content/reference/api/hub/latest.yaml";

const HUB_CALLS: readonly HubCall[] = [
  {
    method: "POST",
    path: "/v2/auth/token",
    fields:
      "sends identifier, secret; reads access_token, its JWT exp and (undocumented) scope claims",
    source: `documented (${API}, AuthCreateAccessToken); the scope claim observed in mongodb/kingfisher #202`,
  },
  {
    method: "GET",
    path: "/v2/namespaces/{ns}/repositories/{repo}",
    fields: "description, full_description, is_private; 404 for a missing repository",
    source: `documented (${API})`,
  },
  {
    method: "GET",
    path: "/v2/repositories/{ns}/{repo}/",
    fields: "description, full_description, is_private (fallback only, with a warning)",
    source:
      "deprecated on 2025-09-19 (docker/docs content/reference/api/hub/deprecated.md): may be removed, disabled or change behaviour",
  },
  {
    method: "POST",
    path: "/v2/namespaces/{ns}/repositories",
    fields:
      "sends name, namespace, description, full_description, is_private; 403 without Read, Write, Delete; 400 with errinfo.fielderrors",
    source: `documented (${API}); limits in UTF-8 bytes observed in peter-evans/dockerhub-description #142 and docker-library/docs #2465`,
  },
  {
    method: "PATCH",
    path: "/v2/repositories/{ns}/{repo}/",
    fields:
      "sends description and/or full_description; 403 without Read, Write, Delete; 400 with errinfo.fielderrors",
    source:
      "undocumented (docker/hub-feedback #2321); 403 for Read & Write tokens observed in peter-evans/dockerhub-description #10, #70, #331",
  },
  {
    method: "GET",
    path: "/v2/namespaces/{ns}/repositories/{repo}/tags",
    fields:
      "page_size, next, results[].name, last_updated, tag_last_pushed, images[].architecture, os, variant, digest (no tag-level digest)",
    source: `documented (${API})`,
  },
  {
    method: "DELETE",
    path: "/v2/repositories/{ns}/{repo}/tags/{tag}/",
    fields:
      "204 when deleted; 404 with the Hub's \"tag not found\" when absent; any other 404 (the Hub's HTML page for a path it does not serve) is the route gone, an error naming it",
    source:
      "undocumented; 403 for personal access tokens observed in docker/hub-feedback #2006 (2020) and #2251 (2022), 500 in #2398 (2024)",
  },
];

/** `GET /v2/repositories/battlescope/frontend/tags/v3.0.0/` -> the table's path template. */
function template(path: string): string {
  return path
    .split("?")[0]
    ?.replace(
      /^\/v2\/namespaces\/[^/]+\/repositories\/[^/]+/,
      "/v2/namespaces/{ns}/repositories/{repo}",
    )
    .replace(/^\/v2\/namespaces\/[^/]+\/repositories$/, "/v2/namespaces/{ns}/repositories")
    .replace(/^\/v2\/repositories\/[^/]+\/[^/]+\//, "/v2/repositories/{ns}/{repo}/")
    .replace(/\/tags\/[^/]+\/$/, "/tags/{tag}/") as string;
}

let hub: HubEmulator;
beforeEach(async () => {
  hub = await startHubEmulator();
});
afterEach(async () => {
  await hub.close();
});

describe("the Docker Hub calls the client makes", () => {
  it("are all in the table, with a public source", async () => {
    const options = { baseUrl: hub.url, username: "release-bot", token: "dckr_pat_emulator" };
    const client = new DockerHubClient({ ...options, warn: () => undefined });
    await client.checkToken();
    await client.ensureRepository("battlescope", "frontend", {
      description: "a",
      fullDescription: "b",
    });
    await client.ensureRepository("battlescope", "frontend", {
      description: "c",
      fullDescription: "b",
    });
    hub.addTag("battlescope/frontend", { name: "v3.0.0" });
    await client.listTags("battlescope", "frontend");
    await client.deleteTag("battlescope", "frontend", "v3.0.0");
    await client.deleteTag("battlescope", "frontend", "v3.0.0");
    // The fallback path: the documented read not served.
    const fallback = new DockerHubClient({
      ...options,
      warn: () => undefined,
      fetch: async (url, init) =>
        url.endsWith("/v2/namespaces/battlescope/repositories/frontend")
          ? new Response("", { status: 405 })
          : fetch(url, init),
    });
    await fallback.getRepository("battlescope", "frontend");

    const made = new Set(hub.requests.map((r) => `${r.method} ${template(r.path)}`));
    const listed = new Set(HUB_CALLS.map((call) => `${call.method} ${call.path}`));
    expect([...made].filter((call) => !listed.has(call))).toEqual([]);
    expect([...listed].filter((call) => !made.has(call))).toEqual([]);
    for (const call of HUB_CALLS)
      expect(call.source).toMatch(/^(documented|deprecated|undocumented)/);
  });
});
