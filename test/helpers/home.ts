/**
 * One scenario's world: a temp directory with a config, keys_dir, spool and local store, and
 * bin/sealpost spawned as Postfix spawns it (PATH=/usr/bin:/bin, no HOME).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, RCPT, ROOT, TEST_PUBLIC_KEY } from "./paths.js";

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: Buffer;
}

export interface HomeOptions {
  hostname?: string;
  store?: "maildir" | "mbox" | "none";
  relayPort?: number;
  extra?: string;
  /** Top-level keys (before any table), e.g. `user = "nobody"`. */
  top?: string;
  route?: string;
  /** The [log] table's body; by default syslog is off, so tests never write into the host's log. */
  log?: string;
  /** Run sealpost as this user (uid = gid); the test's files are handed to it. Needs root. */
  uid?: number;
}

export class Home {
  readonly root = mkdtempSync(join(tmpdir(), "sealpost-test-"));
  readonly keys = join(this.root, "keys");
  readonly spool = join(this.root, "spool");
  readonly config = join(this.root, "sealpost.toml");
  mail: string;
  /** What run() starts: bin/sealpost, or a link to it under another name (sendmail). */
  bin = BIN;

  constructor(private options: HomeOptions = {}) {
    this.mail = join(this.root, options.store === "mbox" ? "mbox" : "Maildir");
    this.writeConfig(options);
    if (options.uid !== undefined) this.handOver(this.root);
  }

  /** Gives `path` (recursively) to the user sealpost runs as. */
  handOver(path: string): void {
    execFileSync("chown", ["-R", `${this.options.uid}:${this.options.uid}`, path]);
  }

  writeConfig(change: HomeOptions = {}): void {
    this.options = { ...this.options, ...change };
    const o = this.options;
    writeFileSync(
      this.config,
      `hostname = "${o.hostname ?? "web01.example.org"}"
${o.top ?? ""}
keys_dir = "keys"
spool_dir = "spool"

[local]
store = "${o.store ?? "maildir"}"
path = "${this.mail}"

[relay]
host = "127.0.0.1"
port = ${o.relayPort ?? 1}
security = "none"
envelope_from = "sealpost@web01.example.org"
timeout = "10s"
${o.extra ?? ""}
[log]
${o.log ?? 'syslog = ""'}
${o.route ?? `[[route]]\nto = ["${RCPT}"]`}
`,
    );
  }

  run(args: string[], stdin: Buffer | string = "", env: Record<string, string> = {}): Promise<RunResult> {
    return this.start(args, stdin, env).done;
  }

  /**
   * `sealpost deliver` as the MTA runs it, then, once it has answered, until the runner has done
   * what is due (settled): with relay = "queued" the answer comes before the relay.
   */
  async deliver(stdin: Buffer | string, env: Record<string, string> = {}, args: string[] = []): Promise<RunResult> {
    const r = await this.run(["deliver", ...args], stdin, env);
    await this.settled();
    return r;
  }

  /**
   * Until nothing in the spool is due (every queued entry relayed and gone, backing off after an
   * attempt, held, or waiting for its digest), or 15 s: what the background runner does after
   * each commit, done.
   */
  async settled(): Promise<void> {
    const meta = join(this.spool, "meta");
    const due = () => {
      if (!existsSync(meta)) return false;
      return readdirSync(meta)
        .filter((n) => n.endsWith(".json") && !n.startsWith("."))
        .some((n) => {
          try {
            const e = JSON.parse(readFileSync(join(meta, n), "utf8")) as {
              state: string;
              nextAttempt: string;
              batch?: { waiting?: boolean };
            };
            return e.state === "queued" && !e.batch?.waiting && Date.parse(e.nextAttempt) <= Date.now();
          } catch {
            return false; // being written: the next look sees it
          }
        });
    };
    for (let i = 0; i < 300 && due(); i++) await new Promise((r) => setTimeout(r, 50));
  }

  /**
   * Until no spool entry is locked, or `timeoutMs`; whether none is. A runner stopped by SIGKILL
   * in the middle of an attempt leaves its entry locked by a dead process for a while (the
   * dead-holder grace, or the stale interval where nothing reaps it), and a pass that takes locks
   * without waiting leaves that entry alone: stop a runner only once this is true.
   */
  async untilUnlocked(timeoutMs = 60_000): Promise<boolean> {
    const meta = join(this.spool, "meta");
    const locked = () => existsSync(meta) && readdirSync(meta).some((n) => n.endsWith(".json.lock"));
    for (const end = Date.now() + timeoutMs; locked() && Date.now() < end;) await new Promise((r) => setTimeout(r, 25));
    return !locked();
  }

  /** Like run(), as another user (needs root). */
  runAs(uid: number, args: string[], stdin: Buffer | string = "", env: Record<string, string> = {}): Promise<RunResult> {
    return this.start(args, stdin, env, uid).done;
  }

  /** `stdin` null: left open, for the test to write to (child.stdin). */
  start(
    args: string[],
    stdin: Buffer | string | null = "",
    env: Record<string, string> = {},
    uid = this.options.uid,
  ): { child: ChildProcess; done: Promise<RunResult> } {
    const child = spawn(this.bin, args, {
      env: { PATH: "/usr/bin:/bin", SEALPOST_CONFIG: this.config, ...env },
      ...(uid === undefined ? {} : { uid, gid: uid }),
    });
    const done = new Promise<RunResult>((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (c: Buffer) => out.push(c));
      child.stderr.on("data", (c: Buffer) => err.push(c));
      child.stdin.on("error", () => undefined); // a command that exits early closes its stdin
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
      if (stdin !== null) child.stdin.end(stdin);
    });
    return { child, done };
  }

  /** Turns on [message] sign = true (the host key is message.host_key, host-key.asc beside the config). */
  enableSigning(): void {
    writeFileSync(this.config, readFileSync(this.config, "utf8").replace("[relay]", "[message]\nsign = true\n\n[relay]"));
  }

  async importTestKey(): Promise<void> {
    const r = await this.run(["keys", "import", TEST_PUBLIC_KEY]);
    if (r.code !== 0) throw new Error(`key import failed: ${r.stderr.toString()}`);
  }

  /** Messages in the local store, in delivery order. */
  localCopies(): Buffer[] {
    if (this.options.store === "mbox") {
      if (!existsSync(this.mail)) return [];
      return readFileSync(this.mail)
        .toString("latin1")
        .split(/^From \S+ .*\n/m)
        .filter((p) => p.trim() !== "")
        .map((p) => Buffer.from(p, "latin1"));
    }
    const dir = join(this.mail, "new");
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .sort(byDeliveryTime)
      .map((name) => readFileSync(join(dir, name)));
  }

  localFileModes(): number[] {
    const dir = join(this.mail, "new");
    return existsSync(dir) ? readdirSync(dir).map((name) => statSync(join(dir, name)).mode & 0o777) : [];
  }

  /**
   * Stops every sealpost process started for this home (background queue runners that deliver or
   * sendmail left, a serve) and waits until they are gone; only then is the tree removed, so no
   * runner can write into it while it is being removed.
   */
  async cleanup(): Promise<void> {
    await this.stopRunners();
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Kills every sealpost process started for this home (a lingering background runner, a serve) and waits until they are gone. */
  async stopRunners(): Promise<void> {
    const mine = () => processesWithEnv(`SEALPOST_CONFIG=${this.config}`);
    for (const pid of mine()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    for (let i = 0; i < 100 && mine().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Maildir names start "<seconds>.M<microseconds>P…" without padding, so within one second a
 * plain sort puts M123000 before M99000: order by the numbers instead.
 */
function byDeliveryTime(a: string, b: string): number {
  const time = (name: string) => /^(\d+)\.M(\d+)/.exec(name)?.slice(1).map(Number) ?? [0, 0];
  const [sa, ua] = time(a);
  const [sb, ub] = time(b);
  return sa! - sb! || ua! - ub! || a.localeCompare(b);
}

/** Live background runners (`queue run --background`) started for `home`. */
export function backgroundRunners(home: Pick<Home, "config">): number[] {
  return processesWithEnv(`SEALPOST_CONFIG=${home.config}`).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").includes("--background");
    } catch {
      return false;
    }
  });
}

/** Live processes (not zombies) whose environment holds `entry` exactly, other than this one. */
function processesWithEnv(entry: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"))) continue;
      if (readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(entry)) pids.push(pid);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

/** The exit-75 contract: exactly one stderr line starting with an enhanced 4.x.x code. */
export function isTempfailLine(stderr: Buffer): boolean {
  return /^4\.\d+\.\d+ sealpost: [^\n]+\n$/.test(stderr.toString());
}

/** The node process bin/sealpost started (pipe mode runs node as its child); undefined once gone. */
export function nodeChildOf(launcherPid: number): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(`/proc/${launcherPid}/task/${launcherPid}/children`, "utf8").trim().split(" ")[0] ?? "", 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether sealpost can run as `uid` here: we are root, and that user can reach the checkout and node. */
export function canRunAs(uid: number): boolean {
  if (process.getuid?.() !== 0) return false;
  const main = join(ROOT, "dist", "src", "cli", "main.js");
  const r = spawnSync("/bin/sh", ["-c", `test -x "${BIN}" && test -r "${main}" && test -x "${process.execPath}"`], { uid, gid: uid });
  return r.status === 0;
}
