/**
 * `sealpost serve`: loopback SMTP into the spool. 250 only after the commit; local
 * recipients only; max_size; no smuggling; 4xx on storage faults; clean SIGTERM; real clients.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it, type TestContext } from "node:test";
import { createTransport } from "nodemailer";
import { fixtureBytes, fixtures } from "../helpers/fixtures.js";
import { canRunAs, type Home } from "../helpers/home.js";
import { lf, openSealed } from "../helpers/sealed.js";
import { clientLimit } from "../../src/serve/capacity.js";
import { Served, freePort, rawSmtp, whileServing } from "../helpers/serve.js";
import { NEEDS_ROOT, tmpfs } from "../helpers/tmpfs.js";
import { inHome, useWorld } from "../helpers/world.js";
import { relayedSoon } from "../helpers/relayed-soon.js";

const NOBODY = 65534;
const A08 = fixtureBytes(fixtures().find((f) => f.file.startsWith("A08"))!);

function send(port: number, to: string[], raw: Buffer | string, from = "wordpress@www.example.org") {
  const transport = createTransport({ host: "127.0.0.1", port, ignoreTLS: true, name: "www.example.org" });
  return transport.sendMail({ envelope: { from, to }, raw }).finally(() => transport.close());
}

describe("serve", () => {
  const world = useWorld();

  async function serving(
    fn: (served: Served, home: Home, relayed: () => Buffer[]) => Promise<void>,
    serveToml = "",
    t?: TestContext,
    mount?: boolean,
  ): Promise<void> {
    await inHome(world, {}, async (home, relayed) => {
      const fs = mount ? tmpfs(home.spool) : undefined;
      if (mount && !fs) {
        t?.skip(NEEDS_ROOT);
        return;
      }
      try {
        await whileServing(home, serveToml, (served) => fn(served, home, relayed));
      } finally {
        fs?.unmount();
      }
    });
  }

  it("answers 250 after the commit, keeps one local copy, relays once, logs one line without body text", () =>
    serving(async (served, home, relayed) => {
      const info = await send(served.port, ["root@localhost"], A08);
      assert.match(info.response, /^250 2\.0\.0 queued as [0-9a-z]+-[0-9a-f]+/);
      assert.equal(home.localCopies().length, 1, "the local copy is there when 250 comes");
      const got = await relayedSoon(relayed, 1);
      assert.equal(got.length, 1);
      assert.ok(openSealed(got[0]!, world.gpg).inner.includes("Login failure"));
      await sleep(500);
      assert.equal(relayed().length, 1);
      const received = served.stdout.filter((l) => l.startsWith("event=received "));
      assert.equal(received.length, 1, served.stdout.join("\n"));
      assert.match(
        received[0]!,
        /^event=received id=\S+ via=serve client=127\.0\.0\.1 uid=0 size=\d+ from=<wordpress@www\.example\.org> to=root@localhost msgid=<\S+>$/,
      );
      const events = served.stdout.filter((l) => l.startsWith("event=")).map((l) => l.split(" ")[0]);
      assert.deepEqual(events, ["event=received", "event=stored", "event=spooled", "event=sealed", "event=relayed"]);
      assert.ok(!served.stdout.join("\n").includes("Login failure"), "no body text in the log");
    }));

  it("takes local recipients only: hostname, localhost, local_domains, a bare local part; 550 for the rest", () =>
    serving(async (served) => {
      const said = await rawSmtp(served.port, [
        "EHLO t\r\n",
        "MAIL FROM:<a@b.example>\r\n",
        "RCPT TO:<root@web01.example.org>\r\n",
        "RCPT TO:<root@localhost>\r\n",
        "RCPT TO:<ops@alerts.example.org>\r\n",
        "RCPT TO:<root>\r\n",
        "RCPT TO:<victim@elsewhere.example.com>\r\n",
        "QUIT\r\n",
      ]);
      const rcpt = said.split("\r\n").filter((l) => /^(250 Accepted|550)/.test(l));
      assert.deepEqual(
        rcpt.map((l) => l.slice(0, 3)),
        ["250", "250", "250", "250", "550"],
        said,
      );
      assert.match(said, /550 5\.7\.1 relaying denied/);
    }, 'local_domains = ["alerts.example.org"]\n'));

  it("refuses a message over max_size with 552 5.3.4 and keeps nothing of it", () =>
    serving(async (served, home, relayed) => {
      await assert.rejects(send(served.port, ["root@localhost"], `Subject: big\r\n\r\n${"x".repeat(998)}\r\n`.repeat(8)), /552 5\.3\.4/);
      await sleep(300);
      assert.deepEqual(home.localCopies(), []);
      assert.equal(relayed().length, 0);
    }, 'max_size = "4KB"\n'));

  it("a bare LF cannot end DATA: a smuggled second message stays inside the first", () =>
    serving(async (served, home, relayed) => {
      const said = await rawSmtp(
        served.port,
        [
          "EHLO t\r\n",
          "MAIL FROM:<a@b.example>\r\n",
          "RCPT TO:<root@localhost>\r\n",
          "DATA\r\n",
          "Subject: first\r\n\r\nhello\n.\nMAIL FROM:<evil@x>\nRCPT TO:<victim@elsewhere.example.com>\nDATA\nSubject: smuggled\n\nboo\r\n.\r\n",
          "QUIT\r\n",
        ],
        200,
      );
      assert.equal(said.match(/^250 2\.0\.0 queued/gm)?.length, 1, said);
      await relayedSoon(relayed, 1);
      await sleep(300);
      assert.equal(relayed().length, 1);
      const copy = home.localCopies()[0]!.toString();
      assert.ok(copy.includes("Subject: smuggled") && !copy.includes("\r"), "kept inside, line ends normalised");
    }));

  it("a full spool (ENOSPC) is answered 452 4.3.1; nothing is relayed", (t) =>
    serving(
      async (served, home, relayed) => {
        fillSpool(home);
        await assert.rejects(send(served.port, ["root@localhost"], A08), /452 4\.3\.1/);
        assert.equal(relayed().length, 0);
      },
      "",
      t,
      true,
    ));

  it("stops on SIGTERM: exit 0, a message in flight still gets its 250, then no more connections", () =>
    serving(async (served, _home, relayed) => {
      const slow = rawSmtp(
        served.port,
        [
          "EHLO t\r\n",
          "MAIL FROM:<a@b.example>\r\n",
          "RCPT TO:<root@localhost>\r\n",
          "DATA\r\n",
          "Subject: in flight\r\n\r\n",
          "still coming\r\n",
          ".\r\n",
          "QUIT\r\n",
        ],
        400,
      );
      await sleep(1700); // inside DATA
      const started = Date.now();
      const exit = served.stop();
      const said = await slow;
      assert.match(said, /^250 2\.0\.0 queued/m, said);
      assert.equal(await exit, 0);
      assert.ok(Date.now() - started < 15_000);
      await assert.rejects(send(served.port, ["root@localhost"], A08), /ECONNREFUSED|connect/);
      assert.ok(relayed().length <= 1);
    }));

  it("bounds its clients by the descriptors it may open: one connection past the limit is told 421 and closed", () =>
    serving(async (served) => {
      const limit = clientLimit(2); // 127.0.0.1 and ::1; the same /proc limits as the serve it started
      const sockets: Socket[] = [];
      const greetings: string[] = [];
      for (let opened = 0; opened <= limit; opened += 256) {
        // a few hundred at a time, as the kernel's queue takes them
        const batch = Array.from({ length: Math.min(256, limit + 1 - opened) }, () => createConnection(served.port, "127.0.0.1"));
        sockets.push(...batch);
        greetings.push(
          ...(await Promise.all(
            batch.map(
              (socket) =>
                new Promise<string>((resolve) => {
                  socket.once("data", (c: Buffer) => resolve(c.toString().slice(0, 3)));
                  socket.once("error", () => resolve("err"));
                }),
            ),
          )),
        );
      }
      for (const socket of sockets) socket.destroy();
      assert.ok(limit >= 1000, `a thousand idle connections fit (limit ${limit})`);
      assert.equal(greetings.filter((g) => g === "220").length, limit);
      assert.equal(greetings.filter((g) => g === "421").length, 1);
    }));

  it("follows a changed [relay] without a restart: what was queued while the relay was down goes out once, to the new one", () =>
    inHome(world, { relayPort: 1 }, async (home, relayed) => {
      const port = await freePort();
      // retry_min 1s: the runner tries again within seconds, not after a minute
      home.writeConfig({ extra: `[serve]\nlisten = "127.0.0.1:${port}"\n\n[spool]\nretry_min = "1s"\n` });
      const served = await new Served(home, port).start();
      try {
        const info = await send(served.port, ["root@localhost"], A08);
        assert.match(info.response, /^250 2\.0\.0 queued as /);
        for (let i = 0; i < 100 && !served.stdout.some((l) => l.startsWith("event=deferred ")); i++) await sleep(50);
        assert.ok(
          served.stdout.some((l) => l.startsWith("event=deferred ")),
          `tried the relay that is down: ${served.stdout.join("\n")}`,
        );
        assert.equal(relayed().length, 0);

        home.writeConfig({ relayPort: world.sink.port }); // the admin fixes [relay]; serve is not restarted, nothing is flushed
        const got = await relayedSoon(relayed, 1);
        assert.equal(got.length, 1, served.stdout.join("\n"));
        assert.ok(openSealed(got[0]!, world.gpg).inner.includes("Login failure"));
        await sleep(1500); // past another retry: nothing goes twice
        assert.equal(relayed().length, 1);
        assert.equal(served.stdout.filter((l) => l.startsWith("event=relayed ")).length, 1);
        assert.equal((await home.run(["queue", "list", "--json"])).stdout.toString().trim(), "[]");
        assert.equal(home.localCopies().length, 1);
        assert.equal(await Promise.race([served.exit, sleep(0, "running")]), "running", "the same serve all along");
      } finally {
        await served.stop();
      }
    }));

  it("a real msmtp (Debian) relays into it", (t) =>
    serving(
      async (served, home, relayed) => {
        if (spawnSync("msmtp", ["--version"]).status !== 0) {
          t.skip("msmtp is not installed (.ci/run installs it)");
          return;
        }
        execFileSync(
          "msmtp",
          ["--host=127.0.0.1", `--port=${served.port}`, "--auth=off", "--tls=off", "--from=root@web01.example.org", "root@localhost"],
          { input: "Subject: via msmtp\nFrom: root@web01.example.org\n\nsent by msmtp\n" },
        );
        const got = await relayedSoon(relayed, 1);
        assert.equal(got.length, 1);
        const opened = openSealed(got[0]!, world.gpg);
        assert.deepEqual(opened.outerFields.get("subject"), ["via msmtp"]);
        assert.ok(lf(opened.inner).includes("sent by msmtp"));
        assert.equal(home.localCopies().length, 1);
      },
      "",
      t,
    ));

  it("takes in, within seconds, what a user who cannot write the spool dropped with sendmail", (t) =>
    serving(
      async (_served, home, relayed) => {
        if (!canRunAs(NOBODY)) {
          t.skip("needs root, and a checkout that user can read");
          return;
        }
        chmodSync(home.root, 0o755);
        assert.ok(existsSync(join(home.spool, "drop")), "serve set up drop/");
        const r = await home.runAs(NOBODY, ["sendmail", "root"], "Subject: dropped\n\nx\n");
        assert.equal(r.code, 0, r.stderr.toString());
        assert.equal((await relayedSoon(relayed, 1)).length, 1);
        assert.equal(home.localCopies().length, 1);
      },
      "",
      t,
    ));
});

/** Fills the (small tmpfs) spool to its last byte. */
function fillSpool(home: Home): void {
  execFileSync("sh", [
    "-c",
    `i=0; while dd if=/dev/zero of="${home.spool}/filler-$i" bs=16k count=1 2>/dev/null; do i=$((i+1)); done; ` +
      `i=0; while printf x > "${home.spool}/crumb-$i" 2>/dev/null; do i=$((i+1)); done; true`,
  ]);
}

describe("serve killed with -9 while clients send at once", () => {
  const world = useWorld();

  it("loses nothing it answered 250 for and stores nothing twice; restarted, it relays each once", () =>
    inHome(world, {}, async (home, relayed) => {
      const port = await freePort();
      home.writeConfig({ extra: `[serve]\nlisten = "127.0.0.1:${port}"\n` });
      let served = await new Served(home, port).start();
      const acked = new Set<string>();
      let stop = false;
      // eight clients, each a message after the other on one connection, as a busy host's cron and fail2ban
      const clients = Array.from({ length: 8 }, async (_, c) => {
        const transport = createTransport({ host: "127.0.0.1", port, ignoreTLS: true, pool: true, maxConnections: 1 });
        for (let i = 0; !stop; i++) {
          const token = `crash-${c}-${i}`;
          const raw = `From: cron@web01.example.org\r\nTo: root\r\nSubject: ${token}\r\nMessage-ID: <${token}@web01.example.org>\r\n\r\nrun ${token}\r\n`;
          try {
            await transport.sendMail({ envelope: { from: "cron@web01.example.org", to: ["root@localhost"] }, raw });
            acked.add(token);
          } catch {
            break; // the server is gone: what was not answered 250 is the client's to send again
          }
        }
        transport.close();
      });
      for (let i = 0; i < 100 && acked.size < 30; i++) await sleep(20);
      await served.kill();
      stop = true;
      await Promise.all(clients);
      assert.ok(acked.size >= 30, `${acked.size} answered 250 before the kill`);
      const stored = () =>
        home
          .localCopies()
          .map((c) => /^Subject: (crash-\d+-\d+)/m.exec(c.toString())?.[1])
          .filter((t): t is string => !!t);
      for (const token of acked) assert.ok(stored().includes(token), `${token} was answered 250 and is in the local store`);
      assert.equal(new Set(stored()).size, stored().length, "nothing stored twice");
      served = await new Served(home, port).start();
      try {
        // Every message answered 250 goes out. One killed between its local copy and its spool entry
        // was not answered: its client sends it again, and only that one copy stays local only.
        const out: string[] = []; // the token of each relayed message, decrypted once
        const opened = () => {
          for (const m of relayed().slice(out.length))
            out.push(/Subject: (crash-\d+-\d+)/.exec(openSealed(m, world.gpg).inner.toString())?.[1] ?? "?");
          return out;
        };
        for (let i = 0; i < 200 && [...acked].some((t) => !opened().includes(t)); i++) await sleep(50);
        await sleep(500);
        opened();
        for (const token of acked) assert.ok(out.includes(token), `${token} was answered 250 and relayed`);
        for (const token of out) assert.ok(stored().includes(token), `${token} relayed and kept locally`);
        // twice only in the documented window: a relay's 250 the killed runner had not yet recorded
        const twice = out.length - new Set(out).size;
        assert.ok(twice <= 1, `${twice} relayed twice: a pass relays one message at a time, so one kill leaves at most one unrecorded`);
      } finally {
        await served.stop();
      }
    }));
});
