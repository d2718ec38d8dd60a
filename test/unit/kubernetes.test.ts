import * as fs from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentialsFromDockerConfig } from "../../clients/dockerConfig";
import {
  checkReachable,
  expandPath,
  KubeconfigError,
  resolveKubeTarget,
} from "../../clients/kubernetes";
import { exactly } from "../support/exactly";
import { makeTempDir } from "../support/tempDirs";

const kubeconfig = (extra = "") => `apiVersion: v1
kind: Config
clusters:
  - name: local
    cluster:
      server: https://127.0.0.1:6443/
      certificate-authority-data: ${Buffer.from("CA PEM").toString("base64")}
  - name: remote
    cluster: { server: "https://k8s.example:443", insecure-skip-tls-verify: true }
users:
  - name: admin
    user:
      client-certificate-data: ${Buffer.from("CERT PEM").toString("base64")}
      client-key: admin.key
  - name: robot
    user: { token: t0ken }
contexts:
  - name: battlescope-local
    context: { cluster: local, user: admin, namespace: battlescope }
  - name: prod
    context: { cluster: remote, user: robot }
${extra}`;

describe("resolveKubeTarget", () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir("kubeconfig");
    fs.writeFileSync(path.join(dir, "admin.key"), "KEY PEM");
  });

  it("takes the current context, data fields and files relative to the kubeconfig", () => {
    const target = resolveKubeTarget(
      kubeconfig("current-context: battlescope-local"),
      undefined,
      dir,
    );
    expect(target).toEqual({
      context: "battlescope-local",
      cluster: "local",
      server: "https://127.0.0.1:6443",
      namespace: "battlescope",
      ca: Buffer.from("CA PEM"),
      cert: Buffer.from("CERT PEM"),
      key: Buffer.from("KEY PEM"),
      insecureSkipTlsVerify: false,
    });
  });

  it("takes the named context over the current one, with a bearer token", () => {
    const target = resolveKubeTarget(kubeconfig("current-context: battlescope-local"), "prod", dir);
    expect(target).toMatchObject({
      context: "prod",
      server: "https://k8s.example:443",
      token: "t0ken",
      insecureSkipTlsVerify: true,
    });
  });

  it.each([
    {
      name: "an unknown context",
      text: kubeconfig("current-context: battlescope-local"),
      context: "staging",
      message:
        'unknown kubeconfig context "staging"; the kubeconfig has "battlescope-local", "prod"',
    },
    {
      name: "no context chosen and no current-context",
      text: kubeconfig(),
      context: undefined,
      message:
        "the kubeconfig has no current-context; choose one of its contexts (battlescope-local, prod) with battlescope:kubeContext",
    },
    {
      name: "text that is not YAML",
      text: "clusters: [",
      context: undefined,
      message: /^the kubeconfig is not valid YAML: /,
    },
    {
      name: "a context whose cluster has no server",
      text: "contexts: [{name: a, context: {cluster: none, user: u}}]\ncurrent-context: a\n",
      context: undefined,
      message: 'kubeconfig context "a" names cluster "none", which has no server',
    },
  ])("refuses $name", ({ text, context, message }) => {
    const run = () => resolveKubeTarget(text, context, dir);
    expect(run).toThrow(KubeconfigError);
    expect(run).toThrow(typeof message === "string" ? exactly(message) : message);
  });
});

describe("expandPath", () => {
  it.each([
    { value: "$BATTLESCOPE_STATE/kubeconfig", expected: "/state/kubeconfig" },
    { value: "~/kube/config", expected: path.join(os.homedir(), "kube/config") },
    { value: "relative/config", expected: "relative/config" },
  ])("expands $value", ({ value, expected }) => {
    expect(expandPath(value, { BATTLESCOPE_STATE: "/state" })).toBe(expected);
  });

  it("names a variable that is not set", () => {
    expect(() => expandPath("$NOPE/kubeconfig", {})).toThrow(
      exactly('"$NOPE/kubeconfig" uses $NOPE, which is not set'),
    );
  });
});

describe("checkReachable", () => {
  const servers: https.Server[] = [];
  afterAll(() => {
    for (const server of servers) server.close();
  });

  it("names the server, the context and the config key when nothing answers", async () => {
    // A port that was just free: nothing listens there.
    const probe = https.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const target = resolveKubeTarget(
      `clusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}"}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
      undefined,
    );
    await expect(checkReachable(target, "battlescope:kubeconfigPath")).rejects.toThrow(
      exactly(
        `cannot reach the Kubernetes API server https://127.0.0.1:${port} of kubeconfig context "x" (battlescope:kubeconfigPath): connect ECONNREFUSED 127.0.0.1:${port}`,
      ),
    );
  });
});

describe("credentialsFromDockerConfig", () => {
  const auth = (value: string) => Buffer.from(value).toString("base64");
  it.each([
    {
      name: "an auth entry",
      text: JSON.stringify({ auths: { "127.0.0.1:5000": { auth: auth("battlescope:s3cret:x") } } }),
      registry: "127.0.0.1:5000",
      expected: { username: "battlescope", password: "s3cret:x" },
    },
    {
      name: "Docker Hub under its index URL",
      text: JSON.stringify({ auths: { "https://index.docker.io/v1/": { auth: auth("bot:tok") } } }),
      registry: "docker.io",
      expected: { username: "bot", password: "tok" },
    },
    {
      name: "username and password fields",
      text: JSON.stringify({ auths: { "r.example": { username: "u", password: "p" } } }),
      registry: "r.example",
      expected: { username: "u", password: "p" },
    },
    {
      name: "another registry only",
      text: JSON.stringify({ auths: { "r.example": { auth: auth("u:p") } } }),
      registry: "127.0.0.1:5000",
      expected: undefined,
    },
    {
      name: "a credential helper (nothing in the file)",
      text: JSON.stringify({ credsStore: "desktop", auths: { "r.example": {} } }),
      registry: "r.example",
      expected: undefined,
    },
    { name: "a file that is not JSON", text: "{", registry: "r.example", expected: undefined },
  ])("reads $name", ({ text, registry, expected }) => {
    expect(credentialsFromDockerConfig(text, registry)).toEqual(expected);
  });
});
