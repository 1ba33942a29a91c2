/**
 * A message over 1 MiB is sealed while it is relayed (never held sealed as a whole): through the
 * real CLI to a real SMTP sink and opened by GnuPG; and a stream that stops being sealed half-way
 * makes the relay drop the transaction, never keep a part of it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { readKey } from "openpgp";
import { Relay } from "../../src/relay/relay.js";
import { allowedKeyIds } from "../../src/relay/egress.js";
import { STREAM_FROM } from "../../src/pipeline/seal.js";
import { Gpg } from "../helpers/gpg.js";
import { TEST_PUBLIC_KEY } from "../helpers/paths.js";
import { openSealed } from "../helpers/sealed.js";
import { Sink } from "../helpers/sink.js";
import { inHome, useWorld } from "../helpers/world.js";

/** A backup report: a text part and a base64 attachment, about 3 MB, LF line ends as Postfix pipes it. */
function backupReport(): Buffer {
  const attachment = randomBytes(2_200_000).toString("base64").replace(/.{76}/g, "$&\n");
  return Buffer.from(
    [
      "From: backup <root@web01.example.org>",
      "To: root@web01.example.org",
      "Subject: nightly backup web01",
      "Message-ID: <backup.large@web01.example.org>",
      "MIME-Version: 1.0",
      'Content-Type: multipart/mixed; boundary="b1"',
      "",
      "--b1",
      "Content-Type: text/plain; charset=utf-8",
      "",
      "Backup done. Grüße.",
      "--b1",
      'Content-Type: application/gzip; name="db.sql.gz"',
      "Content-Transfer-Encoding: base64",
      "",
      attachment,
      "--b1--",
      "",
    ].join("\n"),
    "utf8",
  );
}

describe("a large message", () => {
  const world = useWorld();
  let gpg: Gpg;
  before(() => {
    gpg = new Gpg();
  });
  after(() => gpg.close());

  it("is stored, sealed as it is relayed, and opens to its exact bytes", () =>
    inHome(world, {}, async (home, relayed) => {
      const input = backupReport();
      assert.ok(input.length > STREAM_FROM, "over the streaming threshold");
      const r = await home.deliver(input, { SENDER: "root@web01.example.org", RECIPIENT: "root@localhost" });
      assert.equal(r.code, 0, r.stderr.toString());
      assert.deepEqual(home.localCopies(), [input], "the local copy is the input, byte for byte");
      const [sealed] = relayed();
      assert.ok(sealed, "relayed once");
      assert.ok(!sealed.includes("nightly backup web01\r\nMessage-ID") && !sealed.includes("Backup done"), "no plaintext body outside");
      const opened = openSealed(sealed, gpg);
      assert.match(opened.innerHeader, /^Subject: nightly backup web01$/m);
      const crlf = Buffer.from(input.toString("latin1").replace(/\n/g, "\r\n"), "latin1");
      assert.ok(crlf.subarray(crlf.indexOf("\r\n\r\n") + 4).equals(opened.innerBody), "the body, every byte (CRLF)");
    }));

  it("a stream that stops being sealed half-way leaves nothing at the relay", async () => {
    const sink = new Sink("accept");
    await sink.start();
    const relay = new Relay({
      relay: { host: "127.0.0.1", port: sink.port, security: "none", timeoutSeconds: 10 } as never,
      hostname: "web01.example.org",
    });
    try {
      const key = (await readKey({ armoredKey: readFileSync(TEST_PUBLIC_KEY, "utf8") })).toPublic();
      const head =
        "From: root@web01.example.org\r\nTo: ops@example.net\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
      function* halfSealed() {
        yield Buffer.from(head + "-----BEGIN PGP MESSAGE-----\r\n\r\n", "latin1");
        yield Buffer.from("secret canary line of plaintext\r\n", "latin1");
      }
      await assert.rejects(relay.send("ops@example.net", halfSealed(), allowedKeyIds([key])), /not sealed/);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(sink.messages.length, 0, "no message accepted");
    } finally {
      relay.close();
      await sink.stop();
    }
  });
});
