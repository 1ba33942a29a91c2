/**
 * Mail loops (mail/loop.ts): our own sealed mail coming back is never sealed again;
 * a bounce of it is kept and forwarded at most once an hour; a bounce of that stays home.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { Home } from "../helpers/home.js";
import { openSealed } from "../helpers/sealed.js";
import { inHome, useWorld } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;
const RAW = fixtureBytes(A01);
const ENV = pipeEnv(A01);
const TO_ROOT = { SENDER: "", RECIPIENT: "root@web01.example.org" };

/** A Postfix-style DSN for `returned` (a message we relayed), as it reaches root with a null sender. */
function bounceOf(returned: Buffer, n: number): Buffer {
  return Buffer.concat([
    Buffer.from(`From: MAILER-DAEMON@web01.example.org (Mail Delivery System)
To: root@web01.example.org
Subject: Undelivered Mail Returned to Sender
Date: Sat, 21 Nov 2026 11:40:0${n % 10} +0000
Message-ID: <bounce-${n}@web01.example.org>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B${n}"

--B${n}
Content-Type: text/plain

This is the mail system at host web01.example.org.
<ops@example.net>: host mx.example.net said: 552 5.2.2 mailbox full

--B${n}
Content-Type: message/delivery-status

Reporting-MTA: dns; web01.example.org
Final-Recipient: rfc822; ops@example.net
Action: failed
Status: 5.2.2

--B${n}
Content-Type: message/rfc822

`),
    returned,
    Buffer.from(`\n--B${n}--\n`),
  ]);
}

describe("mail loops", () => {
  const world = useWorld();

  const scenario = (fn: (home: Home, relayed: () => Buffer[]) => Promise<void>) => inHome(world, {}, fn);

  async function deliverOk(home: Home, input: Buffer, env: Record<string, string>): Promise<void> {
    const r = await home.deliver(input, env);
    assert.equal(r.code, 0, r.stderr.toString());
    assert.equal(r.stderr.length, 0);
  }

  it("every sealed message carries X-Sealpost-Loop: <hostname> outside", () =>
    scenario(async (home, relayed) => {
      await deliverOk(home, RAW, ENV);
      assert.deepEqual(openSealed(relayed()[0]!, world.gpg).outerFields.get("x-sealpost-loop"), ["web01.example.org"]);
    }));

  it("our own sealed message coming back to root is kept locally and never sealed again", () =>
    scenario(async (home, relayed) => {
      await deliverOk(home, RAW, ENV);
      const sealed = relayed()[0]!;
      await deliverOk(home, sealed, { SENDER: "sealpost@web01.example.org", RECIPIENT: "root@web01.example.org" });
      assert.equal(relayed().length, 1, "not relayed again");
      assert.equal(home.localCopies().length, 2);
      assert.ok(home.localCopies()[1]!.equals(sealed), "kept as it came");
    }));

  it("a bounce of our relayed mail is kept locally and forwarded once, sealed and marked as a bounce", () =>
    scenario(async (home, relayed) => {
      await deliverOk(home, RAW, ENV);
      const bounce = bounceOf(relayed()[0]!, 1);
      await deliverOk(home, bounce, TO_ROOT);
      await deliverOk(home, bounce, TO_ROOT); // the MTA running it twice
      assert.equal(relayed().length, 2, "the original and the bounce, once");
      const forwarded = openSealed(relayed()[1]!, world.gpg);
      assert.deepEqual(forwarded.outerFields.get("x-sealpost-loop"), ["web01.example.org; bounce"]);
      assert.ok(forwarded.inner.includes("552 5.2.2 mailbox full"), "the bounce is inside");
      assert.equal(home.localCopies().length, 2);
    }));

  it("a bounce of a forwarded bounce stays in the local store, even with the hourly bounce slot free", () =>
    scenario(async (home, relayed) => {
      await deliverOk(home, RAW, ENV);
      await deliverOk(home, bounceOf(relayed()[0]!, 1), TO_ROOT);
      const forwardedBounce = relayed()[1]!;
      rmSync(join(home.spool, "loop", "bounce-forwarded")); // as if an hour had passed
      await deliverOk(home, bounceOf(forwardedBounce, 2), TO_ROOT);
      assert.equal(relayed().length, 2, "not forwarded");
      assert.equal(home.localCopies().length, 3);
    }));

  it("a flood of 20 bounces forwards one and keeps all 20 locally", () =>
    scenario(async (home, relayed) => {
      await deliverOk(home, RAW, ENV);
      const original = relayed()[0]!;
      for (let n = 0; n < 20; n++) await deliverOk(home, bounceOf(original, n), TO_ROOT);
      assert.equal(relayed().length, 2, "the original and one bounce");
      assert.equal(home.localCopies().length, 21);
    }));

  it("mail that only quotes the marker, or a bounce of someone else's mail, is forwarded as usual", () =>
    scenario(async (home, relayed) => {
      const quoting = Buffer.from("From: root@web01.example.org\nSubject: grep output\n\nX-Sealpost-Loop: web01.example.org\n");
      await deliverOk(home, quoting, ENV);
      await deliverOk(home, bounceOf(Buffer.from("From: www-data@web01.example.org\nSubject: contact form\n\nhello\n"), 3), TO_ROOT);
      assert.equal(relayed().length, 2);
    }));
});
