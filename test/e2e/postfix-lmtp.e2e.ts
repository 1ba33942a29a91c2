/**
 * Real Postfix (Debian's) handing root's mail to `sealpost serve` over LMTP, as
 * `sealpost init --lmtp` sets it up: root: sealpost in /etc/aliases, mailbox_transport_maps
 * sending the local part sealpost to the sealpost-lmtp service (lmtp(8) outside the chroot),
 * the socket in /run/sealpost (group postfix). With serve stopped, Postfix defers and delivers
 * once it is back, never bouncing.
 */
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { describe, it } from "node:test";
import { openSealed } from "../helpers/sealed.js";
import {
  CONFIG,
  HOST,
  postfixRunning,
  ServeProcess,
  localCopies,
  run,
  runAsync,
  sendmail,
  sh,
  systemMail,
  tail,
  useMtaSuite,
  waitFlushingPostfix,
  waitFor,
} from "./system.js";

const POSTFIX_LOG = "/var/log/postfix.log";
const LMTP = "/run/sealpost/lmtp";

describe("Postfix → LMTP → sealpost serve", () => {
  const serve = new ServeProcess();
  const suite = useMtaSuite(
    "/usr/sbin/postfix",
    () => {
      sh("postconf", [
        "-e",
        `myhostname=${HOST}`,
        `mydestination=${HOST}, localhost`,
        "inet_interfaces=loopback-only",
        `maillog_file=${POSTFIX_LOG}`,
        "alias_maps=hash:/etc/aliases",
        "alias_database=hash:/etc/aliases",
      ]);
      sh("postalias", ["/etc/aliases"]);
      if (postfixRunning()) sh("postfix", ["reload"]);
      else sh("postfix", ["start"]);
      run("postsuper", ["-d", "ALL"]);
    },
    () => {
      void serve.stop();
      run("postfix", ["stop"]);
    },
    ["--write-aliases", "--lmtp"],
    `\n[serve]\nlisten = "127.0.0.1:2526"\nlmtp = "${LMTP}"\n`,
  );
  const { gpg } = suite;
  const diagnose = () => [run("postqueue", ["-p"]), tail(POSTFIX_LOG), tail("/var/log/sealpost/sealpost.log")].join("\n");
  const logSince = (start: number) => readFileSync(POSTFIX_LOG).subarray(start).toString("utf8");

  it("root's mail: Postfix → root: sealpost → mailbox_transport_maps → LMTP → sealed at the relay once, local copy kept; doctor is content", async (t) => {
    if (suite.skip) {
      t.skip(suite.skip);
      return;
    }
    await serve.start();
    const start = statSync(POSTFIX_LOG).size;
    const { token } = await suite.rootMail("pf-lmtp", diagnose);
    assert.ok(
      localCopies().some((c) => c.includes(`Token: ${token}`)),
      "the local copy",
    );
    await waitFor(
      "Postfix to log the LMTP delivery",
      () =>
        /to=<sealpost@web01\.example\.org>, orig_to=<root>, relay=[^,]*\[\/run\/sealpost\/lmtp\].*status=sent \(250 2\.0\.0 queued\)/.test(
          logSince(start),
        ) || undefined,
      30_000,
      diagnose,
    );
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(
      suite.sink.messages.filter((m) => openSealed(m.raw, gpg).inner.toString("utf8").includes(token)).length,
      1,
      "relayed once",
    );
    const doctor = await runAsync("runuser", ["-u", "sealpost", "--", "/usr/local/bin/sealpost", "-c", CONFIG, "doctor"]);
    assert.match(doctor, /ok {4}mta: serve answers LMTP on \/run\/sealpost\/lmtp/, doctor);
    assert.match(doctor, /ok {4}mta: Postfix hands sealpost's mail to sealpost-lmtp:unix:\/run\/sealpost\/lmtp/, doctor);
  });

  it("with serve stopped Postfix defers root's mail (never bounces it); once serve is back it is delivered, once", async (t) => {
    if (suite.skip) {
      t.skip(suite.skip);
      return;
    }
    await serve.stop();
    const start = statSync(POSTFIX_LOG).size;
    const token = `pf-lmtp-down-${Date.now()}`;
    assert.equal(await sendmail(["-oi", "-f", `root@${HOST}`, "root"], systemMail(token)), 0);
    await waitFor(
      "Postfix to defer",
      () => /to=<sealpost@web01\.example\.org>.*status=deferred \(connect to .*\/run\/sealpost\/lmtp/.test(logSince(start)) || undefined,
      60_000,
      diagnose,
    );
    assert.doesNotMatch(logSince(start), /status=bounced/);
    assert.match(run("postqueue", ["-p"]), /sealpost@web01\.example\.org/, "still in Postfix's queue: nothing lost");
    await serve.start();
    const got = await waitFlushingPostfix(
      "the deferred message, delivered once serve is back",
      () => suite.arrived(token),
      60_000,
      diagnose,
    );
    assert.ok(openSealed(got.raw, gpg).inner.toString("utf8").includes(`Token: ${token}`));
    await serve.stop();
  });
});
