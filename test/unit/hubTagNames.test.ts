import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerHubClient } from "../../clients/dockerHub";
import { hubTagNames } from "../../release/inputs";
import { type HubEmulator, startHubEmulator } from "../../scripts/hub-emulator/hubEmulator";

describe("listing a Docker Hub repository's tags for the tag plan", () => {
  let hub: HubEmulator;
  let client: DockerHubClient;
  beforeAll(async () => {
    hub = await startHubEmulator({ users: { bot: "token" } });
    client = new DockerHubClient({ baseUrl: hub.url, username: "bot", token: "token" });
    await client.createRepository("battlescope", {
      name: "frontend",
      description: "d",
      fullDescription: "f",
      isPrivate: false,
    });
    for (let i = 0; i < 130; i++) hub.addTag("battlescope/frontend", { name: `v3.0.${i}` });
  });
  afterAll(() => hub.close());

  it("follows every page", async () => {
    const names = await hubTagNames(client, "battlescope/frontend");
    expect(names).toHaveLength(130);
    expect(names).toContain("v3.0.129");
  });

  it("gives no tags for a repository the Hub does not have yet", async () => {
    expect(await hubTagNames(client, "battlescope/init")).toEqual([]);
  });
});
