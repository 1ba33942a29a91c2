import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseHeader } from "../../src/mail/header.js";
import { loopVerdict, type LoopVerdict } from "../../src/mail/loop.js";
import { readRawMessage } from "../../src/mail/raw-message.js";

const HOST = "web01.example.org";
const DSN = "From: MAILER-DAEMON@web01.example.org\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\n";

describe("loopVerdict", () => {
  const cases: Array<[string, string, string, LoopVerdict]> = [
    ["plain mail", "root@h", "From: root\nSubject: x\n\nbody\n", "none"],
    ["our sealed mail back", "x@y", `From: root\nX-Sealpost-Loop: ${HOST}\n\nbody\n`, "own-message"],
    ["another host's sealed mail", "x@y", "From: root\nX-Sealpost-Loop: db02.example.org\n\nbody\n", "none"],
    ["a bounce (null sender) of ours", "", `From: x\n\nreturned:\nX-Sealpost-Loop: ${HOST}\n`, "own-bounce"],
    ["a bounce (MAILER-DAEMON) of ours", "x@y", `${DSN}X-Sealpost-Loop: ${HOST}\r\n`, "own-bounce"],
    ["a bounce of a forwarded bounce", "", `${DSN}X-Sealpost-Loop: ${HOST}; bounce\n`, "bounce-of-bounce"],
    ["a bounce of someone else's mail", "", `${DSN}From: www-data\n`, "none"],
    ["a marker quoted mid-line in a bounce", "", `${DSN}see X-Sealpost-Loop: ${HOST}\n`, "none"],
    ["a marker quoted in plain mail", "root@h", `From: root\n\nX-Sealpost-Loop: ${HOST}\n`, "none"],
  ];
  for (const [name, sender, text, want] of cases) {
    it(name, () => {
      const raw = readRawMessage(Buffer.from(text));
      assert.equal(loopVerdict(raw, parseHeader(raw.header), { sender, recipients: [] }, HOST), want);
    });
  }
});
