/**
 * kill -9 at every point of deliver (docs/contract.md §5), in both modes: the MTA gets 75 and keeps the
 * message, its retry finishes the job, and there is never a second local copy. With the default
 * relay = "queued" the commit point is the spool entry, and no kill before or after it relays
 * twice. One window is documented for relay = "inline" and for the runner: after the relay's 250
 * and before it is recorded, the next attempt relays once more.
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { Home, isTempfailLine, nodeChildOf } from "../helpers/home.js";
import { lf, openSealed } from "../helpers/sealed.js";
import { inHome, useWorld } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;
const RAW = fixtureBytes(A01);
const ENV = pipeEnv(A01);

const INLINE = '[deliver]\nrelay = "inline"\n';

/** [mode, point, when, relays after the retries] */
const POINTS: Array<["queued" | "inline", string, string, number]> = [
  ["queued", "message-written", "after the spool message, before the ledger's intent", 1],
  ["queued", "intent-recorded", "after the ledger's intent, before the local copy", 1],
  ["queued", "local-copy-marked", "as the local copy is being written", 1],
  ["queued", "local-copy-written", "after the local copy, before the commit", 1],
  ["queued", "committed", "after the commit, before the answer", 1],
  ["inline", "local-copy-marked", "as the local copy is being written", 1],
  ["inline", "local-copy-written", "after the local copy, before the ledger records it", 1],
  ["inline", "after-local-copy", "after the local copy is recorded, before the relay", 1],
  ["inline", "after-relay", "after the relay's 250, before the ledger records it (the documented window)", 2],
];

describe("kill -9 at any point of deliver", () => {
  const world = useWorld();

  const scenario = (store: "maildir" | "mbox", mode: "queued" | "inline", fn: (home: Home, relayed: () => Buffer[]) => Promise<void>) =>
    inHome(world, { store, extra: mode === "inline" ? INLINE : "" }, fn);

  /** After the crash: the MTA's retry (twice, as Postfix may) answers 0, one intact local copy, `relays` sealed relays. */
  async function assertRecovered(home: Home, relayed: () => Buffer[], relays: number): Promise<void> {
    for (let i = 0; i < 2; i++) {
      const r = await home.deliver(RAW, ENV);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal(r.stderr.length, 0);
    }
    const copies = home.localCopies();
    assert.equal(copies.length, 1, "one local copy, never two");
    assert.deepEqual(
      lf(copies[0]!).toString("latin1").trimEnd(),
      lf(RAW.subarray(RAW.indexOf("\n") + 1))
        .toString("latin1")
        .trimEnd(),
    );
    for (let i = 0; i < 100 && relayed().length < relays; i++) await sleep(100); // queued: the runner relays
    await sleep(500); // and nothing more comes
    assert.equal(relayed().length, relays);
    for (const raw of relayed()) openSealed(raw, world.gpg);
  }

  for (const store of ["maildir", "mbox"] as const) {
    for (const [mode, point, when, relays] of POINTS) {
      if (point === "local-copy-marked" && store === "maildir" && mode === "queued") continue; // a Maildir name is planned with the intent
      it(`${store}, relay = ${mode}: killed ${when}: exit 75, then the retry stores once and relays ${relays === 1 ? "once" : "twice"}`, () =>
        scenario(store, mode, async (home, relayed) => {
          const r = await home.deliver(RAW, { ...ENV, SEALPOST_TEST_CRASH_AT: point });
          assert.equal(r.code, 75);
          assert.ok(isTempfailLine(r.stderr), r.stderr.toString());
          await assertRecovered(home, relayed, relays);
        }));
    }
  }

  it("relay = inline, killed in the middle of SMTP DATA: exit 75, nothing accepted by the relay, the retry relays once", () =>
    scenario("maildir", "inline", async (home, relayed) => {
      const run = home.start(["deliver"], RAW, ENV);
      world.sink.hangInData = () => process.kill(nodeChildOf(run.child.pid!)!, "SIGKILL");
      let r;
      try {
        r = await run.done;
      } finally {
        world.sink.hangInData = undefined;
      }
      assert.equal(r.code, 75);
      assert.ok(isTempfailLine(r.stderr), r.stderr.toString());
      assert.equal(relayed().length, 0);
      await assertRecovered(home, relayed, 1);
    }));

  it("killed at 12 random moments: never a second local copy, never lost", () =>
    scenario("maildir", "queued", async (home, relayed) => {
      let killed = 0;
      for (let i = 0; i < 12; i++) {
        const input = Buffer.concat([Buffer.from(`X-Round: ${i}\n`), RAW]);
        const run = home.start(["deliver"], input, ENV);
        await sleep(150 + Math.random() * 450);
        const pid = nodeChildOf(run.child.pid!);
        if (pid) {
          process.kill(pid, "SIGKILL");
          killed++;
        }
        const first = await run.done;
        assert.ok(first.code === 0 || first.code === 75, `exit ${first.code}`);
        const retry = await home.deliver(input, ENV);
        assert.equal(retry.code, 0, retry.stderr.toString());
      }
      const rounds = home
        .localCopies()
        .map((c) => /^X-Round: (\d+)/.exec(c.toString())?.[1])
        .sort((a, b) => Number(a) - Number(b));
      assert.deepEqual(
        rounds,
        Array.from({ length: 12 }, (_, i) => String(i)),
        "each message stored exactly once",
      );
      const relayedRounds = () =>
        new Set(relayed().map((raw) => /^X-Round: (\d+)/m.exec(openSealed(raw, world.gpg).inner.toString())?.[1]));
      for (let i = 0; i < 100 && relayedRounds().size < 12; i++) await sleep(100); // the runner relays what was committed
      assert.equal(relayedRounds().size, 12, "each message relayed");
      assert.equal(relayed().length, 12, `none twice: no kill of deliver (${killed} of 12 runs killed) makes the runner relay twice`);
    }));

  it("queue run killed after the relay's 250 keeps the entry; the next run sends it again and removes it", async () => {
    const home = new Home({ relayPort: 1 });
    try {
      await home.importTestKey();
      assert.equal((await home.deliver(RAW, ENV)).code, 0);
      await sleep(1000); // its runner meets the relay down, backs off and leaves... or lingers: stop it
      await home.stopRunners();
      home.writeConfig({ relayPort: world.sink.port });
      const before = world.sink.messages.length;
      const crashed = await home.run(["queue", "flush"], "", { SEALPOST_TEST_CRASH_AT: "after-relay" });
      assert.notEqual(crashed.code, 0);
      assert.equal(
        (JSON.parse((await home.run(["queue", "list", "--json"])).stdout.toString()) as unknown[]).length,
        1,
        "the entry survives",
      );
      await sleep(2100); // a dead runner's entry lock is broken once it is 2 s old (a fresh one never is)
      assert.equal((await home.run(["queue", "flush"])).code, 0);
      assert.equal(world.sink.messages.length - before, 2, "the documented window: sent again");
      assert.equal((JSON.parse((await home.run(["queue", "list", "--json"])).stdout.toString()) as unknown[]).length, 0);
    } finally {
      await home.cleanup();
    }
  });
});
