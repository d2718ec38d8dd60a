/**
 * How the clients read a refused delete: the registry's 405 for a delete by digest, and the
 * Hub's 404 for a tag delete, which is "tag not found" only when the Hub says so.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  DockerHubClient,
  HubRouteError,
  isTagNotFound,
  TAG_DELETE_ROUTE,
} from "../../clients/dockerHub";
import { DeleteRefusedError, OciRegistryClient } from "../../clients/ociRegistry";
import { type HubEmulator, startHubEmulator } from "../../scripts/hub-emulator/hubEmulator";
import { exactly } from "../support/exactly";

const DIGEST = `sha256:${"ab".repeat(32)}`;

describe("OciRegistryClient.deleteManifest", () => {
  const answering = (response: () => Response) =>
    new OciRegistryClient({
      registry: "127.0.0.1:5999",
      fetch: (async () => response()) as unknown as typeof fetch,
    });

  it.each([
    {
      name: "distribution's 405 UNSUPPORTED",
      response: () =>
        Response.json(
          { errors: [{ code: "UNSUPPORTED", message: "The operation is unsupported." }] },
          { status: 405 },
        ),
      answer: "HTTP 405 UNSUPPORTED",
    },
    {
      name: "a 405 without an error body",
      response: () => new Response("Method Not Allowed", { status: 405 }),
      answer: "HTTP 405",
    },
  ])("reads $name as a refusal of every delete by digest", async ({ response, answer }) => {
    const error = await answering(response)
      .deleteManifest("acme/init", DIGEST)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeleteRefusedError);
    expect((error as DeleteRefusedError).answer).toBe(answer);
    expect((error as Error).message).toBe(
      `registry 127.0.0.1:5999 does not allow deleting by digest: DELETE /v2/acme/init/manifests/${DIGEST} answered ${answer}`,
    );
  });

  it("keeps other refusals as they were: a 403 is not a refusal of deletes by digest", async () => {
    const error = await answering(() => new Response("denied", { status: 403 }))
      .deleteManifest("acme/init", DIGEST)
      .catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(DeleteRefusedError);
    expect((error as Error).message).toBe(
      `registry 127.0.0.1:5999 refused to delete acme/init@${DIGEST}: HTTP 403: denied`,
    );
  });
});

describe("isTagNotFound", () => {
  it.each([
    [{ message: "tag 'v1' not found", errinfo: {} }, true],
    [{ message: "httperror 404: tag 'v1' not found" }, true],
    [{ detail: "Tag not found." }, true],
    [{ message: "object not found", errinfo: {} }, false],
    [{ message: "Not found: DELETE /v2/repositories/a/b/tags/v1/" }, false],
    [{ detail: "Not found." }, false],
    ["<!doctype html><title>404 : Docker</title>", false],
    [undefined, false],
  ])("%j -> %s", (body, expected) => {
    expect(isTagNotFound(body)).toBe(expected);
  });
});

describe("DockerHubClient.deleteTag answered 404", () => {
  const USER = "release-bot";
  const TOKEN = "dckr_pat_delete-answers";
  let hub: HubEmulator | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  async function clientFor(options: { tagDeleteRoute?: boolean }): Promise<DockerHubClient> {
    hub = await startHubEmulator({ users: { [USER]: TOKEN }, ...options });
    hub.state.repositories["acme/init"] = {
      namespace: "acme",
      name: "init",
      description: "",
      full_description: "",
      is_private: false,
      date_registered: "2026-01-01T00:00:00Z",
      last_updated: "2026-01-01T00:00:00Z",
      tags: [],
    };
    hub.addTag("acme/init", { name: "v1" });
    return new DockerHubClient({ baseUrl: hub.url, username: USER, token: TOKEN });
  }

  it("is the route gone, not the tag, when the Hub answers its 404 page: an error naming the route", async () => {
    const client = await clientFor({ tagDeleteRoute: false });
    const error = await client.deleteTag("acme", "init", "v1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubRouteError);
    expect((error as HubRouteError).route).toBe(TAG_DELETE_ROUTE);
    expect((error as Error).message).toMatch(
      exactly(
        `Docker Hub delete tag acme/init:v1 failed: HTTP 404 from DELETE /v2/repositories/{namespace}/{repository}/tags/{tag}/ without the Hub's "tag not found" (it said: an HTML page titled "404 : Docker"): the Hub may have moved or removed this undocumented route`,
      ),
    );
    expect(hub?.state.repositories["acme/init"]?.tags.map((tag) => tag.name)).toEqual(["v1"]);
  });

  it("is an error naming the route when the repository is 'object not found'", async () => {
    const client = await clientFor({});
    const error = await client.deleteTag("acme", "missing", "v1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubRouteError);
    expect((error as Error).message).toContain(
      `without the Hub's "tag not found" (it said: object not found)`,
    );
  });

  it("is 'already gone' (false) only with the Hub's own 'tag not found'", async () => {
    const client = await clientFor({});
    expect(await client.deleteTag("acme", "init", "v1")).toBe(true);
    expect(await client.deleteTag("acme", "init", "v1")).toBe(false);
  });
});
