// Writes dist/bundle/intake.v8cache and sealpost.v8cache by running what they are for: one real
// `deliver` of a fail2ban notice (the light bundle: intake and commit), and the background runner
// it starts (the full bundle: sealing to the example keyring's TEST-ONLY key, relaying to a
// loopback sink). Each cache holds the functions its process compiled, and little else.
// Run by the build (always) and by npm's postinstall with ifRejected: a cache made by another
// node is refused by V8, and then this node makes its own. Nothing here can fail an install.
// Also runnable by hand: node tools/train-code-cache.mjs [--if-rejected]
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { SMTPServer } from "smtp-server";

const root = resolve(import.meta.dirname, "..");

export async function trainCodeCache(ifRejected = false) {
  const dir = mkdtempSync(join(tmpdir(), "sealpost-train-"));
  let relayed = 0;
  const sink = new SMTPServer({
    disabledCommands: ["AUTH", "STARTTLS"],
    logger: false,
    disableReverseLookup: true,
    onData(stream, _session, done) {
      stream.resume();
      stream.on("end", () => {
        relayed++;
        done();
      });
    },
  });
  try {
    await new Promise((ready) => sink.listen(0, "127.0.0.1", ready));
    writeFileSync(
      join(dir, "sealpost.toml"),
      [
        'hostname = "train.example.org"',
        'keys_dir = "keys"',
        'spool_dir = "spool"',
        "[local]",
        'path = "Maildir"',
        "[log]",
        'syslog = ""',
        "[relay]",
        'host = "127.0.0.1"',
        `port = ${sink.server.address().port}`,
        'security = "none"',
        "[[route]]",
        'to = ["ops@example.net"]',
        "",
      ].join("\n"),
    );
    // imported as an admin would, so the key index is there and deliver stays in the light bundle
    const env = { PATH: "/usr/bin:/bin", SEALPOST_CONFIG: join(dir, "sealpost.toml") };
    await runOnce(["keys", "import", join(root, "keys", "2D078DBC84053A03A90D58A525069B8229DDA237.asc")], "", env);
    const notice =
      "From: Fail2Ban <root@train.example.org>\nTo: root@train.example.org\nSubject: [Fail2Ban] sshd: banned 203.0.113.45\n" +
      `Message-ID: <train.${process.pid}@train.example.org>\n\nHi,\n\nThe IP 203.0.113.45 has just been banned by Fail2Ban after 5 attempts against sshd.\n`;
    const run = await runOnce(["deliver"], notice, {
      ...env,
      SENDER: "root@train.example.org",
      RECIPIENT: "root@train.example.org",
      SEALPOST_WRITE_CODE_CACHE: ifRejected ? "if-rejected" : "1",
    });
    // the runner relays, lingers a moment for more, and writes its cache as it exits
    for (let i = 0; i < 300 && (relayed < 1 || existsSync(join(dir, "spool", "runner.lock"))); i++)
      await new Promise((r) => setTimeout(r, 50));
    if (run.status !== 0 || relayed !== 1)
      console.error(
        `train-code-cache: the training delivery failed (status ${run.status}, relayed ${relayed}); sealpost starts slower without the cache\n${run.stderr}`,
      );
  } finally {
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await trainCodeCache(process.argv.includes("--if-rejected"));

/** Not spawnSync: it would block the sink's event loop, which the delivery talks to. */
function runOnce(args, input, env) {
  return new Promise((done) => {
    // through the launcher: it starts node with the flags the cache must be made under
    const child = spawn(join(root, "bin/sealpost"), args, { env, stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (status) => done({ status, stderr }));
    child.stdin.end(input);
  });
}
