/**
 * Hostile local users against the sendmail drop and the spool: each
 * test is the attack, run as the unprivileged user `nobody` where the attacker is one.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it, type TestContext } from "node:test";
import { backgroundRunners, canRunAs, nodeChildOf, type Home } from "../helpers/home.js";
import { ROOT } from "../helpers/paths.js";
import { digestParts } from "../helpers/digest.js";
import { openSealed } from "../helpers/sealed.js";
import { Served, freePort } from "../helpers/serve.js";
import { inHome, useWorld } from "../helpers/world.js";
import { relayedSoon } from "../helpers/relayed-soon.js";

const NOBODY = 65534;

/** A shell script run as `uid` in `cwd`; its output. */
function shellAs(uid: number, cwd: string, script: string): string {
  const r = spawnSync("/bin/sh", ["-c", script], { uid, gid: uid, cwd });
  return r.stdout.toString() + r.stderr.toString();
}

/**
 * An SMTP session to 127.0.0.1:`port` from a process running as `uid`: each line is sent once
 * the server has given one more final reply. Everything the server said.
 */
function smtpAs(uid: number, port: number, lines: string[]): Promise<string> {
  const script = `const s = require("net").connect(+process.argv[1], "127.0.0.1"); const lines = JSON.parse(process.argv[2]); let out = "", sent = 0;
s.on("data", (d) => { out += d; const replies = out.split("\\r\\n").filter((l) => /^\\d{3} /.test(l)).length;
  while (sent < replies && sent < lines.length) s.write(lines[sent++]); if (replies > lines.length) s.end(); });
s.on("error", () => undefined); s.on("close", () => process.stdout.write(out));`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["-e", script, String(port), JSON.stringify(lines)], { uid, gid: uid, cwd: "/" });
    let said = "";
    child.stdout.on("data", (c: Buffer) => (said += c.toString()));
    child.on("close", () => resolve(said));
  });
}

/** A drop file written by hand, as an attacker can: the envelope line says whatever they like. */
function plantDrop(home: Home, uid: number, envelope: string, message: string, sparseSize?: number): string {
  const name = execFileSync("od", ["-An", "-tx1", "-N16", "/dev/urandom"]).toString().replace(/\s/g, "");
  const drop = join(home.spool, "drop");
  const body = join(home.root, `.${name}.src`);
  writeFileSync(body, `${envelope}\n${message}`);
  chmodSync(body, 0o644);
  shellAs(
    uid,
    home.root,
    `cp ${body} ${drop}/.${name}.tmp && ${sparseSize ? `truncate -s ${sparseSize} ${drop}/.${name}.tmp && ` : ""}` +
      `mv ${drop}/.${name}.tmp ${drop}/${name}.msg`,
  );
  return `${name}.msg`;
}

// "user" is what older versions wrote and trusted; the owner now goes by the file's uid and ignores it.
const ENVELOPE = JSON.stringify({ sender: "nobody@web01.example.org", recipients: ["root@web01.example.org"], user: "root" });
const note = (subject: string) => `From: nobody@web01.example.org\nTo: root\nSubject: ${subject}\n\njust a note\n`;
const dropped = (home: Home, suffix = ".msg") => readdirSync(join(home.spool, "drop")).filter((n) => n.endsWith(suffix));

describe("local users against the drop and the spool", () => {
  const world = useWorld();

  /** A host signing key for `home`, its public part in the test's GnuPG, so a signature shows as VALIDSIG. */
  async function hostKeyKnownToGpg(home: Home): Promise<void> {
    assert.equal((await home.run(["keys", "host", "generate"])).code, 0);
    const pub = join(home.root, "host.pub.asc");
    writeFileSync(pub, (await home.run(["keys", "host", "export"])).stdout);
    execFileSync("gpg", ["--homedir", world.gpg.home, "--batch", "--quiet", "--import", pub], { stdio: "ignore" });
  }

  /** A home whose spool root has set up (drop/ 1733), with nobody able to reach it; skipped unless we are root. */
  async function withUsers(
    t: TestContext,
    options: Parameters<typeof inHome>[1],
    fn: (home: Home, relayed: () => Buffer[]) => void | Promise<void>,
  ) {
    if (!canRunAs(NOBODY)) {
      t.skip("needs root, and a checkout that nobody can read");
      return;
    }
    await inHome(world, options, async (home, relayed) => {
      chmodSync(home.root, 0o755);
      assert.equal((await home.run(["queue", "run"])).code, 0, "the spool's owner sets up drop/");
      await fn(home, relayed);
    });
  }

  it("relaying what is due never waits for the drops: with another runner taking them in, a pass relays at once and leaves them to it", (t) =>
    withUsers(t, { relayPort: 1 }, async (home, relayed) => {
      assert.equal((await home.run(["sendmail", "root"], "Subject: due\n\nroot's alert\n")).code, 0);
      await sleep(1000); // its background run meets the relay down and backs off
      home.writeConfig({ relayPort: world.sink.port });
      // another runner is taking the drops in (it holds their lock, as drop-ingest.ts takes it)
      const lock = join(home.spool, "drop.lock");
      writeFileSync(lock, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      try {
        for (let i = 0; i < 5; i++) plantDrop(home, NOBODY, ENVELOPE, note(`drop ${i}`));
        const started = Date.now();
        assert.equal((await home.run(["queue", "flush"])).code, 0);
        const out = await relayedSoon(relayed, 1);
        assert.equal(out.length, 1, "root's due alert relayed");
        assert.ok(Date.now() - started < 10_000, "without waiting on the drops' lock");
        assert.equal(dropped(home).length, 5, "the drops are left to the runner that holds them");
      } finally {
        unlinkSync(lock);
      }
      assert.equal((await home.run(["queue", "run"])).code, 0);
      assert.equal((await relayedSoon(relayed, 6)).length, 6, "then taken in and relayed, each once");
      assert.equal(dropped(home).length, 0);
    }));

  it("a user who unlinks their drops while the pass takes them in stops nothing: what is due is relayed, nothing is stored twice", (t) =>
    withUsers(t, { relayPort: 1 }, async (home, relayed) => {
      assert.equal((await home.run(["sendmail", "root"], "Subject: due before the drops\n\nroot's alert\n")).code, 0);
      await sleep(1000); // its background run meets the relay down and backs off
      home.writeConfig({ relayPort: world.sink.port });
      const names = Array.from({ length: 30 }, (_, i) => plantDrop(home, NOBODY, ENVELOPE, note(`drop ${i}`)));
      const flush = home.run(["queue", "flush"]);
      // As soon as the owner has taken the first drop in, the user pulls all of theirs away.
      for (let i = 0; i < 2000 && home.localCopies().length < 2; i++) await sleep(5);
      shellAs(NOBODY, home.root, `cd ${join(home.spool, "drop")} && rm -f ${names.join(" ")}`);
      const r = await flush;
      assert.equal(r.code, 0, r.stderr.toString());
      const subjects = relayed().map((m) => /^Subject: (.*)$/m.exec(openSealed(m, world.gpg).innerHeader)?.[1]);
      assert.equal(subjects.filter((s) => s === "due before the drops").length, 1, "the due entry went out");
      assert.equal(new Set(subjects).size, subjects.length, "nothing relayed twice");
      const stored = home.localCopies().map((c) => /^Subject: (.*)$/m.exec(c.toString())?.[1]);
      assert.equal(new Set(stored).size, stored.length, "nothing stored twice");
      assert.deepEqual(dropped(home), [], "no drop left behind");
    }));

  it("a hundred sparse 25 MB drops are taken in one at a time: peak memory stays under 150 MB", (t) =>
    withUsers(t, { extra: '[spool]\nper_user_messages_per_hour = 1000\nper_user_bytes_per_hour = "4GB"\n' }, (home) => {
      home.writeConfig({ relayPort: 1 }); // the intake is measured: the relay is down, so the pass seals only the first few
      for (let i = 0; i < 100; i++) plantDrop(home, NOBODY, ENVELOPE, note(`sparse ${i}`), 25 * 1024 * 1024);
      const rssFile = join(home.root, "rss");
      const preload = join(home.root, "rss.cjs");
      writeFileSync(
        preload,
        `process.on("exit", () => require("fs").writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));`,
      );
      // Through the launcher, as cron runs it; node reads the preload that reports its peak from NODE_OPTIONS.
      const r = spawnSync(join(ROOT, "bin/sealpost"), ["queue", "run"], {
        env: { PATH: "/usr/bin:/bin", SEALPOST_CONFIG: home.config, NODE_OPTIONS: `--require=${preload}` },
      });
      assert.equal(r.status, 0, r.stderr.toString());
      assert.equal(home.localCopies().length, 100, "every drop was taken in");
      const peakMb = Number(readFileSync(rssFile, "utf8")) / 1024;
      assert.ok(peakMb < 150, `peak RSS ${peakMb.toFixed(0)} MB`);
      t.diagnostic(`peak RSS with 100 sparse 25 MB drops: ${peakMb.toFixed(0)} MB`);
    }));

  it("a user past the hourly quota has the rest set aside, and root is told once", (t) =>
    withUsers(t, { extra: "[spool]\nper_user_messages_per_hour = 3\n" }, async (home, relayed) => {
      for (let i = 0; i < 5; i++) assert.equal((await home.runAs(NOBODY, ["sendmail", "-t"], note(`flood ${i}`))).code, 0);
      assert.equal((await home.run(["queue", "run"])).code, 0);
      assert.equal(dropped(home, ".msg.quota").length, 2, "two set aside");
      const copies = home.localCopies().map((c) => c.toString());
      assert.equal(copies.filter((c) => /^Subject: flood \d$/m.test(c)).length, 3);
      const notices = () =>
        home
          .localCopies()
          .map((c) => c.toString())
          .filter((c) => /^From: sealpost <sealpost@/m.test(c));
      assert.equal(notices().length, 1);
      assert.match(notices()[0]!, /refused mail that nobody \(uid 65534\) submitted/);
      assert.equal((await relayedSoon(relayed, 3)).length, 3);
      assert.equal((await home.runAs(NOBODY, ["sendmail", "-t"], note("flood 5"))).code, 0);
      assert.equal((await home.run(["queue", "run"])).code, 0);
      assert.equal(dropped(home, ".msg.quota").length, 3);
      assert.equal(notices().length, 1, "one notice an hour per user");
    }));

  it("a user past the hourly byte quota has the rest set aside, root is told once, and what fit is relayed", (t) =>
    withUsers(t, { extra: '[spool]\nper_user_messages_per_hour = 100\nper_user_bytes_per_hour = "12KB"\n' }, async (home, relayed) => {
      // Three small drops and three of some 4.8 KB, far under the message count: the small ones and
      // any two big ones fit in 12 KB, a third big one does not, in whatever order they are taken in
      // (the sizes are checked below, as the drop files are).
      const big = (subject: string) => note(subject).replace("just a note\n", `${"x".repeat(75)}\n`.repeat(60));
      for (const [i, message] of [note("small 0"), big("big 0"), note("small 1"), big("big 1"), note("small 2"), big("big 2")].entries())
        assert.equal((await home.runAs(NOBODY, ["sendmail", "-t"], message)).code, 0, `message ${i}`);
      const sizes = dropped(home).map((n) => statSync(join(home.spool, "drop", n)).size);
      const [small, large] = [sizes.filter((n) => n < 1024), sizes.filter((n) => n >= 1024)];
      assert.equal(small.length + large.length, 6);
      const sum = (ns: number[]) => ns.reduce((a, b) => a + b, 0);
      assert.ok(sum(small) + sum(large) - Math.min(...large) <= 12 * 1024, `all but one big one fit: ${sizes.join(" ")}`);
      assert.ok(sum(large) > 12 * 1024, `the three big ones do not: ${sizes.join(" ")}`);
      assert.equal((await home.run(["queue", "run"])).code, 0);
      const setAside = dropped(home, ".msg.quota");
      assert.equal(setAside.length, 1, "one set aside");
      assert.match(readFileSync(join(home.spool, "drop", setAside[0]!), "utf8"), /^Subject: big \d$/m, "a big one, the one past the bytes");
      const subjects = () =>
        home
          .localCopies()
          .map((c) => /^Subject: ((small|big) \d)$/m.exec(c.toString())?.[1])
          .filter((s): s is string => s !== undefined);
      assert.equal(subjects().length, 5);
      assert.equal(subjects().filter((s) => s.startsWith("small")).length, 3);
      const notices = () =>
        home
          .localCopies()
          .map((c) => c.toString())
          .filter((c) => /^From: sealpost <sealpost@/m.test(c));
      assert.equal(notices().length, 1);
      assert.match(notices()[0]!, /refused mail that nobody \(uid 65534\) submitted/);
      assert.match(notices()[0]!, /100 messages or 12 KB within an hour/, "the quota as set, not rounded to 0 MB");
      const out = await relayedSoon(relayed, 5);
      assert.deepEqual(
        out.map((m) => /^Subject: (.*)$/m.exec(openSealed(m, world.gpg).innerHeader)?.[1]).sort(),
        subjects().sort(),
        "what fit is relayed, and nothing else",
      );
      assert.equal((await home.runAs(NOBODY, ["sendmail", "-t"], big("big 3"))).code, 0);
      assert.equal((await home.run(["queue", "run"])).code, 0);
      assert.equal(dropped(home, ".msg.quota").length, 2);
      assert.equal(notices().length, 1, "one notice an hour per user");
      await sleep(300);
      assert.equal(relayed().length, 5);
    }));

  it("root mail forged by a user says who wrote it, in the local copy, the sealed copy and the log, and is not signed", (t) =>
    withUsers(t, { log: `syslog = ""\nfile = "sealpost.log"` }, async (home, relayed) => {
      await hostKeyKnownToGpg(home);
      home.enableSigning();
      const forged = "From: root@web01.example.org\nTo: root\nSubject: all is well\n\nnothing happened tonight\n";
      assert.equal((await home.runAs(NOBODY, ["sendmail", "-f", "root@web01.example.org", "root"], forged)).code, 0);
      assert.equal((await home.run(["queue", "run"])).code, 0);
      const copy = home.localCopies()[0]!.toString();
      assert.match(copy, /^Received: by web01\.example\.org \(sealpost, from userid 65534\);\n\t/);
      assert.match(copy, /^X-Authentication-Warning: web01\.example\.org: nobody set sender to root@web01\.example\.org using -f$/m);
      const forgedOut = openSealed((await relayedSoon(relayed, 1))[0]!, world.gpg);
      assert.match(forgedOut.innerHeader, /from userid 65534/);
      assert.match(forgedOut.innerHeader, /X-Authentication-Warning: .*nobody set sender to root@/);
      const armored = (m: Buffer) => /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(m.toString("latin1"))![0];
      assert.doesNotMatch(
        world.gpg.decrypt(armored(relayed()[0]!)).status,
        /GOODSIG|VALIDSIG/,
        "the host key does not vouch for a user's mail",
      );
      assert.match(readFileSync(join(home.root, "sealpost.log"), "utf8"), /event=received id=\S+ via=drop uid=65534 /);

      assert.equal((await home.run(["sendmail", "root"], forged)).code, 0, "root's own mail");
      const own = (await relayedSoon(relayed, 2))[1]!;
      assert.match(openSealed(own, world.gpg).innerHeader, /from userid 0\)/);
      assert.doesNotMatch(openSealed(own, world.gpg).innerHeader, /X-Authentication-Warning/);
      assert.match(world.gpg.decrypt(armored(own)).status, /VALIDSIG/, "root's mail is signed");
    }));

  it("a digest is signed only while it holds the system's mail alone: one that takes in a user's message goes unsigned", (t) =>
    withUsers(t, { route: `[[route]]\nto = ["ops@example.net"]\ncoalesce = "1h"\n` }, async (home, relayed) => {
      await hostKeyKnownToGpg(home);
      home.enableSigning();
      const armored = (m: Buffer) => /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(m.toString("latin1"))![0];
      const alert = (n: number) => `From: root@web01.example.org\nSubject: alert ${n}\n\nall is well ${n}\n`;
      for (const n of [1, 2]) assert.equal((await home.run(["sendmail", "root"], alert(n))).code, 0);
      assert.equal((await home.run(["queue", "flush"])).code, 0, "the window cut short: the digest now");
      const system = (await relayedSoon(relayed, 1))[0]!;
      assert.equal(digestParts(openSealed(system, world.gpg).inner).messages.length, 2);
      assert.match(world.gpg.decrypt(armored(system)).status, /VALIDSIG/, "root's digest is signed");

      assert.equal((await home.run(["sendmail", "root"], alert(3))).code, 0);
      assert.equal((await home.runAs(NOBODY, ["sendmail", "-f", "root@web01.example.org", "root"], alert(4))).code, 0);
      assert.equal((await home.run(["queue", "flush"])).code, 0);
      const mixed = (await relayedSoon(relayed, 2))[1]!;
      assert.equal(digestParts(openSealed(mixed, world.gpg).inner).messages.length, 2, "root's alert and the user's, together");
      assert.doesNotMatch(world.gpg.decrypt(armored(mixed)).status, /GOODSIG|VALIDSIG/, "the host key does not vouch for a user's message");
    }));

  it("root mail forged over serve by a user says who wrote it and is not signed; past the user's quota serve answers 451", (t) =>
    withUsers(t, { log: `syslog = ""\nfile = "sealpost.log"` }, async (home, relayed) => {
      await hostKeyKnownToGpg(home);
      const port = await freePort();
      home.writeConfig({ extra: `[serve]\nlisten = "127.0.0.1:${port}"\n\n[spool]\nper_user_messages_per_hour = 2\n` });
      home.enableSigning();
      const served = await new Served(home, port).start();
      try {
        const forged = (n: number) => [
          "EHLO cron\r\n",
          "MAIL FROM:<root@web01.example.org>\r\n",
          "RCPT TO:<root@localhost>\r\n",
          "DATA\r\n",
          `From: root@web01.example.org\r\nSubject: all is well ${n}\r\n\r\nnothing happened tonight\r\n.\r\n`,
          "QUIT\r\n",
        ];
        for (const n of [1, 2]) assert.match(await smtpAs(NOBODY, port, forged(n)), /^250 2\.0\.0 queued/m);
        const refused = await smtpAs(NOBODY, port, forged(3));
        assert.match(refused, /^451 4\.7\.0 over this user's hourly quota/m, refused);
        const out = await relayedSoon(relayed, 2);
        assert.equal(out.length, 2, "the third was refused, not relayed");
        const armored = (m: Buffer) => /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(m.toString("latin1"))![0];
        for (const sealed of out) {
          const inner = openSealed(sealed, world.gpg).innerHeader;
          assert.match(inner, /^Received: by web01\.example\.org \(sealpost, from userid 65534\);/m);
          assert.match(
            inner,
            /^X-Authentication-Warning: web01\.example\.org: nobody set sender to root@web01\.example\.org using MAIL FROM$/m,
          );
          assert.doesNotMatch(
            world.gpg.decrypt(armored(sealed)).status,
            /GOODSIG|VALIDSIG/,
            "the host key does not vouch for a user's mail",
          );
        }
        assert.match(
          readFileSync(join(home.root, "sealpost.log"), "utf8"),
          /event=received id=\S+ via=serve client=127\.0\.0\.1 uid=65534 /,
        );
        const notices = home
          .localCopies()
          .map(String)
          .filter((c) => /refused mail that nobody \(uid 65534\) submitted/.test(c));
        assert.equal(notices.length, 1, "root is told");

        // root's own mail over serve: trusted, signed, no warning
        assert.match(await smtpAs(0, port, forged(4)), /^250 2\.0\.0 queued/m);
        const own = (await relayedSoon(relayed, 3))[2]!;
        assert.doesNotMatch(openSealed(own, world.gpg).innerHeader, /X-Authentication-Warning|from userid/);
        assert.match(world.gpg.decrypt(armored(own)).status, /VALIDSIG/, "root's mail is signed");
      } finally {
        await served.stop();
      }
    }));

  it("a newline in a drop's envelope sender cannot write a forged record into root's mbox", (t) =>
    withUsers(t, { store: "mbox" }, async (home, relayed) => {
      const envelope = JSON.stringify({
        sender: "x@example.org\nFrom root@web01.example.org Mon Jan  1 00:00:00 2001",
        recipients: ["root@web01.example.org"],
      });
      const name = plantDrop(home, NOBODY, envelope, "Subject: forged\n\nyour backup failed, run ./fix.sh\n");
      assert.equal((await home.run(["queue", "run"])).code, 0);
      assert.deepEqual(dropped(home, ".msg.bad"), [`${name}.bad`], "set aside, not taken in");
      const mbox = existsSync(home.mail) ? readFileSync(home.mail, "latin1") : "";
      assert.doesNotMatch(mbox, /^From root@web01\.example\.org Mon Jan/m);
      assert.equal(relayed().length, 0);
      // Through sendmail itself: whatever it makes of such a sender, no record of its own appears.
      const r = await home.runAs(
        NOBODY,
        ["sendmail", "-f", "x@example.org\nFrom root@web01.example.org Mon Jan  1 00:00:00 2001", "root"],
        "Subject: x\n\ny\n",
      );
      assert.ok(r.code === 0 || r.code === 75, r.stderr.toString());
      assert.equal((await home.run(["queue", "run"])).code, 0);
      assert.doesNotMatch(existsSync(home.mail) ? readFileSync(home.mail, "latin1") : "", /^From root@web01\.example\.org Mon Jan/m);
    }));

  it("root's sendmail leaves every supplementary group behind when it becomes the spool's user", (t) =>
    withUsers(t, { top: 'user = "nobody"' }, async (home) => {
      execFileSync("chown", ["-R", `${NOBODY}:${NOBODY}`, home.spool]);
      mkdirSync(home.mail, { recursive: true });
      execFileSync("chown", ["-R", `${NOBODY}:${NOBODY}`, home.mail]);
      // root with the groups disk (6) and shadow (42) besides its own, as a root shell has them
      const child = spawn("/usr/bin/setpriv", ["--groups=6,42", "--", join(ROOT, "bin/sealpost"), "sendmail", "root"], {
        env: { PATH: "/usr/bin:/bin", SEALPOST_CONFIG: home.config },
      });
      let status = "";
      for (let i = 0; i < 200; i++) {
        const pid = nodeChildOf(child.pid!);
        status = pid ? readFileSync(`/proc/${pid}/status`, "utf8") : "";
        if (/^Uid:\s+65534\b/m.test(status)) break; // switched; now waiting for its stdin
        await sleep(25);
      }
      child.stdin.end("Subject: groups\n\nx\n");
      await new Promise((resolve) => child.on("close", resolve));
      assert.match(status, /^Uid:\s+65534\b/m, "it became the spool's user");
      assert.match(status, /^Groups:\s*65534\s*$/m, "and kept none of root's groups");
    }));

  it("the background runner root's sendmail starts has none of root's supplementary groups either", (t) =>
    withUsers(t, { top: 'user = "nobody"', relayPort: 1 }, async (home) => {
      execFileSync("chown", ["-R", `${NOBODY}:${NOBODY}`, home.spool]);
      mkdirSync(home.mail, { recursive: true });
      execFileSync("chown", ["-R", `${NOBODY}:${NOBODY}`, home.mail]);
      assert.deepEqual(backgroundRunners(home), [], "no runner yet");
      // root with the groups disk (6) and shadow (42), as above; the relay is down, so the runner it
      // starts stays while the message is queued
      const child = spawn("/usr/bin/setpriv", ["--groups=6,42", "--", join(ROOT, "bin/sealpost"), "sendmail", "root"], {
        env: { PATH: "/usr/bin:/bin", SEALPOST_CONFIG: home.config },
      });
      child.stdin.end("Subject: groups of the runner\n\nx\n");
      assert.equal(await new Promise((resolve) => child.on("close", resolve)), 0);
      let runners: number[] = [];
      for (let i = 0; i < 200 && runners.length === 0; i++) {
        runners = backgroundRunners(home);
        if (runners.length === 0) await sleep(25);
      }
      assert.ok(runners.length > 0, "root's sendmail started a background runner");
      for (const pid of runners) {
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534\s*$/m, "it runs as the spool's user");
        assert.match(status, /^Gid:\s+65534\s+65534\s+65534\s+65534\s*$/m);
        const groups = /^Groups:(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/) ?? [];
        assert.ok(!groups.includes("6") && !groups.includes("42"), `Groups: ${groups.join(" ")}`);
        assert.deepEqual(groups, ["65534"], "only the spool user's own group");
      }
    }));

  it("a spool another user made first is never written by root, and a user cannot make it for root", (t) =>
    withUsers(t, {}, async (home) => {
      const shared = join(home.root, "shared");
      mkdirSync(shared, { mode: 0o1777 });
      chmodSync(shared, 0o1777); // like /tmp: anyone may create a directory here first
      writeFileSync(home.config, readFileSync(home.config, "utf8").replace('spool_dir = "spool"', 'spool_dir = "shared/spool"'));
      const first = await home.runAs(NOBODY, ["sendmail", "root"], "Subject: squat\n\nx\n");
      assert.equal(first.code, 75, "a user does not create root's spool");
      assert.match(first.stderr.toString(), /^4\.3\.0 sealpost: spool_dir \S+\/shared\/spool does not exist/);
      assert.ok(!existsSync(join(shared, "spool")));
      shellAs(NOBODY, shared, "mkdir -m 0777 spool");
      const r = await home.run(["sendmail", "root"], "Subject: root's alert\n\nsecret\n");
      assert.equal(r.code, 75);
      assert.match(
        r.stderr.toString(),
        /^4\.3\.0 sealpost: spool_dir \S+ belongs to uid 65534, not to root or to the configured user sealpost; refusing/,
      );
      assert.deepEqual(readdirSync(join(shared, "spool")), [], "nothing of root's written there");
    }));

  it("two runners taking drops in at once store and relay each exactly once", (t) =>
    withUsers(t, {}, async (home, relayed) => {
      for (let i = 0; i < 12; i++) plantDrop(home, NOBODY, ENVELOPE, note(`twice? ${i}`));
      const [a, b] = await Promise.all([home.run(["queue", "run"]), home.run(["queue", "run"])]);
      assert.equal(a.code, 0);
      assert.equal(b.code, 0);
      await relayedSoon(relayed, 12);
      await sleep(500);
      const stored = home.localCopies().map((c) => /^Subject: (.*)$/m.exec(c.toString())?.[1]);
      assert.equal(stored.length, 12);
      assert.equal(new Set(stored).size, 12);
      assert.equal(relayed().length, 12);
    }));

  it("sendmail answers 75 and commits nothing when the local copy cannot be written", () =>
    inHome(world, {}, async (home, relayed) => {
      writeFileSync(home.mail, "a file where the Maildir should be");
      const r = await home.run(["sendmail", "root"], "Subject: cannot store\n\nx\n");
      assert.equal(r.code, 75);
      assert.match(r.stderr.toString(), /^4\.3\.0 sealpost: cannot write the local copy/);
      const listed = await home.run(["queue", "list", "--json"]);
      assert.deepEqual(JSON.parse(listed.stdout.toString()), []);
      assert.deepEqual(readdirSync(join(home.spool, "msg")), []);
      await sleep(300);
      assert.equal(relayed().length, 0);
    }));

  it("serve answers 451 and commits nothing when the local copy cannot be written", () =>
    inHome(world, {}, async (home, relayed) => {
      const port = await freePort();
      home.writeConfig({ extra: `[serve]\nlisten = "127.0.0.1:${port}"\n` });
      writeFileSync(home.mail, "a file where the Maildir should be");
      const served = await new Served(home, port).start();
      try {
        const { createTransport } = await import("nodemailer");
        const transport = createTransport({ host: "127.0.0.1", port, ignoreTLS: true });
        const sent = transport.sendMail({
          envelope: { from: "cron@web01.example.org", to: ["root@localhost"] },
          raw: "Subject: x\r\n\r\ny\r\n",
        });
        await assert.rejects(
          sent,
          (err: { responseCode?: number; response?: string }) =>
            err.responseCode === 451 && /cannot write the local copy/.test(err.response ?? ""),
        );
        transport.close();
        assert.deepEqual((await home.run(["queue", "list", "--json"])).stdout.toString().trim(), "[]");
        assert.equal(relayed().length, 0);
      } finally {
        await served.stop();
      }
    }));
});
