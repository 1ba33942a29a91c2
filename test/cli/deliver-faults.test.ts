/** deliver under faults: exit 0/75 only, one stderr line on 75, nothing lost, nothing leaked, nothing twice. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { Home, isTempfailLine } from "../helpers/home.js";
import { TEST_FPR } from "../helpers/paths.js";
import { openSealed } from "../helpers/sealed.js";
import { useWorld, withSink } from "../helpers/world.js";
import type { KeyIndex } from "../../src/store/key-index.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;
const RAW = fixtureBytes(A01);
const ENV = pipeEnv(A01);

/** The MTA-retry semantics these rows are about: deliver relays before it answers. */
const INLINE = '[deliver]\nrelay = "inline"\n';

describe("deliver faults", () => {
  const world = useWorld();

  async function scenario(fn: (home: Home) => Promise<void>, options = {}): Promise<void> {
    const home = new Home({ relayPort: world.sink.port, ...options });
    try {
      await fn(home);
    } finally {
      await home.cleanup();
    }
  }

  it("deliver exits 75 when the relay is down, and the MTA's retry relays once with one local copy", () =>
    scenario(
      async (home) => {
        await home.importTestKey();
        let r = await home.deliver(RAW, ENV);
        assert.equal(r.code, 75);
        assert.ok(isTempfailLine(r.stderr), r.stderr.toString());
        assert.equal(home.localCopies().length, 1, "the local copy is kept at once");
        home.writeConfig({ relayPort: world.sink.port });
        const before = world.sink.messages.length;
        r = await home.deliver(RAW, ENV);
        assert.equal(r.code, 0, r.stderr.toString());
        r = await home.deliver(RAW, ENV); // Postfix may run the command twice
        assert.equal(r.code, 0);
        assert.equal(r.stderr.length, 0);
        assert.equal(home.localCopies().length, 1);
        assert.equal(world.sink.messages.length - before, 1);
      },
      { relayPort: 1, extra: INLINE },
    ));

  it("deliver exits 0 on a 554, holds the message in the spool and leaves a notice for root", () =>
    withSink("permfail", (refusing) =>
      scenario(
        async (home) => {
          await home.importTestKey();
          const r = await home.deliver(RAW, ENV);
          assert.equal(r.code, 0, r.stderr.toString());
          assert.equal(r.stderr.length, 0);
          const q = await home.run(["queue", "list", "--json"]);
          const entries = JSON.parse(q.stdout.toString()) as Array<{ state: string; recipients: string[]; lastError: string }>;
          assert.equal(entries.length, 1);
          assert.equal(entries[0]!.state, "held");
          assert.deepEqual(entries[0]!.recipients, ["ops@example.net"]);
          assert.match(entries[0]!.lastError, /554/);
          const copies = home.localCopies().map((c) => c.toString());
          assert.equal(copies.length, 2, "the message and the notice");
          assert.ok(copies.some((c) => /^Subject: sealpost: message held/m.test(c) && c.includes(`queue release`)));
          // a retry by the MTA does not hold it twice
          assert.equal((await home.deliver(RAW, ENV)).code, 0);
          assert.equal((JSON.parse((await home.run(["queue", "list", "--json"])).stdout.toString()) as unknown[]).length, 1);
        },
        { relayPort: refusing.port, extra: INLINE },
      ),
    ));

  it("a held message is relayed after queue release and queue run", () =>
    withSink("permfail", (relay) =>
      scenario(
        async (home) => {
          await home.importTestKey();
          assert.equal((await home.deliver(RAW, ENV)).code, 0);
          const [entry] = JSON.parse((await home.run(["queue", "list", "--json"])).stdout.toString()) as Array<{ id: string }>;
          relay.mode = "accept";
          assert.equal((await home.run(["queue", "release", entry!.id])).code, 0);
          const run = await home.run(["queue", "run"]);
          assert.equal(run.code, 0, run.stderr.toString());
          assert.equal(relay.messages.length, 1);
          openSealed(relay.messages[0]!.raw, world.gpg);
          assert.equal((JSON.parse((await home.run(["queue", "list", "--json"])).stdout.toString()) as unknown[]).length, 0);
        },
        { relayPort: relay.port, extra: INLINE },
      ),
    ));

  it("with on_relay_failure = spool, deliver exits 0 and queue run relays later", () =>
    scenario(
      async (home) => {
        await home.importTestKey();
        const r = await home.deliver(RAW, ENV);
        assert.equal(r.code, 0, r.stderr.toString());
        const entries = JSON.parse((await home.run(["queue", "list", "--json"])).stdout.toString()) as Array<{ state: string }>;
        assert.deepEqual(
          entries.map((e) => e.state),
          ["queued"],
        );
        home.writeConfig({ relayPort: world.sink.port });
        const before = world.sink.messages.length;
        assert.equal((await home.run(["queue", "flush"])).code, 0);
        assert.equal(world.sink.messages.length - before, 1);
        openSealed(world.sink.messages.at(-1)!.raw, world.gpg);
      },
      { relayPort: 1, extra: '[deliver]\nrelay = "inline"\non_relay_failure = "spool"\n' },
    ));

  it("deliver exits 75 and relays nothing when the route has no key", () =>
    scenario(async (home) => {
      const before = world.sink.messages.length;
      const r = await home.deliver(RAW, ENV);
      assert.equal(r.code, 75);
      assert.equal(r.stderr.toString(), "4.7.1 sealpost: no usable key for ops@example.net\n");
      assert.equal(world.sink.messages.length, before);
    }));

  it("a message already relayed is answered 0 on a second run, even after its key was removed", () =>
    scenario(async (home) => {
      await home.importTestKey();
      assert.equal((await home.deliver(RAW, ENV)).code, 0);
      assert.equal((await home.run(["keys", "remove", "2D078DBC84053A03A90D58A525069B8229DDA237"])).code, 0);
      const r = await home.deliver(RAW, ENV);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal(r.stderr.length, 0);
      assert.equal(home.localCopies().length, 1);
    }));

  it("a key file removed or added by hand is seen at once: the stale key index is not used", () =>
    scenario(async (home) => {
      const keyFile = join(home.keys, `${TEST_FPR}.asc`);
      const indexed = () =>
        (JSON.parse(readFileSync(join(home.keys, "index", "keys.json"), "utf8")) as KeyIndex).keys.map((k) => k.fingerprint);
      await home.importTestKey();
      assert.deepEqual(indexed(), [TEST_FPR]);
      unlinkSync(keyFile); // the index still names it
      let before = world.sink.messages.length;
      let r = await home.deliver(RAW, ENV);
      assert.equal(r.code, 75);
      assert.equal(r.stderr.toString(), "4.7.1 sealpost: no usable key for ops@example.net\n");
      assert.equal(home.localCopies().length, 0, "nothing committed: the MTA keeps the message");
      assert.equal(world.sink.messages.length, before, "nothing relayed");
      assert.deepEqual(indexed(), [], "the index made again from keys_dir as it is");

      // the other way: the key exported and put there by hand, no `keys import`; the index says there is none
      writeFileSync(keyFile, execFileSync("gpg", ["--homedir", world.gpg.home, "--batch", "--export", "--armor", TEST_FPR]));
      before = world.sink.messages.length;
      r = await home.deliver(RAW, ENV);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal(r.stderr.length, 0);
      const got = world.sink.messages.slice(before);
      assert.equal(got.length, 1);
      assert.deepEqual(got[0]!.to, ["ops@example.net"]);
      assert.ok(openSealed(got[0]!.raw, world.gpg).inner.includes("203.0.113.45"));
      assert.equal(home.localCopies().length, 1);
    }));

  it("deliver exits 75 when a pinned key is missing", () =>
    scenario(
      async (home) => {
        await home.importTestKey();
        const r = await home.deliver(RAW, ENV);
        assert.equal(r.code, 75);
        assert.match(r.stderr.toString(), /^4\.7\.1 sealpost: no usable key: pinned key 0{40} is not in keys_dir\n$/);
      },
      { route: '[[route]]\nto = ["ops@example.net"]\nkeys = ["0000000000000000000000000000000000000000"]' },
    ));

  it("deliver exits 75 with one line when the config is broken, missing or has an unknown key", () =>
    scenario(async (home) => {
      writeFileSync(home.config, readFileSync(home.config, "utf8") + "\n[relay\nport = 'x'\n");
      let r = await home.deliver(RAW, ENV);
      assert.equal(r.code, 75);
      assert.match(r.stderr.toString(), /^4\.3\.5 sealpost: config .*: not valid TOML at line \d+/);
      r = await home.run(["deliver", "-c", join(home.root, "missing.toml")], RAW, ENV);
      assert.equal(r.code, 75);
      assert.match(r.stderr.toString(), /^4\.3\.5 sealpost: config .*missing\.toml: not found\n$/);
      home.writeConfig({ extra: '[message]\nformt = "inline"\n' });
      r = await home.deliver(RAW, ENV);
      assert.equal(r.code, 75);
      assert.match(r.stderr.toString(), /message\.formt: expected one of the known keys/);
    }));

  it("deliver exits 75 with one line when node is killed (SIGKILL)", () =>
    scenario(async (home) => {
      await home.importTestKey();
      const killer = join(home.root, "kill.cjs");
      writeFileSync(killer, 'process.kill(process.pid, "SIGKILL");\n');
      const before = world.sink.messages.length;
      const r = await home.deliver(RAW, { ...ENV, NODE_OPTIONS: `--require ${killer}` });
      assert.equal(r.code, 75);
      assert.equal(r.stderr.toString(), "4.3.0 sealpost: internal error (status 137)\n");
      assert.equal(world.sink.messages.length, before);
    }));

  it("deliver takes -c before or after the command, as the README's Postfix and Exim examples write it", () =>
    scenario(async (home) => {
      await home.importTestKey();
      const env = { ...ENV, SEALPOST_CONFIG: "/nonexistent.toml" };
      const before = world.sink.messages.length;
      let r = await home.run(["-c", home.config, "deliver"], RAW, env);
      assert.equal(r.code, 0, r.stderr.toString());
      r = await home.run(["deliver", "-c", home.config], Buffer.concat([Buffer.from("X-Second: 1\n"), RAW]), env);
      assert.equal(r.code, 0, r.stderr.toString());
      await home.settled();
      assert.equal(world.sink.messages.length - before, 2);
      r = await home.run(["-c", home.config, "queue", "list", "--json"], "", env);
      assert.equal(r.stdout.toString().trim(), "[]");
    }));

  it("deliver exits 75 with one line on an unknown flag", () =>
    scenario(async (home) => {
      const r = await home.run(["deliver", "--no-such-flag"], RAW, ENV);
      assert.equal(r.code, 75);
      assert.equal(r.stderr.toString(), "4.3.5 sealpost: unknown option --no-such-flag\n");
    }));

  it("too old a node: deliver answers 75 with one line naming the Node it needs and where to get it; other commands exit 1", () =>
    scenario(async (home) => {
      // Debian 12's nodejs, as far as sealpost can tell (the real one was tried by hand: the same lines)
      const pretend = join(home.root, "node18.cjs");
      writeFileSync(pretend, 'Object.defineProperty(process.versions, "node", { value: "18.20.4" });\n');
      const env = { ...ENV, NODE_OPTIONS: `--require ${pretend}` };
      const before = world.sink.messages.length;
      let r = await home.deliver(RAW, env);
      assert.equal(r.code, 75);
      assert.match(
        r.stderr.toString(),
        /^4\.3\.0 sealpost: Node 18\.20\.4 is too old: sealpost needs Node >= 20\.19; install Debian 13's nodejs, or Node 20 or 22 from NodeSource's repository[^\n]*\n$/,
      );
      r = await home.run(["keys", "list"], "", env);
      assert.equal(r.code, 1);
      assert.match(r.stderr.toString(), /^sealpost: Node 18\.20\.4 is too old: sealpost needs Node >= 20\.19; [^\n]*\n$/);
      assert.equal(world.sink.messages.length, before);
    }));

  it("deliver exits 75, not 1, when node cannot load sealpost", () =>
    scenario(async (home) => {
      const r = await home.deliver(RAW, { ...ENV, NODE_OPTIONS: "--require /nonexistent/module.js" });
      assert.equal(r.code, 75);
      assert.equal(r.stderr.toString(), "4.3.0 sealpost: internal error (status 1)\n", "one line, no stack trace");
    }));

  it("a body that only looks encrypted is sealed all the same", () =>
    scenario(async (home) => {
      await home.importTestKey();
      const tricky = Buffer.from(
        RAW.toString("latin1").replace(
          "\n\nHi,\n",
          "\n\nHi,\n-----BEGIN PGP MESSAGE-----\n\nhQEMA0x=\n-----END PGP MESSAGE-----\nsecret-canary-line-that-must-not-leak\n",
        ),
        "latin1",
      );
      const before = world.sink.messages.length;
      assert.equal((await home.deliver(tricky, ENV)).code, 0);
      const got = world.sink.messages.slice(before);
      assert.equal(got.length, 1);
      assert.ok(!got[0]!.raw.includes("secret-canary-line-that-must-not-leak"));
      assert.ok(openSealed(got[0]!.raw, world.gpg).inner.includes("secret-canary-line-that-must-not-leak"));
    }));

  it("30 concurrent deliveries into one mbox keep 30 intact messages", () =>
    scenario(
      async (home) => {
        await home.importTestKey();
        const runs = Array.from({ length: 30 }, (_, i) =>
          home.deliver(Buffer.from(RAW.toString("latin1").replaceAll("203.0.113.45", `203.0.113.${100 + i}`), "latin1"), ENV),
        );
        const results = await Promise.all(runs);
        assert.deepEqual(
          results.map((r) => r.code),
          Array(30).fill(0),
        );
        const mbox = readFileSync(home.mail, "latin1");
        assert.equal(mbox.match(/^From \S+ /gm)?.length, 30);
        for (let i = 0; i < 30; i++) assert.ok(mbox.includes(`203.0.113.${100 + i}`));
      },
      { store: "mbox" },
    ));

  it("local copies are created 0600 in a Maildir the user may not share", () =>
    scenario(async (home) => {
      await home.importTestKey();
      mkdirSync(home.mail, { recursive: true });
      chmodSync(home.mail, 0o700);
      assert.equal((await home.deliver(RAW, ENV)).code, 0);
      assert.deepEqual(home.localFileModes(), [0o600]);
    }));
});
