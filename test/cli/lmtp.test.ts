/**
 * serve's LMTP listener: the MTA hands messages over a unix socket, one reply per
 * recipient, each after the durable commit; the MTA's retry of a message is a no-op (the ledger
 * deliver uses); a route without a key is a 4xx the MTA keeps the message for; the socket is
 * 0660 in its directory's group; and neither listener pauses before its greeting.
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
import { openSealed } from "../helpers/sealed.js";
import { Served, freePort } from "../helpers/serve.js";
import { inHome, useWorld } from "../helpers/world.js";

const NOBODY = 65534;
const A01 = fixtureBytes(fixtures().find((f) => f.file.startsWith("A01"))!)
  .toString("latin1")
  .replace(/^From .*\n/, "");
const HOST = "web01.example.org";

async function relayedSoon(relayed: () => Buffer[], count: number): Promise<Buffer[]> {
  for (let i = 0; i < 100 && relayed().length < count; i++) await sleep(50);
  return relayed();
}

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
