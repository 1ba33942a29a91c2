import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SealpostError } from "../../src/core/errors.js";
import { parseSendmailArgs, SendmailUsageError, type SendmailArgs } from "../../src/mail/sendmail-args.js";
import { MAILBOX_VALUE_LIMIT, parseMailboxes } from "../../src/mail/address.js";
import { prepareSubmission } from "../../src/pipeline/submission.js";

const NOW = new Date(Date.UTC(2026, 10, 21, 11, 31, 48));
const WHO = { user: "deploy", hostname: "web01.example.org" };

describe("sendmail arguments: every flag form real callers use", () => {
  const cases: Array<[string, string[], Partial<SendmailArgs>]> = [
    [
      "fail2ban sendmail-whois: -f SENDER RCPT",
      ["-f", "root@web01.example.org", "root@localhost"],
      { sender: "root@web01.example.org", recipients: ["root@localhost"] },
    ],
    [
      "cronie",
      ["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"],
      { fullName: "CronDaemon", dotEndsMessage: false, extractRecipients: true, sender: "root", recipients: [] },
    ],
    [
      "Debian cron",
      ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"],
      { fullName: "CronDaemon", dotEndsMessage: false, recipients: ["root"] },
    ],
    ["mdadm and sudo: -t", ["-t"], { extractRecipients: true, dotEndsMessage: true, recipients: [] }],
    ["at: -i USER", ["-i", "deploy"], { dotEndsMessage: false, recipients: ["deploy"] }],
    ["attached -f, -F, -B, -r", ["-fa@b", "-FName", "-B7BIT", "-rc@d", "x"], { sender: "c@d", fullName: "Name", recipients: ["x"] }],
    [
      "detached -F, -B, -r",
      ["-F", "Full Name", "-B", "8BITMIME", "-r", "e@f", "x"],
      { sender: "e@f", fullName: "Full Name", recipients: ["x"] },
    ],
    ["-oi alone", ["-oi", "x"], { dotEndsMessage: false }],
    ["-- ends the options", ["-t", "--", "-odd@example.org"], { extractRecipients: true, recipients: ["-odd@example.org"] }],
    [
      "ignored options",
      ["-U", "-G", "-m", "-n", "-v", "-h", "5", "-L", "tag", "-Am", "-O", "DeliveryMode=b", "-oQ/var/spool", "x"],
      { recipients: ["x"] },
    ],
    ["comma-separated recipients", ["a, b", "c"], { recipients: ["a", "b", "c"] }],
    ["-bp lists the queue", ["-bp"], { mode: "list-queue" }],
    ["-q runs it", ["-q"], { mode: "run-queue" }],
    ["-q30m runs it too", ["-q30m"], { mode: "run-queue" }],
    ["-bi does nothing", ["-bi"], { mode: "nothing" }],
    ["-C FILE is the config", ["-C", "/etc/s.toml", "x"], { config: "/etc/s.toml" }],
  ];
  for (const [name, argv, want] of cases) {
    it(name, () => {
      const got = parseSendmailArgs(argv);
      for (const [key, value] of Object.entries(want)) assert.deepEqual(got[key as keyof SendmailArgs], value, key);
    });
  }
  it("a valued flag without its value, and an unsupported -b mode, are usage errors", () => {
    assert.throws(() => parseSendmailArgs(["-f"]), SendmailUsageError);
    assert.throws(() => parseSendmailArgs(["-bs"]), /-bs is not supported/);
  });
});

describe("what sendmail makes of the message", () => {
  const args = (over: Partial<SendmailArgs>): SendmailArgs => ({
    mode: "send",
    extractRecipients: false,
    dotEndsMessage: true,
    recipients: [],
    ...over,
  });
  const prepare = (text: string, over: Partial<SendmailArgs>) => prepareSubmission(Buffer.from(text), args(over), WHO, NOW);

  it("a lone dot ends the message, unless -i", () => {
    const text = "Subject: s\n\nbefore\n.\nafter\n";
    assert.ok(!prepare(text, { recipients: ["root"] }).bytes.includes("after"));
    assert.ok(prepare(text, { recipients: ["root"], dotEndsMessage: false }).bytes.includes("\n.\nafter\n"));
  });

  it("-t takes To, Cc and Bcc as recipients, besides the arguments, and removes Bcc", () => {
    const s = prepare("To: root, Admin <admin>\nCc: ops@example.org\nBcc: hidden\nSubject: s\n\nbody\n", {
      extractRecipients: true,
      recipients: ["extra"],
    });
    assert.deepEqual(s.envelope.recipients, [
      "extra@web01.example.org",
      "root@web01.example.org",
      "admin@web01.example.org",
      "ops@example.org",
      "hidden@web01.example.org",
    ]);
    assert.ok(!/^Bcc:/im.test(s.bytes.toString()));
  });

  it("qualifies bare addresses in the header, and only those fields", () => {
    const s = prepare('From: "(Cron Daemon)" <root>\nTo: root\nCc: ops@example.org\nSubject: s  x\n\nb\n', { recipients: ["root"] });
    const text = s.bytes.toString();
    assert.match(text, /^From: "\(Cron Daemon\)" <root@web01\.example\.org>\n/m);
    assert.match(text, /^To: root@web01\.example\.org\n/m);
    assert.match(text, /^Cc: ops@example\.org\nSubject: s {2}x\n\nb\n$/m);
  });

  it("synthesises From (with -F), Date and Message-ID when missing; the envelope sender is the user", () => {
    const s = prepare("Subject: s\n\nb\n", { recipients: ["root"], fullName: "Deploy Bot" });
    const text = s.bytes.toString();
    assert.match(
      text,
      /^From: Deploy Bot <deploy@web01\.example\.org>\nDate: Sat, 21 Nov 2026 11:31:48 \+0000\nMessage-ID: <\d+\.[0-9a-f]+@web01\.example\.org>\nSubject: s\n\nb\n$/,
    );
    assert.equal(s.envelope.sender, "deploy@web01.example.org");
  });

  it("-f sets the envelope sender, qualified; -f <> is the null sender", () => {
    assert.equal(prepare("Subject: s\n\nb\n", { recipients: ["root"], sender: "root" }).envelope.sender, "root@web01.example.org");
    assert.equal(prepare("Subject: s\n\nb\n", { recipients: ["root"], sender: "<>" }).envelope.sender, "");
  });

  it("output with no header at all gets one; no recipients is a temporary usage error", () => {
    assert.match(
      prepare("just output\n", { recipients: ["root"] }).bytes.toString(),
      /^From: deploy@web01\.example\.org\nDate: .*\nMessage-ID: .*\n\njust output\n$/,
    );
    assert.throws(
      () => prepare("Subject: s\n\nb\n", { extractRecipients: true }),
      (e: unknown) => e instanceof SealpostError && e.status === "4.5.0",
    );
  });
});

describe("what sendmail and serve make of a hostile message: bounded", () => {
  const args: SendmailArgs = { mode: "send", extractRecipients: false, dotEndsMessage: false, recipients: ["root"] };
  const prepare = (text: string, maxSize?: number) => prepareSubmission(Buffer.from(text), args, WHO, NOW, { maxSize });
  const tooBig = (e: unknown) => e instanceof SealpostError && e.status === "5.3.4" && e.permanence === "permanent";

  it("a header over 64 KB is refused as too big (5.3.4), whether it ends at an empty line, at a body line, or not at all", () => {
    const fields = "X-F: y\n".repeat(10_000); // 70 KB
    assert.throws(() => prepare(`${fields}\nbody\n`), tooBig);
    assert.throws(() => prepare(`${fields}a body line without a colon\n`), tooBig);
    assert.throws(() => prepare(fields), tooBig);
    assert.throws(() => prepare(`Subject: ${"x".repeat(20 << 20)}\n\nbody\n`), tooBig);
  });

  it("a header under 64 KB is taken with a body of any size, and a short header ended by a body line too", () => {
    assert.ok(prepare(`${"X-F: y\n".repeat(9_000)}\n${"z".repeat(1 << 20)}\n`).bytes.length > 1 << 20);
    assert.ok(prepare(`Subject: s\nno empty line, just output\n${"z\n".repeat(1 << 19)}`).bytes.includes("no empty line"));
  });

  it("only as many address fields are qualified as a message has: the 33rd and later stay as written", () => {
    const text = prepare(`${"To: a\n".repeat(40)}Subject: s\n\nb\n`).bytes.toString();
    assert.equal(text.match(/^To: a@web01\.example\.org$/gm)?.length, 32);
    assert.equal(text.match(/^To: a$/gm)?.length, 8);
  });

  it("a 20 MB address list is read only to 16 KB, and the address the cut went through is left out", () => {
    const boxes = parseMailboxes("alice@example.org, ".repeat(1 << 20));
    assert.equal(boxes.length, Math.floor(MAILBOX_VALUE_LIMIT / 19));
    assert.ok(boxes.every((b) => b.address === "alice@example.org"));
  });

  it("an address field longer than 16 KB stays as written: read only in part, rewriting it would lose addresses", () => {
    const to = Array.from({ length: 3_000 }, (_, i) => `u${i}`).join(", "); // 20 KB
    assert.ok(prepare(`To: ${to}\nSubject: s\n\nb\n`).bytes.toString().includes(`To: ${to}\n`));
  });

  it("qualification never takes the message past max_size: the fields that would not fit stay as written", () => {
    const message = `From: a@b.example\nTo: ${Array.from({ length: 2_000 }, (_, i) => `u${i}`).join(", ")}\nSubject: s\n\n${"y".repeat(40_000)}\n`;
    const s = prepare(message, message.length + 300); // room for Date and Message-ID, not for 2,000 "@web01.example.org"
    assert.ok(s.bytes.length <= message.length + 300);
    assert.ok(s.bytes.toString().includes("To: u0, u1, "));
    assert.ok(
      prepare(message).bytes.toString().includes("To: u0@web01.example.org, u1@web01.example.org"),
      "without a limit it is qualified",
    );
    assert.throws(() => prepare("Subject: s\n\nb\n", 10), tooBig, "over max_size with its Date and Message-ID added");
  });
});
