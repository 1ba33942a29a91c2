import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readRawMessage, splitHeaderBody, toCrlf } from "../../src/core/raw-message.js";

const b = (s: string) => Buffer.from(s, "latin1");

describe("readRawMessage: the MTA's framing", () => {
  const cases: Array<[string, string, { exim?: boolean }, { bytes: string; header: string; body: string; fromLine?: string }]> = [
    ["Postfix From_ line (two spaces)", "From root@h  Sat Nov 21 11:31:48 2026\nSubject: x\n\nbody\n", {},
      { bytes: "Subject: x\n\nbody\n", header: "Subject: x\n", body: "body\n", fromLine: "From root@h  Sat Nov 21 11:31:48 2026" }],
    ["Exim From_ line (one space) and the extra blank line", "From root@h Sat Nov 21 11:31:48 2026\nSubject: x\n\nbody\n\n", { exim: true },
      { bytes: "Subject: x\n\nbody\n", header: "Subject: x\n", body: "body\n", fromLine: "From root@h Sat Nov 21 11:31:48 2026" }],
    ["CRLF", "Subject: x\r\n\r\nbody\r\n", {}, { bytes: "Subject: x\r\n\r\nbody\r\n", header: "Subject: x\r\n", body: "body\r\n" }],
    ["no final newline", "Subject: x\n\nFail2Ban", {}, { bytes: "Subject: x\n\nFail2Ban", header: "Subject: x\n", body: "Fail2Ban" }],
    ["no separator: a non-header line ends the header", "Subject: x\nplain text\n", {},
      { bytes: "Subject: x\nplain text\n", header: "Subject: x\n", body: "plain text\n" }],
    ["no headers at all", "just a line of output\n", {}, { bytes: "just a line of output\n", header: "", body: "just a line of output\n" }],
    ["header only, no body", "Subject: x\n", {}, { bytes: "Subject: x\n", header: "Subject: x\n", body: "" }],
    ["empty input", "", {}, { bytes: "", header: "", body: "" }],
    ["folded field", "Subject: a\n b\nTo: r\n\nx", {}, { bytes: "Subject: a\n b\nTo: r\n\nx", header: "Subject: a\n b\nTo: r\n", body: "x" }],
    ["Exim suffix is only removed for Exim", "Subject: x\n\nbody\n\n", {}, { bytes: "Subject: x\n\nbody\n\n", header: "Subject: x\n", body: "body\n\n" }],
  ];
  for (const [name, input, opts, want] of cases) {
    it(name, () => {
      const m = readRawMessage(b(input), { eximSuffix: opts.exim === true });
      assert.equal(m.bytes.toString("latin1"), want.bytes);
      assert.equal(m.header.toString("latin1"), want.header);
      assert.equal(m.body.toString("latin1"), want.body);
      assert.equal(m.fromLine, want.fromLine);
    });
  }

  it("a body line starting with From is not taken for a header", () => {
    const { header, body } = splitHeaderBody(b("From: a@b\n\nFrom here on\n"));
    assert.equal(header.toString(), "From: a@b\n");
    assert.equal(body.toString(), "From here on\n");
  });
});

describe("toCrlf", () => {
  for (const [input, want] of [["a\nb\n", "a\r\nb\r\n"], ["a\r\nb\n", "a\r\nb\r\n"], ["a\r\n", "a\r\n"], ["\n\n", "\r\n\r\n"], ["no newline", "no newline"], ["bare\rcr\n", "bare\rcr\r\n"]]) {
    it(JSON.stringify(input), () => assert.equal(toCrlf(b(input!)).toString("latin1"), want));
  }
});
