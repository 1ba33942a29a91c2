/**
 * The end-to-end suites' host: real Debian MTAs on this machine, sealpost installed
 * from its npm tarball and set up by `sealpost init`, a loopback sink as the relay, real gpg.
 * They change /etc, so they run only as root with SEALPOST_E2E=1 (test/e2e/run sets it, on a
 * throw-away machine such as CI's).
 */
import assert from "node:assert/strict";
import { execFile, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before } from "node:test";
import { Gpg } from "../helpers/gpg.js";
import { TEST_PUBLIC_KEY } from "../helpers/paths.js";
import { openSealed, type Opened } from "../helpers/sealed.js";
import { Sink, type Received } from "../helpers/sink.js";
import { lookupUser } from "../../src/core/passwd.js";

export const HOST = "web01.example.org";
export const RCPT = "ops@example.net";
export const CONFIG = "/etc/sealpost/sealpost.toml";
export const MAILDIR = "/var/lib/sealpost/Maildir";
export const LOG_FILE = "/var/log/sealpost/sealpost.log";
/** Where test/e2e/run installs the npm tarball (`npm install -g --prefix`). */
export const SEALPOST = "/usr/local/bin/sealpost";

/**
 * Why the suite cannot run here (tests then skip with it), or undefined; a suite that spawns the
 * checkout's bin/sealpost needs no installed one. With
 * SEALPOST_E2E_REQUIRED=1 (test/e2e/run) that is an error instead: CI must not pass by skipping.
 */
export function blocker(program: string, needsInstalledSealpost = true): string | undefined {
  const why =
    process.env.SEALPOST_E2E !== "1"
      ? "SEALPOST_E2E=1 not set (run test/e2e/run as root on a throw-away machine)"
      : process.getuid?.() !== 0
        ? "needs root"
        : !existsSync(program)
          ? `${program} is not installed`
          : needsInstalledSealpost && !existsSync(SEALPOST)
            ? `${SEALPOST} is not installed (test/e2e/run installs it)`
            : undefined;
  if (why && process.env.SEALPOST_E2E_REQUIRED === "1") throw new Error(`e2e cannot run: ${why}`);
  return why;
}

/** Runs a command; its output, or an error that carries its stderr. */
export function sh(cmd: string, args: string[], input?: string | Buffer): string {
  const r = spawnSync(cmd, args, { input, encoding: "utf8", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Whether Postfix runs (`postfix status` says so by its exit status; its words may go to maillog_file). */
export function postfixRunning(): boolean {
  return spawnSync("postfix", ["status"], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } }).status === 0;
}

/**
 * As waitFor, with Postfix's queue flushed every 3 s meanwhile: one flush right after a reload, or
 * just before the next hop is back, can be missed by the new qmgr.
 */
export function waitFlushingPostfix<T>(what: string, probe: () => T | undefined | false, ms: number, diagnose?: () => string): Promise<T> {
  let flushed = 0;
  const flushing = () => {
    if (Date.now() - flushed > 3_000) {
      run("postqueue", ["-f"]);
      flushed = Date.now();
    }
    return probe();
  };
  return waitFor(what, flushing, ms, diagnose);
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false,
  ms: number,
  diagnose: () => string = () => "",
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}\n${diagnose()}`);
    await sleep(100);
  }
}

/**
 * `sealpost init` as an admin runs it, then the config a test needs: relay = the loopback sink,
 * events to a file (no syslog daemon on CI), and the TEST-ONLY key.
 */
export function setUpSealpost(sinkPort: number, initFlags: string[], configExtra = ""): string {
  const said = sh(SEALPOST, ["init", ...initFlags]);
  writeFileSync(
    CONFIG,
    `hostname = "${HOST}"
keys_dir = "keys"
spool_dir = "/var/spool/sealpost"

[local]
store = "maildir"
path = "${MAILDIR}"

[relay]
host = "127.0.0.1"
port = ${sinkPort}
security = "none"
envelope_from = "sealpost@${HOST}"

[log]
syslog = ""
file = "${LOG_FILE}"

[[route]]
match_recipient = ["root", "sealpost", "security"]
to = ["${RCPT}"]
${configExtra}`,
  );
  sh(SEALPOST, ["-c", CONFIG, "keys", "import", TEST_PUBLIC_KEY]);
  return said;
}

/** The local copies sealpost kept, newest last. */
export function localCopies(): string[] {
  const dir = join(MAILDIR, "new");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((name) => readFileSync(join(dir, name), "utf8"));
}

export function logLines(): string[] {
  return existsSync(LOG_FILE) ? readFileSync(LOG_FILE, "utf8").trimEnd().split("\n") : [];
}

/** A system mail as cron or a login hook writes it, with a token to find it by. */
export function systemMail(token: string, to = "root"): string {
  return `From: Fail2Ban <root@${HOST}>
To: ${to}
Subject: [Fail2Ban] sshd: banned 203.0.113.45 from ${HOST} (${token})
Message-ID: <${token}@${HOST}>

Hi,

The IP 203.0.113.45 has just been banned by Fail2Ban after
5 attempts against sshd. Token: ${token}

Regards,
Fail2Ban
`;
}

export function tail(file: string, lines = 40): string {
  try {
    return `--- ${file}\n` + readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return `--- ${file}: none`;
  }
}

export function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    return ((e as { stdout?: string }).stdout ?? "") + ((e as { stderr?: string }).stderr ?? (e as Error).message);
  }
}

/**
 * Like run(), without blocking this process: needed whenever the command talks to the sink,
 * which lives in this process's event loop.
 */
export function runAsync(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: "utf8" }, (_err, stdout, stderr) => resolve(stdout + stderr));
  });
}

/** `/usr/sbin/sendmail ARGS < message`, as cron does it, without blocking the sink; its exit status. */
export function sendmail(args: string[], message: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn("/usr/sbin/sendmail", args, {
      stdio: ["pipe", "ignore", "inherit"],
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    child.on("error", reject);
    child.on("close", resolve);
    child.stdin.end(message);
  });
}

export interface MtaSuite {
  gpg: Gpg;
  sink: Sink;
  /** The installed bin/sealpost, as `sealpost init` wrote it into ~sealpost/.forward. */
  launcher: string;
  /** Why the tests skip; undefined once set up. */
  skip?: string;
  /** The sealed message at the relay whose decrypted content holds `token`. */
  arrived(token: string): Received | undefined;
  /**
   * A fail2ban notice to root, with a fresh token, submitted through the MTA's sendmail; once it
   * is at the relay, sealed to the route's recipient with its body only inside, what it is.
   */
  rootMail(tag: string, diagnose: () => string): Promise<{ token: string; got: Received; opened: Opened }>;
}

/**
 * Suite set-up shared by the MTA suites (call at the top of a describe()): the sink, sealpost
 * installed and set up by `init` (by default `--write-aliases`), then the MTA's own set-up;
 * /etc/aliases is put back afterwards.
 */
export function useMtaSuite(
  program: string,
  setUpMta: () => void,
  tearDownMta: () => void = () => undefined,
  initFlags = ["--write-aliases"],
  configExtra = "",
  beforeInit: () => void = () => undefined,
): MtaSuite {
  const gpg = new Gpg();
  const sink = new Sink();
  const suite: MtaSuite = {
    gpg,
    sink,
    launcher: "",
    skip: "set-up failed",
    arrived: (token) => sink.messages.find((m) => openSealed(m.raw, gpg).inner.toString("utf8").includes(token)),
    rootMail: async (tag, diagnose) => {
      const token = `${tag}-${Date.now()}`;
      assert.equal(await sendmail(["-oi", "-f", `root@${HOST}`, "root"], systemMail(token)), 0);
      const got = await waitFor("the sealed message at the relay", () => suite.arrived(token), 60_000, diagnose);
      assert.deepEqual(got.to, [RCPT]);
      assert.ok(!got.raw.toString("latin1").includes("Token:"), "the body is not in the clear");
      const opened = openSealed(got.raw, gpg);
      assert.ok(opened.inner.toString("utf8").includes(`Token: ${token}`));
      return { token, got, opened };
    },
  };
  let aliases: string | undefined;
  before(async () => {
    suite.skip = blocker(program);
    if (suite.skip) return;
    suite.skip = "set-up failed";
    await sink.start();
    aliases = existsSync("/etc/aliases") ? readFileSync("/etc/aliases", "utf8") : undefined;
    beforeInit();
    const said = setUpSealpost(sink.port, initFlags, configExtra);
    suite.launcher = /\.forward: "\|(\S+) -c/.exec(said)?.[1] ?? (initFlags.includes("--lmtp") ? SEALPOST : "");
    if (!suite.launcher.startsWith("/")) throw new Error(`sealpost init did not name its launcher:\n${said}`);
    setUpMta();
    suite.skip = undefined;
  });
  after(async () => {
    if (aliases !== undefined) writeFileSync("/etc/aliases", aliases);
    if (!suite.skip) tearDownMta();
    await sink.stop();
    gpg.close();
  });
  return suite;
}

/** `sealpost serve` as the sealpost user, as its systemd unit runs it; resolves once it listens. */
export class ServeProcess {
  private child?: ReturnType<typeof spawn>;
  private said = "";

  async start(): Promise<this> {
    const ids = lookupUser("sealpost")!;
    const child = spawn(SEALPOST, ["-c", CONFIG, "serve"], {
      uid: ids.uid,
      gid: ids.gid,
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    this.child = child;
    this.said = ""; // a restart must not take the last run's "listening" for its own
    child.stdout.on("data", (c: Buffer) => (this.said += c.toString()));
    child.stderr.on("data", (c: Buffer) => (this.said += c.toString()));
    await waitFor(
      "sealpost serve to listen",
      () => this.said.includes("listening") || undefined,
      15_000,
      () => this.said,
    );
    return this;
  }

  /** SIGTERM, as systemctl stop sends it; resolves once it has exited. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise((resolve) => child.once("close", resolve));
    child.kill("SIGTERM");
    await gone;
  }
}
