import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  builderNames,
  createCommands,
  nodeProblem,
  tlsFailure,
  workerPlatforms,
} from "../../clients/buildxBuilder";
import { loadStackConfig } from "../../lib/config";
import {
  type BuilderNode,
  builderTls,
  nodePlatforms,
  parseEndpoint,
  platformBuilders,
  platformRouting,
} from "../../lib/config/builderKeys";
import { PLATFORMS, type Platform } from "../../lib/vocabulary";
import { exactly } from "../support/exactly";

const base: Record<string, string> = { version: "v3.0.0", sourceRoot: "src" };
const load = (values: Record<string, string>) =>
  loadStackConfig(
    (key) => values[key],
    Object.keys(values).map((key) => `battlescope:${key}`),
    new Date("2026-05-02T09:30:00Z"),
  );
const withBuilders = (builders: unknown, extra: Record<string, string> = {}) =>
  load({ ...base, ...extra, builders: JSON.stringify(builders) });

const AMD = { name: "amd", endpoint: "unix:///run/a.sock", platforms: ["linux/amd64"] };
const ARM = { name: "arm", endpoint: "tcp://10.0.0.7:1234", platforms: ["linux/arm64"] };
const KEY = '"battlescope:builders"';
const PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

describe("the builders key", () => {
  it("is unset by default: the builder named by `builder` is used as it is", () => {
    expect(load(base).builders).toBeUndefined();
  });

  it("reads two nodes, one per platform", () => {
    expect(withBuilders([AMD, ARM]).builders).toEqual([
      {
        name: "amd",
        endpoint: { kind: "unix", address: "unix:///run/a.sock" },
        platforms: ["linux/amd64"],
        emulates: [],
        driverOpts: {},
      },
      {
        name: "arm",
        endpoint: { kind: "tcp", address: "tcp://10.0.0.7:1234", host: "10.0.0.7" },
        platforms: ["linux/arm64"],
        emulates: [],
        driverOpts: {},
      },
    ]);
  });

  it("reads a kubernetes node with buildx driver options", () => {
    const kube = {
      name: "buildkit-arm",
      endpoint: "kubernetes://buildkit",
      platforms: ["linux/amd64", "linux/arm64"],
      driverOpts: { replicas: "2", nodeselector: "kubernetes.io/arch=arm64" },
    };
    expect(withBuilders([kube]).builders?.[0]?.endpoint).toEqual({
      kind: "kubernetes",
      address: "kubernetes://buildkit",
      namespace: "buildkit",
    });
  });

  it.each([
    { text: "tcp://buildkit.example.com:1234", kind: "tcp" },
    { text: "tcp://[::1]:1234", kind: "tcp" },
    { text: "unix:///run/buildkit/buildkitd.sock", kind: "unix" },
    { text: "kubernetes://buildkit", kind: "kubernetes" },
    { text: "tcp://host", kind: undefined },
    { text: "tcp://host:70000", kind: undefined },
    { text: "unix://relative.sock", kind: undefined },
    { text: "kubernetes://Bad_Namespace", kind: undefined },
    { text: "ssh://host", kind: undefined },
  ])("parses the endpoint $text as $kind", ({ text, kind }) => {
    expect(parseEndpoint(text)?.kind).toBe(kind);
  });
});

describe("bad builders", () => {
  it.each<{ name: string; builders: unknown; extra?: Record<string, string>; message: string }>([
    {
      name: "not a list",
      builders: { name: "amd" },
      message: `invalid config ${KEY}: {"name":"amd"} is not accepted; expected a non-empty list of {"name": ..., "endpoint": ..., "platforms": [...], "emulates"?: [...]}`,
    },
    {
      name: "an unknown field, with the one meant",
      builders: [{ ...AMD, platfroms: [] }],
      message:
        'invalid config "battlescope:builders[0]" (node amd): "platfroms" is not a field of a builder node; did you mean platforms?',
    },
    {
      name: "a bad endpoint",
      builders: [{ ...AMD, endpoint: "ssh://builder" }],
      message:
        'invalid config "battlescope:builders[0].endpoint" (node amd): "ssh://builder" is not accepted; expected tcp://<host>:<port> (mTLS, certificates in the secret builderTls), unix:///<socket path> or kubernetes://<namespace>',
    },
    {
      name: "a missing endpoint and a bad name",
      builders: [{ name: "Amd_1", platforms: ["linux/amd64"] }],
      message: `invalid stack config:
  - invalid config "battlescope:builders[0].name": "Amd_1" is not accepted; expected a node name: lowercase letters, digits and dashes (a DNS label)
  - missing config "battlescope:builders[0].endpoint": expected tcp://<host>:<port> (mTLS, certificates in the secret builderTls), unix:///<socket path> or kubernetes://<namespace>`,
    },
    {
      name: "an unknown platform",
      builders: [{ ...AMD, platforms: ["linux/amd64", "linux/riscv64"] }],
      message:
        'invalid config "battlescope:builders[0].platforms" (node amd): "linux/riscv64" is not a platform the stack builds; expected one of linux/amd64, linux/arm64',
    },
    {
      name: "a platform both native and emulated",
      builders: [{ ...AMD, platforms: ["linux/amd64", "linux/arm64"], emulates: ["linux/arm64"] }],
      message:
        'invalid config "battlescope:builders[0].emulates" (node amd): linux/arm64 is also among the node\'s native platforms; list a platform under one of them',
    },
    {
      name: "a duplicate name",
      builders: [AMD, { ...ARM, name: "amd" }],
      message: `invalid config ${KEY}: the node name amd is used more than once`,
    },
    {
      name: "a release platform no node builds, native or emulated",
      builders: [AMD],
      message: `invalid config ${KEY}: no node builds linux/arm64, a platform of the release; add a node with "platforms": ["linux/arm64"], or list it under "emulates" of a node that has QEMU for it`,
    },
    {
      name: "kubernetes mixed with remote nodes",
      builders: [
        AMD,
        { name: "kube", endpoint: "kubernetes://buildkit", platforms: ["linux/arm64"] },
      ],
      message: `invalid config ${KEY}: kubernetes:// nodes cannot be mixed with tcp:// or unix:// nodes (a buildx builder has one driver); nodes kube are kubernetes://`,
    },
    {
      name: "driver options on a remote node",
      builders: [{ ...AMD, platforms: ["linux/amd64", "linux/arm64"], driverOpts: { image: "x" } }],
      message:
        'invalid config "battlescope:builders[0].driverOpts" (node amd): driver options are for kubernetes:// nodes only (buildx\'s remote driver takes none but the certificates, which come from the secret builderTls)',
    },
    {
      name: "an unknown kubernetes driver option",
      builders: [
        {
          name: "kube",
          endpoint: "kubernetes://buildkit",
          platforms: ["linux/amd64", "linux/arm64"],
          driverOpts: { namespace: "other" },
        },
      ],
      message:
        'invalid config "battlescope:builders[0].driverOpts" (node kube): "namespace" is not an option of buildx\'s kubernetes driver the stack passes; expected one of image, replicas, requests.cpu, requests.memory, requests.ephemeral-storage, persistent-volume-claim.requests.storage, limits.cpu, limits.memory, limits.ephemeral-storage, rootless, schedulername, serviceaccount, nodeselector, annotations, labels, tolerations, loadbalance, qemu.install, qemu.image, buildkit-root-volume-memory, timeout',
    },
  ])("refuses $name", ({ builders, extra, message }) => {
    expect(() => withBuilders(builders, extra)).toThrow(exactly(message));
  });

  it("accepts a release of one platform that only one node builds", () => {
    expect(withBuilders([AMD], { platforms: '["linux/amd64"]' }).builders).toHaveLength(1);
  });
});

const node = (name: string, platforms: Platform[], emulates: Platform[] = []): BuilderNode => ({
  name,
  endpoint: { kind: "unix", address: `unix:///run/${name}.sock` },
  platforms,
  emulates,
  driverOpts: {},
});

describe("platform routing", () => {
  it.each<{ name: string; nodes: BuilderNode[]; routes: Record<string, [string, boolean]> }>([
    {
      name: "each platform on its native node",
      nodes: [node("a", ["linux/amd64"]), node("b", ["linux/arm64"])],
      routes: { "linux/amd64": ["a", false], "linux/arm64": ["b", false] },
    },
    {
      name: "a native node before an emulating one, whatever the order",
      nodes: [node("a", ["linux/amd64"], ["linux/arm64"]), node("b", ["linux/arm64"])],
      routes: { "linux/amd64": ["a", false], "linux/arm64": ["b", false] },
    },
    {
      name: "emulation only where no node has the platform",
      nodes: [node("a", ["linux/amd64"], ["linux/arm64"])],
      routes: { "linux/amd64": ["a", false], "linux/arm64": ["a", true] },
    },
    {
      name: "the first of two native nodes",
      nodes: [node("a", ["linux/amd64", "linux/arm64"]), node("b", ["linux/arm64"])],
      routes: { "linux/amd64": ["a", false], "linux/arm64": ["a", false] },
    },
  ])("routes $name", ({ nodes, routes }) => {
    const found = platformRouting(nodes, PLATFORMS);
    expect(
      Object.fromEntries([...found].map(([platform, r]) => [platform, [r.node, r.emulated]])),
    ).toEqual(routes);
  });

  it("names every release platform on exactly one node, its route", () => {
    const platformLists = fc.subarray([...PLATFORMS]);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(platformLists, platformLists), { minLength: 1, maxLength: 4 }),
        (specs) => {
          const nodes = specs.map(([native, emulated], i) =>
            node(
              `n${i}`,
              native,
              emulated.filter((p) => !native.includes(p)),
            ),
          );
          const routes = platformRouting(nodes, PLATFORMS);
          const created = nodePlatforms(nodes, PLATFORMS);
          for (const platform of PLATFORMS) {
            const holders = nodes.filter((n) => created.get(n.name)?.includes(platform));
            expect(holders.map((n) => n.name)).toEqual(
              routes.has(platform) ? [routes.get(platform)?.node] : [],
            );
          }
        },
      ),
    );
  });
});

describe("the builder's buildx commands", () => {
  it("makes the builder of both nodes (append) and a builder per node, each with its routed platforms", () => {
    const config = withBuilders([AMD, ARM]);
    const spec = { name: "b", nodes: config.builders ?? [], platforms: PLATFORMS, tls: new Map() };
    const arm = [
      "--platform",
      "linux/arm64",
      "--driver",
      "remote",
      "--driver-opt",
      "cacert=/cfg/battlescope-tls/b/arm/ca.pem,cert=/cfg/battlescope-tls/b/arm/cert.pem,key=/cfg/battlescope-tls/b/arm/key.pem,servername=10.0.0.7",
      "tcp://10.0.0.7:1234",
    ];
    const amd = ["--platform", "linux/amd64", "--driver", "remote", "unix:///run/a.sock"];
    expect(createCommands(spec, "/cfg")).toEqual([
      ["create", "--name", "b", "--node", "amd", ...amd],
      ["create", "--name", "b", "--node", "arm", "--append", ...arm],
      ["create", "--name", "b-amd", "--node", "amd", ...amd],
      ["create", "--name", "b-arm", "--node", "arm", ...arm],
    ]);
    expect(builderNames(spec)).toEqual(["b", "b-amd", "b-arm"]);
    expect(platformBuilders("b", spec.nodes, PLATFORMS)).toEqual({
      "linux/amd64": "b-amd",
      "linux/arm64": "b-arm",
    });
  });

  it("passes a kubernetes node's namespace and options as --driver-opt", () => {
    const config = withBuilders([
      {
        name: "kube",
        endpoint: "kubernetes://buildkit",
        platforms: ["linux/amd64", "linux/arm64"],
        driverOpts: { replicas: "2" },
      },
    ]);
    const kube = [
      "--platform",
      "linux/amd64,linux/arm64",
      "--driver",
      "kubernetes",
      "--driver-opt",
      "namespace=buildkit,replicas=2",
    ];
    expect(
      createCommands(
        { name: "b", nodes: config.builders ?? [], platforms: PLATFORMS, tls: new Map() },
        "/cfg",
      ),
    ).toEqual([
      ["create", "--name", "b", "--node", "kube", ...kube],
      ["create", "--name", "b-kube", "--node", "kube", ...kube],
    ]);
  });

  it.each([
    {
      name: "a refused connection",
      failure:
        'failed to list workers: Unavailable: connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.7:1234: connect: connection refused"',
      message:
        'builder node arm at tcp://10.0.0.7:1234 cannot be reached: failed to list workers: Unavailable: connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.7:1234: connect: connection refused"',
    },
    {
      name: "a certificate of another CA",
      failure:
        'failed to list workers: Unavailable: connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"',
      message:
        "builder node arm at tcp://10.0.0.7:1234 refused the mTLS connection: failed to list workers: Unavailable: connection error: desc = \"transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority\" (check the secret builderTls.arm: its CA must have signed the daemon's certificate, and the daemon's CA the client certificate)",
    },
  ])("names the node and its address for $name", ({ failure, message }) => {
    const arm = withBuilders([AMD, ARM]).builders?.[1] as BuilderNode;
    expect(nodeProblem(arm, failure)).toBe(message);
  });

  it.each([
    {
      name: "a client certificate the daemon refuses",
      code: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
      message: "...:SSL alert number 48",
      text: "the daemon refused the client certificate of builderTls.arm.cert (TLS alert: unknown ca)",
    },
    {
      name: "a daemon certificate of another CA",
      code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      message:
        "unable to verify the first certificate; if the root CA is installed locally, try running Node.js with --use-system-ca",
      text: "the daemon's certificate does not verify against builderTls.arm.ca: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)",
    },
  ])("says which certificate to fix for $name", ({ code, message, text }) => {
    expect(tlsFailure("arm", code, message)).toBe(text);
  });

  it("reads a daemon's worker platforms", () => {
    expect(
      workerPlatforms(
        '[{"id":"w","platforms":[{"architecture":"amd64","os":"linux"},{"architecture":"amd64","os":"linux","variant":"v2"}]}]',
      ),
    ).toEqual(["linux/amd64", "linux/amd64/v2"]);
  });
});

describe("the builderTls secret", () => {
  const nodes = withBuilders([AMD, ARM]).builders ?? [];
  const good = JSON.stringify({ arm: { ca: PEM_CERT, cert: PEM_CERT, key: PEM_KEY } });

  it("gives each tcp node its material", () => {
    expect(builderTls(nodes, good)).toEqual({
      problems: [],
      tls: new Map([["arm", { ca: PEM_CERT, cert: PEM_CERT, key: PEM_KEY }]]),
    });
  });

  it.each<{ name: string; secret: string | undefined; problems: string[] }>([
    {
      name: "missing for a tcp node",
      secret: undefined,
      problems: [
        `missing secret config "battlescope:builderTls.arm": node arm at tcp://10.0.0.7:1234 is reached over mTLS and needs a CA, a client certificate and its key; set it with \`pulumi config set --secret --path 'battlescope:builderTls.arm.<ca|cert|key>' "$(cat <file>.pem)"\``,
      ],
    },
    {
      name: "not JSON",
      secret: "ca.pem",
      problems: [
        'invalid secret config "battlescope:builderTls": expected a map of node name to {"ca", "cert", "key"} (PEM texts)',
      ],
    },
    {
      name: "an entry for a node that is not tcp, and a key that is no PEM",
      secret: JSON.stringify({
        amd: {},
        arm: { ca: PEM_CERT, cert: PEM_CERT, key: "secret" },
      }),
      problems: [
        'invalid secret config "battlescope:builderTls": "amd" is not a tcp:// node of builders; expected one of arm',
        `invalid secret config "battlescope:builderTls.arm.key": expected the client's PEM private key; set it with \`pulumi config set --secret --path 'battlescope:builderTls.arm.<ca|cert|key>' "$(cat <file>.pem)"\``,
      ],
    },
  ])("refuses a secret $name, without quoting it", ({ secret, problems }) => {
    expect(builderTls(nodes, secret).problems).toEqual(problems);
  });
});
