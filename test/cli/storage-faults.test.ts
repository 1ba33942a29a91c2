/**
 * Storage faults: a full disk, a read-only spool, permission denied, a file where a
 * directory should be. deliver answers 75 with one line, relays nothing it has not stored, and
 * no partial file ever becomes visible in the Maildir, the mbox or the spool.
 */
import assert from "node:assert/strict";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { Home, canRunAs, isTempfailLine } from "../helpers/home.js";
import { NEEDS_ROOT, tmpfs, type Tmpfs } from "../helpers/tmpfs.js";
import { useWorld } from "../helpers/world.js";
import { openSealed } from "../helpers/sealed.js";
import { Sink } from "../helpers/sink.js";
import { RCPT, TEST_FPR } from "../helpers/paths.js";
import { setTimeout as sleep } from "node:timers/promises";
import { loadConfig } from "../../src/config/load.js";
import { runPass } from "../../src/pipeline/pass.js";
import { Spool, type NewEntry } from "../../src/store/spool.js";
import { digestParts } from "../helpers/digest.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;
const RAW = fixtureBytes(A01);
const ENV = pipeEnv(A01);
const NOBODY = 65534;

/** Every file below `dir`, recursively (names relative to it). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((name) => statSync(join(dir, name)).isFile());
}

describe("storage faults", () => {
  const world = useWorld();

  async function scenario(
    t: TestContext,
    fn: (home: Home, fs: Tmpfs | undefined) => Promise<void>,
    options: { store?: "maildir" | "mbox"; mount?: "mail" | "spool"; uid?: number; extra?: string } = {},
  ): Promise<void> {
    if (options.uid !== undefined && !canRunAs(options.uid)) {
      t.skip("needs root, and a checkout that user can read");
      return;
    }
    const home = new Home({ relayPort: world.sink.port, store: options.store, uid: options.uid, extra: options.extra });
    let fs: Tmpfs | undefined;
    try {
      await home.importTestKey();
      if (options.mount) {
        fs = tmpfs(join(home.root, options.mount === "mail" ? "mnt-mail" : "spool"));
        if (!fs) {
          t.skip(NEEDS_ROOT);
          return;
        }
        if (options.mount === "mail") {
          home.mail = join(fs.dir, options.store === "mbox" ? "mbox" : "Maildir");
          home.writeConfig();
          writeFileSync(home.config, readFileSync(home.config, "utf8").replace(/^path = .*$/m, `path = "${home.mail}"`));
        }
      }
      await fn(home, fs);
    } finally {
      fs?.unmount();
      await home.cleanup();
    }
  }

  async function assertDeferredNothingSent(home: Home, reason: RegExp): Promise<void> {
    const before = world.sink.messages.length;
    const r = await home.deliver(RAW, ENV);
    assert.equal(r.code, 75);
    assert.ok(isTempfailLine(r.stderr), r.stderr.toString());
    assert.match(r.stderr.toString(), reason);
    assert.equal(world.sink.messages.length, before, "nothing relayed that is not stored");
  }

  it("a full disk under the Maildir (ENOSPC): exit 75 '4.3.1 local store is full', no partial file in tmp/ or new/", (t) =>
    scenario(
      t,
      async (home, fs) => {
        mkdirSync(join(home.mail, "new"), { recursive: true });
        fs!.fill();
        await assertDeferredNothingSent(home, /^4\.3\.1 sealpost: local store is full\n$/);
        assert.deepEqual(filesUnder(home.mail), []);
      },
      { mount: "mail" },
    ));

  it("a full disk under the mbox (ENOSPC): exit 75, the mbox is left exactly as it was", (t) =>
    scenario(
      t,
      async (home, fs) => {
        writeFileSync(home.mail, "From a@b Sat Nov 21 10:00:00 2026\nSubject: earlier\n\nkept\n\n", { mode: 0o600 });
        const before = readFileSync(home.mail);
        fs!.fill();
        await assertDeferredNothingSent(home, /^4\.3\.1 sealpost: /);
        assert.ok(readFileSync(home.mail).equals(before), "cut back to its old size");
        assert.ok(!existsSync(home.mail + ".lock"), "the dot-lock is released");
      },
      { store: "mbox", mount: "mail" },
    ));

  it("a full disk under the spool (ENOSPC): exit 75 before anything is stored, no partial file in the spool", (t) =>
    scenario(
      t,
      async (home, fs) => {
        fs!.fill();
        const spoolBefore = filesUnder(home.spool);
        await assertDeferredNothingSent(home, /^4\.3\.1 sealpost: no space left to store the message\n$/);
        assert.deepEqual(home.localCopies(), []);
        assert.deepEqual(filesUnder(home.spool), spoolBefore);
      },
      { mount: "spool" },
    ));

  it("a full disk under the spool still relays what is queued, and that frees the space", (t) =>
    scenario(
      t,
      async (home, fs) => {
        home.writeConfig({ relayPort: 1, extra: '[deliver]\nrelay = "inline"\non_relay_failure = "spool"\n' });
        for (let i = 0; i < 3; i++) {
          const r = await home.deliver(Buffer.concat([Buffer.from(`X-Case: ${i}\n`), RAW]), ENV);
          assert.equal(r.code, 0, r.stderr.toString());
        }
        assert.ok(await home.untilUnlocked(), "the background runner let go of its entries");
        await home.stopRunners();
        assert.equal(filesUnder(join(home.spool, "meta")).length, 3);
        fs!.fill();
        const before = world.sink.messages.length;
        const config = loadConfig(home.config);
        // an entry's lock cannot hold its pid on a full disk: taken empty, the pass goes on
        const report = await runPass({ ...config, relay: { ...config.relay, port: world.sink.port } }, { force: true });
        assert.deepEqual(report, { relayed: 3, deferred: 0, held: 0 });
        const cases = world.sink.messages
          .slice(before)
          .map((m) => /^X-Case: (\d)/m.exec(openSealed(m.raw, world.gpg).inner.toString())?.[1]);
        assert.deepEqual(cases.sort(), ["0", "1", "2"]);
        assert.deepEqual(filesUnder(join(home.spool, "meta")), [], "the entries are gone, and with them their space");
        assert.deepEqual(filesUnder(join(home.spool, "msg")), []);
      },
      { mount: "spool" },
    ));

  /**
   * `entries` written to the spool as the intake commits them (no runner started yet), the spool
   * filled, then a background runner for a few seconds against a sink of its own; that sink,
   * stopped, with what it received.
   */
  async function fullSpoolRunner(
    home: Home,
    fs: Tmpfs,
    entries: Array<Partial<NewEntry>>,
    extra = "",
    refuse: string[] = [],
  ): Promise<Sink> {
    const sink = await new Sink("accept", { refuse }).start();
    try {
      home.writeConfig({ relayPort: sink.port, extra });
      const spool = new Spool(home.spool);
      const message = Buffer.from(RAW.toString("latin1").replace(/^From .*\n/, ""), "latin1");
      for (const fields of entries)
        await spool.enqueue(message, {
          state: "queued",
          nextAttempt: new Date().toISOString(),
          lastError: null,
          recipients: [RCPT],
          sender: "root@web01.example.org",
          keys: [TEST_FPR],
          ...fields,
        });
      fs.fill(); // no record of a 250 can be written now
      const runner = home.start(["queue", "run", "--background"]).done;
      for (let i = 0; i < 600 && sink.mailFroms.length === 0; i++) await sleep(50);
      assert.ok(sink.mailFroms.length > 0, "the runner relayed");
      await sleep(3_000); // a runner going round in a loop sends again within milliseconds
      await home.stopRunners();
      await runner;
      return sink;
    } finally {
      await sink.stop();
    }
  }

  it("a full spool whose record of a 250 cannot be written: the runner sends that copy once, and does not spin", (t) =>
    scenario(
      t,
      async (home, fs) => {
        // one entry for two recipients: after the first 250 the entry is rewritten, which the full disk refuses
        const sink = await fullSpoolRunner(home, fs!, [{ recipients: [RCPT, "gone@example.net"] }], "", ["gone@example.net"]);
        const copies = sink.messages.filter((m) => m.to.includes(RCPT));
        assert.equal(copies.length, 1, `${RCPT} got its copy once, not once a pass`);
        openSealed(copies[0]!.raw, world.gpg);
        assert.equal(sink.mailFroms.length, 2, "one transaction per recipient, then the entry waits its backoff");
      },
      { mount: "spool" },
    ));

  it("a full spool whose digest's 250 cannot be recorded: the runner sends that digest once, and does not spin", (t) =>
    scenario(
      t,
      async (home, fs) => {
        const batch = { group: "bans", windowSeconds: 60, waiting: true };
        // retry_min 1 s: the group's failure waits that long, then the runner goes by what it remembers of the 250
        const sink = await fullSpoolRunner(home, fs!, [{ batch }, { batch }], '[spool]\nretry_min = "1s"\n');
        assert.equal(sink.messages.length, 1, "one digest, not one a pass");
        assert.equal(digestParts(openSealed(sink.messages[0]!.raw, world.gpg).inner).messages.length, 2);
        assert.equal(sink.mailFroms.length, 1);
      },
      { mount: "spool" },
    ));

  it("a read-only spool (EROFS): exit 75, nothing stored, nothing relayed", (t) =>
    scenario(
      t,
      async (home, fs) => {
        fs!.readOnly();
        await assertDeferredNothingSent(home, /^4\.3\.0 sealpost: /);
        assert.deepEqual(home.localCopies(), []);
      },
      { mount: "spool" },
    ));

  it("permission denied on the spool (EACCES, sealpost running as nobody): exit 75", (t) =>
    scenario(
      t,
      async (home) => {
        mkdirSync(home.spool, { mode: 0o700 });
        chownSync(home.spool, 0, 0);
        await assertDeferredNothingSent(home, /^4\.3\.0 sealpost: /);
        assert.deepEqual(home.localCopies(), []);
      },
      { uid: NOBODY },
    ));

  it("permission denied on the Maildir (EACCES, sealpost running as nobody): exit 75, no copy, nothing relayed", (t) =>
    scenario(
      t,
      async (home) => {
        mkdirSync(home.mail, { mode: 0o700 });
        chownSync(home.mail, 0, 0);
        await assertDeferredNothingSent(home, /^4\.3\.0 sealpost: cannot write the local copy \(EACCES\)\n$/);
      },
      { uid: NOBODY },
    ));

  it("a file where the Maildir should be: exit 75, nothing relayed", (t) =>
    scenario(t, async (home) => {
      writeFileSync(home.mail, "a file where the Maildir should be");
      await assertDeferredNothingSent(home, /^4\.3\.0 sealpost: cannot write the local copy \(EEXIST|ENOTDIR\)/);
    }));

  it("a file where the spool should be: exit 75, nothing stored, nothing relayed", (t) =>
    scenario(t, async (home) => {
      writeFileSync(home.spool, "a file where the spool should be");
      await assertDeferredNothingSent(home, /^4\.3\.0 sealpost: /);
      assert.deepEqual(home.localCopies(), []);
    }));

  it("on_relay_failure = spool and a spool entry that cannot be written: exit 75; the retry spools it, still one local copy", (t) =>
    scenario(
      t,
      async (home) => {
        home.writeConfig({ relayPort: 1 });
        mkdirSync(home.spool, { recursive: true });
        writeFileSync(join(home.spool, "msg"), "a file where the spool's msg/ should be");
        const r = await home.deliver(RAW, ENV);
        assert.equal(r.code, 75, "not ours yet: the MTA keeps it");
        assert.ok(isTempfailLine(r.stderr), r.stderr.toString());
        assert.equal(home.localCopies().length, 1);
        chmodSync(join(home.spool, "msg"), 0o600);
        await import("node:fs/promises").then((f) => f.unlink(join(home.spool, "msg")));
        const retry = await home.deliver(RAW, ENV);
        assert.equal(retry.code, 0, retry.stderr.toString());
        assert.equal(home.localCopies().length, 1);
        const spool = JSON.parse((await home.run(["queue", "list", "--json"])).stdout.toString()) as Array<{ state: string }>;
        assert.deepEqual(
          spool.map((e) => e.state),
          ["queued"],
        );
      },
      { extra: '[deliver]\nrelay = "inline"\non_relay_failure = "spool"\n' },
    ));
});
