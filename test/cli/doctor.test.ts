/** sealpost doctor: plain words, a fix for each problem, exit 0/1/2; the relay is probed, never sent to. */
import assert from "node:assert/strict";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.js";
import { doctor, type MtaFacts } from "../../src/ops/doctor.js";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { backgroundRunners } from "../helpers/home.js";
import { inHome, useWorld, withSink } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;
const NO_MTA: MtaFacts = {
  aliases: () => Promise.resolve(""),
  postfixAliasUser: () => undefined,
  eximAliasPipes: () => undefined,
  userIds: () => undefined,
};

describe("doctor", () => {
  const world = useWorld();

  it("all well: exit 0; the relay saw MAIL FROM but no message", () =>
    inHome(world, {}, async (home) => {
      mkdirSync(home.spool, { recursive: true });
      mkdirSync(home.mail, { recursive: true });
      const before = { mail: world.sink.mailFroms.length, messages: world.sink.messages.length };
      const r = await home.run(["doctor"]);
      assert.equal(r.code, 0, r.stdout.toString());
      const text = r.stdout.toString();
      assert.match(text, /^ok {4}keys: route\[0\] ops@example\.net: 2D078DBC84053A03A90D58A525069B8229DDA237 expires 2036-01-01/m);
      assert.match(text, /^ok {4}relay: 127\.0\.0\.1:\d+ takes mail for ops@example\.net \(no TLS \(loopback\)\); nothing was sent$/m);
      assert.match(text, /^ok {4}log: no syslog socket and no \[log\] file/m);
      assert.match(text, /^all well$/m);
      assert.equal(world.sink.mailFroms.length - before.mail, 1);
      assert.equal(world.sink.messages.length, before.messages, "nothing sent");
    }));

  it("a relay that is down, a route without key and a missing spool: exit 2, each with a fix", () =>
    inHome(world, { relayPort: 1 }, async (home) => {
      home.writeConfig({ route: '[[route]]\nto = ["nobody@example.net"]' });
      const r = await home.run(["doctor"]);
      assert.equal(r.code, 2);
      const text = r.stdout.toString();
      assert.match(
        text,
        /^ERROR keys: route\[0\] nobody@example\.net: no usable key for nobody@example\.net\n {6}fix: sealpost keys import/m,
      );
      assert.match(text, /^ERROR relay: relay 127\.0\.0\.1:1 cannot connect\n {6}fix: check \[relay\]/m);
      assert.match(text, /^ERROR storage: spool .* is missing or not writable/m);
    }));

  it("a log file this user cannot write is an error; a writable one is reported", () =>
    inHome(world, {}, async (home) => {
      home.writeConfig({ log: `syslog = ""\nfile = "${home.root}/no-such-dir/sealpost.log"` });
      let findings = (await doctor(loadConfig(home.config), NO_MTA)).filter((f) => f.area === "log");
      assert.equal(findings[0]?.level, "error");
      assert.match(findings[0].text, /no-such-dir\/sealpost\.log is not writable by this user: events are lost \(mail is not\)/);
      home.writeConfig({ log: `syslog = ""\nfile = "${home.root}/sealpost.log"\nlevel = "warning"` });
      findings = (await doctor(loadConfig(home.config), NO_MTA)).filter((f) => f.area === "log");
      assert.deepEqual(
        findings.map((f) => [f.level, f.text]),
        [["ok", `events go to ${home.root}/sealpost.log, level warning and up`]],
      );
    }));

  it("a held message is a warning: exit 1", () =>
    withSink("permfail", (refusing) =>
      inHome(world, { relayPort: refusing.port }, async (home) => {
        assert.equal((await home.deliver(fixtureBytes(A01), pipeEnv(A01))).code, 0);
        home.writeConfig({ relayPort: world.sink.port });
        const r = await home.run(["doctor"]);
        assert.equal(r.code, 1, r.stdout.toString());
        assert.match(r.stdout.toString(), /^WARN {2}spool: 1 message\(s\) held .*\n {6}fix: sealpost queue show ID/m);
      }),
    ));

  it("a message due for over a minute with no runner alive is a warning with its fix; once relayed, the spool line is ok", () =>
    inHome(world, { relayPort: 1 }, async (home) => {
      // A runner of the test's own (its child: once killed it is reaped, and its pid is gone, which a
      // detached runner's is not where nothing reaps orphans), so deliver starts none.
      mkdirSync(home.spool);
      const runner = home.start(["queue", "run", "--background"]);
      for (let i = 0; i < 100 && !existsSync(join(home.spool, "runner.lock")); i++) await sleep(50);
      // the relay is down: the runner tries, the entry backs off and stays; then the runner dies
      assert.equal((await home.deliver(fixtureBytes(A01), pipeEnv(A01))).code, 0);
      assert.deepEqual(backgroundRunners(home), [runner.child.pid], "deliver found the runner alive and started none");
      runner.child.kill("SIGKILL");
      await runner.done;
      assert.deepEqual(backgroundRunners(home), [], "no runner left");
      // its retry came due two minutes ago, and nothing has come along since
      const meta = join(home.spool, "meta");
      const [name, ...others] = readdirSync(meta).filter((n) => /^[0-9a-z]+-[0-9a-f]+\.json$/.test(n));
      assert.ok(name !== undefined && others.length === 0, "one entry");
      const entry = JSON.parse(readFileSync(join(meta, name), "utf8")) as { state: string; attempts: number; nextAttempt: string };
      assert.equal(entry.state, "queued");
      assert.ok(entry.attempts >= 1, "tried once against the relay that is down");
      writeFileSync(
        join(meta, name),
        JSON.stringify({ ...entry, nextAttempt: new Date(Date.now() - 120_000).toISOString() }, null, 1) + "\n",
      );
      home.writeConfig({ relayPort: world.sink.port }); // the relay is back: the spool is the one thing left to say

      // doctor's spool findings, each with its fix line
      const spoolLines = (text: string) =>
        text
          .split("\n")
          .flatMap((l, i, all) =>
            /^(ok {3}|WARN |ERROR) spool: /.test(l) ? [l, ...all.slice(i + 1, i + 2).filter((n) => n.startsWith("      fix: "))] : [],
          );
      let r = await home.run(["doctor"]);
      let text = r.stdout.toString();
      assert.equal(r.code, 1, text);
      assert.deepEqual(spoolLines(text), [
        "WARN  spool: 1 message(s) due and no runner is running to relay them",
        "      fix: sealpost queue run now; for the future, run serve or a queue run timer (every 5 minutes)",
      ]);
      assert.match(text, /\n1 warning\(s\)\n$/);

      // as the fix says: the message goes, and nothing is left to warn about
      const before = world.sink.messages.length;
      assert.equal((await home.run(["queue", "run"])).code, 0);
      assert.equal(world.sink.messages.length - before, 1);
      r = await home.run(["doctor"]);
      text = r.stdout.toString();
      assert.equal(r.code, 0, text);
      assert.deepEqual(spoolLines(text), ["ok    spool: 0 queued, none held; no runner running (one starts with the next message)"]);
      assert.doesNotMatch(text, /^(WARN|ERROR)/m);
      assert.match(text, /\nall well\n$/);
    }));

  it("the Postfix default_privs trap: a pipe in /etc/aliases runs as nobody, who cannot write the spool", () =>
    inHome(world, {}, async (home) => {
      mkdirSync(home.spool, { recursive: true, mode: 0o700 });
      chownSync(home.spool, 0, 0);
      chmodSync(home.spool, 0o700);
      mkdirSync(home.mail, { recursive: true });
      const mta: MtaFacts = {
        ...NO_MTA,
        aliases: () => Promise.resolve('root: root, "|/usr/bin/sealpost -c /etc/sealpost/sealpost.toml deliver"\n'),
        postfixAliasUser: () => ({ user: "nobody", as: "default_privs" }),
        userIds: () => ({ uid: 65534, gid: 65534 }),
      };
      const findings = (await doctor(loadConfig(home.config), mta)).filter((f) => f.area === "mta");
      assert.ok(
        findings.some(
          (f) =>
            f.level === "error" &&
            /default_privs \(nobody\); nobody cannot write the spool/.test(f.text) &&
            /~\/\.forward/.test(f.fix ?? ""),
        ),
      );
      const exim = (
        await doctor(loadConfig(home.config), { ...mta, postfixAliasUser: () => undefined, eximAliasPipes: () => false })
      ).filter((f) => f.area === "mta");
      assert.match(exim[0]!.text, /Debian's Exim runs no pipes from \/etc\/aliases/);
      assert.deepEqual(
        (await doctor(loadConfig(home.config), NO_MTA)).filter((f) => f.area === "mta"),
        [],
        "no pipe, no MTA finding",
      );
    }));

  it("what root left inside the spool is an error with init as the fix; another user's file too", () =>
    inHome(world, {}, async (home) => {
      mkdirSync(join(home.spool, "ledger"), { recursive: true });
      chownSync(home.spool, 65534, 65534);
      mkdirSync(join(home.spool, "meta"));
      chownSync(join(home.spool, "meta"), 4242, 4242);
      const findings = (await doctor(loadConfig(home.config), NO_MTA)).filter((f) => f.area === "storage" && f.level === "error");
      assert.ok(
        findings.some(
          (f) =>
            /\/spool\/ledger belongs to root, not to the spool's owner \(uid 65534\)/.test(f.text) && /sealpost init/.test(f.fix ?? ""),
        ),
      );
      assert.ok(findings.some((f) => /\/spool\/meta belongs to uid 4242, not to the spool's owner/.test(f.text)));
    }));

  it("a directory in the spool that group or others may write is an error, with the chmod that fixes it", () =>
    inHome(world, {}, async (home) => {
      mkdirSync(join(home.spool, "ledger"), { recursive: true, mode: 0o700 });
      chmodSync(join(home.spool, "ledger"), 0o777);
      const findings = (await doctor(loadConfig(home.config), NO_MTA)).filter((f) => f.area === "storage" && f.level === "error");
      const ledger = findings.find((f) => f.text.includes("/spool/ledger may be written by group or others (mode 0777)"));
      assert.ok(ledger, findings.map((f) => f.text).join("\n"));
      assert.match(ledger.fix ?? "", /^chmod go-w \S+\/spool\/ledger$/);
    }));

  it("an mbox store that others may write is an error; its mail group's write, as Debian sets /var/mail, is not", () =>
    inHome(world, { store: "mbox" }, async (home) => {
      const mbox = home.mail;
      mkdirSync(home.spool, { recursive: true });
      writeFileSync(mbox, "", { mode: 0o660 });
      chmodSync(mbox, 0o660); // Debian's /var/mail: the mail group writes it
      let findings = (await doctor(loadConfig(home.config), NO_MTA)).filter((f) => f.area === "storage" && f.level === "error");
      assert.ok(!findings.some((f) => f.text.includes("may be written")), findings.map((f) => f.text).join("\n"));
      chmodSync(mbox, 0o666);
      findings = (await doctor(loadConfig(home.config), NO_MTA)).filter((f) => f.area === "storage" && f.level === "error");
      assert.ok(
        findings.some((f) => f.text.includes("/mbox may be written by group or others (mode 0666)") && f.fix === `chmod o-w ${mbox}`),
      );
    }));
});
