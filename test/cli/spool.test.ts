/** The spool (docs/contract.md §5): backoff, maximum age, show, orphans, and two runners that never send one entry twice. */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.js";
import { PASS_CONCURRENCY, runPass as runQueue } from "../../src/pipeline/pass.js";
import { backoffSeconds } from "../../src/pipeline/policy.js";
import { Spool } from "../../src/store/spool.js";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { backgroundRunners, Home } from "../helpers/home.js";
import { Sink } from "../helpers/sink.js";
import { openSealed } from "../helpers/sealed.js";
import { useWorld } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;
const RAW = fixtureBytes(A01);
const ENV = pipeEnv(A01);
// relay = "inline" with on_relay_failure = "spool": the entries wait in the spool, tried once by the background runner, for the test's own passes
const SPOOL_ON_FAILURE = '[deliver]\nrelay = "inline"\non_relay_failure = "spool"\n';

interface Listed {
  id: string;
  state: string;
  attempts: number;
  nextAttempt: string;
  lastError: string | null;
  recipients: string[];
  created: string;
}

describe("the spool", () => {
  const world = useWorld();

  /** A home whose relay is down, holding `count` spooled messages its background runner tried once. */
  async function spooled(count: number, extra = ""): Promise<Home> {
    const home = new Home({ relayPort: 1, extra: SPOOL_ON_FAILURE + extra });
    try {
      await home.importTestKey();
      for (let i = 0; i < count; i++) {
        const r = await home.deliver(Buffer.concat([Buffer.from(`X-Case: ${i}\n`), RAW]), ENV); // returns once the runner tried it
        assert.equal(r.code, 0, r.stderr.toString());
      }
      assert.equal((await list(home)).length, count);
      // from here on the test's own passes: the runner is stopped once it let go of every entry (seen once on CI otherwise)
      assert.ok(await home.untilUnlocked(), "the background runner let go of its entries");
      await home.stopRunners();
      return home;
    } catch (err) {
      await home.cleanup();
      throw err;
    }
  }

  /** spooled(), then `fn`, then the home cleaned up whatever happens. */
  async function withSpooled(count: number, extra: string, fn: (home: Home) => Promise<void>): Promise<void> {
    const home = await spooled(count, extra);
    try {
      await fn(home);
    } finally {
      await home.cleanup();
    }
  }

  const list = async (home: Home): Promise<Listed[]> =>
    JSON.parse((await home.run(["queue", "list", "--json"])).stdout.toString()) as Listed[];

  it("backs off from retry_min, doubling up to retry_max, with ±10 % jitter", () => {
    for (const [attempts, base] of [
      [1, 60],
      [2, 120],
      [3, 240],
      [6, 1920],
      [7, 3600],
      [40, 3600],
    ] as const) {
      for (let i = 0; i < 50; i++) {
        const s = backoffSeconds(attempts, 60, 3600);
        assert.ok(s >= base * 0.9 - 1 && s <= base * 1.1 + 1, `attempt ${attempts}: ${s}s`);
      }
    }
    assert.equal(Math.round(backoffSeconds(3, 10, 25) / 25), 1, "capped by retry_max");
  });

  it("a failed pass records the attempt, the error and the next attempt from [spool] retry_min", () =>
    withSpooled(1, '[spool]\nretry_min = "5m"\n', async (home) => {
      const config = loadConfig(home.config);
      const now = new Date();
      const [earlier] = await list(home);
      const report = await runQueue(config, { now, force: true });
      assert.deepEqual(report, { relayed: 0, deferred: 1, held: 0 });
      const [entry] = await list(home);
      assert.equal(entry!.state, "queued");
      assert.equal(entry!.attempts, earlier!.attempts + 1);
      assert.match(entry!.lastError ?? "", /relay 127\.0\.0\.1:1/);
      const wait = (Date.parse(entry!.nextAttempt) - now.getTime()) / 1000;
      const base = 300 * 2 ** (entry!.attempts - 1); // retry_min, doubling with each attempt
      assert.ok(wait >= base * 0.9 - 1 && wait <= base * 1.1 + 1, `next attempt in ${wait}s after attempt ${entry!.attempts}`);
      assert.deepEqual(await runQueue(config, { now }), { relayed: 0, deferred: 0, held: 0 }, "not due yet: not tried");
    }));

  it("with the relay down, a pass stops sealing at the first failed connection and defers the rest unread", () =>
    withSpooled(20, "", async (home) => {
      const events: Array<[string, Record<string, unknown>]> = [];
      const log = {
        event: (name: string, fields: Record<string, unknown>) => void events.push([name, fields]),
        close: () => Promise.resolve(),
      };
      const before = await list(home);
      const report = await runQueue(loadConfig(home.config), { now: new Date(), force: true, log });
      assert.deepEqual(report, { relayed: 0, deferred: 20, held: 0 });
      const sealed = events.filter(([name]) => name === "sealed").length;
      assert.ok(
        sealed >= 1 && sealed <= PASS_CONCURRENCY,
        `sealed ${sealed} of 20: only those already under way when the relay was found down`,
      );
      assert.equal(events.filter(([name]) => name === "deferred").length, 20);
      for (const entry of await list(home)) {
        assert.equal(entry.attempts, before.find((e) => e.id === entry.id)!.attempts + 1);
        assert.match(entry.lastError ?? "", /cannot connect/);
      }
    }));

  it("a relay that takes the connection and never answers costs a pass one timeout, not one per entry", () =>
    withSpooled(6, "", async (home) => {
      const accepted: Socket[] = [];
      const silent = createServer((socket) => void accepted.push(socket)); // no greeting, ever
      await new Promise<void>((ready) => silent.listen(0, "127.0.0.1", ready));
      try {
        const config = loadConfig(home.config);
        const port = (silent.address() as AddressInfo).port;
        const report = await runQueue({ ...config, relay: { ...config.relay, port, timeoutSeconds: 1 } }, { now: new Date(), force: true });
        assert.deepEqual(report, { relayed: 0, deferred: 6, held: 0 });
        assert.equal(accepted.length, 1, "the relays waiting their turn were told at once that it is down");
        for (const entry of await list(home)) assert.match(entry.lastError ?? "", /timed out/);
      } finally {
        for (const socket of accepted) socket.destroy();
        await new Promise((closed) => silent.close(closed));
      }
    }));

  it("an older version's entry whose local copy cannot be made backs off and says why, unrelayed; the next pass stores and relays it", () =>
    withSpooled(1, "", async (home) => {
      const config = loadConfig(home.config);
      const spool = new Spool(config.spoolDir);
      const [entry] = await spool.list();
      await spool.save({ ...entry!, localPending: true }); // submitted by an older sealpost: its local copy still to make
      const mail = home.mail;
      rmSync(mail, { recursive: true, force: true });
      writeFileSync(mail, "not a Maildir"); // where the Maildir should be
      const events: Array<[string, Record<string, unknown>]> = [];
      const log = {
        event: (name: string, fields: Record<string, unknown>) => void events.push([name, fields]),
        close: () => Promise.resolve(),
      };
      const before = world.sink.messages.length;
      const relaying = { ...config, relay: { ...config.relay, port: world.sink.port } };
      assert.deepEqual(await runQueue(relaying, { force: true, log }), { relayed: 0, deferred: 1, held: 0 });
      assert.equal(world.sink.messages.length, before, "nothing relayed before the local copy is made");
      const deferred = events.find(([name]) => name === "deferred")?.[1];
      assert.ok(deferred, "a deferred event");
      assert.equal(deferred.id, entry!.logId ?? entry!.id, "under the id the message's other events have");
      assert.match(String(deferred.reason), /cannot write the local copy/);
      const after = await spool.get(entry!.id);
      assert.equal(after?.localPending, true, "its local copy still to make");
      assert.equal(after.attempts, entry!.attempts + 1);
      assert.match(after.lastError ?? "", /cannot write the local copy/);
      assert.ok(Date.parse(after.nextAttempt) > Date.now(), "not due again at once: a runner does not try it pass after pass");
      rmSync(mail);
      assert.deepEqual(await runQueue(relaying, { force: true }), { relayed: 1, deferred: 0, held: 0 });
      assert.equal(home.localCopies().length, 1);
      assert.equal(world.sink.messages.length - before, 1);
      openSealed(world.sink.messages.at(-1)!.raw, world.gpg);
    }));

  it("an entry older than max_age is held with a notice to root, and relayed after release", () =>
    withSpooled(1, '[spool]\nmax_age = "2d"\n', async (home) => {
      const later = new Date(Date.now() + 2 * 86_400_000 + 1000);
      assert.deepEqual(await runQueue(loadConfig(home.config), { now: later, force: true }), { relayed: 0, deferred: 0, held: 1 });
      const [entry] = await list(home);
      assert.equal(entry!.state, "held");
      const notice = home
        .localCopies()
        .map(String)
        .find((c) => /^Subject: sealpost: message held, too long undeliverable/m.test(c));
      assert.ok(notice, "a local notice");
      assert.ok(notice.includes(`sealpost queue release ${entry!.id}`));
      assert.ok(!notice.includes("Ban"), "the notice carries no message content");
      home.writeConfig({ relayPort: world.sink.port });
      const before = world.sink.messages.length;
      assert.equal((await home.run(["queue", "release", entry!.id])).code, 0);
      assert.equal((await home.run(["queue", "run"])).code, 0);
      assert.equal(world.sink.messages.length - before, 1);
      openSealed(world.sink.messages.at(-1)!.raw, world.gpg);
      assert.deepEqual(await list(home), []);
    }));

  it("queue show prints one entry, in text and JSON; an unknown id is a one-line error", () =>
    withSpooled(1, "", async (home) => {
      const [entry] = await list(home);
      const text = await home.run(["queue", "show", entry!.id]);
      assert.equal(text.code, 0);
      assert.match(text.stdout.toString(), new RegExp(`^id: +${entry!.id}\\nstate: +queued\\n`));
      assert.match(text.stdout.toString(), /^recipients: +ops@example\.net$/m);
      assert.match(text.stdout.toString(), new RegExp(`^message: .*${entry!.id}\\.eml \\(${RAW.length + 10} bytes\\)$`, "m"));
      const json = JSON.parse((await home.run(["queue", "show", "--json", entry!.id])).stdout.toString()) as Listed & { size: number };
      assert.equal(json.size, RAW.length + 10);
      const missing = await home.run(["queue", "show", "0-00"]);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr.toString(), /^sealpost queue show: no spool entry 0-00\n$/);
    }));

  it("two runners at once relay every entry exactly once", () =>
    withSpooled(6, "", async (home) => {
      home.writeConfig({ relayPort: world.sink.port });
      const before = world.sink.messages.length;
      const runs = await Promise.all([home.run(["queue", "flush"]), home.run(["queue", "flush"]), home.run(["queue", "run"])]);
      for (const r of runs) assert.equal(r.code, 0, r.stderr.toString());
      const fresh = world.sink.messages.slice(before);
      assert.equal(fresh.length, 6);
      const cases = fresh.map((m) => /^X-Case: (\d+)/m.exec(openSealed(m.raw, world.gpg).inner.toString())?.[1]).sort();
      assert.deepEqual(cases, ["0", "1", "2", "3", "4", "5"]);
      assert.deepEqual(await list(home), []);
    }));

  it("a relay slower than the stale interval does not make a second sender: the entry's lock stays fresh", () =>
    withSpooled(1, "", async (home) => {
      // The entry locks' stale interval shortened from 5 minutes to 1 s (their heartbeat to 250 ms)
      // for every pass here: the relay below holds the message's 250 for several times that.
      const lockTiming = { staleAfterMs: 1_000 };
      const sink = await new Sink().start();
      let answer!: () => void;
      const answered = new Promise<void>((resolve) => (answer = resolve));
      sink.slowData = () => answered;
      const passes: Array<Promise<unknown>> = [];
      const pass = (lockWaitMs: number) => {
        const run = runQueue(config, { force: true, lockWaitMs, lockTiming });
        passes.push(run);
        return run;
      };
      home.writeConfig({ relayPort: sink.port });
      const config = loadConfig(home.config);
      try {
        const first = pass(0);
        for (let i = 0; i < 400 && sink.messages.length === 0; i++) await sleep(25);
        assert.equal(sink.messages.length, 1, "the first pass got as far as the relay's DATA");
        await sleep(3 * lockTiming.staleAfterMs); // its lock is older than the stale interval now
        // While the 250 is awaited: a flush (waits for the lock) and a runner's pass (leaves what is locked).
        const flush = pass(30_000);
        const runner = await pass(0);
        await sleep(2 * lockTiming.staleAfterMs); // the flush waits on the live holder all this while
        answer();
        const reports = await Promise.all([first, flush]);
        assert.equal(sink.messages.length, 1, "the relay received the message exactly once");
        assert.equal(sink.mailFroms.length, 1, "and no second transaction was begun");
        assert.deepEqual(reports[0], { relayed: 1, deferred: 0, held: 0 });
        assert.deepEqual(runner, { relayed: 0, deferred: 0, held: 0 }, "the runner's pass left the locked entry to its holder");
        assert.deepEqual(reports[1], { relayed: 0, deferred: 0, held: 0 }, "the flush found the entry done once it had the lock");
        openSealed(sink.messages[0]!.raw, world.gpg);
        assert.deepEqual(await list(home), []);
      } finally {
        answer();
        await Promise.allSettled(passes);
        await sink.stop();
      }
    }));

  it("a run sweeps what a killed writer left (old temp files, a message without meta) and keeps fresh ones", () =>
    withSpooled(1, "", async (home) => {
      const msg = join(home.spool, "msg");
      const stale = [
        join(msg, ".x.eml.1.tmp"),
        join(msg, "00000000-deadbeef.eml"),
        join(home.spool, "meta", ".y.json.2.tmp"),
        join(home.spool, "ledger", ".z.json.3.tmp"),
      ];
      const fresh = join(msg, ".w.eml.4.tmp");
      // a message without meta may still be finished by an MTA's retry of deliver (5 days): kept 8 days
      const uncommitted = join(msg, "00000000-0badcafe.eml");
      mkdirSync(join(home.spool, "ledger"), { recursive: true });
      const old = new Date(Date.now() - 2 * 3_600_000);
      const older = new Date(Date.now() - 9 * 86_400_000);
      for (const f of stale) {
        writeFileSync(f, "half");
        utimesSync(f, old, old);
      }
      utimesSync(stale[1]!, older, older);
      writeFileSync(uncommitted, "not committed yet");
      utimesSync(uncommitted, old, old);
      writeFileSync(fresh, "being written");
      const [entry] = await list(home);
      assert.equal((await home.run(["queue", "run"])).code, 0);
      for (const f of stale) assert.ok(!existsSync(f), `${f} swept`);
      assert.ok(existsSync(fresh), "a fresh temp file may belong to a live writer");
      assert.ok(existsSync(uncommitted), "a message without meta younger than 8 days may still be committed");
      assert.ok(existsSync(join(msg, `${entry!.id}.eml`)), "a committed entry stays");
    }));

  it("the background runner a deliver started keeps retrying while the relay refuses, relays once it takes mail, then leaves", async () => {
    const sink = await new Sink("tempfail").start();
    // The first retry comes after the runner's 3 s linger: it has to stay for it.
    const home = new Home({ relayPort: sink.port, extra: '[spool]\nretry_min = "5s"\n' });
    try {
      await home.importTestKey();
      const r = await home.deliver(RAW, ENV);
      assert.equal(r.code, 0, r.stderr.toString());
      for (let i = 0; i < 100 && sink.mailFroms.length === 0; i++) await sleep(50);
      assert.equal(sink.mailFroms.length, 1, "the first attempt met the 451");
      sink.mode = "accept";
      await sleep(4_000);
      assert.equal(backgroundRunners(home).length, 1, "past its linger, the runner stays for the queued entry");
      for (let i = 0; i < 200 && sink.messages.length === 0; i++) await sleep(50);
      assert.equal(sink.messages.length, 1);
      openSealed(sink.messages[0]!.raw, world.gpg);
      assert.deepEqual(await list(home), []);
      for (let i = 0; i < 200 && backgroundRunners(home).length > 0; i++) await sleep(50);
      assert.deepEqual(backgroundRunners(home), [], "with nothing queued, it leaves");
    } finally {
      await home.cleanup();
      await sink.stop();
    }
  });
});
