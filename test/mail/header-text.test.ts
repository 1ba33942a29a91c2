import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatMailbox, parseMailboxes, qualify } from "../../src/mail/address.js";
import { decodeText } from "../../src/mail/header.js";
import { encodeUnstructured, headerLine } from "../../src/mail/header-text.js";

/** Decoding what we encoded must give the text back: the inbox shows what the original said. */
function roundTrip(text: string): string {
  const line = headerLine("Subject", encodeUnstructured(text));
  // eslint-disable-next-line no-control-regex -- [\x00-\x7f] is the 7-bit range, controls included on purpose
  assert.ok(/^[\x00-\x7f]*$/.test(line), "7-bit");
  assert.ok(line.split("\r\n").every((l) => l.length <= 998));
  const value = line
    .replace(/^Subject: /, "")
    .replace(/\r\n$/, "")
    .replace(/\r\n(?=[ \t])/g, "");
  return decodeText(value);
}

describe("Subject encoding", () => {
  const subjects = [
    "[Fail2Ban] sshd: banned 203.0.113.45 from web01.example.org",
    "Output from your job       42",
    "Sicherung für nas-01 abgeschlossen: 3 Warnungen ⚠ — 完了",
    "=?UTF-8?B?looks encoded?= but is not",
    "line\r\nbreak and NUL\0 inside",
    "x".repeat(1200),
    "a " + "long words ".repeat(40),
  ];
  for (const s of subjects) it(JSON.stringify(s.slice(0, 40)), () => assert.equal(roundTrip(s), s));

  it("RFC 2047 decoding drops the whitespace between adjacent encoded-words", () => {
    assert.equal(
      decodeText(
        "=?UTF-8?B?U2ljaGVydW5nIGbDvHIgbmFzLTAxIGFiZ2VzY2hsb3NzZW46IA==?= =?UTF-8?Q?3_Warnungen_=E2=9A=A0_=E2=80=94_=E5=AE=8C=E4=BA=86?=",
      ),
      "Sicherung für nas-01 abgeschlossen: 3 Warnungen ⚠ — 完了",
    );
  });
});

describe("addresses", () => {
  it("parses display names, comments and bare local parts", () => {
    assert.deepEqual(parseMailboxes('"(Cron Daemon)" <root>'), [{ name: "(Cron Daemon)", address: "root" }]);
    assert.deepEqual(parseMailboxes("MAILER-DAEMON@web01.example.org (Mail Delivery System)"), [
      { name: "Mail Delivery System", address: "MAILER-DAEMON@web01.example.org" },
    ]);
    assert.deepEqual(parseMailboxes("=?UTF-8?Q?Sicherungs=C3=BCberwachung?= <backup@backup.example.net>"), [
      { name: "Sicherungsüberwachung", address: "backup@backup.example.net" },
    ]);
    assert.deepEqual(parseMailboxes(""), []);
  });
  it("qualifies bare addresses only", () => {
    assert.equal(qualify("root", "h.example"), "root@h.example");
    assert.equal(qualify("root@x", "h.example"), "root@x");
    assert.equal(qualify("", "h.example"), "");
  });
  const formats: Array<[string, string, string]> = [
    ["Fail2Ban", "root@web01.example.org", "Fail2Ban <root@web01.example.org>"],
    ["(Cron Daemon)", "root@db-03.example.org", '"(Cron Daemon)" <root@db-03.example.org>'],
    ['say "hi"', "a@b.c", '"say \\"hi\\"" <a@b.c>'],
    ["", "a@b.c", "a@b.c"],
    ["Sicherungsüberwachung", "backup@b.net", "=?UTF-8?B?U2ljaGVydW5nc8O8YmVyd2FjaHVuZw==?= <backup@b.net>"],
    ["evil\r\nBcc: x@y", "a@b.c", '"evil Bcc: x@y" <a@b.c>'],
    ["x", "a@b.c>\r\nBcc: y@z", "x <invalid@invalid>"],
  ];
  for (const [name, address, want] of formats) {
    it(`formats ${JSON.stringify(name)} <${JSON.stringify(address)}>`, () => assert.equal(formatMailbox({ name, address }), want));
  }
});

describe("folding header lines", () => {
  const unfold = (line: string) => line.replace(/\r\n$/, "").replace(/\r\n(?=[ \t])/g, "");

  it("never folds between an encoded display name and its <address> while the line fits", () => {
    const line = headerLine("From", formatMailbox({ name: "Sicherungsüberwachung", address: "backup@backup.example.net" }));
    assert.equal(line, "From: =?UTF-8?B?U2ljaGVydW5nc8O8YmVyd2FjaHVuZw==?= <backup@backup.example.net>\r\n");
  });

  it("folds a long encoded display name between its encoded-words, where a fold is invisible", () => {
    const value = formatMailbox({
      name: "Sicherungsüberwachung des Rechenzentrums Nord-Ost für alle Systeme",
      address: "backup@b.example.net",
    });
    const line = headerLine("From", value);
    assert.equal(unfold(line), `From: ${value}`);
    for (const l of line.split("\r\n").slice(0, -1)) assert.ok(l.length <= 78, l);
    assert.match(line, /\?= <backup@b\.example\.net>\r\n$/, "the last encoded-word stays with the address");
  });

  it("folds before <address> only when the line would pass 998 octets otherwise", () => {
    const value = `${"x".repeat(990)} <a@b.c>`;
    const line = headerLine("From", value);
    assert.equal(unfold(line), `From: ${value}`);
    assert.ok(line.split("\r\n").every((l) => l.length <= 998));
  });

  it("keeps a field name inside a value with its value (HP-Outer: From: ...)", () => {
    const value = `From: ${formatMailbox({ name: "Sicherungsüberwachung", address: "backup@backup.example.net" })}`;
    assert.match(headerLine("HP-Outer", value), /^HP-Outer: From: =\?UTF-8\?B\?/);
  });

  it("keeps runs of white space, and no line ends in a space", () => {
    const line = headerLine("Subject", `Output from your job       42 ${"word ".repeat(30)}`.trim());
    assert.equal(unfold(line), `Subject: Output from your job       42 ${"word ".repeat(30)}`.trim());
    assert.ok(line.split("\r\n").every((l) => !/ $/.test(l)));
  });
});
