// Shared by the benchmarks: a loopback SMTP sink, a scratch sealpost set-up, a gpg home with the
// TEST-ONLY key, and the statistics. Every process is started with PATH=/usr/bin:/bin and no
// HOME, as Postfix runs a pipe (and without NODE_EXTRA_CA_CERTS and friends, which would cost
// every node start, the reference `node -e 0` included, tens of milliseconds).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const root = resolve(import.meta.dirname, "..");
export const sealpost = join(root, "bin/sealpost");
export const fixture = (name) => readFileSync(join(root, "../shared/fixtures", name));
export const KEY_FILE = join(root, "keys/2D078DBC84053A03A90D58A525069B8229DDA237.asc");
export const KEY_UID = "ops@example.net";

/**
 * An SMTP sink that answers at once, as Postfix's smtpd does: no greeting delay (smtp-server
 * waits 100 ms before every greeting), pipelined replies written together (separate small
 * writes meet delayed ACKs: 40 ms per transaction). Counts whole messages; `onMessage` gets each,
 * with its envelope ({ from, to }) as the client gave it in MAIL FROM and RCPT TO.
 */
export function startSink(onMessage = () => {}) {
  const sink = { count: 0, bytes: 0 };
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.write("220 sink ESMTP\r\n");
    let text = "";
    let data = null;
    let envelope = { from: "", to: [] };
    socket.on("data", (chunk) => {
      socket.cork();
      text += chunk.toString("latin1");
      for (;;) {
        if (data !== null) {
          const end = text.indexOf("\r\n.\r\n");
          if (end < 0) {
            const keep = Math.max(0, text.length - 4);
            data.push(text.slice(0, keep));
            text = text.slice(keep);
            break;
          }
          data.push(text.slice(0, end + 2));
          text = text.slice(end + 5);
          const message = data.join("");
          data = null;
          sink.count++;
          sink.bytes += message.length;
          onMessage(message, envelope);
          envelope = { from: "", to: [] };
          socket.write("250 2.0.0 Ok: queued\r\n");
          continue;
        }
        const eol = text.indexOf("\r\n");
        if (eol < 0) break;
        const line = text.slice(0, eol);
        const verb = line.slice(0, 4).toUpperCase();
        text = text.slice(eol + 2);
        const address = /^(?:MAIL FROM|RCPT TO):\s*<([^>]*)>/i.exec(line)?.[1];
        if (verb === "MAIL" || verb === "RSET") envelope = { from: address ?? "", to: [] };
        else if (verb === "RCPT" && address !== undefined) envelope.to.push(address);
        if (verb === "EHLO") socket.write("250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 104857600\r\n");
        else if (verb === "DATA") {
          data = [];
          text = "\r\n" + text;
          socket.write("354 End data with <CR><LF>.<CR><LF>\r\n");
        } else if (verb === "QUIT") {
          socket.end("221 2.0.0 Bye\r\n");
          break;
        } else socket.write("250 2.0.0 Ok\r\n");
      }
      process.nextTick(() => socket.uncork());
    });
    socket.on("error", () => {});
  });
  return new Promise((ready) =>
    server.listen(0, "127.0.0.1", () => {
      sink.port = server.address().port;
      sink.close = () =>
        new Promise((done) => {
          server.close(done);
          server.unref();
        });
      ready(sink);
    }),
  );
}

/** A scratch directory with a sealpost config relaying to `port`, and the TEST-ONLY key imported. */
/** A loopback port free right now (the kernel's pick): a port made from the pid can be any socket's ephemeral port. */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function scratchSetup(port, extra = "") {
  const dir = mkdtempSync(join(tmpdir(), "sealpost-bench-"));
  const config = join(dir, "sealpost.toml");
  writeFileSync(
    config,
    [
      'hostname = "web01.example.org"',
      'keys_dir = "keys"',
      'spool_dir = "spool"',
      "[local]",
      'path = "Maildir"',
      "[log]",
      'syslog = ""',
      "[relay]",
      'host = "127.0.0.1"',
      `port = ${port}`,
      'security = "none"',
      extra,
      "[[route]]",
      `to = ["${KEY_UID}"]`,
      "",
    ].join("\n"),
  );
  const env = cleanEnv({ SEALPOST_CONFIG: config });
  const imported = spawnSync(sealpost, ["keys", "import", KEY_FILE], { env, encoding: "utf8" });
  if (imported.status !== 0) throw new Error(`keys import failed: ${imported.stderr}`);
  return {
    dir,
    config,
    env,
    cleanup: () => {
      stopRunner(join(dir, "spool"));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The background runner a set-up's intakes started (its pid is in the runner lock): stopped, and waited for, before its spool is removed. */
function stopRunner(spoolDir) {
  let pid;
  try {
    pid = Number.parseInt(readFileSync(join(spoolDir, "runner.lock"), "utf8"), 10);
  } catch {
    return; // no runner ever, or gone
  }
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!Number.isInteger(pid) || pid <= 0 || !alive()) return;
  process.kill(pid, "SIGKILL");
  for (let i = 0; i < 100 && alive(); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
}

export function cleanEnv(extra = {}) {
  return { PATH: "/usr/bin:/bin", ...extra };
}

/** A gpg home holding the TEST-ONLY public key, offline (no key lookups, ever). */
export function gpgHome() {
  const home = mkdtempSync(join(tmpdir(), "sealpost-bench-gpg-"));
  writeFileSync(join(home, "gpg.conf"), "auto-key-locate local\nno-auto-key-retrieve\ntrust-model always\n");
  const r = spawnSync("gpg", ["--batch", "--homedir", home, "--import", KEY_FILE], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`gpg --import failed: ${r.stderr}`);
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

/** Runs `argv` (through /usr/bin/time -v) with `input` on stdin; wall ms and peak RSS in MB. */
export function timed(argv, { input, env = cleanEnv(), stdout = "ignore" } = {}) {
  return new Promise((done, fail) => {
    const child = spawn("/usr/bin/time", ["-f", "%e %M", ...argv], { env, stdio: ["pipe", stdout, "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const t0 = process.hrtime.bigint();
    child.on("close", (status) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const last = stderr.trim().split("\n").pop() ?? "";
      const [, rssKb] = last.split(" ").map(Number);
      if (status !== 0) fail(new Error(`${argv.join(" ")} exited ${status}: ${stderr.slice(0, 500)}`));
      else done({ ms, rssMb: rssKb / 1024 });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}

export const median = (xs) => quantile(xs, 0.5);

export function quantile(xs, q) {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export function needs(commands) {
  const missing = commands.filter((c) => spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0);
  if (missing.length)
    throw new Error(
      `needs ${missing.join(", ")} (apt-get install ${missing.map((c) => (c === "formail" ? "procmail" : c === "gpg" ? "gnupg" : c)).join(" ")})`,
    );
}

export function ensureDir(path) {
  mkdirSync(path, { recursive: true });
  return path;
}

/**
 * The procmail recipe's per-message work, 4 workers at once: what procmail runs for each mail
 * (sh, formail, gpg), without its relay, so an upper bound on its rate. `input`: one message.
 */
export async function recipeRate(count, input, workers = 4) {
  const gpg = gpgHome();
  const command = `formail -I "" | gpg --batch --homedir ${gpg.home} -ea -r ${KEY_UID} > /dev/null`;
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next++ < count) {
        await new Promise((done, fail) => {
          const child = spawn("sh", ["-c", command], { env: cleanEnv(), stdio: ["pipe", "ignore", "inherit"] });
          child.on("close", (status) => (status === 0 ? done() : fail(new Error(`recipe exited ${status}`))));
          child.stdin.end(input);
        });
      }
    }),
  );
  gpg.cleanup();
  return count / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** Until `check()` (which may be async) is true; after `ms`, an error saying `where()`. */
export async function waitUntil(check, where = () => "", ms = 30_000) {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out (${where()})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Until an SMTP server answers on 127.0.0.1:`port`. */
export async function waitForSmtp(port) {
  const { default: SMTPConnection } = await import("nodemailer/lib/smtp-connection");
  await waitUntil(
    () =>
      new Promise((done) => {
        const c = new SMTPConnection({ port, host: "127.0.0.1", ignoreTLS: true });
        c.once("error", () => done(false));
        c.connect(() => {
          c.quit();
          done(true);
        });
      }),
    () => `nothing answers on port ${port}`,
    15_000,
  );
}

/** `sealpost serve` for a set-up; a serve that exits before stop() fails the benchmark (never waited on once gone). */
export function spawnServe(setup) {
  const server = spawn(sealpost, ["serve"], { env: setup.env, stdio: ["ignore", "ignore", "inherit"] });
  let stopping = false;
  server.once("exit", (code) => {
    if (stopping) return;
    console.error(`bench: serve exited early (status ${code})`);
    process.exit(1);
  });
  return {
    pid: server.pid,
    stop: async () => {
      stopping = true;
      const gone = new Promise((done) => server.on("close", done));
      server.kill("SIGTERM");
      await gone;
    },
  };
}
