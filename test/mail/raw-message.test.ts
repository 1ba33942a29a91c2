import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { firstValue, parseHeader, wellFormed } from "../../src/mail/header.js";
import { readRawMessage, splitHeaderBody, toCrlf } from "../../src/mail/raw-message.js";

const b = (s: string) => Buffer.from(s, "latin1");

describe("readRawMessage: the MTA's framing", () => {
  const cases: Array<[string, string, { exim?: boolean }, { bytes: string; header: string; body: string; fromLine?: string }]> = [
    [
      "Postfix From_ line (two spaces)",
      "From root@h  Sat Nov 21 11:31:48 2026\nSubject: x\n\nbody\n",
      {},
      { bytes: "Subject: x\n\nbody\n", header: "Subject: x\n", body: "body\n", fromLine: "From root@h  Sat Nov 21 11:31:48 2026" },
    ],
    [
      "Exim From_ line (one space) and the extra blank line",
      "From root@h Sat Nov 21 11:31:48 2026\nSubject: x\n\nbody\n\n",
      { exim: true },
      { bytes: "Subject: x\n\nbody\n", header: "Subject: x\n", body: "body\n", fromLine: "From root@h Sat Nov 21 11:31:48 2026" },
    ],
    ["CRLF", "Subject: x\r\n\r\nbody\r\n", {}, { bytes: "Subject: x\r\n\r\nbody\r\n", header: "Subject: x\r\n", body: "body\r\n" }],
    ["no final newline", "Subject: x\n\nFail2Ban", {}, { bytes: "Subject: x\n\nFail2Ban", header: "Subject: x\n", body: "Fail2Ban" }],
    [
      "no separator: a non-header line ends the header",
      "Subject: x\nplain text\n",
      {},
      { bytes: "Subject: x\nplain text\n", header: "Subject: x\n", body: "plain text\n" },
    ],
    ["no headers at all", "just a line of output\n", {}, { bytes: "just a line of output\n", header: "", body: "just a line of output\n" }],
    ["header only, no body", "Subject: x\n", {}, { bytes: "Subject: x\n", header: "Subject: x\n", body: "" }],
    ["empty input", "", {}, { bytes: "", header: "", body: "" }],
    [
      "folded field",
      "Subject: a\n b\nTo: r\n\nx",
      {},
      { bytes: "Subject: a\n b\nTo: r\n\nx", header: "Subject: a\n b\nTo: r\n", body: "x" },
    ],
    [
      "Exim suffix is only removed for Exim",
      "Subject: x\n\nbody\n\n",
      {},
      { bytes: "Subject: x\n\nbody\n\n", header: "Subject: x\n", body: "body\n\n" },
    ],
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
  for (const [input, want] of [
    ["a\nb\n", "a\r\nb\r\n"],
    ["a\r\nb\n", "a\r\nb\r\n"],
    ["a\r\n", "a\r\n"],
    ["\n\n", "\r\n\r\n"],
    ["no newline", "no newline"],
    ["bare\rcr\n", "bare\rcr\r\n"],
  ]) {
    it(JSON.stringify(input), () => assert.equal(toCrlf(b(input!)).toString("latin1"), want));
  }
});

/**
 * Reading a header as tolerantly as the best parsers (docs/contract.md §4). MimeKit skips a byte order mark,
 * accepts "FROM :" and keeps a line without a colon as an invalid header until the blank line;
 * Python's email ends the header at such a line (and at "FROM :"). sealpost keeps a stray run
 * in the field before it only when a "Name: value" field follows, else ends the header there.
 */
describe("splitHeaderBody and parseHeader: tolerant reading", () => {
  const wrapped = "X-Relay-Diagnostics: 1;AM4PR01MB1442;6:" + "Qk".repeat(60) + "\n" + "P8FxVksOO2tmFWl".repeat(5) + "\n";
  const mimeTail = 'MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b1"\n\n--b1\nbody\n';

  it("skips a UTF-8 byte order mark before the first field, and the local copy keeps it", () => {
    const m = readRawMessage(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b("Subject: backup done\nFrom: root\n\nok\n")]));
    assert.equal(m.bytes[0], 0xef, "the raw bytes are untouched");
    assert.equal(m.header.toString("latin1"), "Subject: backup done\nFrom: root\n");
    assert.equal(firstValue(parseHeader(m.header), "subject"), "backup done");
    assert.equal(m.body.toString(), "ok\n");
  });

  it("reads obsolete syntax (white space before the colon) and writes it well-formed", () => {
    const fields = parseHeader(readRawMessage(b("FROM : Cron <root@h>\nSubject\t: x\n\nbody\n")).header);
    assert.deepEqual(
      fields.map((f) => [f.lname, f.value]),
      [
        ["from", "Cron <root@h>"],
        ["subject", "x"],
      ],
    );
    assert.equal(wellFormed(fields[0]!).toString(), "FROM: Cron <root@h>\r\n");
  });

  it("a line without a colon with more fields after it belongs to the field before it", () => {
    const m = readRawMessage(b("Subject: nightly\n" + wrapped + "X-Spam-Score: 0\n" + mimeTail));
    const fields = parseHeader(m.header);
    assert.deepEqual(
      fields.map((f) => f.lname),
      ["subject", "x-relay-diagnostics", "x-spam-score", "mime-version", "content-type"],
    );
    assert.equal(fields[1]!.value, "1;AM4PR01MB1442;6:" + "Qk".repeat(60) + "P8FxVksOO2tmFWl".repeat(5), "joined as the one value it was");
    assert.equal(m.body.toString(), "--b1\nbody\n", "the MIME fields stay in the header");
    assert.equal(wellFormed(fields[1]!).toString().split("\r\n")[1], " " + "P8FxVksOO2tmFWl".repeat(5), "re-indented as a continuation");
  });

  it("a stray run with continuation lines inside it still belongs to the field before it", () => {
    const fields = parseHeader(readRawMessage(b("Subject: a\nstray one\n folded\nstray two\nTo: root\n\nx")).header);
    assert.deepEqual(
      fields.map((f) => f.lname),
      ["subject", "to"],
    );
    assert.equal(wellFormed(fields[0]!).toString(), "Subject: a\r\n stray one\r\n folded\r\n stray two\r\n");
  });

  const ends: Array<[string, string, string]> = [
    [
      "a stray line followed by the blank line (a body that lost its separator)",
      "Subject: x\nplain text\n\nmore\n",
      "plain text\n\nmore\n",
    ],
    ["a stray line followed by body text and the end", "Subject: x\nline one\nline two\n", "line one\nline two\n"],
    [
      "a stray line followed by a line that only looks like a field (a URL)",
      "Subject: x\nsee\nhttps://example.org/x\n\n",
      "see\nhttps://example.org/x\n\n",
    ],
    [
      "a MIME boundary line, even with part fields after it",
      "Content-Type: multipart/mixed; boundary=x\n--x\nContent-Type: text/plain\n\nhi\n--x--\n",
      "--x\nContent-Type: text/plain\n\nhi\n--x--\n",
    ],
    [
      "more stray lines in a row than one wrapped field makes",
      "Subject: x\n" + "log line\n".repeat(17) + "Status: ok\n\n",
      "log line\n".repeat(17) + "Status: ok\n\n",
    ],
  ];
  for (const [what, input, body] of ends) {
    it(`still ends the header at ${what}`, () => {
      const m = readRawMessage(b(input));
      assert.equal(m.body.toString("latin1"), body);
      assert.equal(m.header.toString("latin1"), input.slice(0, input.length - body.length));
    });
  }

  it("a message whose first line is not a field still has no header", () => {
    const m = readRawMessage(b("stray\nSubject: x\n\nbody\n"));
    assert.equal(m.header.length, 0);
    assert.equal(m.body.toString(), "stray\nSubject: x\n\nbody\n");
  });
});
