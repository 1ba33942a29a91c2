/**
 * A real fail2ban (Debian's) on a host without an MTA: `sealpost init --sendmail-link` makes
 * /usr/sbin/sendmail sealpost, and fail2ban's own `action_mw` (sendmail-whois) mails the jail's
 * start, a ban and the stop through it. Each is committed by `sealpost sendmail` (run by
 * fail2ban as root, switching to the spool's owner) and relayed by the background queue run.
 */
import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openSealed } from "../helpers/sealed.js";
import { CONFIG, HOST, RCPT, SEALPOST, localCopies, logLines, run, runAsync, tail, useMtaSuite, waitFor } from "./system.js";

const BANNED = "203.0.113.77";
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** An sshd line as syslog writes it, stamped now in local time (fail2ban reads it so). */
function sshdFailure(port: number): string {
  const d = new Date();
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ` +
    `web01 sshd[${4000 + port}]: Failed password for root from ${BANNED} port ${port} ssh2\n`
  );
}

describe("fail2ban → sealpost sendmail (no MTA)", () => {
  const dir = mkdtempSync(join(tmpdir(), "sealpost-f2b-"));
  const conf = join(dir, "etc");
  const authLog = join(dir, "auth.log");
  const client = (...args: string[]) => runAsync("fail2ban-client", ["-c", conf, ...args]);
  const suite = useMtaSuite(
    "/usr/bin/fail2ban-server",
    () => {
      run("cp", ["-r", "/etc/fail2ban", conf]);
      rmSync(join(conf, "jail.d"), { recursive: true, force: true }); // Debian's sshd-on-journal default
      mkdirSync("/run/fail2ban", { recursive: true }); // the dummy ban action's state file
      writeFileSync(
        join(conf, "fail2ban.local"),
        `[Definition]\nlogtarget = ${join(dir, "fail2ban.log")}\nsocket = ${join(dir, "f2b.sock")}\n` +
          `pidfile = ${join(dir, "f2b.pid")}\ndbfile = :memory:\n`,
      );
      // The stock mail action: action_mw is the ban action plus sendmail-whois to destemail.
      writeFileSync(
        join(conf, "jail.local"),
        `[DEFAULT]\nbanaction = dummy\nbanaction_allports = dummy\nmta = sendmail\n` +
          `destemail = root@localhost\nsender = fail2ban@${HOST}\naction = %(action_mw)s\n\n` +
          `[sshd]\nenabled = true\nbackend = polling\nlogpath = ${authLog}\nmaxretry = 3\nfindtime = 600\nbantime = 600\n`,
      );
      writeFileSync(authLog, "");
    },
    () => {
      run("fail2ban-client", ["-c", conf, "stop"]);
      rmSync(dir, { recursive: true, force: true });
    },
    ["--sendmail-link"],
  );
  const diagnose = () =>
    [tail(join(dir, "fail2ban.log")), run(SEALPOST, ["-c", CONFIG, "queue", "list"]), tail("/var/log/sealpost/sealpost.log")].join("\n");
  const bySubject = (pattern: RegExp) =>
    suite.sink.messages.find((m) => pattern.test(openSealed(m.raw, suite.gpg).outerFields.get("subject")?.[0] ?? ""));

  it("the jail's start, a ban and the stop each arrive sealed, with fail2ban's Subject outside and the whois text inside", async (t) => {
    if (suite.skip) {
      t.skip(suite.skip);
      return;
    }
    const copiesBefore = localCopies().length;
    assert.match(await client("-x", "start"), /Server ready|^$/);
    const started = await waitFor("the jail's start notice", () => bySubject(/^\[Fail2Ban\] sshd: started on /), 60_000, diagnose);
    assert.deepEqual(started.to, [RCPT]);

    for (let i = 0; i < 3; i++) appendFileSync(authLog, sshdFailure(50_000 + i));
    const banned = await waitFor(
      "the ban notice",
      () => bySubject(new RegExp(`^\\[Fail2Ban\\] sshd: banned ${BANNED.replace(/\./g, "\\.")} from `)),
      60_000,
      diagnose,
    );
    const opened = openSealed(banned.raw, suite.gpg);
    assert.match(opened.outerFields.get("from")?.[0] ?? "", new RegExp(`Fail2Ban <fail2ban@${HOST.replace(/\./g, "\\.")}>`));
    const inner = opened.inner.toString("utf8");
    assert.match(
      inner,
      new RegExp(`The IP ${BANNED.replace(/\./g, "\\.")} has just been banned by Fail2Ban after\\s+3 attempts against sshd\\.`),
    );
    assert.match(inner, /Here is more information about/);
    assert.ok(!banned.raw.toString("latin1").includes("attempts against"), "the body is not in the clear");
    assert.match(await client("status", "sshd"), new RegExp(`Banned IP list:\\s+${BANNED.replace(/\./g, "\\.")}`));

    await client("stop");
    await waitFor("the jail's stop notice", () => bySubject(/^\[Fail2Ban\] sshd: stopped on /), 60_000, diagnose);
    assert.equal(localCopies().length - copiesBefore, 3, "one local copy each");
    assert.equal(suite.sink.messages.length, 3, "each relayed once");
    assert.ok(logLines().filter((l) => / via=sendmail /.test(l)).length >= 3);
    await waitFor(
      "an empty spool",
      () => /^$|no messages|empty/i.test(run(SEALPOST, ["-c", CONFIG, "queue", "list"]).trim()) || undefined,
      10_000,
      diagnose,
    );
  });
});
