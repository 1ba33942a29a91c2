/** Sealing and the egress check, opened by real GnuPG. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { readKey, type PublicKey, generateKey } from "openpgp";
import { parseHeader } from "../../src/mail/header.js";
import { readRawMessage } from "../../src/mail/raw-message.js";
import { outerFacts } from "../../src/message/outer-facts.js";
import { pkeskKeyIds } from "../../src/message/already-encrypted.js";
import { sealFor, sealedBytes } from "../../src/message/seal.js";
import fc from "fast-check";
import { allowedKeyIds, assertSealed, guardSealed } from "../../src/relay/egress.js";
import { Gpg } from "../helpers/gpg.js";
import { TEST_PUBLIC_KEY } from "../helpers/paths.js";
import { fixtureBytes, fixtures } from "../helpers/fixtures.js";
import { lf, mimeParts, openSealed, originalBody } from "../helpers/sealed.js";

const ORIGINAL = Buffer.from(
  [
    "Received: by web01.example.org (Postfix)",
    "Subject: [Fail2Ban] sshd: banned 203.0.113.45",
    "From: Fail2Ban <root>",
    "To: root",
    "Cc: admin@example.org",
    "Message-ID: <m1@web01.example.org>",
    "Date: Sat, 21 Nov 2026 11:31:47 +0100",
    "Content-Type: text/plain;",
    " charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "X-Cron-Env: <SHELL=/bin/sh>",
    "",
    "Grüße: body line with a secret canary 1234567890",
    "From the start of a line",
    "",
  ].join("\n"),
  "utf8",
);

function sealInput(raw: Buffer, keys: PublicKey[], message = {}) {
  const m = readRawMessage(raw);
  const fields = parseHeader(m.header);
  const facts = outerFacts(fields, {
    hostname: "web01.example.org",
    envelope: { sender: "root@web01.example.org", recipients: [] },
    message: { format: "pgp-mime", protectSubject: false, from: "original", sign: false, hostKey: "", ...message },
    relayIdentity: "alerts@example.net",
    now: new Date(0),
  });
  return { raw: m, fields, facts, format: (message as { format?: "inline" }).format ?? ("pgp-mime" as const), keys };
}

async function seal(raw: Buffer, keys: PublicKey[], message = {}, recipient = "ops@example.net") {
  return sealedBytes(recipient, sealInput(raw, keys, message));
}

describe("sealing", () => {
  let gpg: Gpg;
  let key: PublicKey;
  before(async () => {
    gpg = new Gpg();
    key = (await readKey({ armoredKey: readFileSync(TEST_PUBLIC_KEY, "utf8") })).toPublic();
  });
  after(() => gpg.close());

  it("keeps only the docs/contract.md §4 fields outside, qualified and 7-bit", async () => {
    const opened = openSealed(await seal(ORIGINAL, [key]), gpg);
    assert.deepEqual(
      [...opened.outerFields.keys()],
      [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "auto-submitted",
        "x-sealpost-loop",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
      ],
    );
    assert.deepEqual(opened.outerFields.get("x-sealpost-loop"), ["web01.example.org"], "the loop marker (core/loop.ts)");
    assert.deepEqual(opened.outerFields.get("from"), ["Fail2Ban <root@web01.example.org>"]);
    assert.deepEqual(opened.outerFields.get("to"), ["ops@example.net"]);
    assert.deepEqual(opened.outerFields.get("message-id"), ["<m1@web01.example.org>"]);
  });

  it("puts every original field inside, marks it protected, and keeps the body bytes", async () => {
    const opened = openSealed(await seal(ORIGINAL, [key]), gpg);
    for (const name of ["Received", "Cc", "X-Cron-Env", "To: root"]) assert.ok(opened.innerHeader.includes(name), name);
    assert.match(opened.innerHeader, /^Content-Type: text\/plain;\r\n charset=utf-8;\r\n protected-headers="v1"; hp="cipher"$/m);
    assert.match(opened.innerHeader, /^HP-Outer: To: ops@example.net$/m);
    assert.equal(opened.innerBody.toString("utf8"), "Grüße: body line with a secret canary 1234567890\r\nFrom the start of a line\r\n");
  });

  it("uses PKESK v3 and SEIPD v1, never AEAD", async () => {
    const opened = openSealed(await seal(ORIGINAL, [key]), gpg);
    assert.match(opened.packets, /:pubkey enc packet: version 3/);
    assert.match(opened.packets, /mdc_method: 2/);
    assert.doesNotMatch(opened.packets, /aead/i);
  });

  it("synthesises From, Date and Message-ID when missing, inside and out", async () => {
    const opened = openSealed(await seal(Buffer.from("Subject: at job\n\nout\n"), [key]), gpg);
    assert.deepEqual(opened.outerFields.get("from"), ["root@web01.example.org"]);
    assert.match(opened.outerFields.get("message-id")![0]!, /^<\d+\.[0-9a-f]+@web01\.example\.org>$/);
    assert.match(opened.innerHeader, /^From: root@web01\.example\.org$/m);
    assert.match(
      opened.innerHeader.replace(/\r\n /g, " "),
      /^Content-Type: text\/plain; charset=us-ascii; protected-headers="v1"; hp="cipher"$/m,
    );
  });

  it("protect_subject hides the Subject outside only", async () => {
    const opened = openSealed(await seal(ORIGINAL, [key], { protectSubject: true }), gpg);
    assert.deepEqual(opened.outerFields.get("subject"), ["[...]"]);
    assert.match(opened.innerHeader, /^Subject: \[Fail2Ban\] sshd: banned 203\.0\.113\.45$/m);
  });

  it("from = relay shows the relay identity with the original in the display name", async () => {
    const opened = openSealed(await seal(ORIGINAL, [key], { from: "relay" }), gpg);
    assert.deepEqual(opened.outerFields.get("from"), ['"Fail2Ban (root@web01.example.org)" <alerts@example.net>']);
  });

  it("inline format: a text/plain body that is the armored original body", async () => {
    const sealed = await seal(ORIGINAL, [key], { format: "inline" });
    const opened = openSealed(sealed, gpg);
    assert.deepEqual(opened.outerFields.get("content-type"), ["text/plain; charset=us-ascii"]);
    assert.equal(opened.inner.toString("utf8"), "Grüße: body line with a secret canary 1234567890\r\nFrom the start of a line\r\n");
    await assertSealed(sealed, allowedKeyIds([key]));
  });

  it("yields in pieces what GnuPG opens to the original body, and passes the egress check as it goes", async () => {
    const line = (i: number) => `${String(i).padStart(8, "0")} ${"x".repeat(60)} Grüße\n`;
    const body = Buffer.from(Array.from({ length: 40_000 }, (_, i) => line(i)).join(""), "utf8"); // ~2.8 MB, LF line ends
    const input = sealInput(
      Buffer.concat([Buffer.from("Subject: logwatch\nFrom: root\nContent-Type: text/plain; charset=utf-8\n\n"), body]),
      [key],
    );
    const pieces: Buffer[] = [];
    for await (const piece of guardSealed(sealFor("ops@example.net", input), allowedKeyIds([key]))) pieces.push(piece);
    assert.ok(pieces.length > 10, `streamed in ${pieces.length} pieces`);
    assert.ok(Math.max(...pieces.map((p) => p.length)) < 1 << 20, "no piece holds the message whole");
    const opened = openSealed(Buffer.concat(pieces), gpg);
    assert.ok(opened.innerBody.equals(Buffer.from(body.toString("utf8").replace(/\n/g, "\r\n"), "utf8")), "body bytes intact, CRLF");
  });
});

/** What sealpost adds inside for clients (docs/contract.md §4), read back through real GnuPG. */
describe("the inner entity: an already-encrypted original, the legacy display, well-formed fields", () => {
  let gpg: Gpg;
  let key: PublicKey;
  const fixture = (prefix: string) => fixtureBytes(fixtures().find((f) => f.file.startsWith(prefix))!);
  const withoutFromLine = (raw: Buffer) => raw.subarray(raw.indexOf("\n") + 1);
  before(async () => {
    gpg = new Gpg();
    key = (await readKey({ armoredKey: readFileSync(TEST_PUBLIC_KEY, "utf8") })).toPublic();
  });
  after(() => gpg.close());

  it("carries an already-encrypted original whole as message/rfc822 beside a note naming its key ID", async () => {
    const a13 = fixture("A13");
    const opened = openSealed(await seal(a13, [key]), gpg);
    assert.match(
      opened.innerHeader.replace(/\r\n /g, " "),
      /^Content-Type: multipart\/mixed; boundary="[^"]+"; protected-headers="v1"; hp="cipher"$/m,
    );
    assert.match(opened.innerHeader, /^Subject: PROBLEM: nas-02 \/srv\/backup is CRITICAL$/m, "the protected headers stay at the top");
    const [note, original, ...rest] = mimeParts(opened.inner);
    assert.equal(rest.length, 0);
    assert.match(note!.fields.get("content-type")![0]!, /^text\/plain; charset=utf-8$/);
    assert.match(note!.body.toString(), /already encrypted[\s\S]*encrypted-original\.eml[\s\S]*key ID 0xF998DB0BD7E4EBB2\./);
    assert.deepEqual(original!.fields.get("content-type"), ["message/rfc822"]);
    assert.deepEqual(original!.fields.get("content-disposition"), ['attachment; filename="encrypted-original.eml"']);
    assert.ok(lf(original!.body).equals(withoutFromLine(a13)), "the original message, bytes unchanged but for CRLF");
    const nested = gpg.decrypt(/-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(original!.body.toString("latin1"))![0]);
    assert.ok(nested.ok, "and it still decrypts as it did");
  });

  it("never leaves multipart/encrypted at the top, whatever the protocol, and says when it cannot name keys", async () => {
    const smime =
      'Subject: x\nFrom: a@b.c\nContent-Type: multipart/encrypted; protocol="application/x-other"; boundary="b"\n\n--b\n\nnothing\n--b--\n';
    const opened = openSealed(await seal(Buffer.from(smime), [key]), gpg);
    assert.doesNotMatch(opened.innerHeader, /^Content-Type: multipart\/encrypted/m);
    assert.match(mimeParts(opened.inner)[0]!.body.toString(), /It is not OpenPGP \(PGP\/MIME\) encrypted\./);
  });

  it("decides 'already encrypted' from the MIME structure, never from text in the body", async () => {
    const armorInBody =
      'Subject: x\nFrom: a@b.c\n\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"\n' +
      "-----BEGIN PGP MESSAGE-----\n\nhF4D+ZjbC9fk67ISAQdA\n-----END PGP MESSAGE-----\n";
    const opened = openSealed(await seal(Buffer.from(armorInBody), [key]), gpg);
    assert.match(
      opened.innerHeader.replace(/\r\n /g, " "),
      /^Content-Type: text\/plain; charset=us-ascii; protected-headers="v1"; hp="cipher"$/m,
    );
    assert.ok(lf(opened.innerBody).equals(originalBody(Buffer.from(armorInBody))), "sealed as the plain text it is");
  });

  it("reads recipients from old- and new-format PKESK packets, v3 and v6, and stops at the first other packet", () => {
    const v3 = (id: string) => [3, ...Buffer.from(id, "hex"), 18, 0xaa, 0xbb];
    const fpr = "aa".repeat(20);
    const packets = Buffer.from([
      0x84,
      12,
      ...v3("f998db0bd7e4ebb2"), // old format, tag 1, one-octet length
      0xc1,
      12,
      ...v3("0000000000000000"), // new format, a hidden recipient
      0xc1,
      24,
      6,
      21,
      4,
      ...Buffer.from(fpr, "hex"),
      0x01, // v6: key version and fingerprint
      0xd2,
      3,
      1,
      0,
      0, // SEIPD: the end of the session keys
      0xc1,
      12,
      ...v3("1111111111111111"),
    ]);
    assert.deepEqual(pkeskKeyIds(packets), ["0xF998DB0BD7E4EBB2", "anonymous", `0x${fpr.toUpperCase()}`]);
    assert.deepEqual(pkeskKeyIds(packets.subarray(0, 8)), [], "a truncated packet gives nothing");
  });

  it("with protect_subject, puts a legacy display part first and the original entity after it, byte for byte", async () => {
    const a12 = fixture("A12");
    const opened = openSealed(await seal(a12, [key], { protectSubject: true }), gpg);
    assert.deepEqual(opened.outerFields.get("subject"), ["[...]"]);
    assert.match(
      opened.innerHeader.replace(/\r\n /g, " "),
      /^Content-Type: multipart\/mixed; boundary="[^"]+"; protected-headers="v1"; hp="cipher"$/m,
    );
    assert.match(opened.innerHeader, /^HP-Outer: Subject: \[\.\.\.\]$/m);
    const [legacy, original, ...rest] = mimeParts(opened.inner);
    assert.equal(rest.length, 0);
    assert.deepEqual(legacy!.fields.get("content-type"), ['text/plain; charset=utf-8; hp-legacy-display="1"']);
    assert.equal(
      legacy!.body.toString(),
      "Subject: Traffic report web01 2026-11-20\r\n\r\n",
      "RFC 9788: the field lines, then a blank line",
    );
    const originalHead = lf(Buffer.from(original!.header + "\r\n\r\n", "latin1")).toString("latin1");
    assert.match(originalHead, /^Content-Type: multipart\/mixed;/, "the original's own Content-* fields head its part");
    assert.ok(lf(original!.body).equals(originalBody(a12)), "the original body, unchanged but for CRLF");
  });

  it("shows a UTF-8 Subject decoded in the legacy display, and no CR LF smuggled in one can add lines", async () => {
    const a11 = openSealed(await seal(fixture("A11"), [key], { protectSubject: true }), gpg);
    const legacy = mimeParts(a11.inner)[0]!;
    assert.equal(legacy.fields.get("content-transfer-encoding")?.[0], "8bit");
    assert.equal(legacy.body.toString("utf8"), "Subject: Sicherung für nas-01 abgeschlossen: 3 Warnungen ⚠ — 完了\r\n\r\n");
    const smuggled = "Subject: =?UTF-8?B?" + Buffer.from("real\r\n\r\nfake body").toString("base64") + "?=\nFrom: a@b.c\n\nbody\n";
    const forged = mimeParts(openSealed(await seal(Buffer.from(smuggled), [key], { protectSubject: true }), gpg).inner)[0]!;
    assert.equal(forged.body.toString(), "Subject: real    fake body\r\n\r\n");
  });

  it("with protect_subject and an already-encrypted original, the note itself carries the legacy display", async () => {
    const opened = openSealed(await seal(fixture("A13"), [key], { protectSubject: true }), gpg);
    const [note] = mimeParts(opened.inner);
    assert.match(note!.fields.get("content-type")![0]!, /hp-legacy-display="1"/);
    assert.match(note!.body.toString(), /^Subject: PROBLEM: nas-02 \/srv\/backup is CRITICAL\r\n\r\nThis message was already encrypted/);
  });

  it("never shows a stray header line outside: the outer Subject, From and Date stop before it", async () => {
    const stray =
      "Subject: nightly\nSTRAYCANARY1\nFrom: Backup <root>\nSTRAYCANARY2\nDate: Sat, 21 Nov 2026 03:10:00 +0100\n" +
      "STRAYCANARY3\nX-A: b\n\nbody\n";
    const sealed = await seal(Buffer.from(stray), [key], { from: "relay" });
    assert.ok(!sealed.includes("STRAYCANARY"), "no stray line in the clear");
    const opened = openSealed(sealed, gpg);
    assert.deepEqual(opened.outerFields.get("subject"), ["nightly"]);
    assert.deepEqual(opened.outerFields.get("date"), ["Sat, 21 Nov 2026 03:10:00 +0100"]);
    assert.match(opened.innerHeader, /^Subject: nightly\r\n STRAYCANARY1$/m, "inside, the whole field");
  });

  it("writes a header line without a colon as a continuation inside, and the MIME structure stays MIME", async () => {
    const wrapped =
      "From: root\nSubject: nightly\nX-Diag: 1;" +
      "Qk".repeat(60) +
      "\n" +
      "P8FxVksO".repeat(8) +
      "\nFROM : x@y\nMIME-Version: 1.0\n" +
      'Content-Type: multipart/alternative; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\nok\n--b1--\n';
    const opened = openSealed(await seal(Buffer.from(wrapped), [key]), gpg);
    assert.match(opened.innerHeader, new RegExp(`^X-Diag: 1;(Qk)+\r\n ${"P8FxVksO".repeat(8)}$`, "m"));
    assert.match(opened.innerHeader, /^FROM: x@y$/m);
    assert.match(
      opened.innerHeader.replace(/\r\n /g, " "),
      /^Content-Type: multipart\/alternative; boundary="b1"; protected-headers="v1"; hp="cipher"$/m,
    );
    assert.equal(mimeParts(opened.inner)[0]!.body.toString(), "ok");
  });
});

describe("the egress check", () => {
  let key: PublicKey;
  let other: PublicKey;
  let sealed: Buffer;
  before(async () => {
    key = (await readKey({ armoredKey: readFileSync(TEST_PUBLIC_KEY, "utf8") })).toPublic();
    const generated = await generateKey({
      type: "ecc",
      curve: "curve25519Legacy",
      userIDs: [{ email: "other@example.net" }],
      format: "object",
    });
    other = generated.publicKey;
    sealed = await seal(ORIGINAL, [key]);
  });

  it("passes a sealed message to the route's keys", () => assertSealed(sealed, allowedKeyIds([key])));

  const refusals: Array<[string, (s: string) => string]> = [
    ["a plaintext message", () => ORIGINAL.toString("latin1").replace(/\n/g, "\r\n")],
    ["an extra outer field", (s) => "Received: by x\r\n" + s],
    ["plaintext appended after the wrapper", (s) => s + "secret canary\r\n"],
    ["plaintext in the preamble", (s) => s.replace("This is an OpenPGP/MIME", "secret canary This is an OpenPGP/MIME")],
    ["an 8-bit outer header", (s) => s.replace("Subject: ", "Subject: Grüße ")],
    ["a second armored block", (s) => s.replace(/(-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----\r\n)/, "$1$1")],
  ];
  for (const [name, mutate] of refusals) {
    it(`refuses ${name}`, async () => {
      await assert.rejects(
        assertSealed(Buffer.from(mutate(sealed.toString("latin1")), "latin1"), allowedKeyIds([key])),
        /refusing to relay a message that is not sealed/,
      );
    });
  }

  it("refuses a message encrypted to a key that is not the route's", async () => {
    await assert.rejects(assertSealed(await seal(ORIGINAL, [other]), allowedKeyIds([key])), /session key for another key/);
  });

  const moreRefusals: Array<[string, (s: string) => string]> = [
    ["base64 that is not OpenPGP packets", (s) => s.replace(/(-----BEGIN PGP MESSAGE-----\r\n\r\n)[A-Za-z0-9+/]{8}/, "$1QUFBQUFB")],
    ["a truncated armored message", (s) => s.replace(/\r\n[A-Za-z0-9+/]+\r\n(=[A-Za-z0-9+/]{4}\r\n)?-----END/, "\r\n-----END")],
    ["a line that is not base64", (s) => s.replace(/(-----BEGIN PGP MESSAGE-----\r\n\r\n[^\r]+\r\n)/, "$1secret canary\r\n")],
    ["a missing END line", (s) => s.replace("-----END PGP MESSAGE-----\r\n", "")],
  ];
  for (const [name, mutate] of moreRefusals) {
    it(`refuses ${name}`, async () => {
      await assert.rejects(
        assertSealed(Buffer.from(mutate(sealed.toString("latin1")), "latin1"), allowedKeyIds([key])),
        /refusing to relay a message that is not sealed/,
      );
    });
  }

  it("passes a sealed message cut into any pieces unchanged, and a broken one in no cutting", async () => {
    const broken = Buffer.from(
      sealed.toString("latin1").replace("-----END PGP MESSAGE-----", "-----END PGP MESSAGE----- secret"),
      "latin1",
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: sealed.length - 1 }), { maxLength: 12 }), async (cuts) => {
        const pieces = (bytes: Buffer) =>
          [0, ...new Set(cuts)].sort((a, b) => a - b).map((at, i, all) => bytes.subarray(at, all[i + 1] ?? bytes.length));
        /** What the guard passes of `bytes` cut at `cuts`. */
        const passed = async (bytes: Buffer) => {
          const out: Buffer[] = [];
          for await (const piece of guardSealed(pieces(bytes), allowedKeyIds([key]))) out.push(piece);
          return Buffer.concat(out);
        };
        assert.ok((await passed(sealed)).equals(sealed));
        await assert.rejects(passed(broken), /not sealed/);
      }),
      { numRuns: 60 },
    );
  });

  it("passes nothing of a message whose packets are wrong beyond the header and wrapper start", async () => {
    const wrong = await seal(ORIGINAL, [other]);
    const passed: Buffer[] = [];
    await assert.rejects(async () => {
      for await (const piece of guardSealed([wrong], allowedKeyIds([key]))) passed.push(piece);
    }, /session key/);
    assert.ok(!Buffer.concat(passed).includes("-----BEGIN PGP MESSAGE-----\r\n\r\n"), "no armor line went out");
  });
});
