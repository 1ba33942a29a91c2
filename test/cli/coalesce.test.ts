/**
 * Routes by kind, coalescing into digests, max_per_hour and subject_template, through
 * the real CLI, a real relay sink and GnuPG. The burst: 200 fail2ban bans into `serve`, which
 * is restarted half-way; one digest must carry every one of them, intact.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createTransport } from "nodemailer";
import { loadConfig } from "../../src/config/load.js";
import { runPass as runQueue } from "../../src/pipeline/pass.js";
import { submit as submitToSpool } from "../../src/pipeline/submit.js";
import { asCarried, digestParts } from "../helpers/digest.js";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { RCPT, TEST_FPR } from "../helpers/paths.js";
import { openSealed } from "../helpers/sealed.js";
import { Served, freePort } from "../helpers/serve.js";
import { inHome, useWorld } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;
const A08 = fixtureBytes(fixtures().find((f) => f.file.startsWith("A08"))!);
const ENV = pipeEnv(A01);

/** The n-th fail2ban ban notice of a wave, as fail2ban's sendmail-whois-lines action writes it. */
function ban(n: number): Buffer {
  const ip = `203.0.113.${n % 250}`;
  return Buffer.from(
    [
      `Subject: [Fail2Ban] sshd: banned ${ip} from web01.example.org`,
      `Date: Sun, 22 Nov 2026 10:${String(Math.floor(n / 60) % 60).padStart(2, "0")}:${String(n % 60).padStart(2, "0")} +0100`,
      "From: Fail2Ban <root@web01.example.org>",
      "To: root@localhost",
      `Message-Id: <ban-${n}@web01.example.org>`,
      "",
      "Hi,",
      "",
      `The IP ${ip} has just been banned by Fail2Ban after`,
      `${3 + (n % 5)} attempts against sshd.`,
      "",
      "Regards,",
      "",
      "Fail2Ban",
      "",
    ].join("\n"),
  );
}

const waitFor = async (relayed: () => Buffer[], count: number, ms: number) => {
  for (let waited = 0; waited < ms && relayed().length < count; waited += 200) await sleep(200);
  return relayed();
};

const spoolEntries = (spool: string) => readdirSync(join(spool, "meta")).filter((n) => n.endsWith(".json"));

const BANS_ROUTE = (extra: string) => `[[route]]
match_kind = ["fail2ban.*"]
to = ["${RCPT}"]
${extra}

[[route]]
to = ["${RCPT}"]
`;

describe("coalescing", () => {
  const world = useWorld();

  it("a burst of 200 bans into serve, restarted half-way, leaves as one digest with every original intact; a login failure goes alone", () =>
    inHome(world, { route: BANS_ROUTE('coalesce = "15s"') }, async (home, relayed) => {
      const port = await freePort();
      home.writeConfig({ extra: `[serve]\nlisten = "127.0.0.1:${port}"\n` });
      const bans = Array.from({ length: 200 }, (_, i) => ban(i));
      const submit = async (batch: Buffer[]) => {
        const transport = createTransport({
          host: "127.0.0.1",
          port,
          ignoreTLS: true,
          pool: true,
          maxConnections: 4,
          maxMessages: Infinity,
        });
        try {
          await Promise.all(
            batch.map((raw) => transport.sendMail({ envelope: { from: "root@web01.example.org", to: ["root@localhost"] }, raw })),
          );
        } finally {
          transport.close();
        }
      };
      let served = await new Served(home, port).start();
      await submit(bans.slice(0, 100));
      assert.equal(await served.stop(), 0);
      assert.equal(relayed().length, 0, "nothing left before the window ended");
      assert.equal(spoolEntries(home.spool).length, 100, "every waiting ban is a spool entry across the restart");
      served = await new Served(home, port).start();
      try {
        await submit(bans.slice(100));
        await submit([A08]);
        const got = await waitFor(relayed, 2, 40_000);
        await sleep(1_000); // a second digest, if one were made, would come now
        assert.equal(relayed().length, 2, "one digest and the login failure");
        const opened = got.map((raw) => openSealed(raw, world.gpg));
        const digest = opened.find((o) => o.outerFields.has("subject") && /^Digest of/.test(o.outerFields.get("subject")![0]!))!;
        assert.ok(digest, "a digest arrived");
        assert.equal(digest.outerFields.get("subject")![0], "Digest of 200 messages from web01.example.org: 200 fail2ban.ban");
        assert.ok(!digest.outerHeader.includes("203.0.113."), "no IP outside the encryption");
        const parts = digestParts(digest.inner);
        assert.equal(parts.messages.length, 200);
        const carried = new Set(parts.messages.map((m) => m.toString("latin1")));
        for (const [i, original] of bans.entries())
          assert.ok(carried.has(asCarried(original).toString("latin1")), `ban ${i} inside, byte for byte`);
        assert.equal(
          parts.summary
            .split("\n")
            .filter((l) => /^\d+\s+2\d{3}-\d\d-\d\d \S+\s+fail2ban\.ban\s+web01\.example\.org\s+203\.0\.113\.\d+ \(sshd\)/.test(l)).length,
          200,
          "the summary has a row per ban: time, kind, host, IP (jail)",
        );
        const alone = opened.find((o) => o !== digest)!;
        assert.match(alone.outerFields.get("subject")![0]!, /Login failure for admin/);
        assert.equal(home.localCopies().length, 201, "one local copy per message");
        assert.equal(spoolEntries(home.spool).length, 0, "the spool is empty once the digest is relayed");
      } finally {
        await served.stop();
      }
    }));

  it("one digest per window: a pass before the first message's window ends sends nothing; later arrivals make the next digest", () =>
    inHome(world, { relayPort: world.sink.port, route: BANS_ROUTE('coalesce = "60s"') }, async (home, relayed) => {
      const config = loadConfig(home.config);
      const t0 = Date.now();
      const at = (s: number) => new Date(t0 + s * 1000);
      const submit = (n: number, s: number) =>
        submitToSpool(config, "web01.example.org", ban(n), { sender: "root@web01.example.org", recipients: ["root@localhost"] }, at(s), {
          via: "sendmail",
        });
      for (const [n, s] of [
        [0, 0],
        [1, 10],
        [2, 20],
      ] as const)
        await submit(n, s);
      assert.equal((await runQueue(config, { now: at(59) })).relayed, 0, "the window is still open");
      assert.equal((await runQueue(config, { now: at(61) })).relayed, 3);
      await submit(3, 70);
      await submit(4, 80);
      assert.equal((await runQueue(config, { now: at(100) })).relayed, 0, "the second window started at 70 s");
      assert.equal((await runQueue(config, { now: at(131) })).relayed, 2);
      const counts = relayed().map((raw) => digestParts(openSealed(raw, world.gpg).inner).messages.length);
      assert.deepEqual(counts, [3, 2]);
      assert.equal(home.localCopies().length, 5);
    }));

  it("max_per_hour: singles while the hour allows, then the overflow as one digest, and never more than the limit an hour", () =>
    inHome(world, { relayPort: world.sink.port, route: BANS_ROUTE("max_per_hour = 3") }, async (home, relayed) => {
      for (let i = 0; i < 6; i++) {
        const r = await home.deliver(ban(i), ENV);
        assert.equal(r.code, 0, r.stderr.toString());
      }
      assert.equal(relayed().length, 2, "two singles; the third mail of the hour is kept for the digest");
      assert.equal(spoolEntries(home.spool).length, 4);
      const config = loadConfig(home.config);
      const now = Date.now();
      assert.equal((await runQueue(config, { now: new Date(now + 5 * 60_000) })).relayed, 0, "the overflow window (10 min) is open");
      assert.equal((await runQueue(config, { now: new Date(now + 11 * 60_000) })).relayed, 4);
      assert.equal(digestParts(openSealed(relayed()[2]!, world.gpg).inner).messages.length, 4);
      assert.equal((await home.deliver(ban(6), ENV)).code, 0);
      assert.equal(relayed().length, 3, "the hour's three are spent: it waits");
      assert.equal((await runQueue(config, { now: new Date(now + 22 * 60_000) })).relayed, 0, "still within the hour of the first send");
      assert.equal((await runQueue(config, { now: new Date(now + 61 * 60_000) })).relayed, 1);
      assert.equal(relayed().length, 4);
      assert.equal(home.localCopies().length, 7);
    }));

  it("sendmail with no serve and no timer: the background runner stays for the window and sends the digest", () =>
    inHome(world, { relayPort: world.sink.port, route: BANS_ROUTE('coalesce = "3s"') }, async (home, relayed) => {
      for (let i = 0; i < 5; i++) assert.equal((await home.run(["sendmail", "-t"], ban(i))).code, 0);
      const got = await waitFor(relayed, 1, 20_000);
      assert.equal(got.length, 1);
      assert.equal(digestParts(openSealed(got[0]!, world.gpg).inner).messages.length, 5);
      for (let i = 0; i < 20 && spoolEntries(home.spool).length > 0; i++) await sleep(100);
      assert.equal(spoolEntries(home.spool).length, 0);
    }));

  it("match_kind sends each kind to its own route; a kind no route takes is kept locally only", () =>
    inHome(
      world,
      {
        relayPort: world.sink.port,
        route:
          `[[route]]\nmatch_kind = ["fail2ban.ban"]\nto = ["bans@example.net"]\nkeys = ["${TEST_FPR}"]\n\n` +
          `[[route]]\nmatch_kind = ["login.*", "privilege.*"]\nto = ["${RCPT}"]\n`,
      },
      async (home) => {
        world.sink.take(RCPT); // what earlier tests left at the shared sink
        world.sink.take("bans@example.net");
        assert.equal((await home.deliver(ban(1), ENV)).code, 0);
        assert.equal((await home.deliver(A08, ENV)).code, 0);
        assert.equal((await home.deliver(fixtureBytes(fixtures().find((f) => f.file.startsWith("A09"))!), ENV)).code, 0);
        assert.equal(world.sink.take("bans@example.net").length, 1);
        assert.equal(world.sink.take(RCPT).length, 1);
        assert.equal(home.localCopies().length, 3, "cron output has no route here: local copy only");
      },
    ));

  it("subject_template shows host and kind outside; the real Subject stays inside", () =>
    inHome(
      world,
      { relayPort: world.sink.port, extra: '[message]\nprotect_subject = true\nsubject_template = "[{host}] {kind}"\n' },
      async (home, relayed) => {
        assert.equal((await home.deliver(ban(7), ENV)).code, 0);
        const opened = openSealed(relayed()[0]!, world.gpg);
        assert.equal(opened.outerFields.get("subject")![0], "[web01.example.org] fail2ban.ban");
        assert.match(opened.innerHeader, /^Subject: \[Fail2Ban\] sshd: banned 203\.0\.113\.7 from web01\.example\.org$/m);
      },
    ));
});
