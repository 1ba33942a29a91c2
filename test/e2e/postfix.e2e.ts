/**
 * Real Postfix (Debian's) delivering root's mail into `sealpost deliver`: through /etc/aliases
 * to the sealpost user's ~/.forward (what `sealpost init` sets up), and through a command
 * directly in /etc/aliases — first as the default_privs trap (deferred by Postfix, never
 * bounced, and named by doctor), then fixed. The relay is a loopback sink; gpg decrypts.
 */
import assert from "node:assert/strict";
import { appendFileSync, chownSync, readFileSync, statSync } from "node:fs";
import { describe, it } from "node:test";
import { openSealed } from "../helpers/sealed.js";
import { lookupUser } from "../../src/core/passwd.js";
import {
  CONFIG,
  HOST,
  postfixRunning,
  localCopies,
  logLines,
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

describe("Postfix → sealpost deliver", () => {
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
      sh("newaliases", []);
      chownSync("/etc/aliases.db", 0, 0); // as Debian leaves it: the trap below depends on it
      if (postfixRunning()) sh("postfix", ["reload"]);
      else sh("postfix", ["start"]);
      run("postsuper", ["-d", "ALL"]); // nothing left from an earlier run
    },
    () => {
      run("newaliases", []);
      run("postfix", ["stop"]);
    },
  );
  const { gpg, sink } = suite;
  const diagnose = () => [run("postqueue", ["-p"]), tail(POSTFIX_LOG), tail("/var/log/sealpost/sealpost.log")].join("\n");

  it("root's mail: Postfix → /etc/aliases (root: sealpost) → ~sealpost/.forward → sealed at the relay, local copy kept", async (t) => {
    if (suite.skip) {
      t.skip(suite.skip);
      return;
    }
    const { token, opened } = await suite.rootMail("pf-forward", diagnose);
    assert.match(
      opened.outerFields.get("subject")?.[0] ?? "",
      new RegExp(`banned 203\\.0\\.113\\.45 from ${HOST.replace(/\./g, "\\.")} \\(${token}\\)`),
    );
    assert.match(opened.outerFields.get("from")?.[0] ?? "", new RegExp(`root@${HOST.replace(/\./g, "\\.")}`));
    assert.ok(opened.inner.toString("utf8").includes(`5 attempts against sshd. Token: ${token}`));
    assert.ok(
      localCopies().some((c) => c.includes(`Token: ${token}`) && /^X-Original-To: root$/m.test(c)),
      "the local copy, as Postfix handed it over",
    );
    assert.match(
      readFileSync(POSTFIX_LOG, "utf8"),
      /to=<sealpost@web01\.example\.org>, orig_to=<root>.*status=sent \(delivered to command:/,
    );
    assert.ok(
      logLines().some((l) => / event=relayed .*to=ops@example\.net/.test(l)),
      "sealpost logged the relay",
    );
  });

  it("a command directly in /etc/aliases runs as default_privs (nobody): Postfix defers it (never bounces), doctor says why; fixed, it goes out", async (t) => {
    if (suite.skip) {
      t.skip(suite.skip);
      return;
    }
    appendFileSync("/etc/aliases", `security: "|${suite.launcher} -c ${CONFIG} deliver"\n`);
    // postalias, not newaliases: on a reused machine /usr/sbin/sendmail (behind newaliases) may
    // still be the link to sealpost that the fail2ban suite makes, and then nothing is rebuilt.
    sh("postalias", ["/etc/aliases"]);
    // A local(8) process that delivered a moment ago still holds the old table (it restarts only
    // after its next delivery), and would bounce "unknown user": make every process reopen it.
    sh("postfix", ["reload"]);
    await new Promise((r) => setTimeout(r, 1_500));
    // only this test's lines: a machine the suites ran on before keeps their log
    const logStart = statSync(POSTFIX_LOG).size;
    const logSince = () => readFileSync(POSTFIX_LOG).subarray(logStart).toString("utf8");
    const token = `pf-alias-${Date.now()}`;
    const before = sink.messages.length;
    assert.equal(await sendmail(["-oi", "-f", `root@${HOST}`, "security"], systemMail(token, "security")), 0);
    await waitFor(
      "Postfix to defer the alias pipe",
      () =>
        /to=<security@web01\.example\.org>.*status=deferred \(sealpost: permission denied on sealpost's spool or store/.test(logSince()) ||
        undefined,
      60_000,
      diagnose,
    );
    assert.match(run("postqueue", ["-p"]), /security@web01\.example\.org/, "still in Postfix's queue: nothing lost");
    assert.doesNotMatch(logSince(), /status=bounced/);
    assert.equal(sink.messages.length, before, "nothing relayed");

    const doctor = await runAsync("runuser", ["-u", "sealpost", "--", suite.launcher, "-c", CONFIG, "doctor"]);
    assert.match(
      doctor,
      /ERROR mta: \/etc\/aliases pipes into sealpost, which Postfix runs as default_privs \(nobody\); nobody cannot write the spool/,
      doctor,
    );

    // The fix the README gives: the alias database owned by the sealpost user.
    const ids = lookupUser("sealpost")!;
    chownSync("/etc/aliases.db", ids.uid, ids.gid);
    sh("postfix", ["reload"]); // local(8) reads the owner when it opens the table
    assert.doesNotMatch(await runAsync("runuser", ["-u", "sealpost", "--", suite.launcher, "-c", CONFIG, "doctor"]), /ERROR/);
    const got = await waitFlushingPostfix("the deferred message, relayed after the fix", () => suite.arrived(token), 60_000, diagnose);
    assert.ok(openSealed(got.raw, gpg).inner.toString("utf8").includes(`Token: ${token}`));
  });
});
