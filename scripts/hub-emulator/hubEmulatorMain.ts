/**
 * The Docker Hub emulator as a standalone service for the local stack:
 *
 *   node scripts/hub-emulator/hubEmulatorMain.ts --port 5001 --state-file <path> [--host 127.0.0.1]
 *     [--user name:token[:permission] ...]
 *
 * Users also come from HUB_EMULATOR_USERS (`name:token,name:token`); without either, the
 * emulator accepts `release-bot` / `dckr_pat_emulator`. A token's permission is read, read-write
 * or read-write-delete (the default, which everything the local stack does needs). The state is loaded from the state file
 * when it exists and written back (atomically) after every change, so repositories survive a
 * restart. Prints exactly one line once listening; stops cleanly on SIGINT/SIGTERM.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  DEFAULT_EMULATOR_USERS,
  emptyHubState,
  HUB_PERMISSIONS,
  type HubEmulatorState,
  type HubPermission,
  startHubEmulator,
} from "./hubEmulator.ts";

interface MainOptions {
  port: number;
  host: string;
  stateFile: string | undefined;
  users: Record<string, string>;
  permissions: Record<string, HubPermission>;
}

function fail(message: string): never {
  process.stderr.write(`hub emulator: ${message}\n`);
  process.exit(2);
}

function parseUsers(list: string[]): Pick<MainOptions, "users" | "permissions"> {
  const users: Record<string, string> = {};
  const permissions: Record<string, HubPermission> = {};
  for (const entry of list) {
    const at = entry.indexOf(":");
    if (at <= 0 || at === entry.length - 1) {
      fail(
        `user "${entry.slice(0, Math.max(at, 0)) || entry}" must be given as name:token[:permission]`,
      );
    }
    const name = entry.slice(0, at);
    let token = entry.slice(at + 1);
    const last = token.lastIndexOf(":");
    const permission = last < 0 ? undefined : token.slice(last + 1);
    if (permission !== undefined && (HUB_PERMISSIONS as readonly string[]).includes(permission)) {
      permissions[name] = permission as HubPermission;
      token = token.slice(0, last);
    }
    users[name] = token;
  }
  return { users, permissions };
}

function parseArgs(argv: string[]): MainOptions {
  let port = 5001;
  let host = "127.0.0.1";
  let stateFile: string | undefined;
  const userList: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    const needValue = () => {
      if (value === undefined) {
        fail(`${arg} needs a value`);
      }
      i++;
      return value;
    };
    switch (arg) {
      case "--port": {
        const raw = needValue();
        port = Number(raw);
        if (!Number.isInteger(port) || port < 0 || port > 65535) {
          fail(`--port "${raw}" is not a port number (0-65535)`);
        }
        break;
      }
      case "--host":
        host = needValue();
        break;
      case "--state-file":
        stateFile = path.resolve(needValue());
        break;
      case "--user":
        userList.push(needValue());
        break;
      case "--help":
        process.stdout.write(
          "usage: hubEmulatorMain.ts [--port 5001] [--host 127.0.0.1] [--state-file FILE] [--user name:token[:read|read-write|read-write-delete] ...]\n",
        );
        process.exit(0);
        break;
      default:
        fail(`unknown argument "${arg}"`);
    }
  }
  const fromEnv = (process.env.HUB_EMULATOR_USERS ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  const { users, permissions } = parseUsers([...fromEnv, ...userList]);
  return {
    port,
    host,
    stateFile,
    users: Object.keys(users).length > 0 ? users : { ...DEFAULT_EMULATOR_USERS },
    permissions,
  };
}

function loadState(file: string | undefined): HubEmulatorState {
  if (file === undefined || !fs.existsSync(file)) {
    return emptyHubState();
  }
  try {
    const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<HubEmulatorState>;
    return { repositories: parsed.repositories ?? {} };
  } catch (error) {
    fail(`state file ${file} is not readable JSON: ${(error as Error).message}`);
  }
}

function saveState(file: string, state: HubEmulatorState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`);
  fs.renameSync(temporary, file);
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const stateFile = options.stateFile;
  const emulator = await startHubEmulator({
    port: options.port,
    host: options.host,
    users: options.users,
    permissions: options.permissions,
    state: loadState(stateFile),
    onChange: stateFile === undefined ? undefined : (state) => saveState(stateFile, state),
  });
  if (stateFile !== undefined && !fs.existsSync(stateFile)) {
    saveState(stateFile, emulator.state);
  }
  process.stdout.write(
    `Docker Hub emulator listening on ${emulator.url} (state file: ${stateFile ?? "none, in memory"}; users: ${Object.keys(options.users).join(", ")})\n`,
  );
  const stop = () => {
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: unknown) => fail((error as Error).message));
