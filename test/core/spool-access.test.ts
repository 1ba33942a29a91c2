/** Who may write the spool (core/spool-access.ts), every row of the rule; and the trace fields a submission gets. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decideSpoolAccess, type AccessFacts } from "../../src/core/spool-access.js";
import { prependFields, traceFields } from "../../src/mail/trace.js";
import { fromLineSender } from "../../src/store/mbox.js";

const dir = (uid: number, mode = 0o40755) => ({ uid, mode, isDirectory: true });
const base: AccessFacts = { spoolDir: "/var/spool/sealpost", uid: 0, configuredUser: "sealpost", userIds: { uid: 998, gid: 997 } };

describe("spool access", () => {
  const rows: Array<[string, Partial<AccessFacts>, string]> = [
    ["root, spool root's: writes it as root", { spool: dir(0) }, "write"],
    ["root, spool the configured user's: becomes that user", { spool: dir(998) }, "switch 998:997 sealpost"],
    ["root, spool another user's: refuses", { spool: dir(1001) }, "refuse"],
    ["root, spool another user's and no configured user on this host: refuses", { spool: dir(1001), userIds: undefined }, "refuse"],
    ["root, spool is a file: refuses", { spool: { uid: 0, mode: 0o100600, isDirectory: false } }, "refuse"],
    ["root, no spool, parent root's and closed: creates it", { parent: dir(0) }, "write"],
    ["root, no spool, parent writable by others (/tmp): refuses", { parent: dir(0, 0o41777) }, "refuse"],
    ["root, no spool, parent another user's: refuses", { parent: dir(1001) }, "refuse"],
    ["user, spool their own: writes it", { uid: 1001, spool: dir(1001) }, "write"],
    ["user, spool the sealpost user's: drop/", { uid: 1001, spool: dir(998) }, "drop"],
    ["user, spool root's: drop/", { uid: 1001, spool: dir(0) }, "drop"],
    ["user, no spool, parent their own: creates it", { uid: 1001, parent: dir(1001, 0o40700) }, "write"],
    ["user, no spool, parent root's: refuses", { uid: 1001, parent: dir(0) }, "refuse"],
    ["user, no spool, parent group-writable: refuses", { uid: 1001, parent: dir(1001, 0o40775) }, "refuse"],
  ];
  for (const [name, facts, want] of rows) {
    it(name, () => {
      const got = decideSpoolAccess({ ...base, ...facts });
      const shown = got.kind === "switch" ? `switch ${got.uid}:${got.gid} ${got.user}` : got.kind;
      assert.equal(shown, want, got.kind === "refuse" ? got.reason : "");
    });
  }
});

describe("trace fields", () => {
  const now = new Date("2026-11-21T11:31:48Z");
  it("a user who sets another sender gets Received and X-Authentication-Warning; root gets Received only", () => {
    assert.deepEqual(traceFields({ uid: 1001, user: "alice", trusted: false }, "root@web01", "web01", now), [
      "Received: by web01 (sealpost, from userid 1001);\r\n\tSat, 21 Nov 2026 11:31:48 +0000",
      "X-Authentication-Warning: web01: alice set sender to root@web01 using -f",
    ]);
    assert.equal(traceFields({ uid: 1001, user: "alice", trusted: false }, "alice@web01", "web01", now).length, 1, "their own address");
    assert.equal(traceFields({ uid: 0, user: "root", trusted: true }, "fail2ban@web01", "web01", now).length, 1);
  });
  it("a user name that could forge a line is shown as its uid", () => {
    const [, warning] = traceFields({ uid: 1001, user: "a\nX-Evil: 1", trusted: false }, "root@web01", "web01", now);
    assert.equal(warning, "X-Authentication-Warning: web01: uid 1001 set sender to root@web01 using -f");
  });
  it("go on top in the message's own line ends", () => {
    assert.equal(
      prependFields(Buffer.from("Subject: x\r\n\r\nb\r\n"), ["A: 1\r\n\tb"]).toString(),
      "A: 1\r\n\tb\r\nSubject: x\r\n\r\nb\r\n",
    );
    assert.equal(prependFields(Buffer.from("Subject: x\n\nb\n"), ["A: 1\r\n\tb"]).toString(), "A: 1\n\tb\nSubject: x\n\nb\n");
  });
});

describe("mbox From_ line", () => {
  it("never carries a line end, a space or a NUL from the envelope", () => {
    assert.equal(
      fromLineSender("x@example.org\nFrom root@web01 Mon Jan  1 00:00:00 2001"),
      "x@example.org_From_root@web01_Mon_Jan__1_00:00:00_2001",
    );
    assert.equal(fromLineSender(""), "MAILER-DAEMON");
    assert.equal(fromLineSender("a\0b\r@c"), "a_b_@c");
  });
});
