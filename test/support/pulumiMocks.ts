/**
 * Pulumi's runtime under mocks for unit tests: every resource registered is recorded, with the
 * outputs a provider would fill in (`state`), and tests wait on outputs, never on a timer.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { RESOURCE_TYPES } from "../../lib/vocabulary";

export interface Recorded {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
}

export interface MockedRuntime {
  /** Every resource that reached the mocks, in the order it did. */
  readonly recorded: Recorded[];
  /**
   * Waits until every resource declared so far has reached the mocks (the runtime's queue of
   * registrations and component outputs has drained), then mocks the runtime again for more.
   */
  settled(): Promise<void>;
}

/**
 * Mocks the runtime (call it before anything is declared). `state` gives the outputs a provider
 * computes, on top of the inputs echoed back.
 */
export function mockRuntime(
  state: (args: pulumi.runtime.MockResourceArgs) => Record<string, unknown> = () => ({}),
): MockedRuntime {
  const recorded: Recorded[] = [];
  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
      return { id: `${args.name}-id`, state: { ...args.inputs, ...state(args) } };
    },
    call: (args) => args.inputs,
  };
  const install = () => pulumi.runtime.setMocks(mocks, "battlescope", "test", false);
  install();
  return {
    recorded,
    async settled() {
      await pulumi.runtime.disconnect();
      await install();
    },
  };
}

/** An output's value, once the mocks have given it. */
export function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) =>
    output.apply((value) => {
      resolve(value);
      return value;
    }),
  );
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Pulumi hands mocks secrets wrapped in a signature object: the value, or a failure when plain. */
export function secretValue(value: unknown): unknown {
  const wrapped = value as Record<string, unknown> | undefined;
  if (wrapped?.[SECRET_SIG] === undefined)
    throw new Error(`expected a secret, got ${JSON.stringify(value)}`);
  return wrapped.value;
}

/** A digest standing for `text`. */
export const sha = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;

/**
 * What a build and a registry give under mocks: an image's digest from its resource name, and a
 * tag set's digest per tag, a manifest list's standing for its children and annotations.
 */
export function registryOutputs(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> {
  if (args.type === RESOURCE_TYPES.image) {
    const digest = sha(args.name);
    return { digest, ref: `${args.name}@${digest}` };
  }
  if (args.type === RESOURCE_TYPES.registryTagSet) {
    const targets = args.inputs.tags as Array<{ tag: string; digest?: string; index?: unknown }>;
    return {
      digests: Object.fromEntries(
        targets.map(({ tag, digest, index }) => [tag, digest ?? sha(JSON.stringify(index))]),
      ),
    };
  }
  return {};
}
