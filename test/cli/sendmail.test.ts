/**
 * `sealpost sendmail` as real callers run it: the exact argv of cronie, Debian cron,
 * fail2ban, mdadm, sudo and at; answered at once, relayed in the background; nothing committed
 * when killed before EOF; any local user can submit without reading anyone's mail.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it, type TestContext } from "node:test";
import { fixtureBytes, fixtures } from "../helpers/fixtures.js";
import { BIN } from "../helpers/paths.js";
import { Home, canRunAs, nodeChildOf } from "../helpers/home.js";
import { openSealed } from "../helpers/sealed.js";
import { inHome, useWorld } from "../helpers/world.js";
import { relayedSoon } from "../helpers/relayed-soon.js";

const byName = (prefix: string) => fixtureBytes(fixtures().find((f) => f.file.startsWith(prefix))!);
const NOBODY = 65534;

describe("sendmail", () => {
  const world = useWorld();

  const CALLERS: Array<[string, string[], string]> = [
    ["cronie", ["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"], "A09"],
    ["Debian cron", ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"], "A09"],
    ["fail2ban (sendmail-whois)", ["-f", "root@web01.example.org", "root@localhost"], "A02"],
    ["mdadm", ["-t"], "A15"],
    ["sudo (mailerflags -t)", ["-t"], "A07"],
    ["at", ["-i", "deploy"], "A18"],
  ];
  for (const [caller, argv, fixture] of CALLERS) {
    it(`${caller}: sendmail ${argv.join(" ")} answers 0 silently, then the background run stores once and relays once`, () =>
      inHome(world, {}, async (home, relayed) => {
        const r = await home.run(["sendmail", ...argv], byName(fixture));
        assert.equal(r.code, 0, r.stderr.toString());
        assert.equal(r.stdout.length + r.stderr.length, 0);
        const got = await relayedSoon(relayed, 1);
        assert.equal(got.length, 1);
        openSealed(got[0]!, world.gpg);
        await sleep(300);
        assert.equal(relayed().length, 1, "relayed once");
        assert.equal(home.localCopies().length, 1);
      }));
  }

  it("started under the name sendmail (a symlink) it is sendmail", () =>
    inHome(world, {}, async (home, relayed) => {
      home.bin = join(home.root, "sendmail");
      symlinkSync(BIN, home.bin);
      const r = await home.run(["-i", "root"], byName("A09"));
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal((await relayedSoon(relayed, 1)).length, 1);
    }));

  it("without -i a lone '.' line ends the message", () =>
    inHome(world, {}, async (home, relayed) => {
      assert.equal((await home.run(["sendmail", "root"], "Subject: dots\n\nkept\n.\ncut off\n")).code, 0);
      await relayedSoon(relayed, 1);
      const copy = home.localCopies()[0]!.toString();
      assert.ok(copy.includes("kept") && !copy.includes("cut off"));
    }));

  it("killed before the end of its input it commits nothing", () =>
    inHome(world, {}, async (home, relayed) => {
      const run = home.start(["sendmail", "-t"], null);
      run.child.stdin!.write("To: root\nSubject: half\n\nfirst half of the cron output\n");
      let pid: number | undefined;
      for (let i = 0; i < 50 && !pid; i++) {
        await sleep(50);
        pid = nodeChildOf(run.child.pid!);
      }
      await sleep(300); // node is up and waiting for the rest of stdin
      process.kill(pid!, "SIGKILL");
      await run.done;
      assert.equal((await home.run(["queue", "run"])).code, 0);
      assert.deepEqual(home.localCopies(), []);
      assert.equal(relayed().length, 0);
      const msg = join(home.spool, "msg");
      assert.deepEqual(existsSync(msg) ? readdirSync(msg).filter((n) => !n.startsWith(".")) : [], []);
    }));

  it("-bp lists the queue and -q runs it", () =>
    inHome(world, { relayPort: 1 }, async (home) => {
      assert.equal((await home.run(["sendmail", "root"], "Subject: q\n\nx\n")).code, 0, "committed though the relay is down");
      await sleep(500);
      const listed = await home.run(["sendmail", "-bp"]);
      assert.equal(listed.code, 0);
      assert.match(listed.stdout.toString(), /queued .* to ops@example\.net/);
      const ran = await home.run(["sendmail", "-q"]);
      assert.equal(ran.code, 0, ran.stderr.toString());
    }));

  it("a broken config answers 75 with one line", () =>
    inHome(world, {}, async (home) => {
      const r = await home.run(["sendmail", "root"], "Subject: x\n\ny\n", { SEALPOST_CONFIG: join(home.root, "missing.toml") });
      assert.equal(r.code, 75);
      assert.match(r.stderr.toString(), /^4\.3\.5 sealpost: config .*missing\.toml.*\n$/);
    }));

  describe("any local user can submit, and read no one's mail", () => {
    async function asUser(t: TestContext, fn: (home: Home, relayed: () => Buffer[]) => Promise<void>): Promise<void> {
      if (!canRunAs(NOBODY)) {
        t.skip("needs root, and a checkout that user can read");
        return;
      }
      await inHome(world, { top: 'user = "nobody"' }, async (home, relayed) => {
        chmodSync(home.root, 0o755);
        assert.equal((await home.run(["queue", "run"])).code, 0, "the spool's owner sets up drop/");
        await fn(home, relayed);
      });
    }

    it("nobody submits into drop/, cannot list it or read the spool; the owner's queue run stores and relays it", (t) =>
      asUser(t, async (home, relayed) => {
        const r = await home.runAs(NOBODY, ["sendmail", "-t"], byName("A15"));
        assert.equal(r.code, 0, r.stderr.toString());
        assert.equal(readdirSync(join(home.spool, "drop")).filter((n) => n.endsWith(".msg")).length, 1);
        const port = world.sink.port;
        home.writeConfig({ relayPort: 1 }); // relay down: the owner's run takes it into the spool, where it waits
        assert.equal((await home.run(["queue", "run"])).code, 0);
        assert.equal(home.localCopies().length, 1, "the local copy is made at once");
        const peek = await home.runAs(NOBODY, ["queue", "list"]);
        assert.equal(peek.code, 1, "nobody cannot read the spool");
        assert.match(peek.stderr.toString(), /EACCES/);
        home.writeConfig({ relayPort: port });
        assert.equal((await home.run(["queue", "flush"])).code, 0);
        assert.equal(relayed().length, 1);
        openSealed(relayed()[0]!, world.gpg);
        assert.equal(home.localCopies().length, 1);
        assert.deepEqual(readdirSync(join(home.spool, "drop")), [], "taken into the spool");
      }));

    it("root submits as the spool's owner: every file it writes belongs to that user", (t) =>
      asUser(t, async (home, relayed) => {
        mkdirSync(home.mail, { recursive: true });
        execFileSync("chown", ["-R", `${NOBODY}:${NOBODY}`, home.spool, home.mail]);
        const r = await home.run(["sendmail", "-t"], byName("A15"));
        assert.equal(r.code, 0, r.stderr.toString());
        assert.equal((await relayedSoon(relayed, 1)).length, 1);
        const owners = execFileSync("find", [home.spool, home.mail, "-newer", home.config, "-printf", "%u %p\n"])
          .toString()
          .trim()
          .split("\n");
        assert.ok(owners.length > 3);
        assert.deepEqual(
          owners.filter((l) => !l.startsWith("nobody ")),
          [],
          "nothing written as root",
        );
      }));

    it("drop/ cannot be listed by other users, and a symlink planted there is never followed", (t) =>
      asUser(t, async (home, relayed) => {
        const r = await runShellAs(home, NOBODY, `ls ${join(home.spool, "drop")}; echo status=$?`);
        assert.match(r, /status=[1-9]/);
        await runShellAs(home, NOBODY, `ln -s /etc/shadow ${join(home.spool, "drop", "0123456789abcdef0123456789abcdef.msg")}`);
        assert.equal((await home.run(["queue", "run"])).code, 0);
        assert.equal(relayed().length, 0);
        assert.ok(existsSync(join(home.spool, "drop", "0123456789abcdef0123456789abcdef.msg.bad")), "set aside");
      }));
  });
});

async function runShellAs(home: Home, uid: number, script: string): Promise<string> {
  const { spawnSync } = await import("node:child_process");
  const r = spawnSync("/bin/sh", ["-c", script], { uid, gid: uid, cwd: home.root });
  return r.stdout.toString() + r.stderr.toString();
}
