/** Sealing and the egress check, opened by real GnuPG. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { readKey, type PublicKey, generateKey } from "openpgp";
import { parseHeader } from "../../src/core/header.js";
import { readRawMessage } from "../../src/core/raw-message.js";
import { outerFacts } from "../../src/message/outer-facts.js";
import { sealFor, sealedBytes } from "../../src/message/seal.js";
import fc from "fast-check";
import { allowedKeyIds, assertSealed, guardSealed } from "../../src/relay/egress.js";
import { Gpg } from "../helpers/gpg.js";
import { TEST_PUBLIC_KEY } from "../helpers/paths.js";
import { openSealed } from "../helpers/sealed.js";

const ORIGINAL = Buffer.from([
  "Received: by web01.example.org (Postfix)", "Subject: [Fail2Ban] sshd: banned 203.0.113.45", "From: Fail2Ban <root>",
  "To: root", "Cc: admin@example.org", "Message-ID: <m1@web01.example.org>", "Date: Sat, 21 Nov 2026 11:31:47 +0100",
  "Content-Type: text/plain;", " charset=utf-8", "Content-Transfer-Encoding: 8bit", "X-Cron-Env: <SHELL=/bin/sh>",
  "", "Grüße: body line with a secret canary 1234567890", "From the start of a line", "",
].join("\n"), "utf8");

function sealInput(raw: Buffer, keys: PublicKey[], message = {}) {
  const m = readRawMessage(raw);
  const fields = parseHeader(m.header);
  const facts = outerFacts(fields, {
    hostname: "web01.example.org", envelope: { sender: "root@web01.example.org", recipients: [] },
    message: { format: "pgp-mime", protectSubject: false, from: "original", sign: false, hostKey: "", ...message }, relayIdentity: "alerts@example.net", now: new Date(0),
  });
  return { raw: m, fields, facts, format: (message as { format?: "inline" }).format ?? "pgp-mime" as const, keys };
}

async function seal(raw: Buffer, keys: PublicKey[], message = {}, recipient = "ops@example.net") {
  return sealedBytes(recipient, sealInput(raw, keys, message));
}

describe("sealing", () => {
  let gpg: Gpg;
  let key: PublicKey;
  before(async () => {
    gpg = new Gpg();
    key = await readKey({ armoredKey: readFileSync(TEST_PUBLIC_KEY, "utf8") });
  });
  after(() => gpg.close());

  it("keeps only the SPEC §4 fields outside, qualified and 7-bit", async () => {
    const opened = openSealed(await seal(ORIGINAL, [key]), gpg);
    assert.deepEqual([...opened.outerFields.keys()],
      ["from", "to", "subject", "date", "message-id", "auto-submitted", "x-sealpost-loop", "mime-version", "content-type", "content-transfer-encoding"]);
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
    assert.match(opened.innerHeader.replace(/\r\n /g, " "), /^Content-Type: text\/plain; charset=us-ascii; protected-headers="v1"; hp="cipher"$/m);
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

  it("an already encrypted message is sealed again, its structure intact inside", async () => {
    const inner = "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\n\n--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--b--\n";
    const opened = openSealed(await seal(Buffer.from("Subject: x\nFrom: a@b.c\n" + inner), [key]), gpg);
    assert.match(opened.innerHeader, /^Content-Type: multipart\/encrypted; protocol="application\/pgp-encrypted"; boundary="b";\r\n protected-headers="v1"/m);
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
    const input = sealInput(Buffer.concat([Buffer.from("Subject: logwatch\nFrom: root\nContent-Type: text/plain; charset=utf-8\n\n"), body]), [key]);
    const pieces: Buffer[] = [];
    for await (const piece of guardSealed(sealFor("ops@example.net", input), allowedKeyIds([key]))) pieces.push(piece);
    assert.ok(pieces.length > 10, `streamed in ${pieces.length} pieces`);
    assert.ok(Math.max(...pieces.map((p) => p.length)) < 1 << 20, "no piece holds the message whole");
    const opened = openSealed(Buffer.concat(pieces), gpg);
    assert.ok(opened.innerBody.equals(Buffer.from(body.toString("utf8").replace(/\n/g, "\r\n"), "utf8")), "body bytes intact, CRLF");
  });
});

describe("the egress check", () => {
  let key: PublicKey;
  let other: PublicKey;
  let sealed: Buffer;
  before(async () => {
    key = await readKey({ armoredKey: readFileSync(TEST_PUBLIC_KEY, "utf8") });
    const generated = await generateKey({ type: "ecc", curve: "curve25519Legacy", userIDs: [{ email: "other@example.net" }], format: "object" });
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
      await assert.rejects(assertSealed(Buffer.from(mutate(sealed.toString("latin1")), "latin1"), allowedKeyIds([key])),
        /refusing to relay a message that is not sealed/);
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
      await assert.rejects(assertSealed(Buffer.from(mutate(sealed.toString("latin1")), "latin1"), allowedKeyIds([key])),
        /refusing to relay a message that is not sealed/);
    });
  }

  it("passes a sealed message cut into any pieces unchanged, and a broken one in no cutting", async () => {
    const broken = Buffer.from(sealed.toString("latin1").replace("-----END PGP MESSAGE-----", "-----END PGP MESSAGE----- secret"), "latin1");
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: sealed.length - 1 }), { maxLength: 12 }), async (cuts) => {
      const pieces = (bytes: Buffer) => [0, ...new Set(cuts)].sort((a, b) => a - b).map((at, i, all) => bytes.subarray(at, all[i + 1] ?? bytes.length));
      const out: Buffer[] = [];
      for await (const piece of guardSealed(pieces(sealed), allowedKeyIds([key]))) out.push(piece);
      assert.ok(Buffer.concat(out).equals(sealed));
      await assert.rejects(async () => { for await (const _ of guardSealed(pieces(broken), allowedKeyIds([key]))); }, /not sealed/);
    }), { numRuns: 60 });
  });

  it("passes nothing of a message whose packets are wrong beyond the header and wrapper start", async () => {
    const wrong = await seal(ORIGINAL, [other]);
    const passed: Buffer[] = [];
    await assert.rejects(async () => { for await (const piece of guardSealed([wrong], allowedKeyIds([key]))) passed.push(piece); }, /session key/);
    assert.ok(!Buffer.concat(passed).includes("-----BEGIN PGP MESSAGE-----\r\n\r\n"), "no armor line went out");
  });
});
