import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import PostalMime from "postal-mime";
import { buildDigest, digestSubject, type DigestItem } from "../../src/message/digest.js";
import { asCarried, digestParts } from "../helpers/digest.js";
import { fixtureBytes, fixtures } from "../helpers/fixtures.js";

const item = (bytes: Buffer, kind: DigestItem["classification"]["kind"] = "other", fields: Record<string, string> = {}): DigestItem => ({
  bytes,
  received: new Date("2026-11-22T10:00:00Z"),
  classification: { kind, fields },
});
const ctx = { hostname: "web01.example.org", recipients: ["ops@example.net"], now: new Date("2026-11-22T10:02:00Z") };

describe("digest", () => {
  it("carries every fixture whole (binary attachments, 8-bit, CRLF, no final newline), and a MIME parser reads them back", async () => {
    const originals = fixtures().map((fx) => {
      const raw = fixtureBytes(fx);
      return raw.subarray(0, 5).toString() === "From " ? raw.subarray(raw.indexOf("\n") + 1) : raw;
    });
    const digest = buildDigest(
      originals.map((b) => item(b)),
      ctx,
    );
    const parts = digestParts(digest);
    assert.equal(parts.messages.length, originals.length);
    parts.messages.forEach((m, i) => assert.ok(m.equals(asCarried(originals[i]!)), fixtures()[i]!.file));
    const parsed = await PostalMime.parse(digest, { forceRfc822Attachments: true });
    assert.equal(parsed.attachments.filter((a) => a.mimeType === "message/rfc822").length, originals.length);
  });
  it("the boundary occurs in no original, whatever they hold (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 5 }), (messages) => {
        const parts = digestParts(
          buildDigest(
            messages.map((m) => item(Buffer.from(m))),
            ctx,
          ),
        );
        assert.equal(parts.messages.length, messages.length);
        parts.messages.forEach((m, i) => assert.ok(m.equals(asCarried(Buffer.from(messages[i]!)))));
      }),
      { numRuns: 200 },
    );
  });
  it("the subject counts kinds and names the host only; the summary has time, kind, host and IP per message", () => {
    const items = [
      item(Buffer.from("Subject: a\n\nx\n"), "fail2ban.ban", { ip: "203.0.113.9", jail: "sshd", host: "web01" }),
      item(Buffer.from("Subject: b\n\ny\n"), "fail2ban.ban", { ip: "203.0.113.10", jail: "sshd" }),
      item(Buffer.from("Subject: c\n\nz\n"), "login.failure", { user: "admin" }),
    ];
    assert.equal(digestSubject(items, "web01.example.org"), "Digest of 3 messages from web01.example.org: 2 fail2ban.ban, 1 login.failure");
    const { summary } = digestParts(buildDigest(items, ctx));
    assert.match(summary, /^1\s+2026-11-22 10:00:00\s+fail2ban\.ban\s+web01\s+203\.0\.113\.9 \(sshd\)$/m);
    assert.match(summary, /^3\s+2026-11-22 10:00:00\s+login\.failure\s+admin$/m);
  });
});
