/** The local stores and the dot-lock, on real temp directories. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SealpostError } from "../../src/core/errors.js";
import { Reason } from "../../src/core/outcome.js";
import { unlessBusy, withDotlock } from "../../src/store/dotlock.js";
import { deliverToMaildir } from "../../src/store/maildir.js";
import { deliverToMbox, mboxEntry, type MboxMark } from "../../src/store/mbox.js";
import { Spool } from "../../src/store/spool.js";

const root = mkdtempSync(join(tmpdir(), "sealpost-stores-"));
after(() => rmSync(root, { recursive: true, force: true }));

describe("Maildir", () => {
  it("delivers into new/ with mode 0600 and leaves tmp/ empty", async () => {
    const dir = join(root, "Maildir");
    const name = await deliverToMaildir(dir, Buffer.from("Subject: x\n\nbody\n"), "web01.example.org");
    assert.deepEqual(readdirSync(join(dir, "new")), [name]);
    assert.deepEqual(readdirSync(join(dir, "tmp")), []);
    assert.equal(statSync(join(dir, "new", name)).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  });
  it("fails when a file stands where the Maildir should be", async () => {
    writeFileSync(join(root, "notadir"), "x");
    await assert.rejects(deliverToMaildir(join(root, "notadir"), Buffer.from("x"), "h"));
  });
});

describe("mbox", () => {
  it("writes a From_ line, quotes From lines mboxrd-style and ends with a blank line", () => {
    const entry = mboxEntry(Buffer.from("Subject: x\n\nFrom here\n>From there\nno newline"), "", new Date(Date.UTC(2026, 10, 9, 1, 2, 3)));
    assert.equal(entry.toString(), "From MAILER-DAEMON Mon Nov  9 01:02:03 2026\nSubject: x\n\n>From here\n>>From there\nno newline\n\n");
  });
  it("appends with mode 0600", async () => {
    const path = join(root, "mbox");
    await deliverToMbox(path, Buffer.from("Subject: 1\n\na\n"), "root@h");
    await deliverToMbox(path, Buffer.from("Subject: 2\n\nb\n"), "root@h");
    assert.equal(readFileSync(path, "utf8").match(/^From root@h /gm)?.length, 2);
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });

  /** An mbox holding one record, then the first `cut` bytes of a record for `message` that a killed run was writing. */
  async function withPartial(cut: number, message: Buffer, append = "") {
    const path = join(root, `mbox-partial-${cut}-${append.length}`);
    await deliverToMbox(path, Buffer.from("Subject: earlier\n\nkept\n"), "root@h");
    const before = readFileSync(path);
    let mark: MboxMark | undefined;
    const killedAt = new Date(Date.UTC(2026, 10, 21, 3, 4, 5));
    await deliverToMbox(join(root, "scratch"), message, "root@h", {
      now: killedAt,
      beforeAppend: (m) => {
        mark = { ...m, offset: before.length };
        return Promise.resolve();
      },
    });
    writeFileSync(path, Buffer.concat([before, mboxEntry(message, "root@h", killedAt).subarray(0, cut), Buffer.from(append)]));
    return { path, before, mark: mark! };
  }

  it("a retry cuts off the partial record a killed append left at the end, then writes the whole one", async () => {
    const message = Buffer.from("Subject: 2\n\nthe message\n");
    const { path, before, mark } = await withPartial(20, message);
    await deliverToMbox(path, message, "root@h", { earlier: mark });
    const after = readFileSync(path);
    assert.ok(after.subarray(0, before.length).equals(before));
    assert.match(after.subarray(before.length).toString(), /^From root@h [^\n]+\nSubject: 2\n\nthe message\n\n$/);
  });

  it("leaves alone what is not exactly a prefix of that record (someone else wrote after it)", async () => {
    const message = Buffer.from("Subject: 2\n\nthe message\n");
    const { path, mark } = await withPartial(20, message, "X");
    const damaged = readFileSync(path);
    await deliverToMbox(path, message, "root@h", { earlier: mark });
    assert.ok(readFileSync(path).subarray(0, damaged.length).equals(damaged));
  });
});

describe("dot-lock", () => {
  it("serialises holders", async () => {
    const target = join(root, "locked");
    let inside = 0;
    let most = 0;
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () =>
        withDotlock(target, async () => {
          most = Math.max(most, ++inside);
          await new Promise((r) => setTimeout(r, 2));
          inside--;
        }),
      ),
    );
    assert.ok(outcomes.every((o) => !o.busy));
    assert.equal(most, 1);
  });
  it("breaks the lock of a holder that died", async () => {
    const target = join(root, "stale");
    writeFileSync(target + ".lock", "999999999\n");
    const old = new Date(Date.now() - 60_000);
    (await import("node:fs")).utimesSync(target + ".lock", old, old);
    assert.deepEqual(await withDotlock(target, () => Promise.resolve("got it"), { timeoutMs: 2_000 }), { busy: false, value: "got it" });
  });
  it("gives up on a live holder at the deadline: busy, which a caller that needs the lock makes a temporary error", async () => {
    const target = join(root, "live");
    writeFileSync(target + ".lock", `${process.pid}\n`);
    let ran = false;
    const outcome = await withDotlock(
      target,
      () => {
        ran = true;
        return Promise.resolve();
      },
      { timeoutMs: 50 },
    );
    assert.deepEqual(outcome, { busy: true });
    assert.equal(ran, false);
    assert.throws(
      () => unlessBusy(outcome),
      (err: unknown) => err instanceof SealpostError && err.reason === Reason.busy && /lock is held too long/.test(err.message),
    );
  });
});

describe("spool", () => {
  it("enqueues durably, lists, saves and removes", async () => {
    const spool = new Spool(join(root, "spool"));
    const entry = await spool.enqueue(Buffer.from("Subject: x\n\ny\n"), {
      state: "queued",
      nextAttempt: new Date().toISOString(),
      lastError: null,
      recipients: ["ops@example.net"],
      sender: "",
      keys: null,
    });
    assert.equal(statSync(join(root, "spool", "msg", `${entry.id}.eml`)).mode & 0o777, 0o600);
    assert.deepEqual(
      (await spool.list()).map((e) => e.id),
      [entry.id],
    );
    entry.state = "held";
    await spool.save(entry);
    assert.equal((await spool.get(entry.id))?.state, "held");
    assert.equal(await spool.get("../../etc/passwd"), undefined);
    await spool.remove(entry.id);
    assert.deepEqual(await spool.list(), []);
  });
});
