/**
 * serve's LMTP listener: the MTA hands messages over a unix socket, one reply per
 * recipient, each after the durable commit; the MTA's retry of a message is a no-op (the ledger
 * deliver uses); a route without a key is a 4xx the MTA keeps the message for; the socket is
 * 0660 in its directory's group; neither listener pauses before its greeting; and a kill -9 in
 * the middle of a stream loses nothing answered and, with the MTA's retries, does nothing twice.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, lstatSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { fixtureBytes, fixtures } from "../helpers/fixtures.js";
import { canRunAs, type Home } from "../helpers/home.js";
import { LmtpClient } from "../helpers/lmtp.js";
import { lf, openSealed } from "../helpers/sealed.js";
import { Served, freePort } from "../helpers/serve.js";
import { inHome, useWorld } from "../helpers/world.js";
import { relayedSoon } from "../helpers/relayed-soon.js";

const NOBODY = 65534;
const A01 = fixtureBytes(fixtures().find((f) => f.file.startsWith("A01"))!)
  .toString("latin1")
  .replace(/^From .*\n/, "");
const HOST = "web01.example.org";

describe("serve over LMTP", () => {
  const world = useWorld();

  /** serve with an LMTP socket at `socket` (default: lmtp/sock in the home), for `fn`. */
  async function lmtpServing(
    home: Home,
    fn: (socket: string, served: Served) => void | Promise<void>,
    socket = join(home.root, "lmtp", "sock"),
  ): Promise<void> {
    const port = await freePort();
    home.writeConfig({ extra: `[serve]\nlisten = "127.0.0.1:${port}"\nlmtp = "${socket}"\n` });
    const served = await new Served(home, port).start();
    try {
      await fn(socket, served);
    } finally {
      await served.stop();
    }
  }

  it("one reply per recipient after DATA, each after the commit; an outside recipient 550 5.7.1", () =>
    inHome(world, {}, (home, relayed) =>
      lmtpServing(home, async (socket) => {
        const client = await LmtpClient.connect(socket);
        assert.match(client.greeting.text, /^220 .* LMTP/);
        const { rcpt, data } = await client.send(`root@${HOST}`, [`root@${HOST}`, `sealpost@${HOST}`, "victim@elsewhere.example.com"], A01);
        await client.quit();
        assert.deepEqual(
          rcpt.map((r) => r.code),
          [250, 250, 550],
        );
        assert.match(rcpt[2]!.text, /5\.7\.1/);
        assert.deepEqual(
          data.map((r) => r.code),
          [250, 250],
          "one reply for each accepted recipient",
        );
        assert.equal(home.localCopies().length, 1, "the local copy is there when the replies come");
        const out = await relayedSoon(relayed, 1);
        assert.equal(out.length, 1, "one route, one external recipient: one sealed message");
        assert.ok(openSealed(out[0]!, world.gpg).inner.includes("203.0.113.45"));
      }),
    ));

  it("the MTA's retry of a message it already handed over (its reply lost) is answered 250 and stored and relayed once", () =>
    inHome(world, {}, (home, relayed) =>
      lmtpServing(home, async (socket) => {
        for (let i = 0; i < 2; i++) {
          const client = await LmtpClient.connect(socket);
          const { data } = await client.send(`root@${HOST}`, [`root@${HOST}`], A01);
          await client.quit();
          assert.deepEqual(
            data.map((r) => r.code),
            [250],
          );
        }
        await relayedSoon(relayed, 1);
        await sleep(500);
        assert.equal(relayed().length, 1);
        assert.equal(home.localCopies().length, 1);
      }),
    ));

  it("a route without a usable key: 451 4.7.1 for each recipient and nothing kept, so the MTA keeps it; once the key is there it goes", () =>
    inHome(world, {}, (home, relayed) =>
      lmtpServing(home, async (socket) => {
        rmSync(home.keys, { recursive: true, force: true });
        mkdirSync(home.keys);
        const first = await LmtpClient.connect(socket);
        const refused = await first.send(`root@${HOST}`, [`root@${HOST}`, `sealpost@${HOST}`], A01);
        await first.quit();
        assert.deepEqual(
          refused.data.map((r) => r.code),
          [451, 451],
        );
        assert.match(refused.data[0]!.text, /4\.7\.1 .*no usable key/);
        assert.equal(home.localCopies().length, 0);
        await home.importTestKey();
        const again = await LmtpClient.connect(socket);
        assert.deepEqual(
          (await again.send(`root@${HOST}`, [`root@${HOST}`], A01)).data.map((r) => r.code),
          [250],
        );
        await again.quit();
        assert.equal((await relayedSoon(relayed, 1)).length, 1);
      }),
    ));

  it("the socket is 0660 in its directory's group; a socket left by a killed serve is replaced; a file in its place stops serve with one line", () =>
    inHome(world, {}, async (home) => {
      const dir = join(home.root, "run");
      mkdirSync(dir);
      if (process.getuid?.() === 0) {
        chownSync(dir, 0, NOBODY); // as init makes /run/sealpost: the MTA's group
        chmodSync(dir, 0o2750);
      }
      const socket = join(dir, "lmtp");
      // a serve killed with -9 leaves its socket file, with nobody listening on it
      spawnSync(process.execPath, [
        "-e",
        `require("net").createServer().listen(process.argv[1], () => process.kill(process.pid, "SIGKILL"))`,
        socket,
      ]);
      assert.ok(lstatSync(socket).isSocket());
      await lmtpServing(
        home,
        async () => {
          const info = statSync(socket);
          assert.equal(info.mode & 0o777, 0o660);
          assert.equal(info.gid, statSync(dir).gid);
          const client = await LmtpClient.connect(socket);
          await client.quit();
        },
        socket,
      );
      assert.throws(() => lstatSync(socket), "serve removes its socket when it stops");

      writeFileSync(socket, "not a socket");
      const port = await freePort();
      home.writeConfig({ extra: `[serve]\nlisten = "127.0.0.1:${port}"\nlmtp = "${socket}"\n` });
      const r = await home.run(["serve"]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr.toString(), /serve\.lmtp: .* exists and is not a socket of this user's; not replaced/);
      assert.equal(r.stderr.toString().trim().split("\n").length, 1, r.stderr.toString());
    }));

  it("a user outside the socket directory's group cannot connect", (t) =>
    inHome(world, {}, async (home) => {
      if (!canRunAs(NOBODY)) {
        t.skip("needs root");
        return;
      }
      chmodSync(home.root, 0o755);
      const dir = join(home.root, "run");
      mkdirSync(dir, { mode: 0o750 }); // root's group, not nobody's
      chmodSync(dir, 0o750);
      await lmtpServing(
        home,
        (socket) => {
          const r = spawnSync(
            process.execPath,
            [
              "-e",
              `require("net").connect(process.argv[1]).on("error", (e) => { console.log(e.code); process.exit(0); }).on("connect", () => { console.log("connected"); process.exit(0); })`,
              socket,
            ],
            { uid: NOBODY, gid: NOBODY, encoding: "utf8" },
          );
          assert.equal(r.stdout.trim(), "EACCES");
        },
        join(dir, "lmtp"),
      );
    }));

  it("neither listener pauses before its greeting (smtp-server's early-talker wait, patched off by greetingDelay)", () =>
    inHome(world, {}, (home) =>
      lmtpServing(home, async (socket, served) => {
        // smtp-server waits 100 ms before every greeting unless told not to: the fastest of ten
        // greetings shows which, however busy the machine (a pause is never shorter).
        const fastest = async (connect: () => ReturnType<typeof createConnection>) => {
          let best = Infinity;
          for (let i = 0; i < 10; i++) {
            const started = performance.now();
            const c = connect();
            await new Promise((resolve) => c.once("data", resolve));
            best = Math.min(best, performance.now() - started);
            c.destroy();
          }
          return best;
        };
        const smtp = await fastest(() => createConnection(served.port, "127.0.0.1"));
        const lmtp = await fastest(() => createConnection(socket));
        assert.ok(smtp < 90, `SMTP greeting after ${smtp.toFixed(1)} ms`);
        assert.ok(lmtp < 90, `LMTP greeting after ${lmtp.toFixed(1)} ms`);
      }),
    ));
});

describe("serve killed with -9 while the MTA hands messages over LMTP", () => {
  const world = useWorld();

  it("loses nothing it answered 250 for; restarted, it relays each once; the MTA's retries, answered or not, are stored and relayed once", (t) =>
    inHome(world, { relayPort: 1 }, async (home, relayed) => {
      // The relay is down until the kill, so nothing is in the runner's documented window (a relay's
      // 250 not yet recorded, §5): what the ledger promises for LMTP is then exactly once.
      const port = await freePort();
      const socket = join(home.root, "lmtp", "sock");
      home.writeConfig({
        extra: `[serve]\nlisten = "127.0.0.1:${port}"\nlmtp = "${socket}"\n\n[spool]\nretry_min = "1s"\nretry_max = "2s"\n`,
      });
      const message = (token: string) =>
        `From: cron@${HOST}\nTo: root\nSubject: ${token}\nMessage-ID: <${token}@${HOST}>\n\nrun ${token}\n`;
      /** One transaction on `client`; whether it was answered 250, and the reply's text. */
      const handOver = async (client: LmtpClient, token: string) => {
        const { data } = await client.send(`cron@${HOST}`, [`root@${HOST}`], message(token));
        return { ok: data.length === 1 && data[0]!.code === 250, text: data.map((r) => r.text).join(" ") };
      };
      let served = await new Served(home, port).start();
      const acked = new Set<string>();
      const unanswered = new Set<string>(); // handed over, no 250 seen: the MTA keeps these and tries again
      let stop = false;
      // eight lmtp(8) processes, each a message after the other on its kept-open connection
      const clients = Array.from({ length: 8 }, async (_, c) => {
        const client = await LmtpClient.connect(socket).catch(() => undefined);
        if (!client) return;
        for (let i = 0; !stop; i++) {
          const token = `lmtp-${c}-${i}`;
          const answered = await handOver(client, token).catch(() => undefined);
          if (answered?.ok) acked.add(token);
          else unanswered.add(token);
          if (!answered) break; // the connection is gone
        }
        await client.quit();
      });
      for (let i = 0; i < 400 && acked.size < 30; i++) await sleep(25);
      await served.kill();
      stop = true;
      await Promise.all(clients);
      assert.ok(acked.size >= 30, `${acked.size} answered 250 before the kill`);
      const tokenOf = (text: string) => /^Subject: (lmtp-\d+-\d+)$/m.exec(text)?.[1] ?? "?";
      const stored = () => home.localCopies().map((c) => tokenOf(c.toString()));
      for (const token of acked) assert.ok(stored().includes(token), `${token} was answered 250 and is in the local store`);
      assert.equal(new Set(stored()).size, stored().length, "nothing stored twice");
      assert.equal(relayed().length, 0, "the relay was down");
      const committedUnanswered = [...unanswered].filter((token) => stored().includes(token));
      t.diagnostic(
        `${acked.size} answered 250 before the kill; ${unanswered.size} not, ${committedUnanswered.length} of them stored already (${committedUnanswered.join(" ")})`,
      );

      home.writeConfig({ relayPort: world.sink.port });
      served = await new Served(home, port).start();
      try {
        const out: string[] = []; // the token of each relayed message, decrypted once
        const opened = () => {
          for (const m of relayed().slice(out.length)) out.push(tokenOf(lf(openSealed(m, world.gpg).inner).toString()));
          return out;
        };
        const allOut = async (tokens: Iterable<string>) => {
          for (let i = 0; i < 400 && [...tokens].some((t) => !opened().includes(t)); i++) await sleep(50);
        };
        // The MTA tries again what it had no 250 for (some of it committed before the kill, its reply
        // lost), and hands over again some it did have one for (as when its own record of the 250 was lost).
        const [again, ...later] = [...acked];
        const retry = await LmtpClient.connect(socket);
        for (const token of unanswered) {
          const r = await handOver(retry, token);
          assert.ok(r.ok, `${token} retried after the kill: ${r.text}`);
        }
        const soon = await handOver(retry, again!); // its entry still queued, or being relayed
        assert.ok(soon.ok && /taken already/.test(soon.text), `${again} handed over again: ${soon.text}`);
        await allOut([...acked, ...unanswered]);
        for (const token of later.slice(0, 3)) {
          const r = await handOver(retry, token); // relayed and gone from the spool by now: the ledger still knows it
          assert.ok(r.ok && /taken already/.test(r.text), `${token} handed over again after its relay: ${r.text}`);
        }
        await retry.quit();
        await sleep(1_000); // anything relayed twice would show by now
        opened();
        const all = new Set([...acked, ...unanswered]);
        for (const token of all) {
          assert.equal(out.filter((t) => t === token).length, 1, `${token} relayed once`);
          assert.equal(stored().filter((t) => t === token).length, 1, `${token} stored once`);
        }
        assert.equal(out.length, all.size, `relayed: ${out.join(" ")}`);
        assert.equal(stored().length, all.size, `stored: ${stored().join(" ")}`);
      } finally {
        await served.stop();
      }
    }));
});
