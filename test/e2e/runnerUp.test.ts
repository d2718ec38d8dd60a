/**
 * The runner's `up` (scripts/stack.ts `upFromEvents`) runs the CLI once: the resource changes come
 * from the engine's summary event, not from the three CLI runs `Stack.up` adds after the engine is
 * done (`stack output` twice, `stack history`), each a CLI start and a read of the whole state.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINE_PARALLELISM, upFromEvents } from "../../scripts/stack";
import { createE2eStack, type E2eStack, LIGHT_RELEASE } from "./harness";

describe.sequential("the runner's up", () => {
  let e2e: E2eStack;
  /** The CLI runs of the stack's workspace, by their first two words. */
  const runs: string[] = [];

  beforeAll(async () => {
    e2e = await createE2eStack("runnerup", { ...LIGHT_RELEASE, publishDescriptions: "false" });
    const workspace = e2e.stack.workspace;
    // Every CLI run of the Automation API goes through this (not in its typings).
    const command = workspace.pulumiCommand as unknown as {
      run(args: string[], ...rest: unknown[]): Promise<unknown>;
    };
    const counting = {
      run: (args: string[], ...rest: unknown[]) => {
        runs.push(args.slice(0, 2).join(" "));
        return command.run(args, ...rest);
      },
    };
    Object.defineProperty(workspace, "pulumiCommand", { get: () => counting });
  });
  afterAll(async () => {
    await e2e?.close();
  });

  /** The runner's up, counting its CLI runs afresh. */
  const release = () => {
    runs.length = 0;
    return upFromEvents(e2e.stack, { color: "never", parallel: ENGINE_PARALLELISM });
  };

  it("releases with one CLI run and gives the engine's resource changes", async () => {
    const changes = await release();
    expect(runs).toEqual(["up --yes"]);
    expect(Object.keys(changes)).toEqual(["create"]);
    expect(changes.create).toBeGreaterThan(20);
  });

  it("changes nothing the second time, again with one CLI run, where Stack.up makes four", async () => {
    const changes = await release();
    expect(runs).toEqual(["up --yes"]);
    expect(Object.keys(changes)).toEqual(["same"]);

    runs.length = 0;
    const result = await e2e.stack.up({ color: "never", parallel: ENGINE_PARALLELISM });
    expect(result.summary.resourceChanges).toEqual(changes);
    expect(runs).toEqual(["up --yes", "stack output", "stack output", "stack history"]);
  });
});
