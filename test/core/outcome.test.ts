import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SealpostError, asSealpostError } from "../../src/core/errors.js";
import { type Outcome, Reason, pipeAnswer, smtpRefusal, smtpReply } from "../../src/core/outcome.js";

describe("the outcome table", () => {
  const deferred = (reason: Reason, text: string): Outcome => ({ kind: "deferred", error: new SealpostError(reason, text) });
  const table: Array<[string, Outcome, 0 | 75, string, number]> = [
    ["relayed", { kind: "relayed" }, 0, "", 250],
    ["stored only", { kind: "stored-only" }, 0, "", 250],
    ["duplicate", { kind: "duplicate" }, 0, "", 250],
    ["spooled", { kind: "spooled" }, 0, "", 250],
    ["held", { kind: "held" }, 0, "", 250],
    ["no key", deferred(Reason.noKey, "no usable key for ops@example.net"), 75, "4.7.1 sealpost: no usable key for ops@example.net\n", 451],
    ["spool full", deferred(Reason.storageFull, "no space left"), 75, "4.3.1 sealpost: no space left\n", 452],
    [
      "a 5.x.x status is never passed to the MTA as permanent",
      deferred(Reason.relayRefused, "refused"),
      75,
      "4.0.0 sealpost: refused\n",
      451,
    ],
    ["too big is answered 75 by the pipe and 552 by serve", deferred(Reason.tooBig, "too big"), 75, "4.3.4 sealpost: too big\n", 552],
    ["a multi-line text stays on one line", deferred(Reason.internal, "a\nb\r\nc"), 75, "4.3.0 sealpost: a b c\n", 451],
  ];
  for (const [name, outcome, code, stderr, smtp] of table) {
    it(name, () => {
      assert.deepEqual(pipeAnswer(outcome), { exitCode: code, stderr });
      assert.equal(smtpReply(outcome).code, smtp);
    });
  }

  it("a 4xx reply never carries a 5.x.x code; a refusal for good keeps its own", () => {
    assert.deepEqual(smtpReply(deferred(Reason.relayRefused, "no")), { code: 451, text: "4.0.0 no" });
    assert.deepEqual(smtpRefusal(Reason.notLocal, "relaying denied"), { code: 550, text: "5.7.1 relaying denied" });
    assert.deepEqual(smtpRefusal(Reason.shuttingDown, "bye"), { code: 421, text: "4.3.2 bye" });
  });

  it("the reason, not the code, tells sealing trouble from a quota (both 4.7.0); permanence comes from the table", () => {
    assert.equal(new SealpostError(Reason.sealing, "x").status, new SealpostError(Reason.overQuota, "y").status);
    assert.notEqual(new SealpostError(Reason.sealing, "x").reason, new SealpostError(Reason.overQuota, "y").reason);
    assert.equal(new SealpostError(Reason.tooBig, "x").permanence, "permanent");
    assert.equal(new SealpostError(Reason.relay, "x").permanence, "temporary");
  });

  it("unknown errors are temporary internal errors; a full disk says so", () => {
    const e = asSealpostError(new TypeError("boom"));
    assert.equal(e.status, "4.3.0");
    assert.equal(e.permanence, "temporary");
    assert.equal(e.publicMessage, "internal error");
    assert.equal(asSealpostError(Object.assign(new Error("x"), { code: "ENOSPC" })).status, "4.3.1");
  });

  it("permission denied names the likely cause (the wrong user) without a path; temporary", () => {
    const e = asSealpostError(
      Object.assign(new Error("EACCES: permission denied, open '/var/spool/sealpost/ledger/x'"), { code: "EACCES" }),
    );
    assert.equal(e.status, "4.3.0");
    assert.equal(e.permanence, "temporary");
    assert.match(e.publicMessage, /^permission denied on sealpost's spool or store \(run as the wrong user\? see sealpost doctor\)$/);
  });
});
