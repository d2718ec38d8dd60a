/**
 * QEMU user emulation on the local services (scripts/local-services/binfmt.sh, run by
 * `local-services.sh start|stop|status`): start registers Debian's entry for the foreign
 * architecture with the fix-binary flag, stop removes exactly what start registered, and the
 * kernel's binfmt_misc is after stop as it was before start, also when the entry was there
 * before start. binfmt_misc is the kernel's, shared with the running services and whoever builds
 * for arm64 meanwhile: these tests register an entry of their own name, with a state folder of
 * their own, and never touch the shared `qemu-<arch>` entry.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/stack";
import { exactly } from "../support/exactly";
import { makeTempDir } from "../support/tempDirs";

const BINFMT_SCRIPT = path.join(REPO_ROOT, "scripts/local-services/binfmt.sh");
const MISC = "/proc/sys/fs/binfmt_misc";
const FOREIGN = process.arch === "arm64" ? "x86_64" : "aarch64";
const PLATFORM = FOREIGN === "aarch64" ? "linux/arm64" : "linux/amd64";
const CONF = `/usr/lib/binfmt.d/qemu-${FOREIGN}.conf`;
/** Not Debian's `qemu-<arch>`: the services and other builds use that one while this runs. */
const ENTRY = `battlescope-test-qemu-${FOREIGN}`;
const IS_ROOT = process.getuid?.() === 0;

interface BinfmtView {
  /** Where binfmt_misc is mounted in this mount namespace. */
  readonly mountPoints: string[];
  /** Every entry's text as the kernel shows it, and the status file, by name. */
  readonly files: Record<string, string>;
}

function binfmtMountPoints(): string[] {
  return fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" "))
    .filter((fields) => fields[fields.indexOf("-") + 1] === "binfmt_misc")
    .map((fields) => fields[4] ?? "")
    .sort();
}

function binfmtView(): BinfmtView {
  const mountPoints = binfmtMountPoints();
  const files: Record<string, string> = {};
  const misc = mountPoints[0];
  if (misc === undefined) return { mountPoints, files };
  for (const name of fs.readdirSync(misc).sort()) {
    if (name !== "register") files[name] = fs.readFileSync(path.join(misc, name), "utf8");
  }
  return { mountPoints, files };
}

/** The flags the kernel shows for Debian's entry with F added (it prints them in this order). */
function registeredFlags(): string {
  const flags = `${debianEntry().fields[7] ?? ""}F`;
  return [..."POCF"].filter((flag) => flags.includes(flag)).join("");
}

/** Debian's registration line (`:name:type:offset:magic:mask:interpreter:flags`), split. */
function debianEntry(): { readonly fields: string[]; readonly interpreter: string } {
  const line = fs
    .readFileSync(CONF, "utf8")
    .split("\n")
    .find((text) => text.startsWith(":"));
  if (line === undefined) throw new Error(`${CONF} holds no registration line`);
  const fields = line.split(":");
  return { fields, interpreter: fields[6] ?? "" };
}

function binfmt(
  state: string,
  args: string[],
  options: { readonly prefix?: string[]; readonly env?: Record<string, string> } = {},
) {
  const [command = "bash", ...prefix] = [...(options.prefix ?? []), "bash"];
  return new Promise<{ ok: boolean; stdout: string; stderr: string; seconds: number }>(
    (resolve) => {
      const started = Date.now();
      execFile(
        command,
        [...prefix, BINFMT_SCRIPT, ...args],
        {
          env: {
            ...process.env,
            BATTLESCOPE_STATE: state,
            BATTLESCOPE_BINFMT_ENTRY: ENTRY,
            ...options.env,
          },
        },
        (error, stdout, stderr) =>
          resolve({ ok: !error, stdout, stderr, seconds: (Date.now() - started) / 1000 }),
      );
    },
  );
}

/** Whether binfmt_misc was mounted at MISC when this file began (it is so again at its end). */
let mountedAtBeginning = true;
/** The fresh mount points the tests gave the script (unmounted at the end, whatever happened). */
const freshMountPoints: string[] = [];

function unmount(mountPoint: string): Promise<void> {
  return new Promise<void>((resolve) => execFile("umount", [mountPoint], () => resolve()));
}

/** Registers ENTRY the way a host tool would (not through the script), mounting if needed. */
async function registerAsHost(flags: string): Promise<void> {
  if (!fs.existsSync(path.join(MISC, "register"))) {
    await new Promise<void>((resolve, reject) =>
      execFile("mount", ["-t", "binfmt_misc", "binfmt_misc", MISC], (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  }
  // An earlier test that failed half-way may have left it.
  if (fs.existsSync(path.join(MISC, ENTRY))) fs.writeFileSync(path.join(MISC, ENTRY), "-1");
  const fields = [...debianEntry().fields];
  fields[1] = ENTRY;
  fields[7] = flags;
  fs.writeFileSync(path.join(MISC, "register"), fields.join(":"));
}

/**
 * Removes what the tests (or a script a test caught failing) made in binfmt_misc: their entry,
 * the fresh mounts, and the mount at MISC when there was none at the beginning.
 */
async function removeTestEntry(): Promise<void> {
  for (const misc of binfmtMountPoints()) {
    if (fs.existsSync(path.join(misc, ENTRY))) fs.writeFileSync(path.join(misc, ENTRY), "-1");
  }
  for (const misc of freshMountPoints) {
    if (binfmtMountPoints().includes(misc)) await unmount(misc);
  }
  if (mountedAtBeginning || !fs.existsSync(path.join(MISC, "register"))) return;
  const others = fs.readdirSync(MISC).filter((name) => name !== "register" && name !== "status");
  // An unmount drops every entry: keep it mounted when someone registered one meanwhile.
  if (others.length === 0) await unmount(MISC);
}

describe.skipIf(!IS_ROOT)(
  "QEMU user emulation in binfmt_misc (needs root: skipped otherwise)",
  () => {
    beforeAll(async () => {
      expect(fs.existsSync(CONF), `${CONF}: install qemu-user-static`).toBe(true);
      mountedAtBeginning = fs.existsSync(path.join(MISC, "register"));
      // A run that died half-way left its entry: it is this test's, never the shared one.
      await removeTestEntry();
    });
    afterAll(async () => {
      await removeTestEntry();
      expect(binfmtMountPoints().filter((misc) => freshMountPoints.includes(misc))).toEqual([]);
    });

    // At /proc/sys/fs/binfmt_misc the script mounts only when nothing else did (the shared entry
    // of the running services needs it mounted); a fresh mount point of the same kernel instance
    // makes it mount and unmount whatever the host's state.
    it.each([
      ["at /proc/sys/fs/binfmt_misc, mounted or not", false],
      ["at a mount point of its own, which start mounts and stop unmounts", true],
    ])(
      "start registers Debian's entry with the fix-binary flag, stop leaves binfmt_misc as it found it (%s)",
      async (_, fresh) => {
        const state = makeTempDir("binfmt-state");
        const misc = fresh ? makeTempDir("binfmt-misc") : MISC;
        if (fresh) freshMountPoints.push(misc);
        const env = { BATTLESCOPE_BINFMT_MISC: misc };
        const before = binfmtView();
        expect(before.files[ENTRY]).toBeUndefined();
        const { interpreter } = debianEntry();
        const flags = registeredFlags();
        expect(flags).toContain("F");
        const mountedByStart = !fs.existsSync(path.join(misc, "register"));

        const first = await binfmt(state, ["start"], { env });
        expect(first.stderr.replace(/\) in \d+\.\d\ds$/m, ") in N s")).toBe(
          `${mountedByStart ? `binfmt: mounted binfmt_misc at ${misc}\n` : ""}binfmt: registered ${ENTRY} for ${PLATFORM} (interpreter ${interpreter}, flags ${flags}, enabled) in N s\n`,
        );
        expect(first.ok).toBe(true);
        const entry = fs.readFileSync(path.join(misc, ENTRY), "utf8").split("\n");
        expect(entry.slice(0, 3)).toEqual([
          "enabled",
          `interpreter ${interpreter}`,
          `flags: ${flags}`,
        ]);
        expect(fs.existsSync(path.join(state, "binfmt/mounted"))).toBe(mountedByStart);

        const warm = await binfmt(state, ["start"], { env });
        expect(warm.stderr).toBe(
          `binfmt: ${ENTRY} already registered by an earlier start (interpreter ${interpreter}, flags ${flags}, enabled)\n`,
        );
        const status = await binfmt(state, ["status"], { env });
        expect(status.stdout).toBe(
          `up    ${ENTRY} for ${PLATFORM} (interpreter ${interpreter}, flags ${flags}, enabled; registered by start, removed by stop${mountedByStart ? "; binfmt_misc mounted by start" : ""})\n`,
        );
        expect(status.ok).toBe(true);

        const stop = await binfmt(state, ["stop"], { env });
        expect(stop.ok).toBe(true);
        expect(stop.stderr).toBe(
          `binfmt: removed ${ENTRY}\n${mountedByStart ? `binfmt: unmounted binfmt_misc at ${misc}\n` : ""}`,
        );
        expect(binfmtView()).toEqual(before);
        const after = await binfmt(state, ["status"], { env });
        expect(after.ok).toBe(false);
        expect(after.stdout).toMatch(
          new RegExp(
            `^down  ${ENTRY} not registered.*\\(${PLATFORM} RUN steps fail with exec format error\\)\n$`,
          ),
        );
        console.log(
          `binfmt step: first registration ${first.seconds.toFixed(2)} s, warm start ${warm.seconds.toFixed(2)} s, stop ${stop.seconds.toFixed(2)} s`,
        );
      },
    );

    it("an entry registered before start is left alone by start and survives stop", async () => {
      const state = makeTempDir("binfmt-state");
      await registerAsHost("POCF");
      const before = binfmtView();
      const { interpreter } = debianEntry();

      const start = await binfmt(state, ["start"]);
      expect(start.stderr).toBe(
        `binfmt: ${ENTRY} was registered before this start, left alone (interpreter ${interpreter}, flags POCF, enabled)\n`,
      );
      expect(start.ok).toBe(true);
      const status = await binfmt(state, ["status"]);
      expect(status.stdout).toBe(
        `up    ${ENTRY} for ${PLATFORM} (interpreter ${interpreter}, flags POCF, enabled; not ours: registered before start, stop leaves it)\n`,
      );
      const stop = await binfmt(state, ["stop"]);
      expect(stop.ok).toBe(true);
      expect(stop.stderr).toBe("");
      expect(binfmtView()).toEqual(before);
      expect(fs.existsSync(path.join(MISC, ENTRY))).toBe(true);
      await removeTestEntry();
    });

    it("records of an earlier boot are dropped: stop leaves an entry they name alone", async () => {
      const state = makeTempDir("binfmt-state");
      await registerAsHost(registeredFlags());
      const before = binfmtView();
      // What a start before the last reboot recorded, for an entry that now looks the same.
      fs.mkdirSync(path.join(state, "binfmt/entries"), { recursive: true });
      fs.writeFileSync(path.join(state, "binfmt/boot"), "an-earlier-boot\n");
      fs.writeFileSync(path.join(state, "binfmt/mounted"), `${MISC}\n`);
      fs.writeFileSync(
        path.join(state, "binfmt/entries", ENTRY),
        fs.readFileSync(path.join(MISC, ENTRY), "utf8"),
      );
      expect(fs.readFileSync(path.join(state, "binfmt/entries", ENTRY), "utf8")).toBe(
        before.files[ENTRY],
      );

      const stop = await binfmt(state, ["stop"]);
      expect(stop.stderr).toBe("");
      expect(stop.ok).toBe(true);
      expect(binfmtView()).toEqual(before);
      expect(fs.existsSync(path.join(state, "binfmt"))).toBe(false);
      await removeTestEntry();
    });

    it("an entry there before start without the fix-binary flag is left alone, with a warning", async () => {
      const state = makeTempDir("binfmt-state");
      await registerAsHost("P");
      const before = binfmtView();
      const { interpreter } = debianEntry();

      const start = await binfmt(state, ["start"]);
      expect(start.stderr).toBe(
        `binfmt: ${ENTRY} was registered before this start, left alone (interpreter ${interpreter}, flags P, enabled)\n` +
          `binfmt: warning: ${ENTRY} has no F (fix-binary) flag: build containers cannot open its interpreter and ${PLATFORM} RUN steps fail; remove it (echo -1 > ${MISC}/${ENTRY}) and start again to register Debian's with F\n`,
      );
      await binfmt(state, ["stop"]);
      expect(binfmtView()).toEqual(before);
      await removeTestEntry();
    });

    // The last unmount of binfmt_misc drops every entry. A user namespace with a mount namespace
    // of its own has a binfmt_misc instance of its own (Linux 6.7+): there, start's mount is the
    // only one, whatever the host has.
    it("keeps binfmt_misc mounted at stop when an entry registered since start would go with it, unless it is mounted elsewhere too", async () => {
      const dir = makeTempDir("binfmt-userns");
      const misc = path.join(dir, "misc");
      const second = path.join(dir, "second");
      fs.mkdirSync(misc);
      fs.mkdirSync(second);
      const other = ":battlescope-test-other:M::BATTLESCOPE-OTHER::/bin/true:F";
      const steps = [
        `bash ${BINFMT_SCRIPT} start`,
        `echo '${other}' > ${misc}/register`,
        `bash ${BINFMT_SCRIPT} stop`,
        `ls ${misc}`,
        `rm -r ${dir}/state/binfmt`,
        `echo -1 > ${misc}/battlescope-test-other`,
        `umount ${misc}`,
        `bash ${BINFMT_SCRIPT} start 2>/dev/null`,
        `echo '${other}' > ${misc}/register`,
        `mount -t binfmt_misc binfmt_misc ${second}`,
        `bash ${BINFMT_SCRIPT} stop`,
        `ls ${second}`,
      ];
      const result = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
        execFile(
          "unshare",
          ["--user", "--map-root-user", "--mount", "bash", "-euc", steps.join("\n")],
          {
            env: {
              ...process.env,
              BATTLESCOPE_STATE: path.join(dir, "state"),
              BATTLESCOPE_BINFMT_ENTRY: ENTRY,
              BATTLESCOPE_BINFMT_MISC: misc,
            },
          },
          (error, stdout, stderr) => (error ? reject(error) : resolve({ stdout, stderr })),
        ),
      );
      const { interpreter } = debianEntry();
      expect(result.stderr.replace(/\) in \d+\.\d\ds$/m, ") in N s")).toBe(
        [
          `binfmt: mounted binfmt_misc at ${misc}`,
          `binfmt: registered ${ENTRY} for ${PLATFORM} (interpreter ${interpreter}, flags ${registeredFlags()}, enabled) in N s`,
          `binfmt: removed ${ENTRY}`,
          `binfmt: binfmt_misc at ${misc} left mounted: entries registered since start (battlescope-test-other) would go with it`,
          `binfmt: removed ${ENTRY}`,
          `binfmt: unmounted binfmt_misc at ${misc}`,
          "",
        ].join("\n"),
      );
      // The other entry, after each stop: kept by the mount, then by the second mount.
      const listing = "battlescope-test-other\nregister\nstatus\n";
      expect(result.stdout).toBe(listing + listing);
    });

    // Where binfmt_misc would be mounted: a fresh folder, so that both cases reach the mount
    // whether or not the kernel's binfmt_misc is mounted at /proc/sys/fs/binfmt_misc right now.
    it("refuses to mount binfmt_misc without root, saying so", async () => {
      const misc = makeTempDir("binfmt-misc");
      const state = makeTempDir("binfmt-state");
      const result = await binfmt(state, ["start"], {
        prefix: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
        env: { BATTLESCOPE_BINFMT_MISC: misc, HOME: state },
      });
      expect(result.ok).toBe(false);
      expect(result.stderr).toMatch(
        exactly(
          `binfmt: error: mounting binfmt_misc at ${misc} needs root (running as uid 65534): run scripts/local-services.sh start as root, or register ${PLATFORM} emulation yourself (e.g. docker run --privileged tonistiigi/binfmt --install ${PLATFORM.slice("linux/".length)})\n`,
        ),
      );
      expect(fs.readdirSync(state)).toEqual([]);
    });

    it("says why binfmt_misc cannot be mounted (root of a user namespace: no mount rights)", async () => {
      const misc = makeTempDir("binfmt-misc");
      const state = makeTempDir("binfmt-state");
      const result = await binfmt(state, ["start"], {
        prefix: ["unshare", "--user", "--map-root-user"],
        env: { BATTLESCOPE_BINFMT_MISC: misc },
      });
      expect(result.ok).toBe(false);
      expect(result.stderr).toMatch(
        exactly(
          `binfmt: error: cannot mount binfmt_misc at ${misc}: mount: ${misc}: permission denied.\n`,
        ),
      );
      expect(fs.readdirSync(state)).toEqual([]);
    });
  },
);
