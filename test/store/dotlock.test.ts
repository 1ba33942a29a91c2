/**
 * The dot-lock's busy result and its heartbeat, on real temp directories, with the stale
 * interval shortened through the lock's timing options so that "held longer than stale" takes
 * a second, not five minutes.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, renameSync, writeFileSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, it } from "node:test";
import { tryDotlock, withDotlock, type DotlockTiming } from "../../src/store/dotlock.js";
import { HEARTBEAT_MS, runnerAlive, takeRunnerLock } from "../../src/store/runner-lock.js";
import { NEEDS_ROOT, tmpfs } from "../helpers/tmpfs.js";

const root = mkdtempSync(join(tmpdir(), "sealpost-dotlock-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** A stale interval of 600 ms: the holder beats every 150 ms. */
const SHORT: DotlockTiming = { staleAfterMs: 600, graceMs: 100 };

/**
 * Resolves when `lost` is aborted. The heartbeat's timer is unref'd (it never keeps a process
 * alive), so this one, ref'd, keeps the test's event loop up while it waits, and fails it late.
 */
function lostWithin(lost: AbortSignal, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the holder did not notice within ${ms} ms`)), ms);
    lost.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

let n = 0;
const target = () => join(root, `target-${++n}`);

describe("dot-lock: busy", () => {
  it("tryDotlock on a held lock is busy, a result and not an error; free again once released", async () => {
    const path = target();
    const first = await tryDotlock(path);
    assert.equal(first.busy, false);
    assert.deepEqual(await tryDotlock(path), { busy: true });
    await first.release();
    const again = await tryDotlock(path);
    assert.equal(again.busy, false);
    await again.release();
    assert.throws(() => lstatSync(path + ".lock"), /ENOENT/);
  });

  it("withDotlock past its deadline is busy and does not run its function", async () => {
    const path = target();
    const held = await tryDotlock(path);
    assert.equal(held.busy, false);
    let ran = false;
    const started = Date.now();
    const outcome = await withDotlock(
      path,
      () => {
        ran = true;
        return Promise.resolve();
      },
      { timeoutMs: 200 },
    );
    assert.deepEqual(outcome, { busy: true });
    assert.ok(Date.now() - started >= 200, "it waited for the holder up to the deadline");
    assert.equal(ran, false);
    await held.release();
    assert.deepEqual(await withDotlock(path, () => Promise.resolve("mine"), { timeoutMs: 200 }), { busy: false, value: "mine" });
  });

  it("an error of the holder's function is thrown as it is, and the lock is released", async () => {
    const path = target();
    await assert.rejects(
      withDotlock(path, () => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.throws(() => lstatSync(path + ".lock"), /ENOENT/);
  });
});

describe("dot-lock: heartbeat", () => {
  it("a live holder that holds longer than the stale interval keeps its lock: no contender gets it meanwhile", async () => {
    const path = target();
    const held = await tryDotlock(path, SHORT);
    assert.ok(!held.busy);
    const until = Date.now() + 4 * SHORT.staleAfterMs!;
    let tries = 0;
    while (Date.now() < until) {
      const contender = await withDotlock(path, () => Promise.resolve("stolen"), { ...SHORT, timeoutMs: 300 });
      assert.deepEqual(contender, { busy: true }, `try ${++tries}: the lock of a live holder was taken`);
      const age = Date.now() - statSync(path + ".lock").mtimeMs;
      assert.ok(age < SHORT.staleAfterMs!, `the lock is ${age} ms old: not kept fresh`);
    }
    assert.ok(tries >= 3);
    assert.equal(held.lost.aborted, false);
    await held.release();
    assert.deepEqual(await withDotlock(path, () => Promise.resolve("mine"), { ...SHORT, timeoutMs: 0 }), { busy: false, value: "mine" });
  });

  it("on a full disk the lock is taken without its pid, and a live holder keeps it: no contender gets it past the grace", async (t) => {
    const fs = tmpfs(join(root, `full-${++n}`), "64k");
    if (!fs) return t.skip(NEEDS_ROOT);
    try {
      const path = join(fs.dir, "entry.json");
      fs.fill();
      const held = await tryDotlock(path, SHORT);
      assert.ok(!held.busy, "taken, full disk or not");
      assert.equal(readFileSync(path + ".lock", "utf8"), "", "no pid: none that could be written, nor a part of one");
      for (const end = Date.now() + 3 * SHORT.staleAfterMs!; Date.now() < end;) {
        assert.deepEqual(await withDotlock(path, () => Promise.resolve("stolen"), { ...SHORT, timeoutMs: 200 }), { busy: true });
      }
      assert.equal(held.lost.aborted, false);
      await held.release();
      assert.throws(() => lstatSync(path + ".lock"), /ENOENT/);
    } finally {
      fs.unmount();
    }
  });

  it("a live holder's lock left untouched for the stale interval is broken; the holder notices, and leaves the new lock alone", async () => {
    const path = target();
    // a holder that beats too slowly for this interval: as one frozen past it would
    const held = await tryDotlock(path, { ...SHORT, heartbeatMs: 3 * SHORT.staleAfterMs! });
    assert.ok(!held.busy);
    await sleep(SHORT.staleAfterMs! + 100);
    const other = await tryDotlock(path, SHORT);
    assert.ok(!other.busy, "a lock not touched for the stale interval is broken, even with its pid alive");
    const taken = statSync(path + ".lock");
    await lostWithin(held.lost, 5_000);
    assert.equal(statSync(path + ".lock").ino, taken.ino);
    await held.release();
    assert.equal(statSync(path + ".lock").ino, taken.ino, "the broken holder's release leaves the new holder's lock");
    await other.release();
    assert.throws(() => lstatSync(path + ".lock"), /ENOENT/);
  });

  it("a holder whose lock was replaced by a symlink stops beating, touches nothing through it, and leaves it", async () => {
    const path = target();
    const victim = join(root, "victim");
    writeFileSync(victim, `${process.pid}\n`);
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(victim, old, old);
    const before = statSync(victim).mtimeMs;
    const held = await tryDotlock(path, { ...SHORT, heartbeatMs: 50 });
    assert.ok(!held.busy);
    symlinkSync(victim, path + ".planted");
    renameSync(path + ".planted", path + ".lock");
    await lostWithin(held.lost, 5_000);
    await held.release();
    assert.ok(lstatSync(path + ".lock").isSymbolicLink(), "not removed: it is not ours");
    assert.equal(statSync(victim).mtimeMs, before, "the link's target was never touched");
    rmSync(path + ".lock");
  });

  it("a contender reads no pid through a symlink, and breaks one only by its own age", async () => {
    const path = target();
    const victim = join(root, "victim-dead-pid");
    writeFileSync(victim, "999999999\n"); // a pid that is gone: were it followed, the link would be broken at once
    symlinkSync(victim, path + ".lock");
    assert.deepEqual(await tryDotlock(path, SHORT), { busy: true });
    await sleep(SHORT.staleAfterMs! + 100);
    const held = await tryDotlock(path, SHORT);
    assert.ok(!held.busy);
    assert.equal(readFileSync(victim, "utf8"), "999999999\n");
    assert.ok(lstatSync(path + ".lock").isFile());
    await held.release();
  });
});

describe("dot-lock: a holder that died", () => {
  it("its lock is broken once past the grace, however long before it would be stale", async () => {
    const path = target();
    const lockModule = new URL("../../src/store/dotlock.js", import.meta.url).href;
    const child = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `
      const { tryDotlock } = await import(${JSON.stringify(lockModule)});
      const lock = await tryDotlock(${JSON.stringify(path)});
      console.log(lock.busy ? "busy" : "held");
      setInterval(() => undefined, 60_000);
    `,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      const said = await new Promise<string>((resolve) => child.stdout.once("data", (d: Buffer) => resolve(d.toString().trim())));
      assert.equal(said, "held");
      assert.equal(Number.parseInt(readFileSync(path + ".lock", "utf8"), 10), child.pid);
      assert.deepEqual(await tryDotlock(path), { busy: true }, "its holder is alive");
    } finally {
      child.kill("SIGKILL");
    }
    await exited;
    // the default timing: 5 min stale, 2 s grace. The pid is gone: broken once the lock is 2 s old.
    const started = Date.now();
    const outcome = await withDotlock(path, () => Promise.resolve(readFileSync(path + ".lock", "utf8")), { timeoutMs: 10_000 });
    assert.deepEqual(outcome, { busy: false, value: `${process.pid}\n` });
    assert.ok(Date.now() - started < 5_000, `taken ${Date.now() - started} ms after the kill`);
  });
});

describe("the runner lock, on the dot-lock's heartbeat", () => {
  it("is touched every HEARTBEAT_MS while held, shows its runner alive, and not once released", async () => {
    const spoolDir = mkdtempSync(join(root, "spool-"));
    const release = await takeRunnerLock(spoolDir);
    assert.ok(release);
    assert.equal(await takeRunnerLock(spoolDir), undefined, "one runner per spool");
    const taken = statSync(join(spoolDir, "runner.lock")).mtimeMs;
    await sleep(HEARTBEAT_MS + 500);
    assert.ok(statSync(join(spoolDir, "runner.lock")).mtimeMs > taken, "touched by its heartbeat");
    assert.equal(await runnerAlive(spoolDir), true);
    await release();
    assert.equal(await runnerAlive(spoolDir), false);
  });
});
