/** Every pipe fixture through bin/sealpost deliver, spawned as Postfix/Exim spawn it; gpg opens each result. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { Home } from "../helpers/home.js";
import { RCPT } from "../helpers/paths.js";
import { lf, openSealed, originalBody } from "../helpers/sealed.js";
import { useWorld } from "../helpers/world.js";

const OUTER_ALLOWED = new Set([
  "from",
  "to",
  "subject",
  "date",
  "message-id",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
  "auto-submitted",
  "reply-to",
  "sender",
]);

describe("deliver: every pipe fixture", () => {
  const world = useWorld();

  for (const fx of fixtures().filter((f) => f.entry_point === "postfix-pipe" || f.entry_point === "exim-pipe")) {
    it(`${fx.file} is stored once, sealed, relayed once and decrypts to the original bytes`, async () => {
      const home = new Home({ hostname: fx.hostname, relayPort: world.sink.port });
      try {
        await home.importTestKey();
        const raw = fixtureBytes(fx);
        const before = world.sink.messages.length;
        const r = await home.deliver(raw, pipeEnv(fx));
        assert.equal(r.code, 0, r.stderr.toString());
        assert.equal(r.stdout.length + r.stderr.length, 0, "silent on success");

        const copies = home.localCopies();
        assert.equal(copies.length, 1);
        assert.ok(
          lf(copies[0]!).includes(
            Buffer.from(
              lf(raw.subarray(raw.indexOf("\n") + 1))
                .toString("latin1")
                .trimEnd(),
              "latin1",
            ),
          ),
          "local copy holds the message",
        );
        assert.deepEqual(home.localFileModes(), [0o600]);

        const got = world.sink.messages.slice(before);
        assert.equal(got.length, 1);
        assert.deepEqual(got[0]!.to, [RCPT]);
        assert.equal(got[0]!.from, "sealpost@web01.example.org");
        const opened = openSealed(got[0]!.raw, world.gpg);

        for (const name of opened.outerFields.keys())
          assert.ok(OUTER_ALLOWED.has(name) || name.startsWith("x-sealpost-"), `outer field ${name} is allowed (docs/contract.md §4)`);
        // eslint-disable-next-line no-control-regex -- [\x00-\x7f] is the 7-bit range, controls included on purpose
        assert.ok(!/[^\x00-\x7f]/.test(opened.outerHeader), "outer header is 7-bit");
        assert.match(opened.outerFields.get("content-type")![0]!, /^multipart\/encrypted; protocol="application\/pgp-encrypted"/);
        assert.equal(opened.outerFields.get("auto-submitted")![0], "auto-generated");
        assert.match(opened.packets, /pubkey enc packet: version 3/);
        assert.doesNotMatch(opened.packets, /aead encrypted packet/);

        const body = originalBody(raw);
        if (body.toString().trim() !== "") {
          assert.ok(lf(opened.innerBody).includes(Buffer.from(body.toString("latin1").trimEnd(), "latin1")), "original body bytes inside");
        }
        assert.match(opened.innerHeader, /protected-headers="v1"/);
        assert.match(opened.innerHeader, /hp="cipher"/);
        assert.match(opened.innerHeader, /^HP-Outer: From: /m);
        // nothing of the body is visible outside the encryption
        for (const line of body
          .toString("latin1")
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l.length >= 24)) {
          if (
            (fx.expected.subject ?? "").includes(line) ||
            /^(content-[a-z-]+|mime-version|auto-submitted)\s*:/i.test(line) ||
            line.startsWith("-----")
          )
            continue;
          assert.ok(!got[0]!.raw.includes(Buffer.from(line, "latin1")), `body line leaked: ${line}`);
        }
      } finally {
        await home.cleanup();
      }
    });
  }
});
