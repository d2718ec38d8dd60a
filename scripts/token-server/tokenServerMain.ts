/**
 * The registry token server as a local service (scripts/local-services.sh runs it):
 *
 *   node scripts/token-server/tokenServerMain.ts --port 5002 --cert <pem> --key <pem>
 *     --signing-key <pem> --issuer <name> --service <name>
 *     --account <name>:<password file>:<pull[,push[,delete[,catalog]]]> ...
 *     [--expires-in <seconds>] [--settings-file <json>]
 *     [--proxy-port 5003 --upstream https://127.0.0.1:5000 --upstream-ca <pem>]
 *
 * With --proxy-port it also serves the pull-limit proxy (pullLimitProxy.ts) in front of the
 * registry, with the limit of the settings file.
 *
 * One JSON line per token issued or refused on stdout; one line "listening" once ready.
 */
import * as fs from "node:fs";
import { parseArgs as parseFlags } from "node:util";
import { startPullLimitProxy } from "./pullLimitProxy.ts";
import {
  REGISTRY_ACTIONS,
  type RegistryAction,
  startTokenServer,
  type TokenAccount,
} from "./tokenServer.ts";

function fail(message: string): never {
  process.stderr.write(`token server: ${message}\n`);
  process.exit(2);
}

function readFile(file: string, what: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    fail(`cannot read the ${what} ${file}: ${(error as Error).message}`);
  }
}

function parseAccount(entry: string): [string, TokenAccount] {
  const [name, passwordFile, grants, ...rest] = entry.split(":");
  if (!name || !passwordFile || !grants || rest.length > 0)
    fail(`--account "${entry}" must be <name>:<password file>:<actions>`);
  const actions: RegistryAction[] = [];
  let catalog = false;
  for (const grant of grants.split(",")) {
    if (grant === "catalog") catalog = true;
    else if ((REGISTRY_ACTIONS as readonly string[]).includes(grant))
      actions.push(grant as RegistryAction);
    else fail(`--account ${name}: unknown action "${grant}" (pull, push, delete, catalog)`);
  }
  const password = readFile(passwordFile, `password file of ${name}`).trim();
  return [name, { password, actions, catalog }];
}

function flags(argv: string[]) {
  try {
    return parseFlags({
      args: argv,
      strict: true,
      options: {
        port: { type: "string", default: "5002" },
        host: { type: "string", default: "127.0.0.1" },
        cert: { type: "string" },
        key: { type: "string" },
        "signing-key": { type: "string" },
        issuer: { type: "string" },
        service: { type: "string" },
        account: { type: "string", multiple: true, default: [] },
        "expires-in": { type: "string", default: "300" },
        "settings-file": { type: "string" },
        "proxy-port": { type: "string" },
        upstream: { type: "string" },
        "upstream-ca": { type: "string" },
      },
    }).values;
  } catch (error) {
    fail((error as Error).message);
  }
}

function parseArgs(argv: string[]) {
  const values = flags(argv);
  const one = (flag: Exclude<keyof typeof values, "account">): string => {
    const value = values[flag];
    if (value === undefined) fail(`--${flag} is required`);
    return value;
  };
  const port = Number(one("port"));
  const expiresIn = Number(one("expires-in"));
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port is not a port number`);
  if (!Number.isInteger(expiresIn) || expiresIn <= 0)
    fail(`--expires-in must be a whole number of seconds`);
  return {
    port,
    host: one("host"),
    tlsCert: readFile(one("cert"), "TLS certificate"),
    tlsKey: readFile(one("key"), "TLS key"),
    signingKey: readFile(one("signing-key"), "signing key"),
    issuer: one("issuer"),
    service: one("service"),
    accounts: Object.fromEntries(values.account.map(parseAccount)),
    expiresIn,
    settingsFile: values["settings-file"],
    proxy:
      values["proxy-port"] === undefined
        ? undefined
        : {
            port: Number(one("proxy-port")),
            upstream: one("upstream"),
            upstreamCa: readFile(one("upstream-ca"), "upstream CA"),
          },
  };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const server = await startTokenServer({ ...options, log });
  const proxy =
    options.proxy === undefined
      ? undefined
      : await startPullLimitProxy({
          host: options.host,
          port: options.proxy.port,
          tlsCert: options.tlsCert,
          tlsKey: options.tlsKey,
          upstream: options.proxy.upstream,
          upstreamCa: options.proxy.upstreamCa,
          currentLimit: () => server.settings().pullLimit,
          log,
        });
  process.stdout.write(
    `${JSON.stringify({ event: "listening", url: server.url, proxy: proxy?.url, keyId: server.keyId, accounts: Object.keys(options.accounts), expiresIn: options.expiresIn })}\n`,
  );
  const stop = () => {
    Promise.all([server.close(), proxy?.close()]).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: unknown) => fail((error as Error).message));
